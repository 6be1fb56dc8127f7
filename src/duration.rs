//! Durations as operators write them: `500ms`, `30s`, `15m`, `12h`, `7d`.
//!
//! Configuration (command line, environment, rate-limit policies) uses
//! one syntax everywhere, parsed here.

use std::time::Duration;

/// Parses `500ms`, `30s`, `15m`, `12h`, `7d` (or a bare number of seconds).
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: use e.g. 500ms, 30s, 15m, 12h or 7d"))?;
    let millis = match unit.trim() {
        "ms" => number,
        "" | "s" => number.saturating_mul(1_000),
        "m" | "min" => number.saturating_mul(60_000),
        "h" => number.saturating_mul(3_600_000),
        "d" => number.saturating_mul(86_400_000),
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{text}`: use ms, s, m, h or d"
            ));
        }
    };
    Ok(Duration::from_millis(millis))
}

/// A duration in whole milliseconds (saturating: a duration too long for
/// a `u64` of milliseconds is `u64::MAX`), as Redis takes TTLs and times.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Milliseconds since the Unix epoch, by this machine's clock.
pub fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The shortest exact form: `15m`, `90s`, `250ms`.
pub fn format(duration: Duration) -> String {
    let ms = duration.as_millis();
    match ms {
        0 => "0s".to_owned(),
        _ if ms.is_multiple_of(86_400_000) => format!("{}d", ms / 86_400_000),
        _ if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1_000) => format!("{}s", ms / 1_000),
        _ => format!("{ms}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_format_with_units() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse("12"), Ok(Duration::from_secs(12)));
        let not_a_number = parse("soon").unwrap_err();
        assert!(not_a_number.contains("is not a duration"), "{not_a_number}");
        let unknown_unit = parse("5 weeks").unwrap_err();
        assert!(
            unknown_unit.contains("unknown duration unit `weeks`"),
            "{unknown_unit}"
        );
        for text in ["15m", "90s", "250ms", "7d", "1h"] {
            assert_eq!(format(parse(text).unwrap()), text);
        }
    }
}
