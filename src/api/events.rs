//! The security event vocabulary: what the event streams in Redis, the
//! live feed (`/api/v1/admin/events/stream`) and
//! `/api/v1/admin/events/recent` carry.
//!
//! Every kind is a variant of [`EventKind`] with a payload of its own, so
//! an emitter cannot misspell a kind or forget a detail, and a reader (the
//! console) matches on the enum and cannot forget a kind. On the wire an
//! event stays what it always was: `"kind"` is the kind's `snake_case`
//! name and `"details"` an object of short strings (numbers and flags
//! written as text), so older events in Redis and older clients keep
//! working.

use serde::{Deserialize, Serialize};

mod payloads;

pub use payloads::*;

/// One event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// The stream id (`<ms>-<seq>`); empty until written.
    #[serde(default)]
    pub id: String,
    pub at_ms: u64,
    /// The Gatehouse instance (or embedding process) that saw it.
    #[serde(default)]
    pub instance: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// What happened: `"kind"` and, for kinds that have them, `"details"`.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Declares [`EventKind`] and its payload-free twin [`Kind`] from one
/// list, so the names the live feed subscribes to and the console's labels
/// can never miss a kind. A kind's wire name is its variant's name in
/// `snake_case` (serde's, and the OpenAPI schema's); the list spells it
/// out for [`Kind::as_str`], and a test checks that the two agree.
macro_rules! event_kinds {
    ($( $(#[$doc:meta])* $variant:ident $(($payload:ty))? = $name:literal, )*) => {
        /// What happened, with what is known about it.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(tag = "kind", content = "details", rename_all = "snake_case")]
        pub enum EventKind {
            $( $(#[$doc])* $variant $(($payload))?, )*
        }

        /// An event kind without its details: what filters, labels and
        /// counters key on.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum Kind {
            $( $(#[$doc])* $variant, )*
        }

        impl Kind {
            /// Every kind, in the vocabulary's order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),*];

            /// Its wire name (`"login_failed"`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Kind::$variant => $name, )*
                }
            }

            /// The kind of this wire name, if there is one.
            pub fn parse(name: &str) -> Option<Kind> {
                Kind::ALL.iter().copied().find(|kind| kind.as_str() == name)
            }
        }

        impl EventKind {
            pub fn kind(&self) -> Kind {
                match self {
                    $( EventKind::$variant { .. } => Kind::$variant, )*
                }
            }
        }
    };
}

event_kinds! {
    /// Someone signed in (with the device their user agent names).
    LoginSucceeded(SignedIn) = "login_succeeded",
    /// A sign-in was refused.
    LoginFailed(LoginFailed) = "login_failed",
    /// A sign-in proved its second factor.
    MfaSucceeded(SecondFactor) = "mfa_succeeded",
    /// A second-factor code was wrong or used.
    MfaFailed(SecondFactor) = "mfa_failed",
    /// A signed-in session proved its second factor again (step-up).
    StepUp(SecondFactor) = "step_up",
    /// A recovery code was used (one fewer is left).
    RecoveryCodeUsed = "recovery_code_used",
    /// A user confirmed a new second factor.
    MfaEnrolled(FactorChanged) = "mfa_enrolled",
    /// A user removed a second factor.
    MfaRemoved(FactorChanged) = "mfa_removed",
    /// A user made a new set of recovery codes (the old ones died).
    RecoveryCodesRenewed = "recovery_codes_renewed",
    /// A browser that proved a second factor will skip it for 30 days.
    DeviceRemembered(Device) = "device_remembered",
    /// A user forgot a remembered browser (it asks for the factor again).
    DeviceForgotten(DeviceForgotten) = "device_forgotten",
    /// A sign-in needed a proof-of-work challenge first.
    LoginChallenged = "login_challenged",
    /// Too many failed sign-ins for a username from one address.
    LoginLocked(LoginLocked) = "login_locked",
    /// A session signed out.
    Logout(SessionEnded) = "logout",
    /// A sign-in started a session.
    SessionCreated(Device) = "session_created",
    /// A session was ended by its owner (or everywhere).
    SessionRevoked(SessionEnded) = "session_revoked",
    /// Every session of a user was ended.
    SignedOutEverywhere(Sessions) = "signed_out_everywhere",
    /// A refresh (or renewal) rotated a session's tokens.
    RefreshRotated(Rotation) = "refresh_rotated",
    /// A concurrent refresh got the result of the one that rotated.
    RefreshCoalesced = "refresh_coalesced",
    /// A used refresh token came back: the session was ended.
    RefreshReuseDetected(Device) = "refresh_reuse_detected",
    /// An access token was renewed silently.
    TokenRenewed = "token_renewed",
    /// An access token was revoked before its expiry.
    TokenBlacklisted(Blacklisted) = "token_blacklisted",
    /// A lock was taken.
    LockAcquired(LockAcquired) = "lock_acquired",
    /// A lock was released by its holder.
    LockReleased(Lock) = "lock_released",
    /// A lock was taken from its holder.
    LockForceReleased(LockForceReleased) = "lock_force_released",
    /// A holder found its lock gone, or Redis unreachable, while renewing.
    LockLost(LockLost) = "lock_lost",
    /// A Redis target stopped answering: its circuit breaker opened and
    /// calls to it fail at once.
    BreakerOpened(Breaker) = "breaker_opened",
    /// A Redis target answers again: its circuit breaker closed.
    BreakerClosed(Breaker) = "breaker_closed",
    /// Redis is away: this instance answers who callers are from their
    /// tokens and its revocation mirror (degraded mode).
    DegradedStarted(DegradedMode) = "degraded_started",
    /// Degraded mode ended: Redis answers again, or its bound ran out.
    DegradedEnded(DegradedMode) = "degraded_ended",
    /// A rate-limit policy refused requests.
    RateLimited(RateLimited) = "rate_limited",
    /// A user changed their password.
    PasswordChanged(SessionsEnded) = "password_changed",
    /// A password change gave the wrong current password.
    PasswordChangeFailed = "password_change_failed",
    /// An admin created a user.
    UserCreated(ByAdmin) = "user_created",
    /// An admin disabled a user (which ends their sessions).
    UserDisabled(AdminSessionsEnded) = "user_disabled",
    /// An admin enabled a user.
    UserEnabled(AdminSessionsEnded) = "user_enabled",
    /// An admin changed a user's roles.
    RolesChanged(RolesChanged) = "roles_changed",
    /// An admin set a user's password.
    PasswordReset(PasswordReset) = "password_reset",
    /// An admin ended a username's sign-in lockouts.
    LockoutReset(LockoutReset) = "lockout_reset",
    /// An admin cleared a subject's rate-limit windows.
    WindowsReset(AdminWindowsReset) = "windows_reset",
    /// An admin ended one session.
    AdminSessionRevoked(ByAdmin) = "admin_session_revoked",
    /// An admin ended every session of a user.
    AdminSignedOutEverywhere(AdminSessions) = "admin_signed_out_everywhere",
    /// An admin removed every second factor of a user (which ends their
    /// sessions).
    MfaReset(AdminMfaReset) = "mfa_reset",
    /// An admin force-released a lock.
    AdminLockForceReleased(AdminLock) = "admin_lock_force_released",
    /// A disabled user's token was presented (and refused).
    DisabledTokenPresented(Repeats) = "disabled_token_presented",
    /// An alert rule raised a new alert.
    AlertRaised(AlertRaised) = "alert_raised",
    /// An admin acknowledged an alert.
    AlertAcknowledged(AlertAcknowledged) = "alert_acknowledged",
    /// An admin turned an alert rule on or off, or changed its threshold.
    AlertRuleChanged(AlertRuleChanged) = "alert_rule_changed",
}

impl EventKind {
    /// This kind's wire name (`"login_failed"`).
    pub fn name(&self) -> &'static str {
        self.kind().as_str()
    }

    /// The refusal counts of a kind that floods repeat (`rate_limited`,
    /// `login_locked`), which are recorded per subject and window.
    pub fn repeats_mut(&mut self) -> Option<&mut Repeats> {
        match self {
            EventKind::RateLimited(limited) => Some(&mut limited.repeats),
            EventKind::LoginLocked(locked) => Some(&mut locked.repeats),
            EventKind::DisabledTokenPresented(repeats) => Some(repeats),
            _ => None,
        }
    }

    /// The refusals this event stands for: its `count` when it is an
    /// aggregate, else 1.
    pub fn stands_for(&self) -> u64 {
        match self {
            EventKind::RateLimited(RateLimited { repeats, .. })
            | EventKind::LoginLocked(LoginLocked { repeats, .. })
            | EventKind::DisabledTokenPresented(repeats) => repeats.count.unwrap_or(1),
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests;
