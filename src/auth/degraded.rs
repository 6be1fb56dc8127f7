//! Degraded mode: who the caller is, answered without Redis, for a
//! bounded time and only where that is safe.
//!
//! While a circuit breaker is open, a request Redis would have to confirm
//! cannot be confirmed. Refusing everything turns a Redis outage into a
//! total one for signed-in users; trusting tokens blindly lets a signed-out
//! or disabled user back in. Degraded mode is the narrow middle: for at
//! most `--degraded-max` after Redis last answered, and only if this
//! instance's revocation mirror ([`crate::revocations`]) held every
//! revocation up to that moment, the requests that only ask who the caller
//! is and change nothing (forward-auth, `me`, a signed-in user's pages)
//! are answered from the token's own claims (identity and roles, never past
//! its `exp`) unless the mirror revokes it. Everything else is refused
//! as when Redis is away (503 with `Retry-After`), fail-closed policies
//! included; fail-open policies are counted on this node
//! ([`crate::ratelimit::LocalLimits`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::broadcast;

use super::admission::{Admission, Caller, Facts, clears_cookies, pending_refusal};
use super::sign_out::breaker_change_or;
use super::{Auth, AuthError, Inner, principal};
use crate::api::console::InstanceMode;
use crate::api::events::{DegradedEnd, DegradedMode};
use crate::duration::{epoch_ms, millis};
use crate::events::{Event, EventKind};
use crate::observe::DEGRADED_DECISIONS;
use crate::ratelimit::{Check, Decision, Limiter};
use crate::revocations::{self, Mirror};
use crate::route::{ME_PATH, RouteClass};
use crate::store::{StoreError, keys};
use crate::token::{AccessClaims, TokenError};

/// How long a read of the revocation stream may have been waiting when
/// Redis went away for the mirror to count as whole (the read's block,
/// and a margin for its answer to travel).
const MIRROR_SLACK: Duration = revocations::FOLLOW_BLOCK.saturating_add(Duration::from_millis(500));
/// How often the mode is looked at besides at every breaker change (to
/// notice `--degraded-max` running out).
const LOOK: Duration = Duration::from_millis(250);
/// How often the live instances are counted (for node-local limits).
const COUNT_INSTANCES: Duration = Duration::from_secs(5);

/// What this instance can do, as far as Redis is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Redis answers.
    Normal,
    /// Redis is away; answering from tokens and the mirror since
    /// `since_ms` (when Redis last answered).
    Degraded { since_ms: u64 },
    /// Redis is away, and degraded mode is off, used up, or unsafe (the
    /// mirror was not whole).
    Unavailable,
}

impl Mode {
    /// As a heartbeat reports it: the mode, and degraded since when.
    pub fn wire(self) -> (InstanceMode, Option<u64>) {
        match self {
            Mode::Normal => (InstanceMode::Normal, None),
            Mode::Degraded { since_ms } => (InstanceMode::Degraded, Some(since_ms)),
            Mode::Unavailable => (InstanceMode::Unavailable, None),
        }
    }
}

/// Degraded mode's state: its bound, the mirror it relies on, and the
/// mode last reported.
#[derive(Debug)]
pub(super) struct Degraded {
    max: Duration,
    mirror: Arc<Mirror>,
    /// When the current degraded period began (ms since the epoch; 0 when
    /// there is none).
    since_ms: AtomicU64,
}

impl Degraded {
    /// Degraded mode bounded by `max` (`None` when `max` is zero: off),
    /// following the revocation stream for tokens living `access_ttl`.
    pub(super) fn start(
        store: &crate::store::Store,
        max: Duration,
        access_ttl: Duration,
    ) -> Option<Self> {
        if max.is_zero() {
            return None;
        }
        if access_ttl > revocations::RETAIN {
            tracing::warn!(
                access_ttl = ?access_ttl,
                "degraded mode is off: the revocation stream keeps 24 h, less than the access-token lifetime"
            );
            return None;
        }
        Some(Self {
            max,
            mirror: revocations::follow(store.clone(), access_ttl),
            since_ms: AtomicU64::new(0),
        })
    }
}

impl Auth {
    /// This instance's mode now (see [`Mode`]).
    pub fn mode(&self) -> Mode {
        if !self.inner.store.tripped() {
            return Mode::Normal;
        }
        match self.degraded_since(None) {
            Some(since_ms) => Mode::Degraded { since_ms },
            None => Mode::Unavailable,
        }
    }

    /// The revocation mirror degraded mode reads (`None` when it is off).
    pub fn revocation_mirror(&self) -> Option<&Mirror> {
        self.inner.degraded.as_ref().map(|d| &*d.mirror)
    }

    /// When Redis last answered for `key`'s target (every target without
    /// one), if degraded mode may answer for it now: on, within its bound,
    /// and with a mirror that was whole at that moment.
    fn degraded_since(&self, key: Option<&str>) -> Option<u64> {
        let degraded = self.inner.degraded.as_ref()?;
        let silent = self.inner.store.last_contact(key)?.elapsed();
        if silent > degraded.max {
            return None;
        }
        let now_ms = epoch_ms();
        let since_ms = now_ms.saturating_sub(millis(silent));
        degraded
            .mirror
            .whole_at(since_ms, MIRROR_SLACK, now_ms)
            .then_some(since_ms)
    }

