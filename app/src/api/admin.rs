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
