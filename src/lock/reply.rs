//! The lock scripts' replies, decoded strictly: a reply of any other shape
//! is an error naming the script (reported as a corrupt reply), never a
//! default that could hand out or keep a lock by mistake.

use redis::{FromRedisValue, ParsingError, Value};

use crate::store::reply::{flag, items, malformed, number, text};

/// acquire.lua: `{1, owner, fencing token, ttl ms, hold count}`, or
/// `{0, '', 0, pttl of the holder's lock, 0}` while someone else holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Acquire {
    Acquired {
        owner: String,
        fencing_token: u64,
        ttl_ms: u64,
        hold_count: u64,
    },
    Busy,
}

impl FromRedisValue for Acquire {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        const SCRIPT: &str = "acquire.lua";
        let items = items(SCRIPT, value)?;
        if items.len() != 5 {
            return Err(malformed(SCRIPT, format_args!("{items:?}")));
        }
        if !flag(SCRIPT, items.first(), "an acquired flag")? {
            return Ok(Acquire::Busy);
        }
        Ok(Acquire::Acquired {
            owner: text(SCRIPT, items.get(1), "an owner")?,
            fencing_token: number(SCRIPT, items.get(2), "a fencing token")?,
            ttl_ms: number(SCRIPT, items.get(3), "a TTL")?,
            hold_count: number(SCRIPT, items.get(4), "a hold count")?,
        })
    }
}

/// extend.lua: `{fencing token, hold count}`, or `{}` when the owner does
/// not hold the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Extend {
    Extended { fencing_token: u64, hold_count: u64 },
    NotHeld,
}

impl FromRedisValue for Extend {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        const SCRIPT: &str = "extend.lua";
        let items = items(SCRIPT, value)?;
        match items.as_slice() {
            [] => Ok(Extend::NotHeld),
            [fencing_token, hold_count] => Ok(Extend::Extended {
                fencing_token: number(SCRIPT, Some(fencing_token), "a fencing token")?,
                hold_count: number(SCRIPT, Some(hold_count), "a hold count")?,
            }),
            other => Err(malformed(SCRIPT, format_args!("{other:?}"))),
        }
    }
}

/// release.lua: the holds left (0: released), or -1 when the owner does
/// not hold the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Release {
    Left(u64),
    NotHeld,
}

impl FromRedisValue for Release {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        const SCRIPT: &str = "release.lua";
        match value {
            Value::Int(-1) => Ok(Release::NotHeld),
            Value::Int(left) if left >= 0 => Ok(Release::Left(left as u64)),
            other => Err(malformed(SCRIPT, format_args!("{other:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::reply::bulk;

    #[test]
    fn acquisitions_are_five_items_and_nothing_else() {
        let reply = |acquired: i64, owner: &str| {
            Value::Array(vec![
                Value::Int(acquired),
                bulk(owner),
                Value::Int(7),
                Value::Int(30_000),
                Value::Int(1),
            ])
        };
        assert_eq!(
            Acquire::from_redis_value(reply(1, "o1")).unwrap(),
            Acquire::Acquired {
                owner: "o1".to_owned(),
                fencing_token: 7,
                ttl_ms: 30_000,
                hold_count: 1
            }
        );
        assert_eq!(
            Acquire::from_redis_value(reply(0, "")).unwrap(),
            Acquire::Busy
        );
        for bad in [
            reply(2, "o1"),
            Value::Array(vec![Value::Int(1)]),
            Value::Nil,
        ] {
            let err = Acquire::from_redis_value(bad).unwrap_err();
            assert!(err.to_string().contains("acquire.lua replied"), "{err}");
        }
    }

    #[test]
    fn extensions_and_releases_say_not_held_or_what_is_left() {
        assert_eq!(
            Extend::from_redis_value(Value::Array(vec![])).unwrap(),
            Extend::NotHeld
        );
        assert_eq!(
            Extend::from_redis_value(Value::Array(vec![Value::Int(3), Value::Int(2)])).unwrap(),
            Extend::Extended {
                fencing_token: 3,
                hold_count: 2
            }
        );
        let short = Extend::from_redis_value(Value::Array(vec![Value::Int(3)])).unwrap_err();
        assert!(short.to_string().contains("extend.lua replied"), "{short}");
        assert_eq!(
            Release::from_redis_value(Value::Int(-1)).unwrap(),
            Release::NotHeld
        );
        assert_eq!(
            Release::from_redis_value(Value::Int(2)).unwrap(),
            Release::Left(2)
        );
        for bad in [Value::Int(-2), bulk("1"), Value::Nil] {
            let err = Release::from_redis_value(bad).unwrap_err();
            assert!(err.to_string().contains("release.lua replied"), "{err}");
        }
    }
}
