//! The security event stream: what happened, when, where, to whom.
//!
//! Every security-relevant action (sign-ins, sign-outs, sessions, refresh
//! rotations and reuse, blacklisting, locks, rate limiting, admin actions)
//! and every Redis circuit breaker opening or closing appends one event to
//! a Redis Stream (`gh:events`, capped with `MAXLEN ~`). Because the stream is in Redis, every instance sees every
//! instance's events: the console tails it (`XREAD BLOCK`) and resumes
//! from the last id it saw after a reconnect.
//!
//! Emitting never slows the action down or fails it: [`Events::emit`]
//! queues the event, and a background writer sends queued events in
//! pipelined batches (`XADD` plus per-minute counters for the console's
//! time series). Events refused while Redis is away are held (up to 5
//! minutes, in a bounded queue) and written when it is back; past that
//! they are dropped with a warning. The action itself has already
//! succeeded or failed on its own. Events carry ids, names and
//! addresses, never tokens or passwords.
//!
//! Two things keep a flood from evicting what matters. Audit events
//! ([`AUDIT`]: sign-ins and sign-outs, revocations, role and password
//! changes, reuse detection, force-releases, admin actions) are also kept
//! in a stream of their own (`gh:audit`) with its own cap. And refused
//! requests are recorded per subject and window, not per request
//! ([`Events::rate_limited`], see `aggregate`).

mod aggregate;
mod read;
mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::api::events::Breaker;
use crate::store::breaker::Phase;
use crate::store::{Store, StoreError, keys};

/// Kinds counted per minute for the console's charts.
pub const COUNTED: [Kind; 4] = [
    Kind::LoginSucceeded,
    Kind::LoginFailed,
    Kind::LoginLocked,
    Kind::RateLimited,
];

/// Kinds also kept in the audit stream, which floods cannot evict.
pub const AUDIT: &[Kind] = &[
    Kind::LoginSucceeded,
    Kind::MfaSucceeded,
    Kind::MfaFailed,
    Kind::StepUp,
    Kind::RecoveryCodeUsed,
    Kind::MfaEnrolled,
    Kind::MfaRemoved,
    Kind::RecoveryCodesRenewed,
    Kind::DeviceRemembered,
    Kind::DeviceForgotten,
    Kind::Logout,
    Kind::SessionRevoked,
    Kind::SignedOutEverywhere,
    Kind::RefreshReuseDetected,
    Kind::PasswordChanged,
    Kind::PasswordReset,
    Kind::RolesChanged,
    Kind::UserCreated,
    Kind::UserDisabled,
    Kind::UserEnabled,
    Kind::LockoutReset,
    Kind::WindowsReset,
    Kind::LockForceReleased,
    Kind::AdminSessionRevoked,
    Kind::AdminSignedOutEverywhere,
    Kind::AdminLockForceReleased,
    Kind::MfaReset,
    Kind::AlertRaised,
    Kind::AlertAcknowledged,
    Kind::AlertRuleChanged,
];

/// How many events each stream keeps (about: `MAXLEN ~`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// The stream of every event.
    pub events: u64,
    /// The audit stream.
    pub audit: u64,
}

/// Which stream to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stream {
    /// Every event.
    #[default]
    All,
    /// Audit events only, with their longer retention.
    Audit,
}

impl Stream {
    fn key(self) -> String {
        match self {
            Stream::All => keys::events(),
            Stream::Audit => keys::audit(),
        }
    }
}

/// How many queued events may wait for the writer before new ones are
/// dropped (with a warning).
const QUEUE: usize = 10_000;
/// How many events one pipelined write carries at most.
const BATCH: usize = 500;

pub use crate::api::events::{Event, EventKind, Kind};

impl Event {
    /// A new event of `kind`, stamped now.
    pub fn new(kind: EventKind) -> Self {
        Self {
            id: String::new(),
            at_ms: crate::duration::epoch_ms(),
            instance: String::new(),
            user_id: None,
            username: None,
            session_id: None,
            ip: None,
            kind,
        }
    }

    pub fn user(mut self, user_id: &str) -> Self {
        self.user_id = Some(user_id.to_owned());
        self
    }

    pub fn username(mut self, username: &str) -> Self {
        self.username = Some(username.chars().take(256).collect());
        self
    }

    pub fn session(mut self, session_id: &str) -> Self {
        self.session_id = Some(session_id.to_owned());
        self
    }

    pub fn ip(mut self, ip: &str) -> Self {
        self.ip = Some(ip.to_owned());
        self
    }
}

/// What to look for in [`Events::recent`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Kind prefix: `login` matches `login_failed` and `login_succeeded`.
    pub kind: Option<String>,
    /// A user id or username.
    pub user: Option<String>,
    pub ip: Option<String>,
}

impl Filter {
    pub fn matches(&self, event: &Event) -> bool {
        let kind = self
            .kind
            .as_deref()
            .is_none_or(|k| event.kind.name().starts_with(k));
        let user = self.user.as_deref().is_none_or(|u| {
            event.user_id.as_deref() == Some(u)
                || event
                    .username
                    .as_deref()
                    .is_some_and(|name| name.eq_ignore_ascii_case(u))
        });
        let ip = self
            .ip
            .as_deref()
            .is_none_or(|ip| event.ip.as_deref() == Some(ip));
        kind && user && ip
    }
}

