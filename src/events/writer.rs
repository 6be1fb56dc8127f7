//! The background writer: drains the queue in pipelined batches.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{AUDIT, BATCH, COUNTED, Command, Event, Retention};
use crate::alerts::{self, Alerts};
use crate::store::{Store, keys};

/// How often, and how long apart, a batch is sent again when Redis
/// refused it (about 6 s in all, so a restart of Redis loses nothing).
const RETRIES: [Duration; 5] = [
    Duration::from_millis(100),
    Duration::from_millis(400),
    Duration::from_millis(1_000),
    Duration::from_millis(2_000),
    Duration::from_millis(2_500),
];

/// Longest a batch is held for a circuit breaker to close before its
/// events are dropped (the queue behind it is bounded as well).
const HOLD_WHILE_OPEN: Duration = Duration::from_secs(300);

/// Writes one batch. A batch whose connection was refused or dropped is
/// sent again a few times: refused, Redis never saw it; dropped, it may
/// have run, and then its events are recorded twice, a rare duplicate
/// preferred to a lost audit event. A batch an open circuit breaker did
/// not send is held until the breaker closes (up to [`HOLD_WHILE_OPEN`]),
/// so the events of an outage are written when Redis is back. A timeout
/// (also a batch given up on when the breaker opened) is not retried: a
/// frozen Redis still runs the batch when it wakes, so sending it again
/// would duplicate every event.
async fn send(store: &Store, pipe: &redis::Pipeline) {
    let mut waits = RETRIES.iter();
    let held = Instant::now();
    loop {
        let err = match pipe.query_async::<()>(&mut store.conn()).await {
            Ok(()) => return,
            Err(err) => err,
        };
        if crate::store::not_sent(&err) && held.elapsed() < HOLD_WHILE_OPEN {
            // Refused at once while the breaker is open; once it lets a
            // trial call through, this send may be that trial.
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        let never_sent = err.is_connection_refusal() || err.is_connection_dropped();
        match waits.next() {
            Some(wait) if never_sent => {
                tracing::debug!(error = %err, "security events not written yet; retrying");
                tokio::time::sleep(*wait).await;
            }
            _ => {
                tracing::warn!(error = %err, "security events could not be written and were dropped");
                return;
            }
        }
    }
}

/// The background writer: drains the queue in batches. Every event goes
/// to the stream; audit events also go to the audit stream, with its own
/// cap, so that no flood of other events can push them out. Once a batch
/// is written, the alert rules see the events that could raise one, and
/// the alerts they raised are written as `alert_raised` events.
pub(super) async fn write(
    store: Store,
    mut commands: mpsc::Receiver<Command>,
    retention: Retention,
    instance: std::sync::Arc<str>,
) {
    let alerts = Alerts::new(store.clone());
    let mut batch = Vec::with_capacity(BATCH);
    let mut watched = Vec::new();
    while commands.recv_many(&mut batch, BATCH).await > 0 {
        let mut pipe = redis::pipe();
        let mut flushes = Vec::new();
        let mut any = false;
        for command in batch.drain(..) {
            match command {
                Command::Emit(event) => {
                    add(&mut pipe, &event, retention);
                    if let Some(candidate) = alerts::rules::candidate(&event) {
                        watched.push((candidate, *event));
                    }
                    any = true;
                }
                Command::Flush(done) => flushes.push(done),
            }
        }
        if any {
            send(&store, &pipe).await;
        }
        if !watched.is_empty() {
            let raised = alerts.raise(watched.drain(..)).await;
            if !raised.is_empty() {
                let mut pipe = redis::pipe();
                for mut event in raised {
                    super::stamp(&mut event, &instance);
                    add(&mut pipe, &event, retention);
                }
                send(&store, &pipe).await;
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

/// Adds the commands that record `event` to `pipe`.
fn add(pipe: &mut redis::Pipeline, event: &Event, retention: Retention) {
    let Ok(json) = serde_json::to_string(event) else {
        return;
    };
    let kind = event.kind.kind();
    let mut streams = vec![(keys::events(), retention.events)];
    if AUDIT.contains(&kind) {
        streams.push((keys::audit(), retention.audit));
    }
    for (stream, max_len) in streams {
        pipe.cmd("XADD")
            .arg(stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(max_len.max(1))
            .arg("*")
            .arg("e")
            .arg(&json)
            .ignore();
    }
    if COUNTED.contains(&kind) {
        let key = keys::event_count(kind.as_str(), event.at_ms / 60_000);
        pipe.cmd("INCRBY")
            .arg(&key)
            .arg(event.kind.stands_for())
            .ignore();
        pipe.cmd("EXPIRE").arg(&key).arg(2 * 3600).ignore();
    }
}
