//! Sessions: one per sign-in per device, kept in Redis.
//!
//! A session is a small hash (`gh:{u:<user>}:s:<id>`: user, created, last
//! seen, IP, device label, refresh generation, current token ids, absolute
//! expiry) whose Redis TTL *is* its idle timeout: every use slides it
//! forward, capped by the absolute lifetime. Nothing sweeps sessions;
//! Redis expires them. Each user also has an index (a sorted set of session
//! ids scored by expiry time) so that their sessions are listed in
//! O(log n + m) and "sign out everywhere" is one script.
//!
//! Invariants, each kept by one Lua script:
//! - the index lists exactly the live sessions: creation, use and
//!   revocation update session and index together, and expired entries are
//!   pruned when sessions are created or used;
//! - a disabled user gets no new session (the check is in the creation
//!   script, so it cannot race with the disabling);
//! - a user has at most `max_per_user` sessions; the least recently used
//!   are ended first.

mod console;
mod create;
pub mod device;
mod ended;
mod touch;

use crate::duration::millis;
use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;
use serde::{Deserialize, Serialize};

use crate::revocations::Revoked;
use crate::store::{Store, StoreError, keys};

pub use ended::Ended;
use ended::{EndedAll, EndedOne};
pub use touch::Touched;
pub(crate) use touch::{TOUCH_LUA, Touch};

static REVOKE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("revoke.lua")));
static REVOKE_ALL: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("revoke_all.lua")));

/// Session lifetimes.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// A session unused this long ends (sliding).
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, however active.
    pub absolute_lifetime: Duration,
    /// Most sessions one user may have; the least recently used are ended.
    pub max_per_user: u32,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_lifetime: Duration::from_secs(7 * 24 * 3600),
            max_per_user: 100,
        }
    }
}

/// A live session, as listed to its owner and to admins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub created_at_ms: u64,
    pub last_seen_at_ms: u64,
    pub ip: String,
    pub device: String,
    /// How many times its refresh token has been rotated.
    pub generation: u64,
    /// When it ends if unused from now on.
    pub idle_expires_at_ms: u64,
    /// When it ends regardless.
    pub absolute_expires_at_ms: u64,
}

/// Who is starting a session, and with which tokens.
#[derive(Clone, Debug)]
pub struct NewSession<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
    pub refresh_jti: &'a str,
    pub access_jti: &'a str,
    /// The access token's expiry (ms since the epoch).
    pub access_expires_at_ms: u64,
    /// What the user must do before anything else.
    pub pending: crate::token::Pending,
    /// The password generation the sign-in verified (see
    /// [`crate::user::User::password_generation`]).
    pub password_generation: u64,
}

/// A session that was just created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    pub created_at_ms: u64,
    pub absolute_expires_at_ms: u64,
    /// Sessions ended to stay under the per-user cap.
    pub evicted: u64,
}

/// What can go wrong with sessions.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the session has ended")]
    Ended,
    #[error("the access token was revoked")]
    TokenRevoked,
    #[error("the user is disabled")]
    UserDisabled,
    /// The password was set again after the sign-in verified it.
    #[error("the password changed while signing in")]
    PasswordChanged,
    #[error("stored session is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<redis::RedisError> for SessionError {
    fn from(err: redis::RedisError) -> Self {
        SessionError::Store(err.into())
    }
}

/// Session storage. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Sessions {
    store: Store,
    config: SessionConfig,
}

