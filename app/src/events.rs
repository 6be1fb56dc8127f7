//! How the console reads the event vocabulary: each kind's label, group
//! and tone, by exhaustive `match`es on [`Kind`], so a new kind does not
//! compile until the console knows how to show it.

use gatehouse::api::events::{EventKind, Kind};

/// Kinds that belong together, for filtering and for what pages watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    SignIn,
    Sessions,
    Tokens,
    Passwords,
    Locks,
    RateLimits,
    Redis,
    Admin,
    Alerts,
}

impl Group {
    pub const ALL: &'static [Group] = &[
        Group::SignIn,
        Group::Sessions,
        Group::Tokens,
        Group::Passwords,
        Group::Locks,
        Group::RateLimits,
        Group::Redis,
        Group::Admin,
        Group::Alerts,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Group::SignIn => "Sign-in",
            Group::Sessions => "Sessions",
            Group::Tokens => "Tokens",
            Group::Passwords => "Passwords",
            Group::Locks => "Locks",
            Group::RateLimits => "Rate limits",
            Group::Redis => "Redis",
            Group::Admin => "Admin actions",
            Group::Alerts => "Alerts",
        }
    }

    /// This group's kinds, in the vocabulary's order.
    pub fn kinds(self) -> impl Iterator<Item = Kind> {
        Kind::ALL
            .iter()
            .copied()
            .filter(move |kind| group(*kind) == self)
    }
}

/// How alarming a kind is, shown by colour and never by colour alone (the
/// label says what happened).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Routine,
    Notable,
    Alarming,
}

impl Tone {
    pub fn classes(self) -> &'static str {
        match self {
            Tone::Routine => "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-300",
            Tone::Notable => "bg-amber-100 text-amber-800 dark:bg-amber-950 dark:text-amber-300",
            Tone::Alarming => "bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-300",
        }
    }
}

/// What people read for a kind.
pub fn label(kind: Kind) -> &'static str {
    match kind {
        Kind::LoginSucceeded => "Signed in",
        Kind::LoginFailed => "Sign-in failed",
        Kind::LoginChallenged => "Sign-in challenged",
        Kind::LoginLocked => "Sign-in locked out",
        Kind::Logout => "Signed out",
        Kind::SessionCreated => "Session started",
        Kind::SessionRevoked => "Session revoked",
        Kind::SignedOutEverywhere => "Signed out everywhere",
        Kind::RefreshRotated => "Tokens rotated",
        Kind::RefreshCoalesced => "Concurrent refresh joined",
        Kind::RefreshReuseDetected => "Refresh token reused",
        Kind::TokenRenewed => "Token renewed",
        Kind::TokenBlacklisted => "Token revoked",
        Kind::LockAcquired => "Lock acquired",
        Kind::LockReleased => "Lock released",
        Kind::LockForceReleased => "Lock force-released",
        Kind::LockLost => "Lock lost",
        Kind::RateLimited => "Rate limited",
        Kind::BreakerOpened => "Redis not answering",
        Kind::BreakerClosed => "Redis answering again",
        Kind::DegradedStarted => "Degraded mode started",
        Kind::DegradedEnded => "Degraded mode ended",
        Kind::PasswordChanged => "Password changed",
        Kind::PasswordChangeFailed => "Password change failed",
        Kind::MfaSucceeded => "Second factor proved",
        Kind::MfaFailed => "Second factor failed",
        Kind::StepUp => "Second factor proved again",
        Kind::RecoveryCodeUsed => "Recovery code used",
        Kind::MfaEnrolled => "Second factor added",
        Kind::MfaRemoved => "Second factor removed",
        Kind::RecoveryCodesRenewed => "New recovery codes",
        Kind::DeviceRemembered => "Browser remembered",
        Kind::DeviceForgotten => "Remembered browser forgotten",
        Kind::MfaReset => "Second factors reset",
        Kind::UserCreated => "User created",
        Kind::UserDisabled => "User disabled",
        Kind::UserEnabled => "User enabled",
        Kind::RolesChanged => "Roles changed",
        Kind::PasswordReset => "Password reset by admin",
        Kind::LockoutReset => "Lockout reset",
        Kind::WindowsReset => "Rate-limit windows reset",
        Kind::AdminSessionRevoked => "Session revoked by admin",
        Kind::AdminSignedOutEverywhere => "Signed out everywhere by admin",
        Kind::AdminLockForceReleased => "Lock force-released by admin",
        Kind::DisabledTokenPresented => "Disabled user's token refused",
        Kind::AlertRaised => "Alert raised",
        Kind::AlertAcknowledged => "Alert acknowledged",
        Kind::AlertRuleChanged => "Alert rule changed",
    }
}

