//! Administration: `/api/v1/admin/*`. Every function re-checks the admin
//! role itself.

use gatehouse::api::Page;
use gatehouse::api::auth::PasswordChanged;
#[cfg(feature = "ssr")]
use gatehouse::api::events::{
    AdminSessionsEnded, ByAdmin, EventKind, LockoutReset, PasswordReset, RolesChanged,
};
use gatehouse::api::users::{
    BlacklistPage, NewUser, SetDisabled, SetPassword, SetRoles, UserList, UserView, Username,
};
use leptos::prelude::*;
use server_fn::codec::Json;

use crate::error::FnError;

/// `POST /api/v1/admin/users/create` `{"username","password","roles"}`:
/// creates a user (409 `conflict` if the name is taken, 422
/// `validation_failed` for a bad name, password or role).
#[server(prefix = "/api/v1", endpoint = "admin/users/create", input = Json)]
pub async fn create_user(#[server(flatten)] body: NewUser) -> Result<UserView, FnError> {
    let state = crate::state::current()?;
    let admin = crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let roles = ssr::roles(&body.roles)?;
    let user = state
        .auth
        .users()
        .create(&body.username, &body.password, &roles)
        .await?;
    tracing::info!(admin = %admin.user_id, user_id = %user.id, "admin created a user");
    crate::caller::admin_event(
        &state,
        &admin,
        |by| EventKind::UserCreated(ByAdmin { by }),
        |e| e.user(&user.id).username(&user.username),
    );
    Ok(user.into())
}

/// `POST /api/v1/admin/users/list` `{"offset","limit"}`: users, oldest
/// first (default limit 100).
#[server(prefix = "/api/v1", endpoint = "admin/users/list", input = Json)]
pub async fn list_users(#[server(flatten)] page: Page) -> Result<UserList, FnError> {
    let state = crate::state::current()?;
    crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let page = state
        .auth
        .users()
        .list(page.offset.unwrap_or(0), page.limit.unwrap_or(100))
        .await?;
    Ok(UserList {
        total: page.total,
        users: page.users.into_iter().map(UserView::from).collect(),
    })
}

/// `POST /api/v1/admin/users/set-disabled` `{"user_id","disabled"}`:
/// disabling ends every session of the user at once. Answers how many
/// sessions ended.
#[server(prefix = "/api/v1", endpoint = "admin/users/set-disabled", input = Json)]
pub async fn set_user_disabled(#[server(flatten)] body: SetDisabled) -> Result<u64, FnError> {
    let state = crate::state::current()?;
    let admin = crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let SetDisabled { user_id, disabled } = body;
    if disabled && user_id == admin.user_id {
        return Err(crate::ApiError::new(
            crate::ErrorCode::ValidationFailed,
            "You cannot disable your own account.",
        )
        .into());
    }
    let ended = state.auth.set_disabled(&user_id, disabled).await?;
    let sessions_ended = ended.len() as u64;
    crate::caller::admin_event(
        &state,
        &admin,
        |by| {
            let change = AdminSessionsEnded { by, sessions_ended };
            if disabled {
                EventKind::UserDisabled(change)
            } else {
                EventKind::UserEnabled(change)
            }
        },
        |e| e.user(&user_id),
    );
    Ok(ended.len() as u64)
}

/// `POST /api/v1/admin/users/set-password` `{"user_id","password","must_change"}`:
/// sets a user's password (the same rules as a change) and ends every
/// session of theirs; with `must_change` (the default) they must choose a
/// new one when they next sign in. Answers how many sessions ended.
#[server(prefix = "/api/v1", endpoint = "admin/users/set-password", input = Json)]
pub async fn set_user_password(
    #[server(flatten)] body: SetPassword,
) -> Result<PasswordChanged, FnError> {
    let state = crate::state::current()?;
    let admin = crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let must_change = body.must_change.unwrap_or(true);
    let user_id = body.user_id;
    let ended = state
        .auth
        .reset_password(&user_id, &body.password, must_change)
        .await?;
    let sessions_ended = ended.len() as u64;
    crate::caller::admin_event(
        &state,
        &admin,
        |by| {
            EventKind::PasswordReset(PasswordReset {
                by,
                must_change,
                sessions_ended,
            })
        },
        |e| e.user(&user_id),
    );
    Ok(PasswordChanged {
        revoked_sessions: ended.len() as u64,
    })
}

/// `POST /api/v1/admin/users/set-roles` `{"user_id","roles"}`: takes
/// effect at the user's next request (admission reads roles fresh).
#[server(prefix = "/api/v1", endpoint = "admin/users/set-roles", input = Json)]
pub async fn set_user_roles(#[server(flatten)] body: SetRoles) -> Result<(), FnError> {
    let state = crate::state::current()?;
    let admin = crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let SetRoles { user_id, roles } = body;
    let parsed = ssr::roles(&roles)?;
    if user_id == admin.user_id && !parsed.contains(&gatehouse::user::Role::Admin) {
        return Err(crate::ApiError::new(
            crate::ErrorCode::ValidationFailed,
            "You cannot remove your own admin role.",
        )
        .into());
    }
    state.auth.users().set_roles(&user_id, &parsed).await?;
    let roles = roles.join(",");
    crate::caller::admin_event(
        &state,
        &admin,
        |by| EventKind::RolesChanged(RolesChanged { by, roles }),
        |e| e.user(&user_id),
    );
    Ok(())
}

/// `POST /api/v1/admin/users/reset-lockout` `{"username"}`: ends the
/// sign-in lockouts of a username from every address. Answers how many
/// windows were cleared.
#[server(prefix = "/api/v1", endpoint = "admin/users/reset-lockout", input = Json)]
pub async fn reset_lockout(#[server(flatten)] body: Username) -> Result<u64, FnError> {
    let state = crate::state::current()?;
    let admin = crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let username = body.username;
    let cleared = state.auth.limiter().reset_lockouts(&username).await?;
    crate::caller::admin_event(
        &state,
        &admin,
        |by| {
            EventKind::LockoutReset(LockoutReset {
                by,
                windows_cleared: cleared,
            })
        },
        |e| e.username(&username),
    );
    Ok(cleared)
}

/// `POST /api/v1/admin/blacklist/list` `{"offset","limit"}`: revoked
/// tokens that have not expired yet, most recent first (default limit 100).
#[server(prefix = "/api/v1", endpoint = "admin/blacklist/list", input = Json)]
pub async fn list_blacklist(#[server(flatten)] page: Page) -> Result<BlacklistPage, FnError> {
    let state = crate::state::current()?;
    crate::caller::require_role(gatehouse::user::Role::Admin)?;
    Ok(state
        .auth
        .blacklist()
        .list(page.offset.unwrap_or(0), page.limit.unwrap_or(100))
        .await?)
}

#[cfg(feature = "ssr")]
mod ssr {
    use gatehouse::api::{ApiError, ErrorCode};
    use gatehouse::user::Role;

    pub fn roles(names: &[String]) -> Result<Vec<Role>, ApiError> {
        names
            .iter()
            .map(|name| {
                Role::parse(name).ok_or_else(|| {
                    let known: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
                    ApiError::new(
                        ErrorCode::ValidationFailed,
                        format!("Unknown role `{name}`: use one of {}.", known.join(", ")),
                    )
                })
            })
            .collect()
    }
}
