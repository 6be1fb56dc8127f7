//! Time-based one-time passwords (RFC 6238, over HOTP, RFC 4226), as
//! authenticator apps compute them: HMAC-SHA-1, 6 digits, 30-second
//! steps. A code is accepted for the current step and one step either
//! side, so a clock a little off or a code typed as it changed still
//! works; which of those steps matched is returned, because each step is
//! accepted at most once per factor (the store decides that, atomically).

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Seconds per step.
pub const PERIOD: u64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// Bytes of a new secret (160 bits, RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;

/// The step `unix_secs` falls in.
pub fn step(unix_secs: u64) -> u64 {
    unix_secs / PERIOD
}

/// The code of `secret` at `counter`, with `digits` digits (RFC 4226,
/// section 5.3: dynamic truncation).
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    // HMAC takes a key of any length: `new_from_slice` cannot fail.
    let mut mac = match Hmac::<Sha1>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return u32::MAX,
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

/// The code of `secret` at `unix_secs`, as an app shows it (zero-padded).
pub fn code_at(secret: &[u8], unix_secs: u64) -> String {
    format!(
        "{:0width$}",
        hotp(secret, step(unix_secs), DIGITS),
        width = DIGITS as usize
    )
}

/// The step whose code `code` is, of the steps around `unix_secs`
/// (earliest first), or `None`. Anything but six ASCII digits matches
/// nothing.
pub fn matching_step(secret: &[u8], code: &str, unix_secs: u64) -> Option<u64> {
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let wanted: u32 = code.parse().ok()?;
    let now = step(unix_secs);
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .find(|&candidate| hotp(secret, candidate, DIGITS) == wanted)
}

/// RFC 4648 base32 without padding, as `otpauth://` URIs carry secrets.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The bytes of RFC 4648 base32 `text` (what an authenticator app does
/// with the secret it is shown; tests play the app).
#[cfg(any(test, feature = "test-util"))]
pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buffer, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c)? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

/// The URI an authenticator app reads from a QR code (Google's Key Uri
/// Format): `otpauth://totp/<issuer>:<account>?secret=…&issuer=…`.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    format!(
        "otpauth://totp/{issuer_path}:{account}?secret={secret}&issuer={issuer_query}\
         &algorithm=SHA1&digits={DIGITS}&period={PERIOD}",
        issuer_path = percent_encode(issuer),
        account = percent_encode(account),
        secret = base32(secret),
        issuer_query = percent_encode(issuer),
    )
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, Appendix B: the SHA-1 rows (8 digits, key
    /// "12345678901234567890").
    #[test]
    fn rfc_6238_appendix_b_vectors() {
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(hotp(secret, step(time), 8), code, "at T = {time}");
        }
        // The six-digit code is the last six digits, zero-padded.
        assert_eq!(code_at(secret, 1_111_111_109), "081804");
    }

    #[test]
    fn a_code_matches_its_step_and_one_either_side_only() {
        let secret = b"12345678901234567890";
        let now = 1_111_111_111;
        for (offset, expected) in [
            (-30i64, Some(step(now) - 1)),
            (0, Some(step(now))),
            (30, Some(step(now) + 1)),
        ] {
            let code = code_at(secret, now.saturating_add_signed(offset));
            assert_eq!(
                matching_step(secret, &code, now),
                expected,
                "offset {offset}"
            );
        }
        for far in [now - 90, now + 90] {
            let code = code_at(secret, far);
            assert_eq!(matching_step(secret, &code, now), None, "at {far}");
        }
        for malformed in ["", "12345", "1234567", "12345a", " 12345", "１２３４５６"] {
            assert_eq!(matching_step(secret, malformed, now), None, "{malformed:?}");
        }
    }

    #[test]
    fn base32_is_rfc_4648() {
        // RFC 4648, section 10, without padding.
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(plain.as_bytes()), encoded);
            assert_eq!(from_base32(encoded).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn the_uri_names_issuer_and_account_encoded() {
        let uri = otpauth_uri("Gatehouse", "ann lee@example", b"12345678901234567890");
        assert_eq!(
            uri,
            "otpauth://totp/Gatehouse:ann%20lee%40example?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Gatehouse&algorithm=SHA1&digits=6&period=30"
        );
    }
}
