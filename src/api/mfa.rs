//! The bodies of a signed-in user's second-factor endpoints
//! (`/api/v1/auth/mfa/*`): enrolling a TOTP authenticator, listing and
//! removing factors, new recovery codes. Secrets and codes appear only in
//! the answer that creates them, once.

use serde::{Deserialize, Serialize};

/// The kinds of factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FactorKind {
    /// An authenticator app (TOTP).
    Totp,
}

impl FactorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FactorKind::Totp => "totp",
        }
    }

    pub fn parse(text: &str) -> Option<FactorKind> {
        (text == "totp").then_some(FactorKind::Totp)
    }
}

/// `POST /api/v1/auth/mfa/totp/enroll` body: `{}` or `{"label"}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TotpEnrollRequest {
    /// What the factor is called in lists (at most 64 characters; default
    /// "Authenticator app").
    #[serde(default)]
    pub label: Option<String>,
}

/// `POST /api/v1/auth/mfa/totp/enroll` answer: what the authenticator app
/// needs, shown once. The factor counts once confirmed with a code
/// (within 10 minutes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TotpEnrollment {
    pub factor_id: String,
    /// The secret, base32 (for typing it in).
    pub secret: String,
    /// `otpauth://totp/Gatehouse:<username>?…` (for a QR code).
    pub otpauth_uri: String,
}

/// `POST /api/v1/auth/mfa/totp/confirm` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TotpConfirmRequest {
    pub factor_id: String,
    pub code: String,
}

/// `POST /api/v1/auth/mfa/totp/confirm` answer; the first factor of an
/// account comes with its recovery codes, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FactorConfirmed {
    pub factor_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

/// A factor as its owner sees it (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FactorView {
    pub factor_id: String,
    pub kind: FactorKind,
    pub label: String,
    pub created_at_ms: u64,
    #[serde(default)]
    pub last_used_at_ms: Option<u64>,
    /// A passkey (a discoverable WebAuthn credential); false for TOTP.
    pub passkey: bool,
    /// The credential may be synced to other devices; false for TOTP.
    pub backup_eligible: bool,
}

/// `POST /api/v1/auth/mfa/factors` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FactorList {
    pub factors: Vec<FactorView>,
    pub recovery_codes_left: u64,
    /// Browsers that skip the second factor (`remember_device`).
    #[serde(default)]
    pub remembered_devices: Vec<RememberedDevice>,
}

/// A browser a user let skip the second factor for 30 days, as its user
/// sees it (never its token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RememberedDevice {
    pub device_id: String,
    /// The browser and system, from its user agent.
    pub label: String,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
}

/// `POST /api/v1/auth/mfa/devices/forget` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceId {
    pub device_id: String,
}

/// `POST /api/v1/auth/mfa/factors/remove` body (and answer).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FactorId {
    pub factor_id: String,
}

/// `POST /api/v1/auth/mfa/recovery-codes` answer: a new set (the old
/// codes stop working), shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// `POST /api/v1/admin/users/reset-mfa` answer: how many factors were
/// removed and sessions ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MfaReset {
    pub factors_removed: u64,
    pub revoked_sessions: u64,
}
