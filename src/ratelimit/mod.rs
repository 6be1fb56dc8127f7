//! Rate limiting on Redis: three algorithms, several policies per request,
//! and windows the console can inspect.
//!
//! Each algorithm is one Lua function taking its time from Redis `TIME`,
//! so instance clocks do not matter: a sliding-window log (exact; its
//! timestamps are what the console draws), a sliding-window counter (two
//! weighted buckets, O(1) memory, for high-volume keys such as per-IP) and
//! GCRA (smooth rate with bursts, O(1) memory). [`Limiter::check`] runs
//! all the policies that apply to a request in one function call (the
//! policies themselves are a table in Redis, see `library`): each is
//! evaluated first, and only if every one allows the request is it counted
//! against all of them, so a request rejected by one policy spends nothing
//! of another's budget. The request guard runs the same check together
//! with session validation (`Auth::authenticate_limited`): one round trip.
//!
//! Keys live with their subject (a user's windows in the user's slot), and
//! an index of subjects with live windows lets the console list them
//! without `KEYS`. On a Redis Cluster, policies on different slots are
//! checked by separate calls (see [`Limiter::check`]).

mod call;
mod inspect;
mod library;
mod listing;
mod local;
pub mod policy;
mod reply;
mod subject;

use crate::duration::millis;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use inspect::{ActiveSubject, Window};
pub use local::LocalLimits;
pub use policy::{Algorithm, FailMode, KeyKind, Policy, PolicyError, default_policies, merge};
pub use subject::Subject;

pub(crate) use library::ADMIT;
#[cfg(test)]
pub(crate) use library::CHECK;
pub(crate) use reply::Checked;

use crate::route::RouteClass;
use crate::store::{Library, Store, StoreError, keys};

/// How long a replay nonce is remembered, and how far a request's
/// timestamp may be from now.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(300);

/// One policy to apply to one subject.
#[derive(Clone, Debug)]
pub struct Check<'a> {
    pub policy: &'a Policy,
    pub subject: Subject,
    /// Units this request uses (usually 1; 0 only looks).
    pub cost: u64,
}

/// What one policy decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub policy: Arc<str>,
    pub allowed: bool,
    /// The quota (for GCRA: the burst).
    pub limit: u64,
    pub remaining: u64,
    pub window_ms: u64,
    /// When the window frees up (fully, for logs and counters; until the
    /// next unit, roughly, for GCRA).
    pub reset_ms: u64,
    /// When to retry; `None` if this cost can never pass (cost > limit).
    pub retry_after_ms: Option<u64>,
}

/// What all policies decided about one request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The request's replay nonce was seen before.
    pub replayed: bool,
    pub outcomes: Vec<Outcome>,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        !self.replayed && self.outcomes.iter().all(|o| o.allowed)
    }

    /// The rejecting policy that makes the caller wait longest.
    pub fn rejection(&self) -> Option<&Outcome> {
        self.outcomes
            .iter()
            .filter(|o| !o.allowed)
            .max_by_key(|o| o.retry_after_ms.unwrap_or(u64::MAX))
    }
}

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("no rate-limit policy named `{0}`")]
    UnknownPolicy(String),
    #[error("unexpected reply from Redis: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<redis::RedisError> for LimitError {
    fn from(err: redis::RedisError) -> Self {
        LimitError::Store(err.into())
    }
}

/// The rate limiter. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Limiter {
    store: Store,
    policies: Arc<Vec<Policy>>,
    /// Per policy (same order): decisions that allowed, and that limited.
    decisions: Arc<Vec<[metrics::Counter; 2]>>,
    listings: Arc<listing::Listings>,
    /// The request path's Redis functions, with these policies in them.
    library: Arc<Library>,
}

impl Limiter {
    pub fn new(store: Store, policies: Vec<Policy>) -> Self {
        let decisions = policies
            .iter()
            .map(|policy| {
                ["allowed", "limited"].map(|result| {
                    metrics::counter!(
                        crate::observe::RATE_LIMIT,
                        "policy" => policy.name.clone(),
                        "algorithm" => policy.algorithm.as_str(),
                        "result" => result
                    )
                })
            })
            .collect();
        Self {
            store,
            library: Arc::new(library::library(&policies)),
            policies: Arc::new(policies),
            decisions: Arc::new(decisions),
            listings: Arc::default(),
        }
    }

