//! Starting a session: one script creates it, refusing a user disabled
//! or whose password changed since the sign-in verified it, and ends the
//! least recently used sessions over the per-user cap.

use std::sync::LazyLock;

use redis::{FromRedisValue, ParsingError, Script, Value};

use super::{Created, NewSession, SessionError, Sessions, device, millis};
use crate::store::keys;
use crate::store::reply::{items, malformed, number};

static CREATE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("create.lua")));

/// create.lua's reply: `{-1}` (user disabled), `{-2}` (password changed),
/// or `{created ms, absolute expiry ms, sessions evicted}`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Create {
    UserDisabled,
    PasswordChanged,
    Created(Created),
}

impl FromRedisValue for Create {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        const SCRIPT: &str = "create.lua";
        let items = items(SCRIPT, value)?;
        match items.as_slice() {
            [Value::Int(-1)] => Ok(Create::UserDisabled),
            [Value::Int(-2)] => Ok(Create::PasswordChanged),
            [created, absolute, evicted] => Ok(Create::Created(Created {
                created_at_ms: number(SCRIPT, Some(created), "a creation time")?,
                absolute_expires_at_ms: number(SCRIPT, Some(absolute), "an expiry")?,
                evicted: number(SCRIPT, Some(evicted), "an eviction count")?,
            })),
            other => Err(malformed(SCRIPT, format_args!("{other:?}"))),
        }
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

impl Sessions {
    /// Starts a session. Fails with [`SessionError::UserDisabled`] when the
    /// user was disabled, even a moment ago.
    #[tracing::instrument(skip_all, fields(user_id = %new.user_id, session_id = %new.id), err)]
    pub async fn create(&self, new: &NewSession<'_>) -> Result<Created, SessionError> {
        let mut write = self.store.durable();
        let reply: Create = CREATE
            .key(keys::session(new.user_id, new.id))
            .key(keys::user_sessions(new.user_id))
            .key(keys::user_disabled(new.user_id))
            .key(keys::user_password_generation(new.user_id))
            .key(keys::session_prefix(new.user_id))
            .arg(new.id)
            .arg(new.user_id)
            .arg(truncate(new.ip, 64))
            .arg(device::label(new.user_agent))
            .arg(new.refresh_jti)
            .arg(new.access_jti)
            .arg(millis(self.config.idle_timeout))
            .arg(millis(self.config.absolute_lifetime))
            .arg(self.config.max_per_user.max(1))
            .arg(new.access_expires_at_ms)
            .arg(u8::from(new.pending.password_change))
            .arg(new.password_generation)
            .arg(u8::from(new.pending.mfa_enrollment))
            .invoke_async(write.conn())
            .await?;
        write.confirm("session_created").await;
        let created = match reply {
            Create::UserDisabled => return Err(SessionError::UserDisabled),
            Create::PasswordChanged => return Err(SessionError::PasswordChanged),
            Create::Created(created) => created,
        };
        if created.evicted > 0 {
            tracing::info!(
                evicted = created.evicted,
                "ended least recently used sessions over the per-user cap"
            );
        }
        // The console's cross-user indexes live in other slots: updated
        // after the session exists, and pruned lazily.
        let _: () = redis::pipe()
            .cmd("ZADD")
            .arg(keys::all_sessions())
            .arg(created.absolute_expires_at_ms)
            .arg(format!("{}:{}", new.user_id, new.id))
            .ignore()
            .cmd("ZADD")
            .arg(keys::active_users())
            .arg("GT")
            .arg(created.absolute_expires_at_ms)
            .arg(new.user_id)
            .ignore()
            .query_async(&mut self.store.conn())
            .await?;
        Ok(created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reply_is_a_refusal_or_three_numbers() {
        let ints = |values: &[i64]| Value::Array(values.iter().map(|n| Value::Int(*n)).collect());
        assert_eq!(
            Create::from_redis_value(ints(&[-1])).unwrap(),
            Create::UserDisabled
        );
        assert_eq!(
            Create::from_redis_value(ints(&[-2])).unwrap(),
            Create::PasswordChanged
        );
        assert_eq!(
            Create::from_redis_value(ints(&[5, 9, 1])).unwrap(),
            Create::Created(Created {
                created_at_ms: 5,
                absolute_expires_at_ms: 9,
                evicted: 1
            })
        );
        for bad in [
            ints(&[]),
            ints(&[-3]),
            ints(&[5, 9]),
            ints(&[5, -9, 0]),
            Value::Nil,
        ] {
            let err = Create::from_redis_value(bad.clone()).unwrap_err();
            assert!(
                err.to_string().contains("create.lua replied"),
                "{bad:?}: {err}"
            );
        }
    }
}
