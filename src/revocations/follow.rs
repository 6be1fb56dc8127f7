//! Following the stream: one task per instance, on a connection of its
//! own, resuming after the last entry it read.

use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::Value;

use super::mirror::{Entry, Mirror};
use crate::duration::epoch_ms;
use crate::observe::REVOCATION_MIRROR_LAG;
use crate::store::{Store, StoreError, keys};

/// How long one read waits for new entries. While it waits, each entry
/// is handed to it as it is written, so a read that was waiting when
/// Redis went away missed nothing; the mirror counts as whole up to the
/// last answer plus this.
pub const BLOCK: Duration = Duration::from_secs(1);
/// Entries per read.
const COUNT: usize = 1_000;
/// The pause before reconnecting after a failed read or connection. Short:
/// when Redis answers again, the mirror must catch up before degraded mode
/// can vouch for anything (revocations may be written again from then on),
/// so every moment it waits is a moment of 503s.
const RETRY: Duration = Duration::from_millis(50);

/// Starts following the stream into a new mirror for access tokens
/// living `access_ttl`; the task ends with the last handle on the mirror.
pub fn follow(store: Store, access_ttl: Duration) -> Arc<Mirror> {
    let mirror = Arc::new(Mirror::new(access_ttl));
    tokio::spawn(run(store, Arc::downgrade(&mirror)));
    mirror
}

async fn run(store: Store, mirror: Weak<Mirror>) {
    // Primed with the last lifetime of entries, then resumed after the
    // last one read, across reconnections.
    let mut last = match mirror.upgrade() {
        Some(mirror) => {
            let start = epoch_ms().saturating_sub(crate::duration::millis(mirror.lifetime()));
            format!("{start}-0")
        }
        None => return,
    };
    loop {
        let mut conn = match store.dedicated(BLOCK).await {
            Ok(conn) => conn,
            Err(err) => {
                tracing::debug!(error = %err, "revocation mirror cannot connect; retrying");
                if !lagging(&mirror) {
                    return;
                }
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        // The first read after (re)connecting does not wait, so that the
        // mirror counts as whole as soon as it caught up.
        let mut block = None;
        loop {
            let read = read(&mut conn, &last, block).await;
            block = Some(BLOCK);
            let Some(mirror) = mirror.upgrade() else {
                return;
            };
            let now = epoch_ms();
            match read {
                Ok(batch) => {
                    let whole = batch.len() < COUNT;
                    for (id, at_ms, entry) in batch {
                        if let Some(entry) = entry {
                            mirror.insert(entry, at_ms, now);
                        }
                        last = id;
                    }
                    if whole {
                        mirror.synced(now);
                    }
                    record_lag(&mirror, now);
                }
                Err(err) => {
                    tracing::warn!(error = %err, "revocation mirror lost Redis; resuming after the last entry read");
                    record_lag(&mirror, now);
                    drop(mirror);
                    tokio::time::sleep(RETRY).await;
                    break;
                }
            }
        }
    }
}

/// Records the lag after a failed connection; `false` once the mirror is
/// gone.
fn lagging(mirror: &Weak<Mirror>) -> bool {
    mirror.upgrade().is_some_and(|mirror| {
        record_lag(&mirror, epoch_ms());
        true
    })
}

/// The lag: how long ago the mirror was last known to hold every entry.
fn record_lag(mirror: &Mirror, now_ms: u64) {
    let lag_ms = mirror
        .synced_at_ms()
        .map_or(now_ms, |synced| now_ms.saturating_sub(synced));
    metrics::gauge!(REVOCATION_MIRROR_LAG).set(lag_ms as f64 / 1_000.0);
}

type Read = (String, u64, Option<Entry>);

/// Entries after `last`, waiting up to `block` for some if there are none.
async fn read(
    conn: &mut (impl redis::aio::ConnectionLike + Send),
    last: &str,
    block: Option<Duration>,
) -> Result<Vec<Read>, StoreError> {
    let mut cmd = redis::cmd("XREAD");
    cmd.arg("COUNT").arg(COUNT);
    if let Some(block) = block {
        cmd.arg("BLOCK").arg(crate::duration::millis(block));
    }
    let reply: Value = cmd
        .arg("STREAMS")
        .arg(keys::revocations())
        .arg(last)
        .query_async(conn)
        .await?;
    // [[stream, [[id, [field, value, ...]], ...]]], or nil when none came.
    let Value::Array(streams) = reply else {
        return Ok(Vec::new());
    };
    let entries = streams.into_iter().find_map(|stream| match stream {
        Value::Array(mut parts) if parts.len() == 2 => parts.pop(),
        _ => None,
    });
    let Some(Value::Array(entries)) = entries else {
        return Ok(Vec::new());
    };
    Ok(entries.into_iter().filter_map(parse).collect())
}

/// `[id, [field, value, ...]]` → the id, when it was written and what it
/// revokes (`None` for an entry this version does not know: skipped, but
/// read past).
fn parse(entry: Value) -> Option<Read> {
    let Value::Array(mut parts) = entry else {
        return None;
    };
    let fields = parts.pop()?;
    let id: String = redis::from_redis_value(parts.pop()?).ok()?;
    let fields: Vec<(String, String)> = redis::from_redis_value(fields).unwrap_or_default();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let at_ms = field("at")
        .and_then(|at| at.parse().ok())
        .unwrap_or_else(|| id_ms(&id));
    let entry = match field("k").as_deref() {
        Some("s") => field("s").map(|session_id| Entry::Session { session_id }),
        Some("t") => field("j").map(|jti| Entry::Token { jti }),
        Some("u") => field("u").map(|user_id| Entry::User {
            user_id,
            keep: field("s"),
        }),
        _ => None,
    };
    if entry.is_none() {
        tracing::warn!(%id, "a revocation entry of an unknown form is skipped");
    }
    Some((id, at_ms, entry))
}

/// The milliseconds part of a stream id.
fn id_ms(id: &str) -> u64 {
    id.split_once('-')
        .map_or(id, |(ms, _)| ms)
        .parse()
        .unwrap_or(0)
}