    /// The request path's Redis functions (see `library`).
    pub(crate) fn library(&self) -> &Library {
        &self.library
    }

    /// Loads the functions into Redis now, so that the first requests do
    /// not wait for it (a Redis that forgot them gets them again on the
    /// next call anyway).
    pub async fn load_functions(&self) -> Result<(), StoreError> {
        self.store.load(&self.library).await
    }

    /// `policy`'s number in the library's table: it must be one of this
    /// limiter's policies (the table is in Redis).
    fn number_of(&self, policy: &Policy) -> Result<u16, LimitError> {
        self.policies
            .iter()
            .position(|p| std::ptr::eq(p, policy))
            .or_else(|| self.policies.iter().position(|p| p == policy))
            .and_then(|i| u16::try_from(i + 1).ok())
            .ok_or_else(|| LimitError::UnknownPolicy(policy.name.to_string()))
    }

    /// Counts `decision`'s outcomes for the metrics.
    fn record(&self, checks: &[Check<'_>], decision: &Decision) {
        for (check, outcome) in checks.iter().zip(&decision.outcomes) {
            let index = self
                .policies
                .iter()
                .position(|policy| std::ptr::eq(policy, check.policy));
            if let Some(counters) = index.and_then(|i| self.decisions.get(i)) {
                counters[usize::from(!outcome.allowed)].increment(1);
            }
        }
    }

    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    pub fn policy(&self, name: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| &*p.name == name)
    }

