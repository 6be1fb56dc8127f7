//! The token blacklist: access tokens revoked before they expire.
//!
//! An access token is valid until its `exp`; revoking it early (sign-out,
//! rotation, reuse detection, an admin) puts its `jti` here, in its user's
//! slot (`gh:{u:<user>}:bl:<jti>`), with a TTL equal to the token's
//! remaining life: the entry disappears exactly when it stops mattering.
//! Request validation checks it in the same script as the session, so the
//! check costs no extra round trip.
//!
//! An entry carries an `effective` time: a token rotated while still valid
//! stays usable for a short grace period, so requests already in flight
//! with it succeed; after that it gets `token_revoked`. A global index
//! lets admins list entries without `KEYS`; it is advisory (entries leave
//! it lazily as they expire), the per-token key is authoritative.

use std::collections::HashMap;
use std::time::Duration;

use crate::api::events::Blacklisted;
use crate::events::{Event, EventKind, Events};
use crate::revocations::Revoked;
use crate::store::{Store, StoreError, keys};

/// Why a token was revoked (the event vocabulary's, so events and
/// entries name reasons alike).
pub use crate::api::events::Reason;

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Logout => "logout",
            Reason::SessionRevoked => "session_revoked",
            Reason::Rotated => "rotated",
            Reason::Renewed => "renewed",
            Reason::AdminRevoke => "admin_revoke",
            Reason::ReuseDetected => "reuse_detected",
        }
    }

    pub fn parse(text: &str) -> Option<Reason> {
        [
            Reason::Logout,
            Reason::SessionRevoked,
            Reason::Rotated,
            Reason::Renewed,
            Reason::AdminRevoke,
            Reason::ReuseDetected,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

/// A token to revoke.
#[derive(Clone, Debug)]
pub struct Revocation<'a> {
    pub jti: &'a str,
    pub user_id: &'a str,
    pub session_id: &'a str,
    pub reason: Reason,
    /// The token's own expiry (ms since the epoch).
    pub expires_at_ms: u64,
    /// How long the token keeps working (zero: revoked at once).
    pub grace: Duration,
}

/// A blacklist entry as admins see it, and a page of them (most recently
/// revoked first): the wire types.
pub use crate::api::users::{BlacklistEntry as Entry, BlacklistPage as EntryPage};

/// The blacklist. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Blacklist {
    store: Store,
    events: Option<Events>,
}

impl Blacklist {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            events: None,
        }
    }

    /// Reports every blacklisted token as a `token_blacklisted` event.
    pub fn with_events(mut self, events: Events) -> Self {
        self.events = Some(events);
        self
    }

    fn report(&self, user_id: &str, session_id: &str, jti: &str, reason: Reason) {
        if let Some(events) = &self.events {
            events.emit(
                Event::new(EventKind::TokenBlacklisted(Blacklisted {
                    jti: jti.to_owned(),
                    reason,
                }))
                .user(user_id)
                .session(session_id),
            );
        }
    }

    /// Revokes tokens (skipping any that already expired).
    pub async fn add(&self, revocations: &[Revocation<'_>]) -> Result<(), StoreError> {
        let now = crate::duration::epoch_ms();
        let live: Vec<Revoked<'_>> = revocations
            .iter()
            .filter(|r| r.expires_at_ms > now)
            .map(|r| Revoked::Token { jti: r.jti })
            .collect();
        // First, so that no revocation can lack its entry.
        crate::revocations::publish(&self.store, &live).await?;
        self.add_published(revocations).await
    }

    /// [`Blacklist::add`] for tokens whose revocation is already in the
    /// revocation stream (those of sessions that ended: the session's
    /// entry, or the user's cut, covers them).
    pub(crate) async fn add_published(
        &self,
        revocations: &[Revocation<'_>],
    ) -> Result<(), StoreError> {
        let now = crate::duration::epoch_ms();
        let mut pipe = redis::pipe();
        let mut any = false;
        for r in revocations.iter().filter(|r| r.expires_at_ms > now) {
            let key = keys::blacklisted(r.user_id, r.jti);
            let effective = now + crate::duration::millis(r.grace);
            pipe.cmd("HSET")
                .arg(&key)
                .arg("sid")
                .arg(r.session_id)
                .arg("reason")
                .arg(r.reason.as_str())
                .arg("revoked")
                .arg(now)
                .arg("effective")
                .arg(effective)
                .arg("expires")
                .arg(r.expires_at_ms)
                .ignore();
            pipe.cmd("PEXPIREAT")
                .arg(&key)
                .arg(r.expires_at_ms)
                .ignore();
            pipe.cmd("ZADD")
                .arg(keys::blacklist_index())
                .arg(r.expires_at_ms)
                .arg(format!("{}:{}", r.user_id, r.jti))
                .ignore();
            tracing::info!(jti = %r.jti, session_id = %r.session_id, reason = r.reason.as_str(), "token blacklisted");
            self.report(r.user_id, r.session_id, r.jti, r.reason);
            any = true;
        }
        if any {
            let _: () = pipe.query_async(&mut self.store.conn()).await?;
        }
        Ok(())
    }

    /// Adds an entry a script already wrote to the admin index.
    pub(crate) async fn index(
        &self,
        user_id: &str,
        session_id: &str,
        jti: &str,
        expires_at_ms: u64,
        reason: Reason,
    ) -> Result<(), StoreError> {
        self.report(user_id, session_id, jti, reason);
        let _: () = redis::cmd("ZADD")
            .arg(keys::blacklist_index())
            .arg(expires_at_ms)
            .arg(format!("{user_id}:{jti}"))
            .query_async(&mut self.store.conn())
            .await?;
        Ok(())
    }

    /// Live entries, most recently revoked first.
    pub async fn list(&self, offset: u64, limit: u64) -> Result<EntryPage, StoreError> {
        let (total, page) = self
            .store
            .live_index_page(&keys::blacklist_index(), offset, limit)
            .await?;
        let members: Vec<String> = page.into_iter().map(|(member, _)| member).collect();
        let ids: Vec<(String, String)> = members
            .iter()
            .filter_map(|m| m.split_once(':'))
            .map(|(u, j)| (u.to_owned(), j.to_owned()))
            .collect();
        if ids.is_empty() {
            return Ok(EntryPage {
                total,
                entries: Vec::new(),
            });
        }
        let mut pipe = redis::pipe();
        for (user, jti) in &ids {
            pipe.cmd("HGETALL").arg(keys::blacklisted(user, jti));
        }
        let records: Vec<Stored> = pipe.query_async(&mut self.store.conn()).await?;
        let mut entries: Vec<Entry> = ids
            .into_iter()
            .zip(records)
            .filter_map(|((user_id, jti), Stored(fields))| {
                let fields = fields?;
                Some(Entry {
                    jti,
                    user_id,
                    session_id: fields.session_id,
                    reason: fields.reason,
                    revoked_at_ms: fields.revoked_at_ms,
                    effective_at_ms: fields.effective_at_ms,
                    expires_at_ms: fields.expires_at_ms,
                })
            })
            .collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.revoked_at_ms));
        Ok(EntryPage { total, entries })
    }
}

