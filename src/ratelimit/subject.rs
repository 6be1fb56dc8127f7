//! Who a window belongs to, and where its keys live: a subject's windows
//! share its Cluster slot (a user's with the user's other keys), and
//! arbitrary text (usernames, routes, caller keys) never reaches a key
//! unhashed.

use std::fmt;

use sha2::{Digest as _, Sha256};

use super::KeyKind;
use crate::store::keys::{Key, KeySafe};

pub use crate::api::ratelimit::Subject;

/// Arbitrary text (usernames, routes, caller keys) as a key-safe id:
/// the first 12 bytes of its SHA-256, in hex.
struct Digest<'a>(&'a str);

impl fmt::Display for Digest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Sha256::digest(self.0.as_bytes())[..12]
            .iter()
            .try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl Subject {
    pub fn kind(&self) -> KeyKind {
        match self {
            Subject::Ip { .. } => KeyKind::Ip,
            Subject::User { .. } => KeyKind::User,
            Subject::Session { .. } => KeyKind::Session,
            Subject::UserRoute { .. } => KeyKind::UserRoute,
            Subject::IpUsername { .. } => KeyKind::IpUsername,
            Subject::Username { .. } => KeyKind::Username,
            Subject::Key { .. } => KeyKind::Key,
        }
    }

    /// The Redis key of this subject's window under `policy`.
    pub(crate) fn key(&self, policy: &str) -> String {
        self.with_key(policy, |key| key.to_string())
    }

    /// Calls `f` with the key of this subject's window under `policy`
    /// (to write it into a command without building a string).
    pub(crate) fn with_key<R>(&self, policy: &str, f: impl FnOnce(Key<'_>) -> R) -> R {
        let window = |tag: &dyn fmt::Display, extra: Option<&dyn fmt::Display>| {
            f(Key::RateLimit { tag, policy, extra })
        };
        match self {
            Subject::Ip { ip } => window(&format_args!("ip:{}", KeySafe(ip)), None),
            Subject::User { user_id } => window(&format_args!("u:{}", KeySafe(user_id)), None),
            Subject::Session {
                user_id,
                session_id,
            } => window(
                &format_args!("u:{}", KeySafe(user_id)),
                Some(&KeySafe(session_id)),
            ),
            Subject::UserRoute { user_id, route } => window(
                &format_args!("u:{}", KeySafe(user_id)),
                Some(&Digest(route)),
            ),
            Subject::IpUsername { ip, username } => {
                window(&format_args!("lg:{}", Digest(username)), Some(&KeySafe(ip)))
            }
            // In the same slot as the username's lockout windows.
            Subject::Username { username } => {
                window(&format_args!("lg:{}", Digest(username)), None)
            }
            Subject::Key { key } => window(&format_args!("k:{}", Digest(key)), None),
        }
    }

    /// How the subject is listed in the index (and parsed back).
    pub(super) fn index_member(&self) -> Option<String> {
        serde_json::to_string(self).ok()
    }
}
