//! A held lock, kept alive by a watchdog while its holder lives.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{Lease, LockError, Locks, Released};
use crate::api::events::{LockLoss, LockLost};
use crate::events::EventKind;

/// A held lock. Release it with [`LockGuard::release`]; dropping it stops
/// the watchdog and releases in the background.
///
/// With a watchdog (the default), the lock's TTL is extended every third
/// of the TTL while the guard exists, so a live holder never loses the
/// lock to expiry, and a crashed one loses it at most one TTL later. If an
/// extension finds the lock gone (expired during a long pause, or
/// force-released), or Redis stays unreachable for a whole TTL, the guard
/// says so through [`LockGuard::lost`]: the holder must then stop, and
/// protect its writes with the [fencing token](Lease::fencing_token).
#[derive(Debug)]
pub struct LockGuard {
    locks: Locks,
    lease: Lease,
    lost: watch::Receiver<bool>,
    watchdog: Option<JoinHandle<()>>,
    released: bool,
}

impl LockGuard {
    pub(super) fn new(locks: Locks, lease: Lease, watchdog_ttl: Option<Duration>) -> Self {
        let (lost_tx, lost) = watch::channel(false);
        let watchdog = watchdog_ttl.map(|ttl| {
            let locks = locks.clone();
            let name = lease.name.clone();
            let owner = lease.owner.clone();
            tokio::spawn(watchdog(locks, name, owner, ttl, lost_tx))
        });
        Self {
            locks,
            lease,
            lost,
            watchdog,
            released: false,
        }
    }

    /// What was acquired.
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// The fencing token of this hold.
    pub fn fencing_token(&self) -> u64 {
        self.lease.fencing_token
    }

    /// Becomes `true` when the lock is known to be lost.
    pub fn lost(&self) -> watch::Receiver<bool> {
        self.lost.clone()
    }

    /// Whether the lock is known to be lost.
    pub fn is_lost(&self) -> bool {
        *self.lost.borrow()
    }

    /// Stops the watchdog and releases this hold.
    pub async fn release(mut self) -> Result<Released, LockError> {
        self.stop_watchdog();
        self.released = true;
        self.locks
            .release(&self.lease.name, &self.lease.owner)
            .await
    }

    fn stop_watchdog(&mut self) {
        if let Some(task) = self.watchdog.take() {
            task.abort();
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.stop_watchdog();
        if self.released {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let locks = self.locks.clone();
            let name = std::mem::take(&mut self.lease.name);
            let owner = std::mem::take(&mut self.lease.owner);
            runtime.spawn(async move {
                if let Err(err) = locks.release(&name, &owner).await {
                    tracing::debug!(lock = %name, error = %err, "release of a dropped lock guard failed");
                }
            });
        }
    }
}

async fn watchdog(
    locks: Locks,
    name: String,
    owner: String,
    ttl: Duration,
    lost: watch::Sender<bool>,
) {
    let period = (ttl / 3).max(Duration::from_millis(1));
    let mut last_extended = Instant::now();
    loop {
        tokio::time::sleep(period).await;
        match locks.extend(&name, &owner, ttl).await {
            Ok(_) => last_extended = Instant::now(),
            Err(LockError::NotHeld) => {
                tracing::warn!(lock = %name, "lock lost: it expired or was force-released");
                locks.report(|| {
                    EventKind::LockLost(LockLost {
                        lock: name.clone(),
                        why: LockLoss::NotHeld,
                    })
                });
                let _ = lost.send(true);
                return;
            }
            Err(err) if last_extended.elapsed() >= ttl => {
                tracing::warn!(lock = %name, error = %err, "lock lost: could not extend it for a whole TTL");
                locks.report(|| {
                    EventKind::LockLost(LockLost {
                        lock: name.clone(),
                        why: LockLoss::Unreachable,
                    })
                });
                let _ = lost.send(true);
                return;
            }
            Err(err) => {
                tracing::warn!(lock = %name, error = %err, "lock extension failed; retrying")
            }
        }
    }
}
