//! `/api/v1/auth/*`: signing in and out, refreshing, challenges, the
//! caller's identity and password.

use serde::{Deserialize, Serialize};

use super::Role;
use super::assurance::{Amr, aal_one};

/// `POST /api/v1/auth/login` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// With `challenge_solution`, when sign-in asked for a challenge.
    #[serde(default)]
    pub challenge_id: Option<String>,
    #[serde(default)]
    pub challenge_solution: Option<String>,
}

/// The body of a successful `POST /api/v1/auth/login` and
/// `/api/v1/auth/refresh`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub session_id: String,
    /// Sign-in only: the user must change the password
    /// (`POST /api/v1/auth/password`) before anything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub must_change_password: Option<bool>,
}

/// `POST /api/v1/auth/refresh` body: `{}` uses the refresh cookie.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshRequest {
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// `POST /api/v1/auth/challenge` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChallengeRequest {
    pub username: String,
}

/// A sign-in challenge (see `POST /api/v1/auth/challenge`): find `s` such
/// that SHA-256 of `salt + s` has `difficulty` leading zero bits, and sign
/// in with `challenge_id` and `challenge_solution` = `s`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Challenge {
    pub challenge_id: String,
    /// Always `sha256-leading-zero-bits`.
    pub algorithm: String,
    pub salt: String,
    pub difficulty: u8,
    pub expires_in_ms: u64,
}

/// The proof-of-work rule of a [`Challenge`]: whether `digest`, SHA-256 of
/// `salt + s`, starts with `difficulty` zero bits. One rule for the server
/// that checks solutions and the browser that looks for them.
pub fn meets_difficulty(digest: &[u8], difficulty: u8) -> bool {
    let mut bits = 0;
    for byte in digest {
        bits += byte.leading_zeros();
        if *byte != 0 {
            break;
        }
    }
    bits >= u32::from(difficulty)
}

wire_names! {
    /// A way to prove a second factor at sign-in (`ALL` is in the order
    /// they are offered).
    pub enum MfaMethod {
        /// A code of an authenticator app (TOTP).
        Totp = "totp",
        /// A security key or passkey (`/api/v1/auth/mfa/webauthn/start`,
        /// not `/mfa/verify`).
        Webauthn = "webauthn",
        /// One of the recovery codes shown at enrolment.
        RecoveryCode = "recovery_code",
    }
}

/// With `mfa_required`: the password was right and the account has a
/// second factor. Prove it with `POST /api/v1/auth/mfa/verify` and this
/// ticket (bound to the account, valid for `expires_in_ms`, void after 5
/// attempts).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MfaTicket {
    pub ticket: String,
    /// The methods the account has.
    pub methods: Vec<MfaMethod>,
    pub expires_in_ms: u64,
}

/// `POST /api/v1/auth/mfa/step-up` body: `{}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepUpRequest {}

/// `POST /api/v1/auth/mfa/verify` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MfaVerify {
    pub ticket: String,
    pub method: MfaMethod,
    pub code: String,
    /// Let this browser skip the second factor for 30 days (the HttpOnly
    /// cookie `gh_device`); a sign-in only, not a step-up.
    #[serde(default)]
    pub remember_device: bool,
}

/// `POST /api/v1/auth/password` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// What a password change (or an admin's reset) ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordChanged {
    /// Sessions ended (with their tokens) because of the change.
    pub revoked_sessions: u64,
}

/// What sign-out ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedOut {
    pub revoked_sessions: u64,
}

/// `GET /api/v1/auth/verify` answer (forward auth): the caller, with the
/// roles they have now. The same is in its `X-Gatehouse-*` headers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Verified {
    pub user_id: String,
    pub username: String,
    pub roles: Vec<Role>,
    pub session_id: String,
    /// The session's authenticator assurance level: 1 (one factor) or 2.
    #[serde(default = "aal_one")]
    pub aal: u8,
    /// How the session's user signed in (RFC 8176 values).
    #[serde(default = "Amr::password")]
    pub amr: Amr,
}

/// The signed-in caller (`POST /api/v1/auth/me`, `GET /api/v1/auth/session`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Identity {
    pub user_id: String,
    pub username: String,
    pub roles: Vec<Role>,
    pub session_id: String,
    /// The password must be changed before anything else.
    #[serde(default)]
    pub must_change_password: bool,
    /// A second factor must be enrolled before anything else (the user's
    /// role requires one: `--mfa-required-roles`).
    #[serde(default)]
    pub mfa_enrollment_required: bool,
    /// The session's authenticator assurance level: 1 (one factor) or 2.
    #[serde(default = "aal_one")]
    pub aal: u8,
    /// How the session's user signed in (RFC 8176 values).
    #[serde(default = "Amr::password")]
    pub amr: Amr,
    /// When the user last proved who they are (seconds since the epoch).
    #[serde(default)]
    pub auth_time: u64,
}