    /// The route policies that apply to a request for `path` (of class
    /// `route`) from `ip`, by `user` (user id, session id) if signed in.
    ///
    /// Forward-auth is asked by a proxy on behalf of every request of
    /// every user, all from the proxy's address: only policies naming its
    /// path exactly apply to it (by default `verify`), never the
    /// wildcard per-address and API policies.
    pub fn checks_for(
        &self,
        route: RouteClass,
        path: &str,
        ip: &str,
        user: Option<(&str, &str)>,
    ) -> Vec<Check<'_>> {
        self.policies
            .iter()
            .filter(|p| match route {
                RouteClass::Verify => p.names(path),
                _ => p.guards(path),
            })
            .filter_map(|policy| {
                let subject = match (policy.key, user) {
                    (KeyKind::Ip, _) => Subject::Ip { ip: ip.to_owned() },
                    (KeyKind::User, Some((user_id, _))) => Subject::User {
                        user_id: user_id.to_owned(),
                    },
                    (KeyKind::Session, Some((user_id, session_id))) => Subject::Session {
                        user_id: user_id.to_owned(),
                        session_id: session_id.to_owned(),
                    },
                    (KeyKind::UserRoute, Some((user_id, _))) => Subject::UserRoute {
                        user_id: user_id.to_owned(),
                        route: path.to_owned(),
                    },
                    _ => return None,
                };
                Some(Check {
                    policy,
                    subject,
                    cost: 1,
                })
            })
            .collect()
    }

    /// Whether a policy guarding `path` requires replay protection.
    pub fn requires_replay_protection(&self, path: &str) -> bool {
        self.policies.iter().any(|p| p.replay && p.guards(path))
    }

    /// Whether Redis being unreachable should refuse these checks.
    pub fn fails_closed(checks: &[Check<'_>]) -> bool {
        checks.iter().any(|c| c.policy.fail == FailMode::Closed)
    }

    /// Decides, once for every caller, what Redis being unreachable (`err`)
    /// means for `checks`: `true`, refuse (a policy fails closed); `false`,
    /// go on without Redis' count (logged and counted in
    /// [`crate::observe::FAIL_OPEN`]).
    pub fn refuses_unavailable(checks: &[Check<'_>], err: &dyn std::fmt::Display) -> bool {
        if Self::fails_closed(checks) {
            tracing::warn!(error = %err, "Redis unavailable; refusing (fail-closed policy)");
            return true;
        }
        tracing::warn!(error = %err, "Redis unavailable; going on (fail-open policies)");
        metrics::counter!(crate::observe::FAIL_OPEN).increment(1);
        false
    }

    /// The subjects of `checks` this instance should (re)list in the index
    /// now (see [`listing`]), each with its longest window in ms. Usually
    /// none, and then nothing is allocated.
    fn due_listings(&self, checks: &[Check<'_>]) -> Vec<(String, u64)> {
        let now = std::time::Instant::now();
        let mut due = Vec::new();
        for (i, check) in checks.iter().enumerate() {
            let earlier = &checks[..i];
            if earlier.iter().any(|c| c.subject == check.subject) {
                continue;
            }
            if !self.listings.due(&check.subject, now) {
                continue;
            }
            let longest = checks
                .iter()
                .filter(|c| c.subject == check.subject)
                .map(|c| millis(c.policy.window))
                .max()
                .unwrap_or(0);
            if let Some(member) = check.subject.index_member() {
                due.push((member, longest));
            }
        }
        due
    }

    /// Reads a `check` reply.
    pub(crate) fn decision(
        &self,
        checks: &[Check<'_>],
        reply: Checked,
    ) -> Result<Decision, LimitError> {
        if reply.replayed {
            return Ok(Decision {
                replayed: true,
                outcomes: Vec::new(),
            });
        }
        if reply.verdicts.len() != checks.len() {
            return Err(LimitError::Corrupt(format!(
                "check.lua replied {} verdicts for {} checks",
                reply.verdicts.len(),
                checks.len()
            )));
        }
        let outcomes = checks
            .iter()
            .zip(reply.verdicts)
            .map(|(check, verdict)| Outcome {
                policy: check.policy.name.clone(),
                allowed: verdict.allowed,
                limit: check.policy.quota(),
                remaining: verdict.remaining,
                window_ms: millis(check.policy.window),
                reset_ms: verdict.reset_ms,
                retry_after_ms: verdict.retry_after_ms,
            })
            .collect();
        let decision = Decision {
            replayed: false,
            outcomes,
        };
        self.record(checks, &decision);
        Ok(decision)
    }

    /// Applies `checks` (counting them only if all allow, and `commit`).
    ///
    /// On one Redis server (or a Sentinel-managed primary) this is one
    /// atomic function call. On a Cluster, each policy is checked by its
    /// own call in its subject's slot: all run concurrently, and a request
    /// rejected by one policy may still have counted against another.
    #[tracing::instrument(skip_all, err(level = "debug"))]
    pub async fn check(&self, checks: &[Check<'_>], commit: bool) -> Result<Decision, LimitError> {
        if checks.is_empty() {
            return Ok(Decision::default());
        }
        if !self.store.is_cluster() {
            let call = self.call(checks, commit, None, true)?;
            let reply: Checked = self.store.fcall(&self.library, &call.command(self)).await?;
            return self.decision(checks, reply);
        }
        let singles = checks.iter().map(|check| async move {
            let single = std::slice::from_ref(check);
            // The index lives in another slot: updated separately below.
            let call = self.call(single, commit, None, false)?;
            let reply: Checked = self.store.fcall(&self.library, &call.command(self)).await?;
            self.decision(single, reply)
        });
        let decisions = futures_util::future::try_join_all(singles).await?;
        if commit {
            self.index(self.due_listings(checks)).await?;
        }
        Ok(Decision {
            replayed: false,
            outcomes: decisions.into_iter().flat_map(|d| d.outcomes).collect(),
        })
    }

    /// Lists `members` (each with its longest window) in the index
    /// (Cluster path), like check.lua does on one server.
    async fn index(&self, members: Vec<(String, u64)>) -> Result<(), LimitError> {
        if members.is_empty() {
            return Ok(());
        }
        let now = crate::duration::epoch_ms();
        let mut pipe = redis::pipe();
        for (member, window) in members {
            pipe.cmd("ZADD")
                .arg(keys::rate_limit_index())
                .arg("GT")
                .arg(now + window)
                .arg(member)
                .ignore();
        }
        let _: () = pipe.query_async(&mut self.store.conn()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
