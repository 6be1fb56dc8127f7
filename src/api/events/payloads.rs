//! What each event kind carries (its `"details"`).
//!
//! Numbers and flags go on the wire as text (`"sessions": "3"`), as they
//! always have: the details object is a map of short strings, and events
//! written before these types existed still read.

use serde::{Deserialize, Serialize};

/// A device, as its user agent names it (`Firefox on Linux`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Device {
    pub device: String,
}

/// `mfa_succeeded` and `mfa_failed` details: how the second factor was
/// (or was not) proved. Never the code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecondFactor {
    pub method: crate::api::auth::MfaMethod,
}

/// `device_forgotten` details: the id `remembered_devices` lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceForgotten {
    pub device_id: String,
}

/// `mfa_enrolled` and `mfa_removed` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FactorChanged {
    pub factor_id: String,
}

/// Why a sign-in failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LoginFailure {
    /// The password was wrong.
    InvalidCredentials,
    /// No account has that username (the client is told the same as for a
    /// wrong password).
    UnknownUser,
    /// The account is disabled.
    AccountDisabled,
}

/// `login_failed` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginFailed {
    pub reason: LoginFailure,
}

/// How many refusals an event of a flooded kind stands for (see the
/// the book's console chapter, "No flood can push real security events out").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Repeats {
    /// Refusals this event records: 1 for a window's first, then how many
    /// followed.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "text::opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub count: Option<u64>,
    /// The window refusals are grouped by.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "text::opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub window_ms: Option<u64>,
    /// Set on the event that reports the refusals after a window's first.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "text::opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub repeated: Option<bool>,
}

/// `login_locked` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginLocked {
    #[serde(with = "text")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub retry_after_ms: u64,
    #[serde(flatten)]
    pub repeats: Repeats,
}

/// Why a token was revoked or a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Its session signed out.
    Logout,
    /// Its session was revoked by its owner or ended everywhere.
    SessionRevoked,
    /// A refresh replaced it.
    Rotated,
    /// Silent renewal replaced it.
    Renewed,
    /// An administrator revoked it.
    AdminRevoke,
    /// A used refresh token was presented again: the session was ended.
    ReuseDetected,
}

/// `logout` and `session_revoked` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionEnded {
    pub reason: Reason,
}

/// `signed_out_everywhere` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Sessions {
    /// Sessions ended.
    #[serde(with = "text")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub sessions: u64,
}

/// What a refresh was asked with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RotationVia {
    /// A refresh token.
    Refresh,
    /// The browser's silent renewal of an expired access token.
    Renewal,
    /// `POST /api/v1/auth/refresh` with only an access token.
    ApiRenewal,
    /// A second factor proved again (`POST /api/v1/auth/mfa/verify` with
    /// a step-up ticket).
    StepUp,
}

/// `refresh_rotated` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rotation {
    /// Rotations of this session so far.
    #[serde(with = "text")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub generation: u64,
    pub via: RotationVia,
}

/// `token_blacklisted` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Blacklisted {
    /// The token's id (never the token).
    pub jti: String,
    pub reason: Reason,
}

/// A lock's name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lock {
    pub lock: String,
}

/// `lock_acquired` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockAcquired {
    pub lock: String,
    #[serde(with = "text")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub fencing_token: u64,
}

/// `lock_force_released` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockForceReleased {
    pub lock: String,
    /// The holder's label.
    pub holder: String,
}

/// Why a holder lost its lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum LockLoss {
    /// It had expired or been force-released.
    #[serde(rename = "not held")]
    NotHeld,
    /// Redis could not be reached before the lock expired.
    #[serde(rename = "unreachable")]
    Unreachable,
}

/// `lock_lost` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockLost {
    pub lock: String,
    pub why: LockLoss,
}

/// `breaker_opened` and `breaker_closed` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Breaker {
    /// The Redis target: `host:port` of the server, the Sentinel primary
    /// or the Cluster primary (never a password).
    pub target: String,
}