/// The fields of one entry's hash, all written at once (by [`Blacklist::add`]
/// or the rotation scripts).
struct Fields {
    session_id: String,
    reason: String,
    revoked_at_ms: u64,
    effective_at_ms: u64,
    expires_at_ms: u64,
}

/// One entry's hash as `HGETALL` returns it: `None` when it expired since
/// the index was read; a hash that lacks a field, or holds a non-number
/// where a time belongs, is an error (never shown as a zero).
struct Stored(Option<Fields>);

impl redis::FromRedisValue for Stored {
    fn from_redis_value(value: redis::Value) -> Result<Self, redis::ParsingError> {
        let fields: HashMap<String, String> = redis::from_redis_value(value)?;
        if fields.is_empty() {
            return Ok(Stored(None));
        }
        let mut fields = crate::store::reply::Fields::new("a blacklist entry", fields);
        Ok(Stored(Some(Fields {
            session_id: fields.text("sid")?,
            reason: fields.text("reason")?,
            revoked_at_ms: fields.number("revoked")?,
            effective_at_ms: fields.number("effective")?,
            expires_at_ms: fields.number("expires")?,
        })))
    }
}

#[cfg(test)]
mod tests {
    use redis::{FromRedisValue, Value};

    use super::*;

    fn hash(pairs: &[(&str, &str)]) -> Value {
        Value::Array(
            pairs
                .iter()
                .flat_map(|(k, v)| [k, v])
                .map(|text| Value::BulkString(text.as_bytes().to_vec()))
                .collect(),
        )
    }

    const WHOLE: [(&str, &str); 5] = [
        ("sid", "s1"),
        ("reason", "logout"),
        ("revoked", "1000"),
        ("effective", "1000"),
        ("expires", "2000"),
    ];

    #[test]
    fn an_entry_reads_whole_or_not_at_all() {
        let Stored(Some(fields)) = Stored::from_redis_value(hash(&WHOLE)).unwrap() else {
            panic!("a whole entry reads");
        };
        assert_eq!(
            (fields.reason.as_str(), fields.expires_at_ms),
            ("logout", 2000)
        );
        assert!(Stored::from_redis_value(hash(&[])).unwrap().0.is_none());
        for name in ["sid", "reason", "revoked", "effective", "expires"] {
            let partial: Vec<_> = WHOLE.into_iter().filter(|(k, _)| *k != name).collect();
            let err = Stored::from_redis_value(hash(&partial)).err().unwrap();
            assert!(err.to_string().contains(name), "{err}");
        }
        let mut bad = WHOLE;
        bad[4] = ("expires", "later");
        let err = Stored::from_redis_value(hash(&bad)).err().unwrap();
        assert!(err.to_string().contains("expires"), "{err}");
    }
}
