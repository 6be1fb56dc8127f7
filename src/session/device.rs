//! Short device labels ("Firefox on Linux") from `User-Agent` headers.
//!
//! Sessions store the label, not the raw header: it is what people need to
//! recognise a device in their session list, and it keeps the session
//! record small (user agents run to hundreds of bytes).

/// A human label for a user agent, at most 64 characters.
pub fn label(user_agent: &str) -> String {
    let ua = user_agent.trim();
    if ua.is_empty() {
        return "Unknown device".to_owned();
    }
    let browser = browser(ua);
    let label = match os(ua) {
        Some(os) => format!("{browser} on {os}"),
        None => browser,
    };
    label.chars().take(64).collect()
}

fn browser(ua: &str) -> String {
    let has = |needle: &str| ua.contains(needle);
    let name = if has("Edg/") {
        "Edge"
    } else if has("OPR/") {
        "Opera"
    } else if has("Firefox/") || has("FxiOS/") {
        "Firefox"
    } else if has("HeadlessChrome/") {
        "Headless Chrome"
    } else if has("Chrome/") || has("CriOS/") {
        "Chrome"
    } else if has("Safari/") && has("Version/") {
        "Safari"
    } else {
        // A program: "curl/8.5.0" -> "curl", "python-requests/2.31" -> "python-requests".
        return ua
            .split(['/', ' '])
            .next()
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().filter(|c| !c.is_control()).take(40).collect())
            .unwrap_or_else(|| "Unknown device".to_owned());
    };
    name.to_owned()
}

fn os(ua: &str) -> Option<&'static str> {
    let has = |needle: &str| ua.contains(needle);
    Some(if has("iPhone") {
        "iPhone"
    } else if has("iPad") {
        "iPad"
    } else if has("Android") {
        "Android"
    } else if has("Windows") {
        "Windows"
    } else if has("CrOS") {
        "ChromeOS"
    } else if has("Mac OS X") || has("Macintosh") {
        "macOS"
    } else if has("Linux") || has("X11") {
        "Linux"
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::label;

    #[test]
    fn common_user_agents_get_readable_labels() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            ("curl/8.5.0", "curl"),
            ("", "Unknown device"),
        ];
        for (ua, expected) in cases {
            assert_eq!(label(ua), expected, "{ua}");
        }
        assert!(label(&"x".repeat(500)).chars().count() <= 64);
    }
}
