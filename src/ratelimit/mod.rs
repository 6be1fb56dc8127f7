//! Rate limiting on Redis: three algorithms, several policies per request,
//! and windows the console can inspect.
//!
//! Each algorithm is one Lua function taking its time from Redis `TIME`,
//! so instance clocks do not matter: a sliding-window log (exact; its
//! timestamps are what the console draws), a sliding-window counter (two
//! weighted buckets, O(1) memory, for high-volume keys such as per-IP) and
//! GCRA (smooth rate with bursts, O(1) memory). [`Limiter::check`] runs
//! all the policies that apply to a request in one script: each is
//! evaluated first, and only if every one allows the request is it counted
//! against all of them, so a request rejected by one policy spends nothing
//! of another's budget. The request guard runs the same script together
//! with session validation (`Auth::authenticate_limited`): one round trip.
//!
//! Keys live with their subject (a user's windows in the user's slot), and
//! an index of subjects with live windows lets the console list them
//! without `KEYS`. On a Redis Cluster, policies on different slots are
//! checked by separate scripts (see [`Limiter::check`]).

pub mod policy;

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::Script;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use policy::{Algorithm, FailMode, KeyKind, Policy, PolicyError, default_policies, merge};

use crate::route::RouteClass;
use crate::store::{Store, StoreError, keys};

/// The Lua functions, for scripts that combine them with others.
pub(crate) const LUA: &str = concat!(
    include_str!("sliding_log.lua"),
    "\n",
    include_str!("sliding_counter.lua"),
    "\n",
    include_str!("gcra.lua"),
    "\n",
    include_str!("check.lua"),
    "\n"
);
static CHECK: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{LUA}return check(KEYS, 1, ARGV, 1)")));

/// How long a replay nonce is remembered, and how far a request's
/// timestamp may be from now.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(300);

/// Who a window belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    Ip { ip: String },
    User { user_id: String },
    Session { user_id: String, session_id: String },
    UserRoute { user_id: String, route: String },
    IpUsername { ip: String, username: String },
    Username { username: String },
    Key { key: String },
}

/// Arbitrary text (usernames, routes, caller keys) as a key-safe id.
fn digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn key_safe(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-'))
        .take(64)
        .collect()
}

impl Subject {
    pub fn kind(&self) -> KeyKind {
        match self {
            Subject::Ip { .. } => KeyKind::Ip,
            Subject::User { .. } => KeyKind::User,
            Subject::Session { .. } => KeyKind::Session,
            Subject::UserRoute { .. } => KeyKind::UserRoute,
            Subject::IpUsername { .. } => KeyKind::IpUsername,
            Subject::Username { .. } => KeyKind::Username,
            Subject::Key { .. } => KeyKind::Key,
        }
    }

    /// The Redis key of this subject's window under `policy`.
    pub(crate) fn key(&self, policy: &str) -> String {
        match self {
            Subject::Ip { ip } => keys::rate_limit(&format!("ip:{}", key_safe(ip)), policy, ""),
            Subject::User { user_id } => {
                keys::rate_limit(&format!("u:{}", key_safe(user_id)), policy, "")
            }
            Subject::Session {
                user_id,
                session_id,
            } => keys::rate_limit(
                &format!("u:{}", key_safe(user_id)),
                policy,
                &key_safe(session_id),
            ),
            Subject::UserRoute { user_id, route } => {
                keys::rate_limit(&format!("u:{}", key_safe(user_id)), policy, &digest(route))
            }
            Subject::IpUsername { ip, username } => {
                keys::rate_limit(&format!("lg:{}", digest(username)), policy, &key_safe(ip))
            }
            // In the same slot as the username's lockout windows.
            Subject::Username { username } => {
                keys::rate_limit(&format!("lg:{}", digest(username)), policy, "")
            }
            Subject::Key { key } => keys::rate_limit(&format!("k:{}", digest(key)), policy, ""),
        }
    }

    /// How the subject is listed in the index (and parsed back).
    fn index_member(&self) -> Option<String> {
        serde_json::to_string(self).ok()
    }
}

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
    pub policy: String,
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

/// A subject's current window under one policy, for the console.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub policy: String,
    pub algorithm: Algorithm,
    pub limit: u64,
    pub used: u64,
    pub remaining: u64,
    pub window_ms: u64,
    pub reset_ms: u64,
    /// Sliding logs only: when each request in the window arrived (ms
    /// since the epoch), oldest first.
    pub requests_ms: Vec<u64>,
}

/// A subject with live windows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveSubject {
    pub subject: Subject,
    /// When its longest window runs out if it makes no more requests.
    pub until_ms: u64,
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

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The keys and arguments of one `check` call.
pub(crate) struct Invocation {
    pub keys: Vec<String>,
    pub args: Vec<String>,
}