impl Sessions {
    pub fn new(store: Store, config: SessionConfig) -> Self {
        Self { store, config }
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// One session of a user, if alive.
    pub async fn get(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> Result<Option<Session>, SessionError> {
        if !keys::is_id(user_id) || !keys::is_id(session_id) {
            return Ok(None);
        }
        Ok(self.load(&[(user_id, session_id)]).await?.pop().flatten())
    }

    /// Reads sessions by (user id, session id) in one round trip; `None`
    /// for those that ended.
    async fn load(&self, ids: &[(&str, &str)]) -> Result<Vec<Option<Session>>, SessionError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for (user_id, session_id) in ids {
            pipe.cmd("HGETALL").arg(keys::session(user_id, session_id));
            pipe.cmd("PTTL").arg(keys::session(user_id, session_id));
        }
        let replies: Vec<(HashMap<String, String>, i64)> =
            pipe.query_async(&mut self.store.conn()).await?;
        ids.iter()
            .zip(replies)
            .map(|((_, session_id), (fields, ttl))| self.parse(session_id, fields, ttl))
            .collect()
    }

    /// A user's live sessions, most recently used first.
    pub async fn list(&self, user_id: &str) -> Result<Vec<Session>, SessionError> {
        if !keys::is_id(user_id) {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(keys::user_sessions(user_id))
            .arg("+inf")
            .arg("(0")
            .arg("BYSCORE")
            .arg("REV")
            .query_async(&mut self.store.conn())
            .await?;
        let pairs: Vec<(&str, &str)> = ids.iter().map(|id| (user_id, id.as_str())).collect();
        let mut sessions: Vec<Session> = self.load(&pairs).await?.into_iter().flatten().collect();
        sessions.sort_by_key(|s| std::cmp::Reverse(s.last_seen_at_ms));
        Ok(sessions)
    }

    /// Ends one session. `None` when it had already ended.
    #[tracing::instrument(skip_all, fields(user_id = %user_id, session_id = %session_id), err)]
    pub async fn revoke(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> Result<Option<Ended>, SessionError> {
        if !keys::is_id(user_id) || !keys::is_id(session_id) {
            return Ok(None);
        }
        // First, so that no revocation can lack its entry.
        let revoked = Revoked::Session {
            user_id,
            session_id,
        };
        crate::revocations::publish(&self.store, &[revoked]).await?;
        let mut write = self.store.durable();
        let EndedOne(token) = REVOKE
            .key(keys::session(user_id, session_id))
            .key(keys::user_sessions(user_id))
            .arg(session_id)
            .invoke_async(write.conn())
            .await?;
        write.confirm("session_revoked").await;
        let ended = token.map(|(access_jti, access_expires_at_ms)| Ended {
            session_id: session_id.to_owned(),
            access_jti,
            access_expires_at_ms,
        });
        self.unindex(user_id, ended.as_slice()).await?;
        Ok(ended)
    }

    async fn unindex(&self, user_id: &str, ended: &[Ended]) -> Result<(), SessionError> {
        if ended.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("ZREM");
        cmd.arg(keys::all_sessions());
        for e in ended {
            cmd.arg(format!("{user_id}:{}", e.session_id));
        }
        let _: () = cmd.query_async(&mut self.store.conn()).await?;
        Ok(())
    }

    /// The user of this session did what `done` names (changed the
    /// password, enrolled a second factor) that the session was opened
    /// with pending: it is pending no more. (Never creates the session if
    /// it has just ended.)
    pub async fn clear_pending(
        &self,
        user_id: &str,
        session_id: &str,
        done: crate::token::Pending,
    ) -> Result<(), SessionError> {
        let mut cmd = redis::cmd("HDEL");
        cmd.arg(keys::session(user_id, session_id));
        if done.password_change {
            cmd.arg("pw");
        }
        if done.mfa_enrollment {
            cmd.arg("mfa");
        }
        if done != crate::token::Pending::default() {
            let _: () = cmd.query_async(&mut self.store.conn()).await?;
        }
        Ok(())
    }

    /// Ends all of a user's sessions except `keep` (if given).
    #[tracing::instrument(skip_all, fields(user_id = %user_id), err)]
    pub async fn revoke_all(
        &self,
        user_id: &str,
        keep: Option<&str>,
    ) -> Result<Vec<Ended>, SessionError> {
        if !keys::is_id(user_id) {
            return Ok(Vec::new());
        }
        // First, so that no revocation can lack its entry.
        let revoked = Revoked::User { user_id, keep };
        crate::revocations::publish(&self.store, &[revoked]).await?;
        let mut write = self.store.durable();
        let EndedAll(ended) = REVOKE_ALL
            .key(keys::user_sessions(user_id))
            .key(keys::session_prefix(user_id))
            .arg(keep.unwrap_or(""))
            .invoke_async(write.conn())
            .await?;
        write.confirm("sessions_revoked").await;
        self.unindex(user_id, &ended).await?;
        Ok(ended)
    }

    fn parse(
        &self,
        id: &str,
        mut fields: HashMap<String, String>,
        ttl_ms: i64,
    ) -> Result<Option<Session>, SessionError> {
        if fields.is_empty() || ttl_ms <= 0 {
            return Ok(None);
        }
        let number = |name: &str| -> Result<u64, SessionError> {
            fields
                .get(name)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| SessionError::Corrupt(format!("field `{name}`")))
        };
        let created_at_ms = number("created")?;
        let last_seen_at_ms = number("seen")?;
        let generation = number("gen")?;
        let absolute_expires_at_ms = number("abs")?;
        let idle_expires_at_ms =
            (last_seen_at_ms + millis(self.config.idle_timeout)).min(absolute_expires_at_ms);
        Ok(Some(Session {
            id: id.to_owned(),
            user_id: fields.remove("uid").unwrap_or_default(),
            created_at_ms,
            last_seen_at_ms,
            ip: fields.remove("ip").unwrap_or_default(),
            device: fields.remove("dev").unwrap_or_default(),
            generation,
            idle_expires_at_ms,
            absolute_expires_at_ms,
        }))
    }
}

#[cfg(test)]
mod tests;