enum Command {
    /// Boxed: events are a few hundred bytes, flushes a pointer.
    Emit(Box<Event>),
    Flush(oneshot::Sender<()>),
}

/// The event stream. Cheap to clone; create one per process (it owns the
/// background writer).
#[derive(Clone, Debug)]
pub struct Events {
    store: Store,
    instance: Arc<str>,
    queue: mpsc::Sender<Command>,
    /// Events dropped because the queue was full (Redis too slow or gone).
    dropped: Arc<AtomicU64>,
    aggregator: Arc<aggregate::Aggregator>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl Events {
    /// An event stream for this process, known as `instance`, capped at
    /// about `max_len` events (the audit stream at ten times that). Must
    /// be called inside a Tokio runtime.
    pub fn new(store: Store, instance: impl Into<Arc<str>>, max_len: u64) -> Self {
        let retention = Retention {
            events: max_len,
            audit: max_len.saturating_mul(10),
        };
        Self::with_retention(store, instance, retention)
    }

    /// Like [`Events::new`], with both streams' caps chosen.
    pub fn with_retention(
        store: Store,
        instance: impl Into<Arc<str>>,
        retention: Retention,
    ) -> Self {
        let (queue, commands) = mpsc::channel(QUEUE);
        let instance = instance.into();
        tokio::spawn(writer::write(
            store.clone(),
            commands,
            retention,
            Arc::clone(&instance),
        ));
        let events = Self {
            store,
            instance,
            queue,
            dropped: Arc::default(),
            aggregator: Arc::default(),
        };
        // Reports aggregated refusals once their windows have passed; ends
        // with the last handle (it holds only a weak one).
        let weak = Arc::downgrade(&events.aggregator);
        let queue = events.queue.downgrade();
        let instance = events.instance.clone();
        let dropped = Arc::clone(&events.dropped);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let (Some(aggregator), Some(queue)) = (weak.upgrade(), queue.upgrade()) else {
                    return;
                };
                for event in aggregator.due() {
                    enqueue(&queue, &instance, &dropped, event);
                }
            }
        });
        events.tell_breakers();
        events
    }

    /// Records the store's circuit breakers opening and closing
    /// (`breaker_opened`, `breaker_closed`). An opening is queued while
    /// Redis is away and written when it is back, like every event of an
    /// outage. Ends with the store's breakers, or at the first change after
    /// the last handle is gone (it holds only a weak one).
    fn tell_breakers(&self) {
        let Some(mut changes) = self.store.breaker_changes() else {
            return;
        };
        let queue = self.queue.downgrade();
        let instance = self.instance.clone();
        let dropped = Arc::clone(&self.dropped);
        tokio::spawn(async move {
            loop {
                let change = match changes.recv().await {
                    Ok(change) => change,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "circuit breaker changes were missed");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let Some(queue) = queue.upgrade() else { return };
                let details = Breaker {
                    target: change.target.to_string(),
                };
                let kind = match change.phase {
                    Phase::Open => EventKind::BreakerOpened(details),
                    Phase::Closed => EventKind::BreakerClosed(details),
                    Phase::HalfOpen => continue,
                };
                enqueue(&queue, &instance, &dropped, Event::new(kind));
            }
        });
    }

    /// Records a refusal that a flood can repeat (`rate_limited`,
    /// `login_locked`) of `subject` (what refused it and whom, e.g.
    /// `api-user:<user id>`) in a window of `window`: the first refusal
    /// per window at once, the rest as one summary event with their
    /// `count` when the window has passed.
    pub fn refused(&self, subject: &str, window: Duration, event: Event) {
        for event in self.aggregator.refused(subject, window, event) {
            self.emit(event);
        }
    }

    /// Queues an event (stamped with this instance). Never blocks, never
    /// fails the caller.
    pub fn emit(&self, event: Event) {
        enqueue(&self.queue, &self.instance, &self.dropped, event);
    }

    /// How many events were dropped because the queue was full (Redis too
    /// slow or unreachable for longer than the queue lasts).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits until every event emitted before this call has been written
    /// (or dropped because Redis is unreachable).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Command::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

/// Counts `event` (the events metric) and stamps it with `instance`:
/// what every event this process records goes through once.
fn stamp(event: &mut Event, instance: &str) {
    metrics::counter!(crate::observe::EVENTS, "kind" => event.kind.name())
        .increment(event.kind.stands_for());
    event.instance = instance.to_owned();
}

/// Counts and stamps `event` and queues it for the writer (counted in
/// `dropped` when the queue is full).
fn enqueue(queue: &mpsc::Sender<Command>, instance: &str, dropped: &AtomicU64, mut event: Event) {
    stamp(&mut event, instance);
    if let Err(err) = queue.try_send(Command::Emit(Box::new(event))) {
        dropped.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(crate::observe::EVENTS_DROPPED).increment(1);
        tracing::warn!(error = %err, "security event dropped: the event queue is full or closed");
    }
}

#[cfg(test)]
mod tests;
