//! Administration: `/api/v1/admin/*`. Every function re-checks the admin
//! role itself.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use server_fn::codec::Json;

use crate::error::ApiError;

/// A user as admins see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub user_id: String,
    pub username: String,
    pub roles: Vec<String>,
    pub disabled: bool,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

/// `POST /api/v1/admin/users/create` `{"username","password","roles"}`:
/// creates a user (409 `conflict` if the name is taken, 422
/// `validation_failed` for a bad name, password or role).
#[server(prefix = "/api/v1", endpoint = "admin/users/create", input = Json)]
pub async fn create_user(
    username: String,
    password: String,
    roles: Vec<String>,
) -> Result<UserView, ApiError> {
    use gatehouse::user::Role;
    let state = crate::state::current()?;
    let admin = crate::caller::require_role(Role::Admin)?;
    let roles = roles
        .iter()
        .map(|name| {
            Role::parse(name).ok_or_else(|| {
                ApiError::new(
                    crate::ErrorCode::ValidationFailed,
                    format!("Unknown role `{name}`: use user, admin or service."),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let user = state
        .auth
        .users()
        .create(&username, &password, &roles)
        .await?;
    tracing::info!(admin = %admin.user_id, user_id = %user.id, "admin created a user");
    Ok(UserView {
        user_id: user.id,
        username: user.username,
        roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        disabled: user.disabled,
        created_at_ms: user.created_at_ms,
        updated_at_ms: user.updated_at_ms,
    })
}

/// A revoked access token as admins see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlacklistEntry {
    pub jti: String,
    pub user_id: String,
    pub session_id: String,
    pub reason: String,
    pub revoked_at_ms: u64,
    /// From this moment the token is refused (after any grace period).
    pub effective_at_ms: u64,
    pub expires_at_ms: u64,
}

/// `POST /api/v1/admin/blacklist/list` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlacklistPage {
    pub total: u64,
    pub entries: Vec<BlacklistEntry>,
}

/// `POST /api/v1/admin/blacklist/list` `{"offset","limit"}`: revoked
/// tokens that have not expired yet, most recent first.
#[server(prefix = "/api/v1", endpoint = "admin/blacklist/list", input = Json)]
pub async fn list_blacklist(
    #[server(default)] offset: Option<u64>,
    #[server(default)] limit: Option<u64>,
) -> Result<BlacklistPage, ApiError> {
    let state = crate::state::current()?;
    crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let page = state
        .auth
        .blacklist()
        .list(offset.unwrap_or(0), limit.unwrap_or(100))
        .await?;
    Ok(BlacklistPage {
        total: page.total,
        entries: page
            .entries
            .into_iter()
            .map(|e| BlacklistEntry {
                jti: e.jti,
                user_id: e.user_id,
                session_id: e.session_id,
                reason: e.reason,
                revoked_at_ms: e.revoked_at_ms,
                effective_at_ms: e.effective_at_ms,
                expires_at_ms: e.expires_at_ms,
            })
            .collect(),
    })
}
