//! What rotate.lua and renew.lua answer, decoded strictly: a reply of any
//! other shape is an error naming the script (reported as a corrupt reply),
//! never a guessed branch or a zero expiry.

use redis::{FromRedisValue, ParsingError, Value};

use crate::store::reply::{items, malformed, number, text};

/// The access token a rotation replaced or revoked: id and expiry (ms).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Replaced {
    pub(super) jti: String,
    pub(super) expires_at_ms: u64,
}

/// rotate.lua's reply.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Rotate {
    /// Rotated: the session's new generation and the replaced access token.
    Rotated { generation: u64, replaced: Replaced },
    /// Another caller rotated first: its result, sealed.
    Coalesced(String),
    /// An old refresh token came back: the session is ended and this is
    /// its access token, now revoked.
    Reused(Replaced),
    /// A presented access token is not the session's current one.
    NotCurrent,
    /// The session has ended.
    Ended,
}

/// renew.lua's reply (an API client's access-token renewal).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Renew {
    /// Renewed: the replaced token's expiry (ms).
    Renewed { replaced_expires_at_ms: u64 },
    /// Another request renewed first: its result, sealed.
    Coalesced(String),
    /// The presented token is not the session's current one.
    NotCurrent,
    /// The session has ended.
    Ended,
}

fn status(script: &str, items: &[Value]) -> Result<u64, ParsingError> {
    number(script, items.first(), "a status")
}

fn replaced(script: &str, jti: &Value, expires: &Value) -> Result<Replaced, ParsingError> {
    Ok(Replaced {
        jti: text(script, Some(jti), "an access token id")?,
        expires_at_ms: number(script, Some(expires), "an expiry")?,
    })
}

impl FromRedisValue for Rotate {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        const SCRIPT: &str = "rotate.lua";
        let items = items(SCRIPT, value)?;
        match (status(SCRIPT, &items)?, items.as_slice()) {
            (1, [_, generation, jti, expires]) => Ok(Rotate::Rotated {
                generation: number(SCRIPT, Some(generation), "a generation")?,
                replaced: replaced(SCRIPT, jti, expires)?,
            }),
            (2, [_, sealed]) => Ok(Rotate::Coalesced(text(SCRIPT, Some(sealed), "a result")?)),
            (3, [_, jti, expires]) => Ok(Rotate::Reused(replaced(SCRIPT, jti, expires)?)),
            (4, [_]) => Ok(Rotate::NotCurrent),
            (0, [_]) => Ok(Rotate::Ended),
            _ => Err(malformed(SCRIPT, format_args!("{items:?}"))),
        }
    }
}

impl FromRedisValue for Renew {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        const SCRIPT: &str = "renew.lua";
        let items = items(SCRIPT, value)?;
        match (status(SCRIPT, &items)?, items.as_slice()) {
            (1, [_, expires]) => Ok(Renew::Renewed {
                replaced_expires_at_ms: number(SCRIPT, Some(expires), "an expiry")?,
            }),
            (2, [_, sealed]) => Ok(Renew::Coalesced(text(SCRIPT, Some(sealed), "a result")?)),
            (4, [_]) => Ok(Renew::NotCurrent),
            (0, [_]) => Ok(Renew::Ended),
            _ => Err(malformed(SCRIPT, format_args!("{items:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::reply::bulk;

    fn array(items: Vec<Value>) -> Value {
        Value::Array(items)
    }

    #[test]
    fn every_rotate_reply_decodes_to_its_case() {
        let rotated = Rotate::from_redis_value(array(vec![
            Value::Int(1),
            Value::Int(3),
            bulk("old"),
            bulk("1700"),
        ]))
        .unwrap();
        assert_eq!(
            rotated,
            Rotate::Rotated {
                generation: 3,
                replaced: Replaced {
                    jti: "old".to_owned(),
                    expires_at_ms: 1700
                }
            }
        );
        let coalesced = Rotate::from_redis_value(array(vec![Value::Int(2), bulk("sealed")]));
        assert_eq!(coalesced.unwrap(), Rotate::Coalesced("sealed".to_owned()));
        let reused = Rotate::from_redis_value(array(vec![Value::Int(3), bulk("a"), bulk("9")]));
        assert!(matches!(reused.unwrap(), Rotate::Reused(r) if r.expires_at_ms == 9));
        let not_current = Rotate::from_redis_value(array(vec![Value::Int(4)]));
        assert_eq!(not_current.unwrap(), Rotate::NotCurrent);
        let ended = Rotate::from_redis_value(array(vec![Value::Int(0)]));
        assert_eq!(ended.unwrap(), Rotate::Ended);
    }

    #[test]
    fn a_malformed_rotate_reply_is_an_error_naming_the_script() {
        for bad in [
            array(vec![]),
            array(vec![Value::Int(1), Value::Int(3), bulk("old")]),
            array(vec![
                Value::Int(1),
                Value::Int(3),
                bulk("old"),
                bulk("soon"),
            ]),
            array(vec![Value::Int(3), bulk("a")]),
            array(vec![Value::Int(5)]),
            array(vec![bulk("one")]),
            Value::Nil,
        ] {
            let err = Rotate::from_redis_value(bad).unwrap_err();
            assert!(err.to_string().contains("rotate.lua replied"), "{err}");
        }
    }

    #[test]
    fn renew_replies_decode_strictly() {
        let renewed = Renew::from_redis_value(array(vec![Value::Int(1), bulk("1700")]));
        assert_eq!(
            renewed.unwrap(),
            Renew::Renewed {
                replaced_expires_at_ms: 1700
            }
        );
        assert_eq!(
            Renew::from_redis_value(array(vec![Value::Int(4)])).unwrap(),
            Renew::NotCurrent
        );
        for bad in [
            array(vec![Value::Int(1)]),
            array(vec![Value::Int(1), bulk("")]),
            array(vec![Value::Int(3), bulk("a"), bulk("9")]),
        ] {
            let err = Renew::from_redis_value(bad).unwrap_err();
            assert!(err.to_string().contains("renew.lua replied"), "{err}");
        }
    }
}
