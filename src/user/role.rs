//! Roles: what a user may do, and the one stored form (sorted, deduplicated,
//! comma-separated) that admission reads from the user's roles key.

use super::UserError;

pub use crate::api::role::Role;

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