/// The rate limiter. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Limiter {
    store: Store,
    policies: Arc<Vec<Policy>>,
    /// Per policy (same order): decisions that allowed, and that limited.
    decisions: Arc<Vec<[metrics::Counter; 2]>>,
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
            policies: Arc::new(policies),
            decisions: Arc::new(decisions),
        }
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
        self.policies.iter().find(|p| p.name == name)
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

    /// The script arguments for `checks` (and a replay nonce key).
    pub(crate) fn invocation(
        &self,
        checks: &[Check<'_>],
        commit: bool,
        nonce_key: Option<String>,
    ) -> Invocation {
        let mut keys: Vec<String> = checks
            .iter()
            .map(|c| c.subject.key(&c.policy.name))
            .collect();
        let mut members: Vec<(String, u64)> = Vec::new();
        for check in checks {
            if let Some(member) = check.subject.index_member() {
                let window = millis(check.policy.window);
                match members.iter_mut().find(|(m, _)| *m == member) {
                    Some((_, longest)) => *longest = (*longest).max(window),
                    None => members.push((member, window)),
                }
            }
        }
        if !members.is_empty() {
            keys.push(keys::rate_limit_index());
        }
        if let Some(nonce) = nonce_key {
            keys.push(nonce);
        }
        let mut args = vec![
            if commit { "1" } else { "0" }.to_owned(),
            crate::random::fast_hex(),
            checks.len().to_string(),
            members.len().to_string(),
            millis(2 * REPLAY_WINDOW).to_string(),
        ];
        for (member, window) in members {
            args.push(member);
            args.push(window.to_string());
        }
        for check in checks {
            let policy = check.policy;
            args.extend([
                policy.algorithm.lua().to_owned(),
                policy.limit.to_string(),
                millis(policy.window).to_string(),
                policy.burst.to_string(),
                check.cost.to_string(),
            ]);
        }
        Invocation { keys, args }
    }

    /// Reads a `check` reply.
    pub(crate) fn decision(
        &self,
        checks: &[Check<'_>],
        reply: &[i64],
    ) -> Result<Decision, LimitError> {
        let Some((&replayed, rest)) = reply.split_first() else {
            return Err(LimitError::Corrupt("empty check reply".to_owned()));
        };
        if replayed == 1 {
            return Ok(Decision {
                replayed: true,
                outcomes: Vec::new(),
            });
        }
        if rest.len() != checks.len() * 5 {
            return Err(LimitError::Corrupt(format!(
                "check reply of {} values",
                reply.len()
            )));
        }
        let outcomes = checks
            .iter()
            .zip(rest.chunks_exact(5))
            .map(|(check, r)| Outcome {
                policy: check.policy.name.clone(),
                allowed: r[0] == 1,
                limit: r[1].max(0) as u64,
                remaining: r[2].max(0) as u64,
                window_ms: millis(check.policy.window),
                reset_ms: r[3].max(0) as u64,
                retry_after_ms: u64::try_from(r[4]).ok(),
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
    /// atomic script. On a Cluster, each policy is checked by its own
    /// script in its subject's slot: all run concurrently, and a request
    /// rejected by one policy may still have counted against another.
    #[tracing::instrument(skip_all, err(level = "debug"))]
    pub async fn check(&self, checks: &[Check<'_>], commit: bool) -> Result<Decision, LimitError> {
        if checks.is_empty() {
            return Ok(Decision::default());
        }
        if !self.store.is_cluster() {
            let invocation = self.invocation(checks, commit, None);
            let reply: Vec<i64> = run(&CHECK, &invocation)
                .invoke_async(&mut self.store.conn())
                .await?;
            return self.decision(checks, &reply);
        }
        let singles = checks.iter().map(|check| {
            let mut conn = self.store.conn();
            let invocation = self.invocation(std::slice::from_ref(check), commit, None);
            let invocation = Invocation {
                // The index lives in another slot: updated separately below.
                keys: invocation.keys.into_iter().take(1).collect(),
                args: without_index(invocation.args),
            };
            async move {
                let reply: Vec<i64> = run(&CHECK, &invocation).invoke_async(&mut conn).await?;
                self.decision(std::slice::from_ref(check), &reply)
            }
        });
        let decisions = futures_util::future::try_join_all(singles).await?;
        if commit {
            self.index(checks).await?;
        }
        Ok(Decision {
            replayed: false,
            outcomes: decisions.into_iter().flat_map(|d| d.outcomes).collect(),
        })
    }

    /// Adds the checks' subjects to the index (Cluster path).
    pub(crate) async fn index(&self, checks: &[Check<'_>]) -> Result<(), LimitError> {
        let now = crate::duration::epoch_ms();
        let mut pipe = redis::pipe();
        for check in checks {
            if let Some(member) = check.subject.index_member() {
                pipe.cmd("ZADD")
                    .arg(keys::rate_limit_index())
                    .arg(now + millis(check.policy.window))
                    .arg(member)
                    .ignore();
            }
        }
        let _: () = pipe.query_async(&mut self.store.conn()).await?;
        Ok(())
    }

    /// A subject's windows under every policy keyed like it.
    pub async fn windows(&self, subject: &Subject) -> Result<Vec<Window>, LimitError> {
        let checks: Vec<Check<'_>> = self
            .policies
            .iter()
            .filter(|p| p.key == subject.kind())
            .map(|policy| Check {
                policy,
                subject: subject.clone(),
                cost: 0,
            })
            .collect();
        let decision = self.check(&checks, false).await?;
        let now = crate::duration::epoch_ms();
        let mut windows = Vec::with_capacity(checks.len());
        for (check, outcome) in checks.iter().zip(decision.outcomes) {
            let requests_ms = if check.policy.algorithm == Algorithm::SlidingLog {
                let scores: Vec<(String, f64)> = redis::cmd("ZRANGE")
                    .arg(check.subject.key(&check.policy.name))
                    .arg(now.saturating_sub(millis(check.policy.window)))
                    .arg("+inf")
                    .arg("BYSCORE")
                    .arg("WITHSCORES")
                    .query_async(&mut self.store.conn())
                    .await?;
                scores.into_iter().map(|(_, at)| at as u64).collect()
            } else {
                Vec::new()
            };
            windows.push(Window {
                policy: outcome.policy,
                algorithm: check.policy.algorithm,
                limit: outcome.limit,
                used: outcome.limit.saturating_sub(outcome.remaining),
                remaining: outcome.remaining,
                window_ms: outcome.window_ms,
                reset_ms: outcome.reset_ms,
                requests_ms,
            });
        }
        Ok(windows)
    }

    /// Clears a subject's windows under every policy keyed like it
    /// (unblocks it). Returns how many windows existed.
    pub async fn reset(&self, subject: &Subject) -> Result<u64, LimitError> {
        let mut cmd = redis::cmd("DEL");
        let mut any = false;
        for policy in self.policies.iter().filter(|p| p.key == subject.kind()) {
            cmd.arg(subject.key(&policy.name));
            any = true;
        }
        if !any {
            return Ok(0);
        }
        let deleted: u64 = cmd.query_async(&mut self.store.conn()).await?;
        if let Some(member) = subject.index_member() {
            let _: () = redis::cmd("ZREM")
                .arg(keys::rate_limit_index())
                .arg(member)
                .query_async(&mut self.store.conn())
                .await?;
        }
        if deleted > 0 {
            tracing::info!(subject = ?subject, deleted, "rate-limit windows reset");
        }
        Ok(deleted)
    }

    /// Ends every sign-in lockout of `username` (from any address).
    pub async fn reset_lockouts(&self, username: &str) -> Result<u64, LimitError> {
        let username = username.trim().to_lowercase();
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(keys::rate_limit_index())
            .arg(0)
            .arg(-1)
            .query_async(&mut self.store.conn())
            .await?;
        let mut cleared = 0;
        for member in members {
            if let Ok(subject @ Subject::IpUsername { .. }) =
                serde_json::from_str::<Subject>(&member)
                && matches!(&subject, Subject::IpUsername { username: name, .. } if *name == username)
            {
                cleared += self.reset(&subject).await?;
            }
        }
        Ok(cleared)
    }

    /// Subjects with live windows, most recently active first.
    pub async fn active(
        &self,
        offset: u64,
        limit: u64,
    ) -> Result<(u64, Vec<ActiveSubject>), LimitError> {
        let (total, members) = self
            .store
            .live_index_page(&keys::rate_limit_index(), offset, limit)
            .await?;
        let subjects = members
            .into_iter()
            .filter_map(|(member, until)| {
                serde_json::from_str(&member)
                    .ok()
                    .map(|subject| ActiveSubject {
                        subject,
                        until_ms: until,
                    })
            })
            .collect();
        Ok((total, subjects))
    }
}

fn run<'a>(script: &'a Script, invocation: &Invocation) -> redis::ScriptInvocation<'a> {
    let mut call = script.prepare_invoke();
    for key in &invocation.keys {
        call.key(key);
    }
    for arg in &invocation.args {
        call.arg(arg);
    }
    call
}

/// The arguments with the index members dropped (m = 0).
fn without_index(mut args: Vec<String>) -> Vec<String> {
    let members: usize = args.get(3).and_then(|m| m.parse().ok()).unwrap_or(0);
    if members > 0 {
        args.drain(5..5 + 2 * members);
        args[3] = "0".to_owned();
    }
    args
}

#[cfg(test)]
mod tests;
