//! Distributed locks on Redis: owner tokens, waiting, a watchdog, fencing
//! tokens, reentrancy, and a registry of holders.
//!
//! The failure modes this guards against, and how:
//! - **a client releases someone else's lock**: every acquisition gets a
//!   random 128-bit owner token, and release/extend are compare-and-act
//!   scripts that only act for that token ("not held" otherwise);
//! - **a holder crashes**: locks have a TTL, so the next waiter gets in at
//!   most one TTL later;
//! - **a holder is slow but alive**: the guard's watchdog extends the TTL
//!   while the holder lives (default TTL 30 s, extended every 10 s), and
//!   tells the holder if the lock is lost anyway;
//! - **a holder pauses past its TTL** (GC, swap, a stopped VM): no lock
//!   service can prevent two holders believing they hold the lock at that
//!   moment. Every acquisition therefore returns a **fencing token** that
//!   strictly increases per lock name, and the resource rejects writes with
//!   a token lower than one it has seen ([`Locks::fenced_write`]). This is
//!   Kleppmann's argument, and why Gatehouse relies on fencing rather than
//!   Redlock's multi-master voting, which assumes bounded pauses and clock
//!   drift (see docs/src/design/locks.md);
//! - **contention**: waiters do not spin. They poll with jittered
//!   exponential backoff and are woken early by a pub/sub release message
//!   (`notify`), so a hand-over takes milliseconds.
//!
//! A lock's keys and its shard's registry share a hash tag, so acquiring
//! (with fencing increment and registry update) is one atomic script, and
//! the admin console lists holders without `KEYS`.

mod admin;
mod fencing;
mod guard;
mod notify;
mod reply;

use crate::duration::millis;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::Script;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

pub use guard::LockGuard;

use crate::api::events::{Lock, LockAcquired};
use crate::events::{Event, EventKind, Events};
use crate::store::{Store, StoreError, keys};
use reply::{Acquire, Extend, Release};

static ACQUIRE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("acquire.lua")));
static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("release.lua")));
static EXTEND: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("extend.lua")));

/// Shortest TTL accepted.
pub const MIN_TTL: Duration = Duration::from_millis(10);
/// Longest TTL accepted: longer holds should be extended, not granted.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
/// Longest wait accepted.
pub const MAX_WAIT: Duration = Duration::from_secs(300);
/// Longest lock name, in bytes.
pub const MAX_NAME_BYTES: usize = 200;

const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_millis(200);

/// How to acquire.
#[derive(Clone, Debug)]
pub struct LockOptions {
    /// How long the lock lives unless extended.
    pub ttl: Duration,
    /// How long to wait for a busy lock (zero: try once).
    pub wait: Duration,
    /// Shown in the registry: who holds it and why ("refresh of session X").
    pub label: String,
    /// A logical holder id: acquiring again with the same id while holding
    /// nests (reentrancy) instead of waiting for ourselves. `None`: every
    /// acquisition is a separate holder.
    pub holder: Option<String>,
    /// Keep extending the TTL while the guard lives.
    pub watchdog: bool,
    /// Count a fencing token for this acquisition. Its counter outlives
    /// the lock (tokens only grow), so locks that protect no external
    /// resource (Gatehouse's own, one per session) skip it and get token 0.
    pub fencing: bool,
}

impl Default for LockOptions {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(30),
            wait: Duration::ZERO,
            label: String::new(),
            holder: None,
            watchdog: true,
            fencing: true,
        }
    }
}

/// Names of Gatehouse's own locks start with this; the lock API refuses
/// it in names it is given, so no service can take or collide with one.
/// (Service names are `<username>/<name>`, and usernames cannot hold `:`.)
pub const INTERNAL_PREFIX: &str = "gatehouse:";

/// A hold on a lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub name: String,
    /// The owner token: the only way to extend or release this hold. A
    /// secret: never log or display it.
    pub owner: String,
    /// Strictly increasing per lock name; pass it to the resource (0 when
    /// acquired without [`LockOptions::fencing`]).
    pub fencing_token: u64,
    /// The TTL now set on the lock.
    pub ttl: Duration,
    /// Nested holds by the same holder (1 when not reentrant).
    pub hold_count: u64,
}

/// The outcome of a release.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Released {
    /// Holds still open by the same holder (0: the lock is free).
    pub remaining_holds: u64,
}

pub use crate::api::locks::LockInfo;

