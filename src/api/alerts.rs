//! Security alerts: `/api/v1/admin/alerts/*`, and the `alert_raised`
//! events of the live feed.
//!
//! An alert is something an admin should act on, raised by a rule over
//! the event stream (see the core's `alerts` module for how and when).

use serde::{Deserialize, Serialize};

wire_names! {
    /// How urgent an alert is. Ordered: `Info < Warning < Critical`, so a
    /// console can notify "at or above" a level (`ALL` is least urgent
    /// first).
    #[derive(PartialOrd, Ord)]
    pub enum Severity {
        Info = "info",
        Warning = "warning",
        Critical = "critical",
    }
}

wire_names! {
    /// The rules that raise alerts.
    pub enum RuleId {
        /// A used refresh token came back (a stolen token): the session
        /// was ended.
        RefreshReuse = "refresh_reuse",
        /// The proof-of-work challenge was turned on for a username or an
        /// address (someone is guessing passwords).
        ChallengeOn = "challenge_on",
        /// An account was locked out after too many wrong passwords.
        Lockout = "lockout",
        /// An admin signed in from an address not seen for them in 30
        /// days.
        AdminNewAddress = "admin_new_address",
        /// Rate-limit refusals passed a threshold per minute.
        RateLimitStorm = "rate_limit_storm",
        /// A Redis circuit breaker opened, or an instance went into
        /// degraded mode.
        RedisDegraded = "redis_degraded",
        /// A disabled user's token was presented.
        DisabledToken = "disabled_token",
    }
}

/// Whether an admin has seen to an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Open,
    Acknowledged,
}

/// One alert.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Alert {
    pub alert_id: String,
    pub rule: RuleId,
    pub severity: Severity,
    /// What happened, in a sentence.
    pub title: String,
    /// Whom or what it is about: `user:<user id>`, `ip:<address>`,
    /// `redis:<target>`, `instance:<name>`, or `all` (a storm).
    pub subject: String,
    pub first_at_ms: u64,
    pub last_at_ms: u64,
    /// How many times the rule matched this subject while the alert was
    /// open (within the deduplication window).
    pub count: u64,
    pub state: AlertState,
    /// The admin who acknowledged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at_ms: Option<u64>,
    /// The console page behind it (a user's page, or the events it came
    /// from).
    pub link: String,
}

/// `POST /api/v1/admin/alerts/list` body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertQuery {
    /// Only alerts in this state; both when left out (open first).
    #[serde(default)]
    pub state: Option<AlertState>,
    /// At most this many (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<u64>,
}

/// `POST /api/v1/admin/alerts/list` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertList {
    /// Open alerts first (most urgent, then latest), then acknowledged
    /// ones (latest first).
    pub alerts: Vec<Alert>,
    /// How many alerts are open in all.
    pub open: u64,
}

/// `POST /api/v1/admin/alerts/ack` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertId {
    pub alert_id: String,
}

/// A rule and its settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertRule {
    pub rule: RuleId,
    pub severity: Severity,
    /// What it watches for, and what to do about it.
    pub description: String,
    pub enabled: bool,
    pub enabled_by_default: bool,
    /// For rules that count (`rate_limit_storm`: refusals per minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u64>,
}

/// `POST /api/v1/admin/alerts/rules` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertRules {
    pub rules: Vec<AlertRule>,
}

/// `POST /api/v1/admin/alerts/rules/set` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetAlertRuleRequest {
    pub rule: RuleId,
    pub enabled: bool,
    /// Only for rules that count; at least 1.
    #[serde(default)]
    pub threshold: Option<u64>,
}
