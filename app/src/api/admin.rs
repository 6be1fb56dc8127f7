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
    /// Must choose a new password at the next sign-in.
    #[serde(default)]
    pub must_change_password: bool,
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
    let state = crate::state::current()?;
    let admin = crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let roles = ssr::roles(&roles)?;
    let user = state
        .auth
        .users()
        .create(&username, &password, &roles)
        .await?;
    tracing::info!(admin = %admin.user_id, user_id = %user.id, "admin created a user");
    crate::caller::admin_event(&state, &admin, "user_created", |e| {
        e.user(&user.id).username(&user.username)
    });
    Ok(ssr::view(user))
}

/// `POST /api/v1/admin/users/list` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserList {
    pub total: u64,
    pub users: Vec<UserView>,
}

/// `POST /api/v1/admin/users/list` `{"offset","limit"}`: users, oldest first.
#[server(prefix = "/api/v1", endpoint = "admin/users/list", input = Json)]
pub async fn list_users(
    #[server(default)] offset: Option<u64>,
    #[server(default)] limit: Option<u64>,
) -> Result<UserList, ApiError> {
    let state = crate::state::current()?;
    crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let page = state
        .auth
        .users()
        .list(offset.unwrap_or(0), limit.unwrap_or(100))
        .await?;
    Ok(UserList {
        total: page.total,
        users: page.users.into_iter().map(ssr::view).collect(),
    })
}

/// `POST /api/v1/admin/users/set-disabled` `{"user_id","disabled"}`:
/// disabling ends every session of the user at once.
#[server(prefix = "/api/v1", endpoint = "admin/users/set-disabled", input = Json)]
pub async fn set_user_disabled(user_id: String, disabled: bool) -> Result<u64, ApiError> {
    let state = crate::state::current()?;
    let admin = crate::caller::require_role(gatehouse::user::Role::Admin)?;
    if disabled && user_id == admin.user_id {
        return Err(ApiError::new(
            crate::ErrorCode::ValidationFailed,
            "You cannot disable your own account.",
        ));
    }
    let ended = state.auth.set_disabled(&user_id, disabled).await?;
    let kind = if disabled {
        "user_disabled"
    } else {
        "user_enabled"
    };
    crate::caller::admin_event(&state, &admin, kind, |e| {
        e.user(&user_id).detail("sessions_ended", ended.len())
    });
    Ok(ended.len() as u64)
}

/// `POST /api/v1/admin/users/set-password` `{"user_id","password","must_change"}`:
/// sets a user's password (the same rules as a change) and ends every
/// session of theirs; with `must_change` (the default) they must choose a
/// new one when they next sign in. Answers how many sessions ended.
#[server(prefix = "/api/v1", endpoint = "admin/users/set-password", input = Json)]
pub async fn set_user_password(
    user_id: String,
    password: String,
    #[server(default)] must_change: Option<bool>,
) -> Result<crate::api::auth::PasswordChanged, ApiError> {
    let state = crate::state::current()?;
    let admin = crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let must_change = must_change.unwrap_or(true);
    let ended = state
        .auth
        .reset_password(&user_id, &password, must_change)
        .await?;
    crate::caller::admin_event(&state, &admin, "password_reset", |e| {
        e.user(&user_id)
            .detail("must_change", must_change)
            .detail("sessions_ended", ended.len())
    });
    Ok(crate::api::auth::PasswordChanged {
        revoked_sessions: ended.len() as u64,
    })
}

/// `POST /api/v1/admin/users/set-roles` `{"user_id","roles"}`: takes
/// effect at the user's next request (admission reads roles fresh).
#[server(prefix = "/api/v1", endpoint = "admin/users/set-roles", input = Json)]
pub async fn set_user_roles(user_id: String, roles: Vec<String>) -> Result<(), ApiError> {
    let state = crate::state::current()?;
    let admin = crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let parsed = ssr::roles(&roles)?;
    if user_id == admin.user_id && !parsed.contains(&gatehouse::user::Role::Admin) {
        return Err(ApiError::new(
            crate::ErrorCode::ValidationFailed,
            "You cannot remove your own admin role.",
        ));
    }
    state.auth.users().set_roles(&user_id, &parsed).await?;
    crate::caller::admin_event(&state, &admin, "roles_changed", |e| {
        e.user(&user_id).detail("roles", roles.join(","))
    });
    Ok(())
}

/// `POST /api/v1/admin/users/reset-lockout` `{"username"}`: ends the
/// sign-in lockouts of a username from every address.
#[server(prefix = "/api/v1", endpoint = "admin/users/reset-lockout", input = Json)]
pub async fn reset_lockout(username: String) -> Result<u64, ApiError> {
    let state = crate::state::current()?;
    let admin = crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let cleared = state.auth.limiter().reset_lockouts(&username).await?;
    crate::caller::admin_event(&state, &admin, "lockout_reset", |e| {
        e.username(&username).detail("windows_cleared", cleared)
    });
    Ok(cleared)
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
            .map(BlacklistEntry::from_core)
            .collect(),
    })
}

#[cfg(feature = "ssr")]
impl BlacklistEntry {
    pub(crate) fn from_core(e: gatehouse::blacklist::Entry) -> Self {
        Self {
            jti: e.jti,
            user_id: e.user_id,
            session_id: e.session_id,
            reason: e.reason,
            revoked_at_ms: e.revoked_at_ms,
            effective_at_ms: e.effective_at_ms,
            expires_at_ms: e.expires_at_ms,
        }
    }
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use gatehouse::user::{Role, User};

    use super::UserView;
    use crate::error::ApiError;

    pub(crate) fn view(user: User) -> UserView {
        UserView {
            user_id: user.id,
            username: user.username,
            roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            disabled: user.disabled,
            must_change_password: user.must_change_password,
            created_at_ms: user.created_at_ms,
            updated_at_ms: user.updated_at_ms,
        }
    }

    pub fn roles(names: &[String]) -> Result<Vec<Role>, ApiError> {
        names
            .iter()
            .map(|name| {
                Role::parse(name).ok_or_else(|| {
                    ApiError::new(
                        crate::ErrorCode::ValidationFailed,
                        format!("Unknown role `{name}`: use user, admin or service."),
                    )
                })
            })
            .collect()
    }
}