/// What can go wrong with locks.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "invalid lock name: use 1 to {MAX_NAME_BYTES} bytes of letters, digits and . _ - : / @"
    )]
    InvalidName,
    #[error("invalid TTL: use between {MIN_TTL:?} and {MAX_TTL:?}")]
    InvalidTtl,
    #[error("invalid wait: use at most {MAX_WAIT:?}")]
    InvalidWait,
    #[error("the lock is held by someone else")]
    Busy,
    #[error("the lock is not held by this owner (it expired, was released or was never ours)")]
    NotHeld,
    #[error("unexpected reply from Redis: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<redis::RedisError> for LockError {
    fn from(err: redis::RedisError) -> Self {
        LockError::Store(err.into())
    }
}

/// Checks a lock (or fenced resource) name.
pub fn validate_name(name: &str) -> Result<(), LockError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'/' | b'@')
        });
    if ok {
        Ok(())
    } else {
        Err(LockError::InvalidName)
    }
}

fn validate_ttl(ttl: Duration) -> Result<(), LockError> {
    if (MIN_TTL..=MAX_TTL).contains(&ttl) {
        Ok(())
    } else {
        Err(LockError::InvalidTtl)
    }
}

/// A random fraction in [0.5, 1.5) for jittering backoff.
fn jitter(duration: Duration) -> Duration {
    let [a, b] = crate::random::bytes::<2>();
    let fraction = f64::from(u16::from_le_bytes([a, b])) / f64::from(u16::MAX);
    duration.mul_f64(0.5 + fraction)
}

/// The lock service. Cheap to clone; create one per process (it owns the
/// release listener).
#[derive(Clone, Debug)]
pub struct Locks {
    store: Store,
    instance: Arc<str>,
    notifier: Arc<notify::Notifier>,
    events: Option<Events>,
}

impl Locks {
    /// A lock service for this process, known in the registry as
    /// `instance`. Must be called inside a Tokio runtime.
    pub fn new(store: Store, instance: impl Into<Arc<str>>) -> Self {
        Self {
            notifier: Arc::new(notify::Notifier::start(store.clone())),
            store,
            instance: instance.into(),
            events: None,
        }
    }

    /// Reports acquisitions, releases, force-releases and lost locks as
    /// events.
    pub fn with_events(mut self, events: Events) -> Self {
        self.events = Some(events);
        self
    }

    /// Emits the event `kind` builds, if events are reported (built only
    /// then: acquisitions are frequent).
    pub(crate) fn report(&self, kind: impl FnOnce() -> EventKind) {
        if let Some(events) = &self.events {
            events.emit(Event::new(kind()));
        }
    }

    /// Acquires `name`, waiting up to `options.wait`, and returns a guard
    /// (with a watchdog if `options.watchdog`).
    #[tracing::instrument(skip_all, fields(lock = %name), err(level = "debug"))]
    pub async fn acquire(&self, name: &str, options: &LockOptions) -> Result<LockGuard, LockError> {
        let lease = self.acquire_lease(name, options).await?;
        let watchdog = options.watchdog.then_some(options.ttl);
        Ok(LockGuard::new(self.clone(), lease, watchdog))
    }

    /// Acquires `name`, waiting up to `options.wait`, without a guard: the
    /// caller extends and releases with the owner token (the HTTP lock
    /// service works this way).
    pub async fn acquire_lease(
        &self,
        name: &str,
        options: &LockOptions,
    ) -> Result<Lease, LockError> {
        validate_name(name)?;
        validate_ttl(options.ttl)?;
        if options.wait > MAX_WAIT {
            return Err(LockError::InvalidWait);
        }
        let _timer = WaitTimer(std::time::Instant::now());
        let deadline = Instant::now() + options.wait;
        let waiting = !options.wait.is_zero();
        let waiter = if waiting {
            crate::random::hex::<8>()
        } else {
            String::new()
        };
        let deadline_ms = crate::duration::epoch_ms() + millis(options.wait);
        // Subscribe before the first attempt, so a release between a failed
        // attempt and the wait is not missed.
        let mut releases = self.releases();
        let mut backoff = FIRST_BACKOFF;
        loop {
            let reply: Acquire = ACQUIRE
                .key(keys::lock(name))
                .key(keys::lock_fence(name))
                .key(keys::lock_index(keys::lock_shard(name)))
                .key(keys::lock_waiters(name))
                .arg(name)
                .arg(crate::random::hex::<16>())
                .arg(options.holder.as_deref().unwrap_or(""))
                .arg(millis(options.ttl))
                .arg(&options.label)
                .arg(self.instance.as_ref())
                .arg(&waiter)
                .arg(deadline_ms)
                .arg(u8::from(options.fencing))
                .invoke_async(&mut self.store.conn())
                .await?;
            if let Acquire::Acquired {
                owner,
                fencing_token,
                ttl_ms,
                hold_count,
            } = reply
            {
                if hold_count == 1 {
                    self.report(|| {
                        EventKind::LockAcquired(LockAcquired {
                            lock: name.to_owned(),
                            fencing_token,
                        })
                    });
                }
                return Ok(Lease {
                    name: name.to_owned(),
                    owner,
                    fencing_token,
                    ttl: Duration::from_millis(ttl_ms),
                    hold_count,
                });
            }
            let now = Instant::now();
            if now >= deadline {
                if waiting {
                    self.forget_waiter(name, &waiter).await;
                }
                return Err(LockError::Busy);
            }
            // Sleep until woken by a release of this lock, the backoff
            // elapses, or the deadline comes.
            let sleep = jitter(backoff).min(deadline - now);
            let started = Instant::now();
            releases.wait(name, sleep).await;
            backoff = if started.elapsed() < sleep {
                FIRST_BACKOFF
            } else {
                (backoff * 2).min(MAX_BACKOFF)
            };
        }
    }

