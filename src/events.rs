//! The security event stream: what happened, when, where, to whom.
//!
//! Every security-relevant action (sign-ins, sign-outs, sessions, refresh
//! rotations and reuse, blacklisting, locks, rate limiting, admin actions)
//! appends one event to a Redis Stream (`gh:events`, capped with
//! `MAXLEN ~`). Because the stream is in Redis, every instance sees every
//! instance's events: the console tails it (`XREAD BLOCK`) and resumes
//! from the last id it saw after a reconnect.
//!
//! Emitting never slows the action down or fails it: [`Events::emit`]
//! queues the event, and a background writer sends queued events in
//! pipelined batches (`XADD` plus per-minute counters for the console's
//! time series). If Redis is unreachable, events are dropped with a
//! warning; the action itself has already succeeded or failed on its own.
//! Events carry ids, names and addresses, never tokens or passwords.
//!
//! Two things keep a flood from evicting what matters. Audit events
//! ([`AUDIT`]: sign-ins and sign-outs, revocations, role and password
//! changes, reuse detection, force-releases, admin actions) are also kept
//! in a stream of their own (`gh:audit`) with its own cap. And refused
//! requests are recorded per subject and window, not per request
//! ([`Events::rate_limited`], see `aggregate`).

mod aggregate;
mod writer;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::store::{Store, StoreError, keys};

/// Kinds counted per minute for the console's charts.
pub const COUNTED: [&str; 4] = [
    "login_succeeded",
    "login_failed",
    "login_locked",
    "rate_limited",
];

/// Kinds also kept in the audit stream, which floods cannot evict.
pub const AUDIT: &[&str] = &[
    "login_succeeded",
    "logout",
    "session_revoked",
    "signed_out_everywhere",
    "refresh_reuse_detected",
    "password_changed",
    "password_reset",
    "roles_changed",
    "user_created",
    "user_disabled",
    "user_enabled",
    "lockout_reset",
    "windows_reset",
    "lock_force_released",
    "admin_session_revoked",
    "admin_signed_out_everywhere",
    "admin_lock_force_released",
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

/// One event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The stream id (`<ms>-<seq>`); empty until written.
    #[serde(default)]
    pub id: String,
    /// What happened, in `snake_case` (`login_failed`, `lock_acquired`, ...).
    pub kind: String,
    pub at_ms: u64,
    /// The Gatehouse instance (or embedding process) that saw it.
    pub instance: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Anything else, as short strings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
}

