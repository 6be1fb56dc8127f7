//! Node-local limits for when Redis cannot be asked.
//!
//! A policy that fails open used to mean no limit at all while Redis was
//! away, which is exactly when a flood hurts most. Instead each instance
//! counts on its own, in fixed windows of the policy's length, allowing
//! its share of the policy's limit: the limit divided by the instances
//! last seen alive (at least one unit each). Across instances that is
//! roughly the policy; on one instance it is the policy.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::{Check, Decision, Outcome};
use crate::duration::millis;

/// Windows counted at most; past this, expired ones are dropped, and if
/// none has expired, every window starts again (a flood of distinct
/// subjects must not grow memory without bound).
const CAPACITY: usize = 100_000;

/// The windows of this instance.
#[derive(Debug)]
pub struct LocalLimits {
    windows: Mutex<HashMap<String, Window>>,
    instances: AtomicU64,
}

#[derive(Clone, Copy, Debug)]
struct Window {
    start_ms: u64,
    end_ms: u64,
    used: u64,
}

impl Default for LocalLimits {
    fn default() -> Self {
        Self {
            windows: Mutex::default(),
            instances: AtomicU64::new(1),
        }
    }
}

impl LocalLimits {
    /// Notes how many instances were last seen alive (each gets an equal
    /// share of every limit).
    pub fn set_instances(&self, count: u64) {
        self.instances.store(count.max(1), Ordering::Relaxed);
    }

    /// This instance's share of `limit`.
    pub fn share(&self, limit: u64) -> u64 {
        limit
            .div_ceil(self.instances.load(Ordering::Relaxed).max(1))
            .max(1)
    }

    /// Applies `checks` here at `now_ms`: every policy is asked first, and
    /// the request counts against all of them only if all allow it (as in
    /// Redis).
    pub fn check(&self, checks: &[Check<'_>], now_ms: u64) -> Decision {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() >= CAPACITY {
            windows.retain(|_, window| window.end_ms > now_ms);
            if windows.len() >= CAPACITY {
                windows.clear();
            }
        }
        let mut keys = Vec::with_capacity(checks.len());
        let mut outcomes = Vec::with_capacity(checks.len());
        for check in checks {
            let policy = check.policy;
            let window_ms = millis(policy.window).max(1);
            let start_ms = now_ms - now_ms % window_ms;
            let key = check.subject.key(&policy.name);
            let used = windows
                .get(&key)
                .filter(|w| w.start_ms == start_ms)
                .map_or(0, |w| w.used);
            let limit = self.share(policy.limit);
            let allowed = used + check.cost <= limit;
            let reset_ms = start_ms + window_ms;
            outcomes.push(Outcome {
                policy: policy.name.clone(),
                allowed,
                limit,
                remaining: limit.saturating_sub(used + u64::from(allowed) * check.cost),
                window_ms,
                reset_ms,
                retry_after_ms: (!allowed)
                    .then(|| (check.cost <= limit).then(|| reset_ms - now_ms))
                    .flatten(),
            });
            keys.push((key, start_ms, reset_ms, used));
        }
        if outcomes.iter().all(|o| o.allowed) {
            for ((key, start_ms, end_ms, used), check) in keys.into_iter().zip(checks) {
                let used = used + check.cost;
                windows.insert(
                    key,
                    Window {
                        start_ms,
                        end_ms,
                        used,
                    },
                );
            }
        }
        Decision {
            replayed: false,
            outcomes,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ratelimit::{Policy, Subject};

    fn policy(limit: u64) -> Policy {
        let mut policy = Policy::parse("name=api,key=ip,limit=10,window=1s,routes=*").unwrap();
        policy.limit = limit;
        policy.window = Duration::from_secs(1);
        policy
    }

    fn checks(policy: &Policy) -> Vec<Check<'_>> {
        vec![Check {
            policy,
            subject: Subject::Ip {
                ip: "198.51.100.7".into(),
            },
            cost: 1,
        }]
    }

    #[test]
    fn allows_the_share_of_the_live_instances_per_window() {
        let limits = LocalLimits::default();
        limits.set_instances(3);
        let policy = policy(10);
        let now = 5_000;
        let allowed = (0..10)
            .filter(|_| limits.check(&checks(&policy), now).allowed())
            .count();
        assert_eq!(allowed, 4, "ceil(10 / 3) per instance");
        let refused = limits.check(&checks(&policy), now);
        assert_eq!(refused.outcomes[0].retry_after_ms, Some(1_000));
        assert!(
            limits.check(&checks(&policy), now + 1_000).allowed(),
            "a new window"
        );
    }

    #[test]
    fn a_refused_request_spends_nothing_of_another_policy() {
        let limits = LocalLimits::default();
        let small = Policy {
            name: "small".into(),
            ..policy(1)
        };
        let large = policy(10);
        let both = |limits: &LocalLimits| {
            let mut checks = checks(&small);
            checks.extend(self::checks(&large));
            limits.check(&checks, 0)
        };
        assert!(both(&limits).allowed());
        assert!(!both(&limits).allowed());
        assert_eq!(limits.check(&checks(&large), 0).outcomes[0].remaining, 8);
    }

    #[test]
    fn never_below_one_unit() {
        let limits = LocalLimits::default();
        limits.set_instances(50);
        assert_eq!(limits.share(10), 1);
        limits.set_instances(0);
        assert_eq!(limits.share(10), 10);
    }
}
