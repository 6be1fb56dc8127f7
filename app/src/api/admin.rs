//! Administration: `/api/v1/admin/*`. Each function is one operation of
//! the core's admin capability ([`gatehouse::ops::Admin`]), which checks
//! the role and writes the audit event.

use gatehouse::api::Page;
use gatehouse::api::auth::PasswordChanged;
use gatehouse::api::mfa::MfaReset;
use gatehouse::api::users::{
    BlacklistPage, NewUser, SetDisabled, SetPassword, SetRoles, UserId, UserList, UserView,
    Username,
};
use leptos::prelude::*;
use server_fn::codec::Json;

use crate::error::FnError;

/// `POST /api/v1/admin/users/create` `{"username","password","roles"}`:
/// creates a user (409 `conflict` if the name is taken, 422
/// `validation_failed` for a bad name, password or role).
#[server(prefix = "/api/v1", endpoint = "admin/users/create", input = Json)]
pub async fn create_user(#[server(flatten)] body: NewUser) -> Result<UserView, FnError> {
    let caller = crate::caller::signed_in()?;
    let admin = caller.admin()?;
    Ok(admin
        .create_user(&body.username, &body.password, &body.roles)
        .await?)
}

/// `POST /api/v1/admin/users/list` `{"offset","limit"}`: users, oldest
/// first (default limit 100).
#[server(prefix = "/api/v1", endpoint = "admin/users/list", input = Json)]
pub async fn list_users(#[server(flatten)] page: Page) -> Result<UserList, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.admin()?.users(page).await?)
}

/// `POST /api/v1/admin/users/set-disabled` `{"user_id","disabled"}`:
/// disabling ends every session of the user at once. Answers how many
/// sessions ended.
#[server(prefix = "/api/v1", endpoint = "admin/users/set-disabled", input = Json)]
pub async fn set_user_disabled(#[server(flatten)] body: SetDisabled) -> Result<u64, FnError> {
    let caller = crate::caller::signed_in()?;
    let admin = caller.admin()?;
    Ok(admin.set_disabled(&body.user_id, body.disabled).await?)
}

/// `POST /api/v1/admin/users/set-password` `{"user_id","password","must_change"}`:
/// sets a user's password (the same rules as a change) and ends every
/// session of theirs; with `must_change` (the default) they must choose a
/// new one when they next sign in. Answers how many sessions ended.
#[server(prefix = "/api/v1", endpoint = "admin/users/set-password", input = Json)]
pub async fn set_user_password(
    #[server(flatten)] body: SetPassword,
) -> Result<PasswordChanged, FnError> {
    let caller = crate::caller::signed_in()?;
    let admin = caller.admin()?;
    let must_change = body.must_change.unwrap_or(true);
    Ok(admin
        .set_password(&body.user_id, &body.password, must_change)
        .await?)
}

/// `POST /api/v1/admin/users/set-roles` `{"user_id","roles"}`: takes
/// effect at the user's next request (admission reads roles fresh).
#[server(prefix = "/api/v1", endpoint = "admin/users/set-roles", input = Json)]
pub async fn set_user_roles(#[server(flatten)] body: SetRoles) -> Result<(), FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller
        .admin()?
        .set_roles(&body.user_id, &body.roles)
        .await?)
}

/// `POST /api/v1/admin/users/reset-lockout` `{"username"}`: ends the
/// sign-in lockouts of a username from every address. Answers how many
/// windows were cleared.
#[server(prefix = "/api/v1", endpoint = "admin/users/reset-lockout", input = Json)]
pub async fn reset_lockout(#[server(flatten)] body: Username) -> Result<u64, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.admin()?.reset_lockout(&body.username).await?)
}

/// `POST /api/v1/admin/blacklist/list` `{"offset","limit"}`: revoked
/// tokens that have not expired yet, most recent first (default limit 100).
#[server(prefix = "/api/v1", endpoint = "admin/blacklist/list", input = Json)]
pub async fn list_blacklist(#[server(flatten)] page: Page) -> Result<BlacklistPage, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.admin()?.blacklist(page).await?)
}

/// `POST /api/v1/admin/users/reset-mfa` `{"user_id"}`: removes every
/// second factor and recovery code of a user who lost them and ends all
/// their sessions; they sign in next with the password alone.
#[server(prefix = "/api/v1", endpoint = "admin/users/reset-mfa", input = Json)]
pub async fn reset_user_mfa(#[server(flatten)] body: UserId) -> Result<MfaReset, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.admin()?.reset_mfa(&body.user_id).await?)
}