impl Event {
    /// A new event of `kind`, stamped now.
    pub fn new(kind: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            at_ms: crate::duration::epoch_ms(),
            ..Self::default()
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

    /// How many occurrences this event records: its `count` for an
    /// aggregated one (see `aggregate`), else 1.
    pub fn stands_for(&self) -> u64 {
        self.details
            .get("count")
            .and_then(|count| count.parse().ok())
            .unwrap_or(1)
    }

    pub fn detail(mut self, name: &str, value: impl ToString) -> Self {
        let value: String = value.to_string().chars().take(256).collect();
        self.details.insert(name.to_owned(), value);
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
            .is_none_or(|k| event.kind.starts_with(k));
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
    Emit(Event),
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
    dropped: Arc<std::sync::atomic::AtomicU64>,
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
        tokio::spawn(writer::write(store.clone(), commands, retention));
        let events = Self {
            store,
            instance: instance.into(),
            queue,
            dropped: Arc::default(),
            aggregator: Arc::default(),
        };
        // Reports aggregated refusals once their windows have passed; ends
        // with the last handle (it holds only a weak one).
        let weak = Arc::downgrade(&events.aggregator);
        let queue = events.queue.downgrade();
        let instance = events.instance.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let (Some(aggregator), Some(queue)) = (weak.upgrade(), queue.upgrade()) else {
                    return;
                };
                for mut event in aggregator.due() {
                    event.instance = instance.to_string();
                    let _ = queue.try_send(Command::Emit(event));
                }
            }
        });
        events
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
    pub fn emit(&self, mut event: Event) {
        metrics::counter!(crate::observe::EVENTS, "kind" => event.kind.clone())
            .increment(event.stands_for());
        event.instance = self.instance.to_string();
        if let Err(err) = self.queue.try_send(Command::Emit(event)) {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            metrics::counter!(crate::observe::EVENTS_DROPPED).increment(1);
            tracing::warn!(error = %err, "security event dropped: the event queue is full or closed");
        }
    }

    /// How many events were dropped because the queue was full (Redis too
    /// slow or unreachable for longer than the queue lasts).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits until every event emitted before this call has been written
    /// (or dropped because Redis is unreachable).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Command::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// The most recent events matching `filter`, newest first, looking at
    /// no more than `scan` events.
    pub async fn recent(
        &self,
        filter: &Filter,
        limit: usize,
        scan: usize,
    ) -> Result<Vec<Event>, StoreError> {
        self.recent_in(Stream::All, filter, limit, scan).await
    }

    /// Like [`Events::recent`], in `stream`.
    pub async fn recent_in(
        &self,
        stream: Stream,
        filter: &Filter,
        limit: usize,
        scan: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let mut found = Vec::new();
        let mut end = "+".to_owned();
        let mut scanned = 0;
        while found.len() < limit && scanned < scan {
            let batch = (scan - scanned).min(1_000);
            let page: Vec<Event> = parse(
                redis::cmd("XREVRANGE")
                    .arg(stream.key())
                    .arg(&end)
                    .arg("-")
                    .arg("COUNT")
                    .arg(batch)
                    .query_async(&mut self.store.conn())
                    .await?,
            );
            let Some(last) = page.last() else {
                break;
            };
            end = format!("({}", last.id);
            scanned += page.len();
            let short = page.len() < batch;
            found.extend(page.into_iter().filter(|e| filter.matches(e)));
            if short {
                break;
            }
        }
        found.truncate(limit);
        Ok(found)
    }

    /// Events after `id` (exclusive), oldest first: what a reconnecting
    /// console missed.
    pub async fn after(&self, id: &str, count: usize) -> Result<Vec<Event>, StoreError> {
        Ok(parse(
            redis::cmd("XRANGE")
                .arg(keys::events())
                .arg(format!("({id}"))
                .arg("+")
                .arg("COUNT")
                .arg(count)
                .query_async(&mut self.store.conn())
                .await?,
        ))
    }

    /// How many events the stream holds now.
    pub async fn stream_length(&self) -> Result<u64, StoreError> {
        Ok(redis::cmd("XLEN")
            .arg(keys::events())
            .query_async(&mut self.store.conn())
            .await?)
    }

    /// The id of the newest event (`0-0` when there is none).
    pub async fn last_id(&self) -> Result<String, StoreError> {
        let newest = parse(
            redis::cmd("XREVRANGE")
                .arg(keys::events())
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut self.store.conn())
                .await?,
        );
        Ok(newest
            .into_iter()
            .next()
            .map_or_else(|| "0-0".to_owned(), |e| e.id))
    }

    /// Waits up to `block` for events after `id` on a dedicated
    /// connection (blocking reads must not share the multiplexed one).
    pub async fn tail(
        conn: &mut (impl redis::aio::ConnectionLike + Send),
        id: &str,
        block: Duration,
    ) -> Result<Vec<Event>, StoreError> {
        let reply: redis::Value = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(BATCH)
            .arg("BLOCK")
            .arg(u64::try_from(block.as_millis()).unwrap_or(u64::MAX))
            .arg("STREAMS")
            .arg(keys::events())
            .arg(id)
            .query_async(conn)
            .await?;
        // [[stream, [[id, [field, value]], ...]]] or nil on timeout.
        let entries = match reply {
            redis::Value::Array(streams) => streams
                .into_iter()
                .filter_map(|stream| match stream {
                    redis::Value::Array(mut parts) if parts.len() == 2 => parts.pop(),
                    _ => None,
                })
                .next(),
            _ => None,
        };
        Ok(entries.map(parse).unwrap_or_default())
    }

    /// Per-minute counts of the [`COUNTED`] kinds for the last `minutes`
    /// minutes (oldest first): `(minute start ms, counts in COUNTED order)`.
    pub async fn series(&self, minutes: u64) -> Result<Vec<(u64, [u64; 4])>, StoreError> {
        let now = crate::duration::epoch_ms() / 60_000;
        let first = now + 1 - minutes.max(1);
        let mut cmd = redis::cmd("MGET");
        for minute in first..=now {
            for kind in COUNTED {
                cmd.arg(keys::event_count(kind, minute));
            }
        }
        let values: Vec<Option<u64>> = cmd.query_async(&mut self.store.conn()).await?;
        Ok((first..=now)
            .zip(values.chunks(COUNTED.len()))
            .map(|(minute, counts)| {
                let mut row = [0; 4];
                for (slot, count) in row.iter_mut().zip(counts) {
                    *slot = count.unwrap_or(0);
                }
                (minute * 60_000, row)
            })
            .collect())
    }
}

