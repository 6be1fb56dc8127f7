//! User administration: `/api/v1/admin/users/*` and the blacklist
//! (`/api/v1/admin/blacklist/list`).

use serde::{Deserialize, Serialize};

use super::Role;
use super::sessions::AdminSession;

/// A user as admins see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserView {
    pub user_id: String,
    pub username: String,
    pub roles: Vec<Role>,
    pub disabled: bool,
    /// Must choose a new password at the next sign-in.
    #[serde(default)]
    pub must_change_password: bool,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

/// `POST /api/v1/admin/users/create` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewUser {
    pub username: String,
    pub password: String,
    /// Names of [`Role`]s (`user`, `admin`, `service`, `metrics`); an
    /// unknown one is refused with 422 `validation_failed`.
    pub roles: Vec<String>,
}

/// `POST /api/v1/admin/users/list` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserList {
    pub total: u64,
    pub users: Vec<UserView>,
}

/// `POST /api/v1/admin/users/get` and `/api/v1/admin/sessions/revoke-all`
/// body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserId {
    pub user_id: String,
}

/// `POST /api/v1/admin/users/set-disabled` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetDisabled {
    pub user_id: String,
    pub disabled: bool,
}

/// `POST /api/v1/admin/users/set-password` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetPassword {
    pub user_id: String,
    pub password: String,
    /// Must they choose a new one at their next sign-in? (default: yes)
    #[serde(default)]
    pub must_change: Option<bool>,
}

/// `POST /api/v1/admin/users/set-roles` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetRoles {
    pub user_id: String,
    /// Names of [`Role`]s, as in [`NewUser`].
    pub roles: Vec<String>,
}

/// `POST /api/v1/admin/users/reset-lockout` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Username {
    pub username: String,
}

/// A revoked access token as admins see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlacklistEntry {
    pub jti: String,
    pub user_id: String,
    pub session_id: String,
    pub reason: String,
    pub revoked_at_ms: u64,
    /// From this moment the token is refused (after any grace period).
    pub effective_at_ms: u64,
    /// When the token (and this entry) expires.
    pub expires_at_ms: u64,
}

/// `POST /api/v1/admin/blacklist/list` answer: most recently revoked first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BlacklistPage {
    pub total: u64,
    pub entries: Vec<BlacklistEntry>,
}

/// `POST /api/v1/admin/users/get` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserReport {
    pub user: UserView,
    /// When they last signed in, if the audit stream still has it.
    pub last_sign_in_ms: Option<u64>,
    /// Their live sessions, newest first.
    pub sessions: Vec<AdminSession>,
    /// Their revoked tokens that have not expired yet, among the most
    /// recently revoked few hundred.
    pub blacklist: Vec<BlacklistEntry>,
    /// Their second factors and how many recovery codes are left.
    pub mfa: crate::api::mfa::FactorList,
}
