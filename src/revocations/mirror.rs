//! The set in memory: what the stream said, until it no longer matters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::CLOCK_MARGIN;
use crate::duration::millis;
use crate::token::AccessClaims;

/// The most entries held. A mirror that had to drop one cannot vouch for
/// anything until every token the dropped entry could revoke has expired.
pub const CAPACITY: usize = 500_000;

/// One entry, as read from the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Session {
        session_id: String,
    },
    Token {
        jti: String,
    },
    User {
        user_id: String,
        keep: Option<String>,
    },
}

/// A user cut: tokens issued up to `before_ms` are dead, except those of
/// session `keep`.
#[derive(Debug)]
struct Cut {
    before_ms: u64,
    keep: Option<Box<str>>,
    until_ms: u64,
}

#[derive(Debug, Default)]
struct Entries {
    sessions: HashMap<Box<str>, u64>,
    tokens: HashMap<Box<str>, u64>,
    users: HashMap<Box<str>, Vec<Cut>>,
    len: usize,
    next_prune_ms: u64,
    /// An entry was dropped for lack of room: nothing is vouched for
    /// until then.
    incomplete_until_ms: u64,
}

/// This instance's copy of every revocation that can still matter.
#[derive(Debug)]
pub struct Mirror {
    entries: Mutex<Entries>,
    /// How long an entry matters: the access tokens' lifetime (and the
    /// clock margin), after which every token it could revoke expired.
    lifetime_ms: u64,
    /// When the stream was last read to its end (ms since the epoch;
    /// 0 = never, the mirror is not primed yet).
    synced_at_ms: AtomicU64,
}

impl Mirror {
    /// An empty mirror for access tokens living `access_ttl`.
    pub fn new(access_ttl: Duration) -> Self {
        Self {
            entries: Mutex::default(),
            lifetime_ms: millis(access_ttl) + millis(CLOCK_MARGIN),
            synced_at_ms: AtomicU64::new(0),
        }
    }

    /// How far back the stream must be read for this mirror to be whole.
    pub fn lifetime(&self) -> Duration {
        Duration::from_millis(self.lifetime_ms)
    }

    /// Takes in an entry written at `at_ms`; `now_ms` is this clock.
    pub fn insert(&self, entry: Entry, at_ms: u64, now_ms: u64) {
        let until_ms = at_ms.saturating_add(self.lifetime_ms);
        if until_ms <= now_ms {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if now_ms >= entries.next_prune_ms || entries.len >= CAPACITY {
            entries.prune(now_ms);
            entries.next_prune_ms = now_ms + 1_000;
        }
        if entries.len >= CAPACITY {
            entries.incomplete_until_ms = entries.incomplete_until_ms.max(until_ms);
            tracing::error!(
                capacity = CAPACITY,
                "the revocation mirror is full; degraded mode is refused until its entries expire"
            );
            return;
        }
        // Entries arrive in stream order: a repeated one moves the expiry
        // later and adds nothing.
        let fresh = match entry {
            Entry::Session { session_id } => entries
                .sessions
                .insert(session_id.into(), until_ms)
                .is_none(),
            Entry::Token { jti } => entries.tokens.insert(jti.into(), until_ms).is_none(),
            Entry::User { user_id, keep } => {
                let cut = Cut {
                    before_ms: at_ms.saturating_add(millis(CLOCK_MARGIN)),
                    keep: keep.map(String::into_boxed_str),
                    until_ms,
                };
                entries.users.entry(user_id.into()).or_default().push(cut);
                true
            }
        };
        entries.len += usize::from(fresh);
    }

    /// Notes that the stream was read to its end at `now_ms`.
    pub fn synced(&self, now_ms: u64) {
        self.synced_at_ms.fetch_max(now_ms, Ordering::Relaxed);
    }

    /// When the stream was last read to its end (`None`: never).
    pub fn synced_at_ms(&self) -> Option<u64> {
        Some(self.synced_at_ms.load(Ordering::Relaxed)).filter(|&at| at > 0)
    }

    /// Whether the mirror held every revocation made up to `when_ms`,
    /// allowing `slack` for a read that was waiting on the stream then
    /// (a waiting read is handed each entry as it is written).
    pub fn whole_at(&self, when_ms: u64, slack: Duration, now_ms: u64) -> bool {
        let whole = self
            .synced_at_ms()
            .is_some_and(|synced| synced.saturating_add(millis(slack)) >= when_ms);
        whole && {
            let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            entries.incomplete_until_ms <= now_ms
        }
    }

    /// Whether a revocation in the mirror names the token of `claims`.
    pub fn revokes(&self, claims: &AccessClaims) -> bool {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.sessions.contains_key(claims.sid.as_str())
            || entries.tokens.contains_key(claims.jti.as_str())
        {
            return true;
        }
        let issued_ms = claims.iat.saturating_mul(1_000);
        entries.users.get(claims.sub.as_str()).is_some_and(|cuts| {
            cuts.iter()
                .any(|cut| issued_ms <= cut.before_ms && cut.keep.as_deref() != Some(&claims.sid))
        })
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Entries {
    /// Drops what expired by `now_ms`.
    fn prune(&mut self, now_ms: u64) {
        self.sessions.retain(|_, until| *until > now_ms);
        self.tokens.retain(|_, until| *until > now_ms);
        self.users.retain(|_, cuts| {
            cuts.retain(|cut| cut.until_ms > now_ms);
            !cuts.is_empty()
        });
        self.len = self.sessions.len()
            + self.tokens.len()
            + self.users.values().map(Vec::len).sum::<usize>();
    }
}
