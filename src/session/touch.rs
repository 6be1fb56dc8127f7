//! Using a session: the check every protected request makes (alive, its
//! token not revoked, its user not disabled, the user's current roles) and
//! the slide of its idle timeout, in one script that admission also runs
//! together with the rate limits.

use std::sync::LazyLock;

use redis::Script;

use super::{SessionError, Sessions, millis};
use crate::store::keys;

/// The `touch` Lua function (see touch.lua), also used by the request
/// guard's combined script.
pub(crate) const TOUCH_LUA: &str = include_str!("touch.lua");
static TOUCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{}\n{TOUCH_LUA}\nreturn touched(KEYS, ARGV, now_ms())",
        include_str!("../store/time.lua")
    ))
});

/// A session that was just used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Touched {
    pub generation: u64,
    pub now_ms: u64,
    /// What the session's user must do before anything else (change the
    /// password, enrol a second factor) and has not yet.
    pub pending: crate::token::Pending,
    /// The user's current roles (comma-separated), read in the same
    /// script; `None` for a user whose roles key predates this field.
    pub roles: Option<String>,
}

/// The reply of the `touch` function (see touch.lua), decoded strictly: a
/// reply of any other shape is an error naming the script, never a
/// default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Touch {
    Alive(Touched),
    Ended,
    Revoked,
    Disabled,
}

impl Touch {
    pub(crate) fn into_result(self) -> Result<Touched, SessionError> {
        match self {
            Touch::Alive(touched) => Ok(touched),
            Touch::Ended => Err(SessionError::Ended),
            Touch::Revoked => Err(SessionError::TokenRevoked),
            Touch::Disabled => Err(SessionError::UserDisabled),
        }
    }
}

impl redis::FromRedisValue for Touch {
    fn from_redis_value(value: redis::Value) -> Result<Self, redis::ParsingError> {
        Touch::from_items(&crate::store::reply::items("touch.lua", value)?)
    }
}

impl Touch {
    /// The reply from its items (also the head of admission's reply).
    pub(crate) fn from_items(items: &[redis::Value]) -> Result<Self, redis::ParsingError> {
        use crate::store::reply::{malformed, number, text};
        const SCRIPT: &str = "touch.lua";
        match (number(SCRIPT, items.first(), "a status"), items.len()) {
            (Ok(1), 4 | 5) => Ok(Touch::Alive(Touched {
                generation: number(SCRIPT, items.get(1), "a generation")?,
                now_ms: number(SCRIPT, items.get(2), "a time")?,
                pending: match number(SCRIPT, items.get(3), "pending")? {
                    bits @ 0..=3 => crate::token::Pending {
                        password_change: bits & 1 == 1,
                        mfa_enrollment: bits & 2 == 2,
                    },
                    other => return Err(malformed(SCRIPT, format_args!("{other} as pending"))),
                },
                roles: match items.get(4) {
                    None | Some(redis::Value::Nil) => None,
                    roles => Some(text(SCRIPT, roles, "roles")?),
                },
            })),
            (Ok(0), 1) => Ok(Touch::Ended),
            (Ok(2), 1) => Ok(Touch::Revoked),
            (Ok(3), 1) => Ok(Touch::Disabled),
            _ => Err(malformed(SCRIPT, format_args!("{items:?}"))),
        }
    }
}

impl Sessions {
    /// Confirms the session is alive, the access token `jti` not revoked
    /// and the user not disabled, reads the user's current roles, and
    /// slides the idle timeout. One round trip.
    pub async fn touch(
        &self,
        user_id: &str,
        session_id: &str,
        jti: &str,
    ) -> Result<Touched, SessionError> {
        let reply: Touch = TOUCH
            .key(keys::session(user_id, session_id))
            .key(keys::user_sessions(user_id))
            .key(keys::blacklisted(user_id, jti))
            .key(keys::user_roles(user_id))
            .key(keys::user_disabled(user_id))
            .arg(session_id)
            .arg(millis(self.config.idle_timeout))
            .invoke_async(&mut self.store.conn())
            .await?;
        reply.into_result()
    }
}