/// Reads `[[id, [field, value, ...]], ...]`; entries that are not events
/// are skipped.
fn parse(value: redis::Value) -> Vec<Event> {
    let redis::Value::Array(entries) = value else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|entry| {
            let (id, fields): (String, Vec<String>) = redis::from_redis_value(entry).ok()?;
            let json = fields
                .chunks_exact(2)
                .find(|pair| pair[0] == "e")
                .map(|pair| &pair[1])?;
            let mut event: Event = serde_json::from_str(json).ok()?;
            event.id = id;
            Some(event)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestRedis;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_drops_and_counts_new_events_and_never_blocks() {
        let redis = TestRedis::start().await;
        let events = Events::new(redis.store().await, "gh-a", 100_000);
        redis.freeze();
        let started = std::time::Instant::now();
        let offered = QUEUE + 2 * BATCH + 1_000;
        for i in 0..offered {
            events.emit(Event::new("rate_limited").detail("i", i));
        }
        let took = started.elapsed();
        redis.thaw();
        assert!(
            took < Duration::from_secs(2),
            "emitting blocked for {took:?}"
        );
        // The queue holds QUEUE; the writer has at most one batch in hand.
        let dropped = events.dropped();
        assert!(
            (1_000..=(2 * BATCH + 1_000) as u64).contains(&dropped),
            "dropped {dropped} of {offered}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn events_emitted_while_redis_restarts_are_not_lost() {
        let mut redis = TestRedis::start().await;
        let events = Events::new(redis.store().await, "gh-a", 1000);
        redis.stop().await;
        for i in 0..3 {
            events.emit(Event::new("login_succeeded").detail("i", i));
        }
        // Redis comes back while the writer is still retrying.
        tokio::time::sleep(Duration::from_millis(300)).await;
        redis.restart().await;
        events.flush().await;
        let written = events.recent(&Filter::default(), 10, 10).await.unwrap();
        assert_eq!(written.len(), 3, "{written:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_blocking_read_on_a_frozen_redis_fails_in_bounded_time() {
        let redis = TestRedis::start().await;
        let store = crate::Store::connect(&crate::StoreConfig {
            response_timeout: Duration::from_millis(300),
            ..crate::StoreConfig::single(redis.url())
        })
        .await
        .unwrap();
        let block = Duration::from_millis(200);
        let mut conn = store.dedicated(block).await.unwrap();
        // Answers while Redis runs: nothing new within the block.
        assert!(
            Events::tail(&mut conn, "$", block)
                .await
                .unwrap()
                .is_empty()
        );
        redis.freeze();
        let started = std::time::Instant::now();
        let read = Events::tail(&mut conn, "$", block).await;
        let took = started.elapsed();
        redis.thaw();
        assert!(
            matches!(read, Err(StoreError::Unavailable(_))),
            "a frozen Redis must fail the read: {read:?}"
        );
        assert!(took < Duration::from_secs(1), "took {took:?}");
    }

    crate::both_topologies! {
        async fn events_are_written_read_back_filtered_and_counted(backend) {
            let events = Events::new(backend.store().await, "gh-a", 1000);
            events.emit(
                Event::new("login_failed")
                    .username("Alice")
                    .ip("192.0.2.1")
                    .detail("reason", "invalid_credentials"),
            );
            events.emit(
                Event::new("login_succeeded")
                    .user("u1")
                    .username("alice")
                    .session("s1")
                    .ip("192.0.2.1"),
            );
            events.emit(Event::new("lock_acquired").detail("lock", "jobs/nightly"));
            events.flush().await;

            let all = events.recent(&Filter::default(), 10, 100).await.unwrap();
            assert_eq!(all.len(), 3);
            assert_eq!(all[0].kind, "lock_acquired", "newest first");
            assert_eq!(all[2].details["reason"], "invalid_credentials");
            assert!(all.iter().all(|e| e.instance == "gh-a" && !e.id.is_empty()));

            let logins = Filter {
                kind: Some("login".into()),
                user: Some("alice".into()),
                ..Filter::default()
            };
            assert_eq!(events.recent(&logins, 10, 100).await.unwrap().len(), 2);
            let by_ip = Filter {
                ip: Some("192.0.2.1".into()),
                ..Filter::default()
            };
            assert_eq!(events.recent(&by_ip, 1, 100).await.unwrap().len(), 1);

            let after = events.after(&all[2].id, 10).await.unwrap();
            assert_eq!(
                after.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
                ["login_succeeded", "lock_acquired"]
            );

            let series = events.series(5).await.unwrap();
            assert_eq!(series.len(), 5);
            let totals = series.iter().fold([0; 4], |mut acc, (_, row)| {
                for (a, r) in acc.iter_mut().zip(row) {
                    *a += r;
                }
                acc
            });
            assert_eq!(totals, [1, 1, 0, 0]);
        }
    }

    #[tokio::test]
    async fn a_tail_sees_events_from_another_instance() {
        let redis = TestRedis::start().await;
        let a = Events::new(redis.store().await, "gh-a", 1000);
        let b = Events::new(redis.store().await, "gh-b", 1000);
        let start = b.last_id().await.unwrap();
        let mut conn = redis::Client::open(redis.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let reader =
            tokio::spawn(
                async move { Events::tail(&mut conn, &start, Duration::from_secs(5)).await },
            );
        tokio::time::sleep(Duration::from_millis(100)).await;
        a.emit(Event::new("session_revoked").user("u9"));
        a.flush().await;
        let seen = reader.await.unwrap().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].instance, "gh-a");
    }

    crate::both_topologies! {
        /// A flood of refusals is two events per subject and window, and
        /// however many other events push the stream past its cap, the
        /// audit stream keeps every audit event.
        async fn floods_are_aggregated_and_cannot_evict_audit_events(backend) {
            let store = backend.store().await;
            let events = Events::with_retention(store.clone(), "gh-a", Retention { events: 100, audit: 10_000 });
            for i in 0..10 {
                events.emit(Event::new("login_succeeded").user(&format!("u{i}")));
            }
            for i in 0..2_000 {
                events.emit(Event::new("token_renewed").detail("i", i));
            }
            let window = Duration::from_millis(1_200);
            for _ in 0..5_000 {
                events.refused("api-user:u1", window, Event::new("rate_limited").user("u1"));
            }
            events.flush().await;
            let limited = Filter { kind: Some("rate_limited".to_owned()), ..Filter::default() };
            let now = events.recent(&limited, 10, 10_000).await.unwrap();
            assert_eq!(now.len(), 1, "the first refusal at once, the rest counted");
            assert_eq!(now[0].details["count"], "1");

            // When the window has passed, one more event with the count.
            tokio::time::sleep(Duration::from_millis(2_500)).await;
            events.flush().await;
            let later = events.recent(&limited, 10, 10_000).await.unwrap();
            assert_eq!(later.len(), 2, "{later:?}");
            assert_eq!(later[0].details["count"], "4999");
            let (_, counts) = events.series(2).await.unwrap().into_iter().fold(
                (0, [0u64; 4]),
                |(_, mut acc), (minute, row)| {
                    for (a, r) in acc.iter_mut().zip(row) {
                        *a += r;
                    }
                    (minute, acc)
                },
            );
            assert_eq!(counts[3], 5_000, "the chart still counts every refusal");

            // The main stream was trimmed far past the sign-ins...
            let all = events.recent(&Filter { kind: Some("login".to_owned()), ..Filter::default() }, 100, 10_000).await.unwrap();
            assert!(all.is_empty(), "{} sign-ins survived in the capped stream", all.len());
            // ...the audit stream has them all, and nothing else.
            let audit = events.recent_in(Stream::Audit, &Filter::default(), 100, 10_000).await.unwrap();
            assert_eq!(audit.len(), 10);
            assert!(audit.iter().all(|e| e.kind == "login_succeeded"));
        }
    }

    #[tokio::test]
    async fn spraying_subjects_cannot_grow_memory_without_bound() {
        let redis = TestRedis::start().await;
        let events = Events::new(redis.store().await, "gh-a", 100_000);
        let window = Duration::from_secs(60);
        for i in 0..(aggregate::MAX_SUBJECTS + 5_000) {
            events.refused(
                &format!("ip:10.0.{}.{}", i / 256, i % 256),
                window,
                Event::new("rate_limited"),
            );
        }
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        events.flush().await;
        let many = Filter {
            kind: Some("rate_limited".to_owned()),
            ..Filter::default()
        };
        let recorded = events.recent(&many, 20_000, 20_000).await.unwrap();
        assert_eq!(
            recorded.len(),
            aggregate::MAX_SUBJECTS + 1,
            "one per tracked subject, one for the rest"
        );
        let overflow = recorded
            .iter()
            .find(|e| e.details.get("subjects").map(String::as_str) == Some("many"))
            .unwrap();
        assert_eq!(overflow.details["count"], "5000");
    }

    crate::both_topologies! {
        async fn the_stream_is_capped(backend) {
            let events = Events::new(backend.store().await, "gh-a", 100);
            for i in 0..1_000 {
                events.emit(Event::new("rate_limited").detail("i", i));
            }
            events.flush().await;
            let len: u64 = redis::cmd("XLEN")
                .arg(keys::events())
                .query_async(&mut backend.store().await.conn())
                .await
                .unwrap();
            // Trimming is approximate (whole radix-tree nodes), never below the cap.
            assert!((100..400).contains(&len), "stream holds {len} events");
            // What is kept is the newest, and nothing was lost on the way.
            let newest = events.recent(&Filter::default(), 100, 100).await.unwrap();
            let numbers: Vec<u64> = newest
                .iter()
                .map(|e| e.details["i"].parse().unwrap())
                .collect();
            assert_eq!(numbers, (900..1_000).rev().collect::<Vec<u64>>());
        }
    }
}
