//! Who a window belongs to, and where its keys live: a subject's windows
//! share its Cluster slot (a user's with the user's other keys), and
//! arbitrary text (usernames, routes, caller keys) never reaches a key
//! unhashed.

use sha2::{Digest, Sha256};

use super::KeyKind;
use crate::store::keys;

pub use crate::api::ratelimit::Subject;

/// Arbitrary text (usernames, routes, caller keys) as a key-safe id.
fn digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn key_safe(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-'))
        .take(64)
        .collect()
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
        match self {
            Subject::Ip { ip } => keys::rate_limit(&format!("ip:{}", key_safe(ip)), policy, ""),
            Subject::User { user_id } => {
                keys::rate_limit(&format!("u:{}", key_safe(user_id)), policy, "")
            }
            Subject::Session {
                user_id,
                session_id,
            } => keys::rate_limit(
                &format!("u:{}", key_safe(user_id)),
                policy,
                &key_safe(session_id),
            ),
            Subject::UserRoute { user_id, route } => {
                keys::rate_limit(&format!("u:{}", key_safe(user_id)), policy, &digest(route))
            }
            Subject::IpUsername { ip, username } => {
                keys::rate_limit(&format!("lg:{}", digest(username)), policy, &key_safe(ip))
            }
            // In the same slot as the username's lockout windows.
            Subject::Username { username } => {
                keys::rate_limit(&format!("lg:{}", digest(username)), policy, "")
            }
            Subject::Key { key } => keys::rate_limit(&format!("k:{}", digest(key)), policy, ""),
        }
    }

    /// How the subject is listed in the index (and parsed back).
    pub(super) fn index_member(&self) -> Option<String> {
        serde_json::to_string(self).ok()
    }
}
