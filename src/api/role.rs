//! Roles, as the wire names them: a closed list, so the console and
//! clients match on variants instead of comparing strings.

use serde::{Deserialize, Serialize};

/// What a user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

impl Role {
    /// Every role, in the order the console lists them.
    pub const ALL: [Role; 4] = [Role::User, Role::Admin, Role::Service, Role::Metrics];
}