    /// The answer to a request whose token verified here but Redis could
    /// not confirm (`err`), if degraded mode gives one (else `err` back):
    /// who the caller is, from the token, for the read-only requests that
    /// need nothing else.
    pub(super) fn admit_degraded(
        &self,
        facts: &Facts<'_>,
        claims: AccessClaims,
        checks: &[Check<'_>],
        err: AuthError,
    ) -> Result<Admission, AuthError> {
        let (Some(class), Some(degraded)) = (degraded_class(facts), &self.inner.degraded) else {
            return Err(err);
        };
        // Redis did not answer (an error it answered with is no outage).
        if !matches!(err, AuthError::Store(StoreError::Unavailable(_))) {
            return Err(err);
        }
        if self
            .degraded_since(Some(&keys::user_sessions(&claims.sub)))
            .is_none()
        {
            return Err(err);
        }
        let counted = |outcome: &'static str| {
            metrics::counter!(DEGRADED_DECISIONS, "route_class" => class, "outcome" => outcome)
                .increment(1);
        };
        let rejected = |why: AuthError| {
            let clear_cookies = facts
                .credential
                .is_some_and(|c| clears_cookies(&why, c.source));
            let mut admission = Admission::new(Caller::Rejected(why), Decision::default());
            admission.degraded = true;
            admission.clear_cookies = clear_cookies;
            admission
        };
        // The local check allowed up to its leeway; here, never past `exp`.
        if claims.exp <= facts.now_secs {
            counted("expired");
            return Ok(rejected(AuthError::Token(TokenError::Expired)));
        }
        if degraded.mirror.revokes(&claims) {
            counted("revoked");
            return Ok(rejected(AuthError::TokenRevoked));
        }
        if Limiter::fails_closed(checks) {
            counted("refused");
            let (limits, refusal) = self.fail_mode(facts, checks, &err);
            return Ok(Admission {
                refusal,
                ..Admission::new(Caller::Rejected(err), limits)
            });
        }
        let limits = self.inner.local_limits.check(checks, epoch_ms());
        let principal = principal(claims);
        let refusal = self
            .limits_refusal(facts, Some(&principal), &limits)
            .or_else(|| pending_refusal(facts, &principal));
        counted(if refusal.is_some() {
            "limited"
        } else {
            "allowed"
        });
        let mut admission = Admission::new(Caller::Principal(principal), limits);
        admission.refusal = refusal;
        admission.degraded = true;
        Ok(admission)
    }

    /// Starts the tasks degraded mode needs: reporting its start and end
    /// (`degraded_started`, `degraded_ended`) as breakers change and its
    /// bound runs out, and counting the live instances for node-local
    /// limits. Both end with the last handle on the core.
    pub(super) fn watch_mode(&self) {
        tokio::spawn(count_instances(Arc::downgrade(&self.inner)));
        if self.inner.degraded.is_some() {
            let changes = self.inner.store.breaker_changes();
            tokio::spawn(watch(Arc::downgrade(&self.inner), changes));
        }
    }
}

/// Which read-only request `facts` is (a metrics label), if degraded mode
/// may answer it: forward-auth, `me`, or a page (`GET`, not an admin's).
fn degraded_class(facts: &Facts<'_>) -> Option<&'static str> {
    match facts.route {
        RouteClass::Verify => Some("verify"),
        RouteClass::Ordinary if facts.path == ME_PATH => Some("me"),
        RouteClass::Ordinary if !facts.state_changing && !facts.path.starts_with("/api/") => {
            Some("page")
        }
        _ => None,
    }
}

/// Reports degraded periods as they start and end.
async fn watch(
    inner: Weak<Inner>,
    mut changes: Option<broadcast::Receiver<crate::store::BreakerChange>>,
) {
    loop {
        breaker_change_or(&mut changes, LOOK).await;
        let Some(inner) = inner.upgrade() else { return };
        let auth = Auth { inner };
        let Some(degraded) = auth.inner.degraded.as_ref() else {
            return;
        };
        let mode = auth.mode();
        let was = degraded.since_ms.load(Ordering::Relaxed);
        let event = match (was, mode) {
            (0, Mode::Degraded { since_ms }) => {
                degraded.since_ms.store(since_ms, Ordering::Relaxed);
                tracing::warn!(max = ?degraded.max, "Redis is away: degraded mode (answering who callers are from their tokens)");
                EventKind::DegradedStarted(DegradedMode {
                    since_ms,
                    why: None,
                })
            }
            (since_ms, Mode::Normal | Mode::Unavailable) if since_ms > 0 => {
                degraded.since_ms.store(0, Ordering::Relaxed);
                let why = if mode == Mode::Normal {
                    DegradedEnd::RedisBack
                } else {
                    DegradedEnd::LimitReached
                };
                tracing::warn!(?why, "degraded mode ended");
                EventKind::DegradedEnded(DegradedMode {
                    since_ms,
                    why: Some(why),
                })
            }
            _ => continue,
        };
        auth.inner.events.emit(Event::new(event));
    }
}

/// Keeps the node-local limits' share current: the instances that sent a
/// heartbeat in the last 15 s (kept as it was while Redis is away).
async fn count_instances(inner: Weak<Inner>) {
    let fresh = 15_000;
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        if let Ok(instances) = crate::instances::list(&strong.store).await {
            let now = epoch_ms();
            let live = instances
                .iter()
                .filter(|i| now.saturating_sub(i.last_seen_ms) < fresh)
                .count();
            strong.local_limits.set_instances(live as u64);
        }
        drop(strong);
        tokio::time::sleep(COUNT_INSTANCES).await;
    }
}
