//! The check function's reply (check.lua, also the tail of admission's),
//! decoded strictly: a reply of any other shape is an error naming the
//! script, never a default that could allow a request.

use redis::{FromRedisValue, ParsingError, Value};

use crate::store::reply::{flag, items, malformed};

const SCRIPT: &str = "check.lua";

/// `{replayed 0/1, then per check: allowed 0/1, remaining, reset ms,
/// retry-after ms (-1: never)}`. (The quota is the policy's: the caller
/// knows it.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Checked {
    /// The request's replay nonce was seen before (no verdicts follow).
    pub replayed: bool,
    pub verdicts: Vec<Verdict>,
}

/// What one policy said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub allowed: bool,
    pub remaining: u64,
    /// A window that is already free (a time in the past under another
    /// instance's clock) resets now: 0.
    pub reset_ms: u64,
    /// `None`: this cost can never pass.
    pub retry_after_ms: Option<u64>,
}

impl FromRedisValue for Checked {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        Checked::from_items(&items(SCRIPT, value)?)
    }
}

impl Checked {
    /// The reply from its items (also the tail of admission's reply).
    pub(crate) fn from_items(items: &[Value]) -> Result<Self, ParsingError> {
        let Some((replayed, rest)) = items.split_first() else {
            return Err(malformed(SCRIPT, "an empty array"));
        };
        let replayed = flag(SCRIPT, Some(replayed), "the replay flag")?;
        if replayed && !rest.is_empty() || rest.len() % 4 != 0 {
            return Err(malformed(SCRIPT, format_args!("{} values", items.len())));
        }
        let int = |value: &Value, what: &str| match value {
            Value::Int(n) => Ok(*n),
            other => Err(malformed(SCRIPT, format_args!("{other:?} as {what}"))),
        };
        let verdicts =
            rest.chunks_exact(4)
                .map(|v| {
                    let remaining = int(&v[1], "a remaining count")?;
                    Ok(Verdict {
                        allowed: flag(SCRIPT, Some(&v[0]), "a verdict")?,
                        remaining: u64::try_from(remaining).map_err(|_| {
                            malformed(SCRIPT, format_args!("{remaining} as a remaining count"))
                        })?,
                        reset_ms: u64::try_from(int(&v[2], "a reset time")?).unwrap_or(0),
                        retry_after_ms: match int(&v[3], "a retry time")? {
                            -1 => None,
                            n => Some(u64::try_from(n).map_err(|_| {
                                malformed(SCRIPT, format_args!("{n} as a retry time"))
                            })?),
                        },
                    })
                })
                .collect::<Result<_, ParsingError>>()?;
        Ok(Checked { replayed, verdicts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(values: &[i64]) -> Value {
        Value::Array(values.iter().map(|n| Value::Int(*n)).collect())
    }

    #[test]
    fn verdicts_come_four_numbers_each() {
        let checked =
            Checked::from_redis_value(reply(&[0, 1, 9, 60_000, 0, 0, 0, -3, -1])).unwrap();
        assert!(!checked.replayed);
        assert_eq!(
            checked.verdicts,
            [
                Verdict {
                    allowed: true,
                    remaining: 9,
                    reset_ms: 60_000,
                    retry_after_ms: Some(0),
                },
                Verdict {
                    allowed: false,
                    remaining: 0,
                    reset_ms: 0,
                    retry_after_ms: None,
                },
            ]
        );
        assert!(Checked::from_redis_value(reply(&[1])).unwrap().replayed);
    }

    #[test]
    fn any_other_shape_is_an_error_naming_the_script() {
        for bad in [
            reply(&[]),
            reply(&[2]),
            reply(&[0, 1, 10, 9]),
            reply(&[0, 1, 10]),
            reply(&[1, 1, 9, 0, 0]),
            reply(&[0, 7, 9, 0, 0]),
            reply(&[0, 1, -9, 0, 0]),
            reply(&[0, 1, 9, 0, -2]),
            Value::Array(vec![
                Value::Int(0),
                Value::Nil,
                Value::Int(1),
                Value::Int(1),
                Value::Int(1),
            ]),
            Value::Nil,
        ] {
            let err = Checked::from_redis_value(bad.clone()).unwrap_err();
            assert!(
                err.to_string().contains("check.lua replied"),
                "{bad:?}: {err}"
            );
        }
    }
}