    /// A subscription to lock releases, for callers that wait for a lock
    /// to be released without queueing for it (e.g. to pick up what its
    /// holder produced).
    pub fn releases(&self) -> Releases {
        Releases(self.notifier.subscribe())
    }

    async fn forget_waiter(&self, name: &str, waiter: &str) {
        let result: Result<(), _> = redis::cmd("ZREM")
            .arg(keys::lock_waiters(name))
            .arg(waiter)
            .query_async(&mut self.store.conn())
            .await;
        if let Err(err) = result {
            tracing::debug!(lock = %name, error = %err, "could not remove a waiter; it expires by itself");
        }
    }

    /// Releases one hold. [`LockError::NotHeld`] if `owner` does not hold
    /// the lock; someone else's lock is never touched.
    #[tracing::instrument(skip_all, fields(lock = %name), err(level = "debug"))]
    pub async fn release(&self, name: &str, owner: &str) -> Result<Released, LockError> {
        validate_name(name)?;
        let left: Release = RELEASE
            .key(keys::lock(name))
            .key(keys::lock_index(keys::lock_shard(name)))
            .arg(name)
            .arg(owner)
            .arg(keys::lock_released_channel())
            .invoke_async(&mut self.store.conn())
            .await?;
        match left {
            Release::Left(remaining_holds) => {
                if remaining_holds == 0 {
                    self.report(|| {
                        EventKind::LockReleased(Lock {
                            lock: name.to_owned(),
                        })
                    });
                }
                Ok(Released { remaining_holds })
            }
            Release::NotHeld => Err(LockError::NotHeld),
        }
    }

    /// Sets the lock's TTL to `ttl` from now, if `owner` holds it.
    pub async fn extend(&self, name: &str, owner: &str, ttl: Duration) -> Result<Lease, LockError> {
        validate_name(name)?;
        validate_ttl(ttl)?;
        let reply: Extend = EXTEND
            .key(keys::lock(name))
            .key(keys::lock_index(keys::lock_shard(name)))
            .arg(name)
            .arg(owner)
            .arg(millis(ttl))
            .invoke_async(&mut self.store.conn())
            .await?;
        match reply {
            Extend::Extended {
                fencing_token,
                hold_count,
            } => Ok(Lease {
                name: name.to_owned(),
                owner: owner.to_owned(),
                fencing_token,
                ttl,
                hold_count,
            }),
            Extend::NotHeld => Err(LockError::NotHeld),
        }
    }
}

/// Release notifications, from [`Locks::releases`].
#[derive(Debug)]
pub struct Releases(tokio::sync::broadcast::Receiver<Arc<str>>);

impl Releases {
    /// Waits until `name` is released, or `timeout` passes. Messages are
    /// hints (they can be missed), so callers re-check after this returns.
    pub async fn wait(&mut self, name: &str, timeout: Duration) {
        let released = async {
            loop {
                match self.0.recv().await {
                    Ok(released) if released.as_ref() == name => return,
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        std::future::pending::<()>().await;
                    }
                }
            }
        };
        let _ = tokio::time::timeout(timeout, released).await;
    }
}

/// Records how long an acquisition took (waiting included), however it
/// ends.
struct WaitTimer(std::time::Instant);

impl Drop for WaitTimer {
    fn drop(&mut self) {
        metrics::histogram!(crate::observe::LOCK_WAIT).record(self.0.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests;
