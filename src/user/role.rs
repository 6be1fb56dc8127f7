//! Roles: what a user may do, and the one stored form (sorted, deduplicated,
//! comma-separated) that admission reads from the user's roles key.

use serde::{Deserialize, Serialize};

use super::UserError;

/// What a user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Signs in, sees and ends their own sessions.
    User,
    /// Everything, including the console and other users.
    Admin,
    /// Another program: may use the lock and rate-limit services.
    Service,
    /// A metrics scraper: may read `/metrics`, nothing else.
    Metrics,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
            Role::Service => "service",
            Role::Metrics => "metrics",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            "service" => Some(Role::Service),
            "metrics" => Some(Role::Metrics),
            _ => None,
        }
    }
}

pub(super) fn roles_to_string(roles: &[Role]) -> Result<String, UserError> {
    if roles.is_empty() {
        return Err(UserError::InvalidRoles("give at least one role".to_owned()));
    }
    let mut names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    Ok(names.join(","))
}

/// The roles in the stored form [`roles_to_string`] writes (unknown names
/// are skipped).
pub(crate) fn roles_from_string(text: &str) -> Vec<Role> {
    text.split(',').filter_map(Role::parse).collect()
}
