//! Sessions that were ended, as the revoking scripts report them: each with
//! its current access token, which the caller then blacklists.

use redis::{FromRedisValue, ParsingError, Value};

use crate::store::reply::{items, malformed, number, text};

/// A session that was ended, with its current access token (for the
/// blacklist).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    pub session_id: String,
    pub access_jti: String,
    pub access_expires_at_ms: u64,
}

/// revoke.lua's reply: the access token of the session it ended (id,
/// expiry ms), or `None` when the session had already ended.
pub(super) struct EndedOne(pub(super) Option<(String, u64)>);

impl FromRedisValue for EndedOne {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        const SCRIPT: &str = "revoke.lua";
        let items = items(SCRIPT, value)?;
        match items.as_slice() {
            [] => Ok(EndedOne(None)),
            [jti, expires] => Ok(EndedOne(Some((
                text(SCRIPT, Some(jti), "an access token id")?,
                number(SCRIPT, Some(expires), "an expiry")?,
            )))),
            other => Err(malformed(SCRIPT, format_args!("{other:?}"))),
        }
    }
}

/// revoke_all.lua's reply: every session it ended.
pub(super) struct EndedAll(pub(super) Vec<Ended>);

impl FromRedisValue for EndedAll {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        const SCRIPT: &str = "revoke_all.lua";
        let items = items(SCRIPT, value)?;
        if items.len() % 3 != 0 {
            return Err(malformed(
                SCRIPT,
                format_args!("{} values, not triples", items.len()),
            ));
        }
        items
            .chunks_exact(3)
            .map(|triple| {
                Ok(Ended {
                    session_id: text(SCRIPT, triple.first(), "a session id")?,
                    access_jti: text(SCRIPT, triple.get(1), "an access token id")?,
                    access_expires_at_ms: number(SCRIPT, triple.get(2), "an expiry")?,
                })
            })
            .collect::<Result<_, _>>()
            .map(EndedAll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::reply::bulk;

    #[test]
    fn a_revoked_session_reports_its_token_or_nothing() {
        let EndedOne(token) =
            EndedOne::from_redis_value(Value::Array(vec![bulk("j1"), bulk("1700")])).unwrap();
        assert_eq!(token, Some(("j1".to_owned(), 1700)));
        let EndedOne(none) = EndedOne::from_redis_value(Value::Array(vec![])).unwrap();
        assert_eq!(none, None);
        // A session without an expiry is a broken reply, not "already ended".
        let err = EndedOne::from_redis_value(Value::Array(vec![bulk("j1")]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("revoke.lua replied"), "{err}");
    }

    #[test]
    fn ended_sessions_come_in_triples_with_numeric_expiries() {
        let EndedAll(ended) = EndedAll::from_redis_value(Value::Array(vec![
            bulk("s1"),
            bulk("j1"),
            bulk("1700"),
            bulk("s2"),
            bulk("j2"),
            Value::Int(1800),
        ]))
        .unwrap();
        assert_eq!(ended.len(), 2);
        assert_eq!(ended[1].access_expires_at_ms, 1800);
        for bad in [
            vec![bulk("s1"), bulk("j1")],
            vec![bulk("s1"), bulk("j1"), bulk("soon")],
        ] {
            let err = EndedAll::from_redis_value(Value::Array(bad)).err().unwrap();
            assert!(err.to_string().contains("revoke_all.lua replied"), "{err}");
        }
    }
}
