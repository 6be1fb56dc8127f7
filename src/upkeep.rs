//! Keeping Redis memory bounded.
//!
//! Every key Gatehouse writes either expires (sessions, tokens' blacklist
//! entries, rate-limit windows, rotation results, locks, nonces) or has an
//! owner that deletes it (a user's record and its roles key, the shared
//! signing secret, the capped event stream). What is left are the global
//! indexes the console reads (all sessions, active users, rate-limited
//! subjects, blacklisted tokens, lock registries): sorted sets whose
//! members outlive the keys they point to, because a sorted set member
//! cannot expire by itself. [`prune`] removes those members; once an index
//! is empty, Redis deletes the key.
//!
//! One instance at a time is enough, so [`start`]'s chores run it under
//! a lock; it is safe to run anywhere, any time.

mod chores;

pub use chores::{Intervals, Upkeep, start};

use crate::auth::Auth;
use crate::store::{StoreError, keys};

/// Index entries removed by one [`prune`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Sessions that ended (idled out, evicted) from the console's index.
    pub sessions: u64,
    /// Expired entries of the other indexes.
    pub expired: u64,
}

/// Removes every index entry whose key has gone (see the module docs).
pub async fn prune(auth: &Auth) -> Result<Pruned, StoreError> {
    let mut pruned = Pruned::default();
    let mut cursor = 0;
    loop {
        let (next, removed) = auth.sessions().prune_index(cursor, 1_000).await?;
        pruned.sessions += removed;
        if next == 0 {
            break;
        }
        cursor = next;
    }
    // Indexes scored by when their entry's key expires.
    let now = crate::duration::epoch_ms();
    let mut indexes = vec![
        keys::all_sessions(),
        keys::active_users(),
        keys::rate_limit_index(),
        keys::blacklist_index(),
    ];
    indexes.extend((0..keys::LOCK_SHARDS).map(keys::lock_index));
    let mut pipe = redis::pipe();
    for index in &indexes {
        pipe.cmd("ZREMRANGEBYSCORE").arg(index).arg("-inf").arg(now);
    }
    let removed: Vec<u64> = pipe.query_async(&mut auth.store().conn()).await?;
    pruned.expired = removed.iter().sum();
    Ok(pruned)
}

#[cfg(test)]
mod tests;
