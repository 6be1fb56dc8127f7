//! Which new passwords are accepted, in the spirit of NIST SP 800-63B:
//! length and a blocklist, no composition rules.
//!
//! Composition rules ("a digit and a symbol") push people to predictable
//! patterns (`Password1!`) and add no strength; length does. So a new
//! password needs 12 to 1024 characters (any characters: spaces and
//! non-Latin scripts count like letters), must not be the username, and
//! must not be one of the 30,000 most common passwords (the frequency list
//! of zxcvbn, shipped in `common-passwords.txt`), compared without regard
//! to case. The upper bound exists because Argon2 over megabytes of input
//! would be a denial-of-service vector.

use std::collections::HashSet;
use std::sync::LazyLock;

/// Shortest new password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password, in characters.
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// Longest password input, in bytes, accepted anywhere (sign-in included):
/// the longest password in the widest UTF-8 characters.
pub const MAX_PASSWORD_BYTES: usize = 4 * MAX_PASSWORD_CHARS;

/// The blocklist: one lowercase password per line, most common first.
static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("common-passwords.txt").lines().collect());

/// Why a new password was refused. The message is shown to the person
/// choosing it, so it says what to do instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("use at least {MIN_PASSWORD_CHARS} characters (a few unrelated words work well)")]
    TooShort,
    #[error("use at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    #[error("this is one of the most common passwords; choose another")]
    Common,
    #[error("the password must not be the username")]
    SameAsUsername,
    #[error("choose a password different from the current one")]
    Unchanged,
}

/// Checks a new password for the account `username`.
pub fn check(password: &str, username: &str) -> Result<(), Rejected> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Rejected::TooLong);
    }
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(Rejected::TooShort);
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(Rejected::TooLong);
    }
    let lowercase = password.to_lowercase();
    if lowercase == username.to_lowercase() {
        return Err(Rejected::SameAsUsername);
    }
    if COMMON.contains(lowercase.as_str()) {
        return Err(Rejected::Common);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blocklist_holds_at_least_the_10000_most_common_passwords() {
        assert!(COMMON.len() >= 10_000, "{} entries", COMMON.len());
        for common in ["password", "123456", "qwerty", "iloveyou"] {
            assert!(COMMON.contains(common), "{common}");
        }
    }

    #[test]
    fn length_blocklist_and_username_decide_nothing_else() {
        assert_eq!(check("eleven char", "erin"), Err(Rejected::TooShort));
        // Length counts characters, not bytes.
        assert_eq!(check("ééééééééééé", "erin"), Err(Rejected::TooShort));
        assert_eq!(check("éééééééééééé", "erin"), Ok(()));
        assert_eq!(check(&"x".repeat(1024), "erin"), Ok(()));
        assert_eq!(check(&"x".repeat(1025), "erin"), Err(Rejected::TooLong));
        // Common passwords of any case, even long ones.
        for common in ["qwerty123456", "1QAZ2WSX3EDC", "LeaveMeAlone"] {
            assert_eq!(check(common, "erin"), Err(Rejected::Common), "{common}");
        }
        assert_eq!(
            check("Erin.Longname", "erin.longname"),
            Err(Rejected::SameAsUsername)
        );
        // No composition rules: lowercase words with spaces are fine.
        assert_eq!(check("correct horse battery staple", "erin"), Ok(()));
    }
}
