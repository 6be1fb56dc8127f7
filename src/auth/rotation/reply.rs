//! What rotate.lua and renew.lua answer, decoded strictly: a reply of any
//! other shape is an error naming the script (reported as a corrupt reply),
//! never a guessed branch or a zero expiry. The two scripts share every
//! answer but their own success (and rotate.lua's reuse alarm): those
//! shared answers are [`Settled`], decoded once.

use redis::{FromRedisValue, ParsingError, Value};

use crate::store::reply::{items, malformed, number, text};

/// A script's answer: its own outcome, or one both scripts give.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Reply<T>(pub(super) Result<T, Settled>);

/// What both scripts answer when they did not replace anything.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Settled {
    /// Another caller replaced the token first: its result, sealed.
    Coalesced(String),
    /// The presented access token is not the session's current one.
    NotCurrent,
    /// The session has ended.
    Ended,
}

/// The access token a rotation replaced or revoked: id and expiry (ms).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Replaced {
    pub(super) jti: String,
    pub(super) expires_at_ms: u64,
}

/// rotate.lua's own outcomes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Rotate {
    /// Rotated: the session's new generation and the replaced access token.
    Rotated { generation: u64, replaced: Replaced },
    /// An old refresh token came back: the session is ended and this is
    /// its access token, now revoked.
    Reused(Replaced),
}

/// renew.lua's own outcome (an API client's access-token renewal): the
/// replaced token's expiry (ms).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Renewed {
    pub(super) replaced_expires_at_ms: u64,
}

/// A script's own outcomes, by status.
pub(super) trait Outcome: Sized {
    /// The script, to name in errors.
    const SCRIPT: &'static str;
    /// `None` when `status` and `items` are none of its shapes.
    fn decode(status: u64, items: &[Value]) -> Option<Result<Self, ParsingError>>;
}

impl Outcome for Rotate {
    const SCRIPT: &'static str = "rotate.lua";
    fn decode(status: u64, items: &[Value]) -> Option<Result<Self, ParsingError>> {
        Some(match (status, items) {
            (1, [_, generation, jti, expires]) => {
                number(Self::SCRIPT, Some(generation), "a generation").and_then(|generation| {
                    Ok(Rotate::Rotated {
                        generation,
                        replaced: replaced(Self::SCRIPT, jti, expires)?,
                    })
                })
            }
            (3, [_, jti, expires]) => replaced(Self::SCRIPT, jti, expires).map(Rotate::Reused),
            _ => return None,
        })
    }
}

impl Outcome for Renewed {
    const SCRIPT: &'static str = "renew.lua";
    fn decode(status: u64, items: &[Value]) -> Option<Result<Self, ParsingError>> {
        match (status, items) {
            (1, [_, expires]) => Some(number(Self::SCRIPT, Some(expires), "an expiry").map(
                |replaced_expires_at_ms| Renewed {
                    replaced_expires_at_ms,
                },
            )),
            _ => None,
        }
    }
}

fn replaced(script: &str, jti: &Value, expires: &Value) -> Result<Replaced, ParsingError> {
    Ok(Replaced {
        jti: text(script, Some(jti), "an access token id")?,
        expires_at_ms: number(script, Some(expires), "an expiry")?,
    })
}

impl<T: Outcome> FromRedisValue for Reply<T> {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        let items = items(T::SCRIPT, value)?;
        let status = number(T::SCRIPT, items.first(), "a status")?;
        let settled = match (status, items.as_slice()) {
            (2, [_, sealed]) => Settled::Coalesced(text(T::SCRIPT, Some(sealed), "a result")?),
            (4, [_]) => Settled::NotCurrent,
            (0, [_]) => Settled::Ended,
            _ => {
                return match T::decode(status, &items) {
                    Some(own) => own.map(|own| Reply(Ok(own))),
                    None => Err(malformed(T::SCRIPT, format_args!("{items:?}"))),
                };
            }
        };
        Ok(Reply(Err(settled)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::reply::bulk;

    fn array(items: Vec<Value>) -> Value {
        Value::Array(items)
    }

    fn rotate(value: Value) -> Result<Result<Rotate, Settled>, ParsingError> {
        Reply::<Rotate>::from_redis_value(value).map(|reply| reply.0)
    }

    fn renew(value: Value) -> Result<Result<Renewed, Settled>, ParsingError> {
        Reply::<Renewed>::from_redis_value(value).map(|reply| reply.0)
    }

    #[test]
    fn every_rotate_reply_decodes_to_its_case() {
        let rotated = rotate(array(vec![
            Value::Int(1),
            Value::Int(3),
            bulk("old"),
            bulk("1700"),
        ]));
        assert_eq!(
            rotated.unwrap(),
            Ok(Rotate::Rotated {
                generation: 3,
                replaced: Replaced {
                    jti: "old".to_owned(),
                    expires_at_ms: 1700
                }
            })
        );
        let coalesced = rotate(array(vec![Value::Int(2), bulk("sealed")]));
        assert_eq!(
            coalesced.unwrap(),
            Err(Settled::Coalesced("sealed".to_owned()))
        );
        let reused = rotate(array(vec![Value::Int(3), bulk("a"), bulk("9")]));
        assert!(matches!(reused.unwrap(), Ok(Rotate::Reused(r)) if r.expires_at_ms == 9));
        let not_current = rotate(array(vec![Value::Int(4)]));
        assert_eq!(not_current.unwrap(), Err(Settled::NotCurrent));
        let ended = rotate(array(vec![Value::Int(0)]));
        assert_eq!(ended.unwrap(), Err(Settled::Ended));
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
            array(vec![Value::Int(2)]),
            array(vec![Value::Int(4), bulk("extra")]),
            array(vec![Value::Int(5)]),
            array(vec![bulk("one")]),
            Value::Nil,
        ] {
            let err = rotate(bad).unwrap_err();
            assert!(err.to_string().contains("rotate.lua replied"), "{err}");
        }
    }

    #[test]
    fn renew_replies_decode_strictly() {
        assert_eq!(
            renew(array(vec![Value::Int(1), bulk("1700")])).unwrap(),
            Ok(Renewed {
                replaced_expires_at_ms: 1700
            })
        );
        assert_eq!(
            renew(array(vec![Value::Int(4)])).unwrap(),
            Err(Settled::NotCurrent)
        );
        assert_eq!(
            renew(array(vec![Value::Int(2), bulk("sealed")])).unwrap(),
            Err(Settled::Coalesced("sealed".to_owned()))
        );
        for bad in [
            array(vec![Value::Int(1)]),
            array(vec![Value::Int(1), bulk("")]),
            // Reuse is rotate.lua's answer, never renew.lua's.
            array(vec![Value::Int(3), bulk("a"), bulk("9")]),
        ] {
            let err = renew(bad).unwrap_err();
            assert!(err.to_string().contains("renew.lua replied"), "{err}");
        }
    }
}
