//! The lock and rate-limit services other programs call.
//!
//! A service's names are its own: lock names and rate-limit keys are
//! prefixed with the caller's username (`<username>/<name>`), so two
//! services cannot collide by accident; an admin may use a lock name as
//! is (`global`). Locks taken this way have no watchdog: the caller
//! extends before the lease runs out and releases with its owner token.

use std::time::Duration;

use super::OpError;
use crate::api::locks::{LockLease, LockReleased};
use crate::api::ratelimit::RateLimitAnswer;
use crate::auth::{Auth, Principal};
use crate::lock::{INTERNAL_PREFIX, LockOptions};
use crate::ratelimit::{Check, LimitError, Subject};
use crate::user::Role;

/// The longest a caller may wait for a lock in one call: below the HTTP
/// request timeout.
pub const MAX_WAIT_MS: u64 = 25_000;

/// A lease's TTL, and an extension's, when the caller gives none.
const DEFAULT_TTL: Duration = Duration::from_secs(30);

/// The lock service; [`Auth::lock_service`] makes one.
#[derive(Clone, Copy, Debug)]
pub struct LockService<'a> {
    auth: &'a Auth,
    caller: &'a Principal,
}

/// Which lock a call names, as the caller gave it.
#[derive(Clone, Copy, Debug)]
pub struct LockRef<'n> {
    pub name: &'n str,
    /// The name as is, not prefixed (admins only).
    pub global: bool,
}

impl<'a> LockService<'a> {
    pub(super) fn new(auth: &'a Auth, caller: &'a Principal) -> Self {
        Self { auth, caller }
    }

    /// Takes the lock, waiting up to `wait` (`lock_busy` after that);
    /// `label` says who holds it in the console.
    pub async fn acquire(
        &self,
        lock: LockRef<'_>,
        ttl: Option<Duration>,
        wait: Duration,
        label: Option<String>,
    ) -> Result<LockLease, OpError> {
        let name = self.full_name(lock)?;
        if wait > Duration::from_millis(MAX_WAIT_MS) {
            return Err(OpError::Invalid(format!(
                "wait_ms may be at most {MAX_WAIT_MS}; retry instead of waiting longer."
            )));
        }
        let label = match label.map(|l| l.chars().take(200).collect::<String>()) {
            Some(label) if !label.trim().is_empty() => label,
            _ => format!("{} via the API", self.caller.username),
        };
        let options = LockOptions {
            ttl: ttl.unwrap_or(DEFAULT_TTL),
            wait,
            label,
            holder: None,
            watchdog: false,
            fencing: true,
        };
        Ok(self
            .auth
            .locks()
            .acquire_lease(&name, &options)
            .await?
            .into())
    }

    /// Resets the lease's TTL if `owner` still holds the lock (else
    /// `lock_not_held`).
    pub async fn extend(
        &self,
        lock: LockRef<'_>,
        owner: &str,
        ttl: Option<Duration>,
    ) -> Result<LockLease, OpError> {
        let name = self.full_name(lock)?;
        let ttl = ttl.unwrap_or(DEFAULT_TTL);
        Ok(self.auth.locks().extend(&name, owner, ttl).await?.into())
    }

    /// Releases the lock if `owner` holds it (else `lock_not_held`).
    pub async fn release(&self, lock: LockRef<'_>, owner: &str) -> Result<LockReleased, OpError> {
        let name = self.full_name(lock)?;
        let released = self.auth.locks().release(&name, owner).await?;
        Ok(LockReleased {
            name,
            released: true,
            remaining_holds: released.remaining_holds,
        })
    }

    /// `<username>/<name>`, or the name as is for an admin's global lock.
    fn full_name(&self, lock: LockRef<'_>) -> Result<String, OpError> {
        if lock.name.starts_with(INTERNAL_PREFIX) {
            return Err(OpError::Invalid(format!(
                "Lock names starting with `{INTERNAL_PREFIX}` are Gatehouse's own; choose another name."
            )));
        }
        if lock.global {
            if self.caller.has_role(Role::Admin) {
                return Ok(lock.name.to_owned());
            }
            return Err(OpError::Forbidden("Only admins may use global lock names."));
        }
        Ok(format!("{}/{}", self.caller.username, lock.name))
    }
}

/// The rate-limit service; [`Auth::limit_service`] makes one.
#[derive(Clone, Copy, Debug)]
pub struct LimitService<'a> {
    auth: &'a Auth,
    caller: &'a Principal,
}

impl<'a> LimitService<'a> {
    pub(super) fn new(auth: &'a Auth, caller: &'a Principal) -> Self {
        Self { auth, caller }
    }

    /// Counts `cost` (0 only looks) against the caller's `key` under the
    /// configured `policy`, for services that ask before doing expensive
    /// work.
    pub async fn check(
        &self,
        policy: &str,
        key: &str,
        cost: u64,
    ) -> Result<RateLimitAnswer, OpError> {
        if key.is_empty() || key.len() > 200 {
            return Err(OpError::Invalid("Use a key of 1 to 200 bytes.".to_owned()));
        }
        let limiter = self.auth.limiter();
        let policy = limiter
            .policy(policy)
            .ok_or_else(|| OpError::Invalid(format!("No rate-limit policy named `{policy}`.")))?;
        let checks = [Check {
            policy,
            subject: Subject::Key {
                key: format!("{}/{key}", self.caller.username),
            },
            cost,
        }];
        let decision = limiter.check(&checks, true).await?;
        let Some(outcome) = decision.outcomes.into_iter().next() else {
            return Err(LimitError::Corrupt("a check without an outcome".to_owned()).into());
        };
        Ok(RateLimitAnswer {
            allowed: outcome.allowed,
            limit: outcome.limit,
            remaining: outcome.remaining,
            reset_ms: outcome.reset_ms,
            retry_after_ms: if outcome.allowed {
                Some(0)
            } else {
                outcome.retry_after_ms
            },
        })
    }
}
