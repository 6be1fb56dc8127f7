//! Decoding script replies strictly.
//!
//! A Lua script answers with positional arrays. Read loosely (every item
//! as a string, numbers parsed with a default), a script that changed its
//! reply would turn into silent zeros and wrong branches. Each script's
//! reply is therefore a Rust type whose `FromRedisValue` uses these
//! helpers: a reply of any other shape is an error that names the script
//! and what was wrong, which the caller reports as a corrupt reply.

use redis::{ParsingError, Value};

/// The error for a reply of `script` that is not what it promises.
pub(crate) fn malformed(script: &str, what: impl std::fmt::Display) -> ParsingError {
    ParsingError::from(format!("{script} replied {what}"))
}

/// The items of an array reply.
pub(crate) fn items(script: &str, value: Value) -> Result<Vec<Value>, ParsingError> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(malformed(script, format_args!("{other:?}, not an array"))),
    }
}

/// A non-negative integer: a Lua number, or a string of digits (hash fields
/// come back from Redis as strings).
pub(crate) fn number(script: &str, value: Option<&Value>, what: &str) -> Result<u64, ParsingError> {
    let parsed = match value {
        Some(Value::Int(n)) => u64::try_from(*n).ok(),
        Some(Value::BulkString(bytes)) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| text.parse().ok()),
        _ => None,
    };
    parsed.ok_or_else(|| malformed(script, format_args!("{value:?} as {what}")))
}

/// A flag: 0 or 1.
pub(crate) fn flag(script: &str, value: Option<&Value>, what: &str) -> Result<bool, ParsingError> {
    match number(script, value, what)? {
        flag @ (0 | 1) => Ok(flag == 1),
        other => Err(malformed(script, format_args!("{other} as {what}"))),
    }
}

/// A UTF-8 string.
pub(crate) fn text(
    script: &str,
    value: Option<&Value>,
    what: &str,
) -> Result<String, ParsingError> {
    match value {
        Some(Value::BulkString(bytes)) => String::from_utf8(bytes.clone())
            .map_err(|_| malformed(script, format_args!("{what} that is not UTF-8"))),
        other => Err(malformed(script, format_args!("{other:?} as {what}"))),
    }
}

/// A record stored as a hash (read with `HGETALL`), field by field: a
/// missing or unreadable field is an error naming the record and the
/// field, never a default.
pub(crate) struct Fields {
    record: String,
    fields: std::collections::HashMap<String, String>,
}

impl Fields {
    pub(crate) fn new(
        record: impl Into<String>,
        fields: std::collections::HashMap<String, String>,
    ) -> Self {
        Self {
            record: record.into(),
            fields,
        }
    }

    fn missing(&self, name: &str) -> ParsingError {
        ParsingError::from(format!("{} has no valid `{name}`", self.record))
    }

    /// A text field, taken out of the record.
    pub(crate) fn text(&mut self, name: &str) -> Result<String, ParsingError> {
        self.fields.remove(name).ok_or_else(|| self.missing(name))
    }

    /// A non-negative integer field.
    pub(crate) fn number(&self, name: &str) -> Result<u64, ParsingError> {
        self.fields
            .get(name)
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| self.missing(name))
    }
}

/// A string reply, for tests of the decoders.
#[cfg(test)]
pub(crate) fn bulk(text: &str) -> Value {
    Value::BulkString(text.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_come_as_integers_or_digits_and_nothing_else() {
        assert_eq!(number("s.lua", Some(&Value::Int(7)), "n").unwrap(), 7);
        assert_eq!(number("s.lua", Some(&bulk("42")), "n").unwrap(), 42);
        for bad in [Value::Int(-1), bulk(""), bulk("4x"), Value::Nil] {
            let err = number("s.lua", Some(&bad), "an expiry").unwrap_err();
            assert!(err.to_string().contains("s.lua replied"), "{err}");
            assert!(err.to_string().contains("an expiry"), "{err}");
        }
        let missing = number("s.lua", None, "n").unwrap_err();
        assert!(missing.to_string().contains("s.lua replied"), "{missing}");
    }

    #[test]
    fn text_is_a_utf8_string() {
        assert_eq!(text("s.lua", Some(&bulk("abc")), "t").unwrap(), "abc");
        for bad in [
            Some(&Value::BulkString(vec![0xff])),
            Some(&Value::Int(1)),
            None,
        ] {
            let err = text("s.lua", bad, "t").unwrap_err();
            assert!(err.to_string().contains("s.lua replied"), "{err}");
        }
    }

    #[test]
    fn only_arrays_have_items() {
        assert_eq!(
            items("s.lua", Value::Array(vec![Value::Nil]))
                .unwrap()
                .len(),
            1
        );
        let err = items("s.lua", Value::Int(1)).unwrap_err();
        assert!(err.to_string().contains("not an array"), "{err}");
    }
}
