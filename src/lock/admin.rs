//! What the console sees and does with locks: every held lock with its
//! holder and waiters (one script per shard of the lock index, run
//! concurrently), and force-releasing a lock whoever holds it.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::Script;

use super::{LockError, LockInfo, Locks, validate_name};
use crate::api::events::LockForceReleased;
use crate::events::EventKind;
use crate::store::keys;
use crate::store::reply::Fields;

static FORCE_RELEASE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("force_release.lua")));
static LIST: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("list.lua")));

impl Locks {
    /// Deletes a lock whoever holds it. Returns what it was, or `None` if
    /// it was not held. The holder finds out at its next extension.
    #[tracing::instrument(skip_all, fields(lock = %name), err)]
    pub async fn force_release(&self, name: &str) -> Result<Option<LockInfo>, LockError> {
        validate_name(name)?;
        let fields: Vec<String> = FORCE_RELEASE
            .key(keys::lock(name))
            .key(keys::lock_index(keys::lock_shard(name)))
            .arg(name)
            .arg(keys::lock_released_channel())
            .invoke_async(&mut self.store.conn())
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let info = lock_info(name.to_owned(), 0, 0, pairs(fields))?;
        tracing::warn!(lock = %name, label = %info.label, instance = %info.instance, "lock force-released");
        self.report(|| {
            EventKind::LockForceReleased(LockForceReleased {
                lock: name.to_owned(),
                holder: info.label.clone(),
            })
        });
        Ok(Some(info))
    }

    /// Every held lock, by name.
    pub async fn list(&self) -> Result<Vec<LockInfo>, LockError> {
        let shards = (0..keys::LOCK_SHARDS).map(|shard| {
            let mut conn = self.store.conn();
            async move {
                LIST.key(keys::lock_index(shard))
                    .key(keys::lock_prefix(shard))
                    .key(keys::lock_waiters_prefix(shard))
                    .invoke_async::<Vec<(String, i64, u64, Vec<String>)>>(&mut conn)
                    .await
            }
        });
        let mut locks: Vec<LockInfo> = futures_util::future::try_join_all(shards)
            .await?
            .into_iter()
            .flatten()
            .map(|(name, ttl_left, waiters, fields)| {
                lock_info(name, ttl_left.max(0) as u64, waiters, pairs(fields))
            })
            .collect::<Result<_, _>>()?;
        locks.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(locks)
    }
}

/// A flat field/value list as a map (HGETALL's reply).
fn pairs(flat: Vec<String>) -> HashMap<String, String> {
    let mut map = HashMap::with_capacity(flat.len() / 2);
    let mut iter = flat.into_iter();
    while let (Some(key), Some(value)) = (iter.next(), iter.next()) {
        map.insert(key, value);
    }
    map
}

/// A lock as its hash describes it. Every field is written when the lock is
/// taken, so a missing or malformed one is a corrupt lock, said as such
/// (never shown as a zero).
fn lock_info(
    name: String,
    ttl_left_ms: u64,
    waiters: u64,
    fields: HashMap<String, String>,
) -> Result<LockInfo, LockError> {
    let read = || -> Result<_, redis::ParsingError> {
        let mut fields = Fields::new(format!("lock `{name}`"), fields);
        Ok((
            fields.number("acquired")?,
            fields.number("ttl")?,
            fields.number("fence")?,
            fields.number("count")?,
            fields.text("label")?,
            fields.text("instance")?,
        ))
    };
    let (acquired_at_ms, ttl_ms, fencing_token, hold_count, label, instance) =
        read().map_err(|err| LockError::Corrupt(err.to_string()))?;
    Ok(LockInfo {
        name,
        label,
        instance,
        acquired_at_ms,
        ttl_ms,
        ttl_left_ms,
        fencing_token,
        hold_count,
        waiters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const WHOLE: [(&str, &str); 6] = [
        ("acquired", "1700"),
        ("ttl", "30000"),
        ("fence", "7"),
        ("count", "1"),
        ("label", "nightly"),
        ("instance", "gh-1"),
    ];

    #[test]
    fn a_lock_hash_reads_whole_or_is_corrupt() {
        let info = lock_info("job".to_owned(), 100, 2, fields(&WHOLE)).unwrap();
        assert_eq!(
            (info.fencing_token, info.ttl_ms, info.waiters),
            (7, 30000, 2)
        );
        for field in ["acquired", "ttl", "fence", "count", "label", "instance"] {
            let partial: Vec<_> = WHOLE.into_iter().filter(|(k, _)| *k != field).collect();
            let err = lock_info("job".to_owned(), 0, 0, fields(&partial)).unwrap_err();
            assert!(
                matches!(&err, LockError::Corrupt(m) if m.contains(field) && m.contains("job")),
                "{err:?}"
            );
        }
        let mut bad = fields(&WHOLE);
        bad.insert("fence".to_owned(), "soon".to_owned());
        assert!(matches!(
            lock_info("job".to_owned(), 0, 0, bad),
            Err(LockError::Corrupt(_))
        ));
    }
}