pub fn group(kind: Kind) -> Group {
    match kind {
        Kind::LoginSucceeded
        | Kind::LoginFailed
        | Kind::LoginChallenged
        | Kind::LoginLocked
        | Kind::MfaSucceeded
        | Kind::MfaFailed
        | Kind::StepUp
        | Kind::RecoveryCodeUsed
        | Kind::MfaEnrolled
        | Kind::MfaRemoved
        | Kind::RecoveryCodesRenewed
        | Kind::DeviceRemembered
        | Kind::DeviceForgotten => Group::SignIn,
        Kind::Logout | Kind::SessionCreated | Kind::SessionRevoked | Kind::SignedOutEverywhere => {
            Group::Sessions
        }
        Kind::RefreshRotated
        | Kind::RefreshCoalesced
        | Kind::RefreshReuseDetected
        | Kind::TokenRenewed
        | Kind::TokenBlacklisted
        | Kind::DisabledTokenPresented => Group::Tokens,
        Kind::PasswordChanged | Kind::PasswordChangeFailed => Group::Passwords,
        Kind::LockAcquired | Kind::LockReleased | Kind::LockForceReleased | Kind::LockLost => {
            Group::Locks
        }
        Kind::RateLimited => Group::RateLimits,
        Kind::BreakerOpened | Kind::BreakerClosed | Kind::DegradedStarted | Kind::DegradedEnded => {
            Group::Redis
        }
        Kind::UserCreated
        | Kind::UserDisabled
        | Kind::UserEnabled
        | Kind::RolesChanged
        | Kind::PasswordReset
        | Kind::LockoutReset
        | Kind::WindowsReset
        | Kind::AdminSessionRevoked
        | Kind::AdminSignedOutEverywhere
        | Kind::AdminLockForceReleased
        | Kind::MfaReset
        | Kind::AlertAcknowledged
        | Kind::AlertRuleChanged => Group::Admin,
        Kind::AlertRaised => Group::Alerts,
    }
}

pub fn tone(kind: Kind) -> Tone {
    match kind {
        Kind::LoginFailed
        | Kind::LoginLocked
        | Kind::RefreshReuseDetected
        | Kind::RateLimited
        | Kind::LockLost
        | Kind::BreakerOpened
        | Kind::DegradedStarted
        | Kind::PasswordChangeFailed
        | Kind::MfaFailed
        | Kind::AlertRaised => Tone::Alarming,
        Kind::LoginChallenged
        | Kind::SessionRevoked
        | Kind::TokenBlacklisted
        | Kind::LockForceReleased
        | Kind::UserDisabled
        | Kind::AdminSessionRevoked
        | Kind::AdminSignedOutEverywhere
        | Kind::AdminLockForceReleased
        | Kind::BreakerClosed
        | Kind::DegradedEnded
        | Kind::RecoveryCodeUsed
        | Kind::MfaRemoved
        | Kind::MfaReset
        | Kind::DisabledTokenPresented
        | Kind::AlertRuleChanged => Tone::Notable,
        Kind::LoginSucceeded
        | Kind::MfaSucceeded
        | Kind::StepUp
        | Kind::MfaEnrolled
        | Kind::RecoveryCodesRenewed
        | Kind::DeviceRemembered
        | Kind::DeviceForgotten
        | Kind::Logout
        | Kind::SessionCreated
        | Kind::SignedOutEverywhere
        | Kind::RefreshRotated
        | Kind::RefreshCoalesced
        | Kind::TokenRenewed
        | Kind::LockAcquired
        | Kind::LockReleased
        | Kind::PasswordChanged
        | Kind::UserCreated
        | Kind::UserEnabled
        | Kind::RolesChanged
        | Kind::PasswordReset
        | Kind::LockoutReset
        | Kind::WindowsReset
        | Kind::AlertAcknowledged => Tone::Routine,
    }
}

/// The details of an event as `name=value` text, as they travel.
pub fn details(kind: &EventKind) -> String {
    let Ok(serde_json::Value::Object(mut json)) = serde_json::to_value(kind) else {
        return String::new();
    };
    let Some(serde_json::Value::Object(details)) = json.remove("details") else {
        return String::new();
    };
    details
        .into_iter()
        .map(|(name, value)| match value {
            serde_json::Value::String(text) => format!("{name}={text}"),
            other => format!("{name}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
