//! The bodies of a signed-in user's second-factor endpoints
//! (`/api/v1/auth/mfa/*`): enrolling a TOTP authenticator, listing and
//! removing factors, new recovery codes. Secrets and codes appear only in
//! the answer that creates them, once.

use serde::{Deserialize, Serialize};
/// WebAuthn's options and answers pass through as JSON text: the server
/// parses them with `webauthn-rs`, the browser with its own JSON helpers,
/// and neither builds a generic JSON tree of them.
use serde_json::value::RawValue;

wire_names! {
    /// The kinds of factor.
    pub enum FactorKind {
        /// An authenticator app (TOTP).
        Totp = "totp",
        /// A WebAuthn credential: a security key or a passkey.
        Webauthn = "webauthn",
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

/// `POST /api/v1/auth/mfa/webauthn/register/start` body: `{}` or
/// `{"label"}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebauthnRegisterStartRequest {
    /// What the factor is called in lists (at most 64 characters; default
    /// "Passkey").
    #[serde(default)]
    pub label: Option<String>,
}

/// The first half of a WebAuthn ceremony: `options` for the browser
/// (`PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey)`
/// or `parseRequestOptionsFromJSON`), and the id the second half names.
/// The ceremony waits 5 minutes and can be finished once.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ceremony {
    pub ceremony_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub options: Box<RawValue>,
}

/// `POST /api/v1/auth/mfa/webauthn/register/finish` body: `credential` is
/// the browser's `PublicKeyCredential.toJSON()`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebauthnRegisterFinishRequest {
    pub ceremony_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    #[serde(deserialize_with = "any_json")]
    pub credential: Box<RawValue>,
}

/// `POST /api/v1/auth/mfa/webauthn/start` body: the ticket of
/// `mfa_required` (or of a step-up).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebauthnStartRequest {
    pub ticket: String,
}

/// `POST /api/v1/auth/mfa/webauthn/finish` body.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebauthnFinishRequest {
    pub ticket: String,
    pub ceremony_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    #[serde(deserialize_with = "any_json")]
    pub credential: Box<RawValue>,
    /// As with `/mfa/verify`: let this browser skip the second factor for
    /// 30 days.
    #[serde(default)]
    pub remember_device: bool,
}

/// `POST /api/v1/auth/passkey/start` body: `{}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeyStartRequest {}

/// `POST /api/v1/auth/passkey/finish` body.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeyFinishRequest {
    pub ceremony_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    #[serde(deserialize_with = "any_json")]
    pub credential: Box<RawValue>,
}

/// Reads a request's JSON value as JSON text from any deserializer: the
/// server reads these bodies flattened, which serde buffers, and a
/// `RawValue` cannot be read from a buffer. Only the server reads
/// requests, so the browser bundle never carries this.
fn any_json<'de, D: serde::Deserializer<'de>>(from: D) -> Result<Box<RawValue>, D::Error> {
    let value = serde_json::Value::deserialize(from)?;
    serde_json::value::to_raw_value(&value).map_err(serde::de::Error::custom)
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