/// `degraded_started` and `degraded_ended` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DegradedMode {
    /// When Redis last answered before the period (ms since the epoch).
    pub since_ms: u64,
    /// `degraded_ended` only: why it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<DegradedEnd>,
}

/// Why a degraded period ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DegradedEnd {
    /// Redis answers again.
    RedisBack,
    /// `--degraded-max` ran out (or the revocation mirror could no longer
    /// vouch): every request that needs Redis answers 503.
    LimitReached,
}

/// `rate_limited` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateLimited {
    /// The policy that refused (absent on a `subjects: many` summary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `many`: the summary of refusals of more subjects than are tracked
    /// one by one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subjects: Option<String>,
    #[serde(flatten)]
    pub repeats: Repeats,
}

/// `password_changed` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionsEnded {
    #[serde(with = "text")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub sessions_ended: u64,
}

/// The admin who acted (their username).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ByAdmin {
    pub by: String,
}

/// `user_disabled` and `user_enabled` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminSessionsEnded {
    pub by: String,
    #[serde(with = "text")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub sessions_ended: u64,
}

/// `mfa_reset` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminMfaReset {
    pub by: String,
    #[serde(with = "text")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub factors_removed: u64,
    #[serde(with = "text")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub sessions_ended: u64,
}

/// `roles_changed` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RolesChanged {
    pub by: String,
    /// The new roles, comma-separated.
    pub roles: String,
}

/// `password_reset` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordReset {
    pub by: String,
    #[serde(with = "text")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub must_change: bool,
    #[serde(with = "text")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub sessions_ended: u64,
}

/// `lockout_reset` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockoutReset {
    pub by: String,
    #[serde(with = "text")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub windows_cleared: u64,
}

/// `windows_reset` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminWindowsReset {
    pub by: String,
    /// The subject, as its JSON (`{"kind":"ip","ip":"…"}`).
    pub subject: String,
}

/// `admin_signed_out_everywhere` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminSessions {
    pub by: String,
    #[serde(with = "text")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub sessions: u64,
}

/// `admin_lock_force_released` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminLock {
    pub by: String,
    pub lock: String,
}

/// `login_succeeded` details: the device, and whether the user is an
/// admin (which the `admin_new_address` alert rule watches).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignedIn {
    pub device: String,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "text::opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub admin: Option<bool>,
}

/// `alert_raised` details: the new alert, as the alert list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertRaised {
    pub alert_id: String,
    pub rule: crate::api::alerts::RuleId,
    pub severity: crate::api::alerts::Severity,
    pub title: String,
    pub subject: String,
    pub link: String,
}

/// `alert_acknowledged` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertAcknowledged {
    pub by: String,
    pub alert_id: String,
}

/// `alert_rule_changed` details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertRuleChanged {
    pub by: String,
    pub rule: crate::api::alerts::RuleId,
    #[serde(with = "text")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "text::opt")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub threshold: Option<u64>,
}

/// Numbers and flags as text on the wire (so their schemas say `string`).
mod text {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<T: Display, S: Serializer>(value: &T, out: S) -> Result<S::Ok, S::Error> {
        out.collect_str(value)
    }

    pub fn deserialize<'de, T, D>(input: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        String::deserialize(input)?
            .parse()
            .map_err(D::Error::custom)
    }

    pub mod opt {
        use super::*;

        pub fn serialize<T: Display, S: Serializer>(
            value: &Option<T>,
            out: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(value) => out.collect_str(value),
                None => out.serialize_none(),
            }
        }

        pub fn deserialize<'de, T, D>(input: D) -> Result<Option<T>, D::Error>
        where
            T: FromStr,
            T::Err: Display,
            D: Deserializer<'de>,
        {
            Option::<String>::deserialize(input)?
                .map(|text| text.parse().map_err(D::Error::custom))
                .transpose()
        }
    }
}
