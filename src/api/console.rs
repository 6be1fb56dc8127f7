//! What the admin console shows: the overview (`/api/v1/admin/overview`)
//! and the event feed (`/api/v1/admin/events/*`).

use serde::{Deserialize, Serialize};

pub use super::events::Event;

/// One minute of the overview's time series.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MinuteCounts {
    pub minute_ms: u64,
    pub logins: u64,
    pub failures: u64,
    pub lockouts: u64,
    pub rejections: u64,
}

/// A running Gatehouse instance.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InstanceInfo {
    pub id: String,
    pub version: String,
    pub started_at_ms: u64,
    pub last_seen_ms: u64,
    /// Whether Redis answered the instance at its last heartbeat.
    #[serde(default)]
    pub mode: InstanceMode,
    /// Degraded since when (ms since the epoch: when Redis last answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded_since_ms: Option<u64>,
}

/// An instance's mode, as far as Redis is concerned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InstanceMode {
    /// Redis answers.
    #[default]
    Normal,
    /// Redis is away; answering who callers are from their tokens and the
    /// revocation mirror (within `--degraded-max`).
    Degraded,
    /// Redis is away and degraded mode is off or used up: requests that
    /// need Redis answer 503.
    Unavailable,
}

/// `POST /api/v1/admin/overview` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Overview {
    pub active_sessions: u64,
    pub active_users: u64,
    pub held_locks: u64,
    pub blacklist_size: u64,
    pub rejected_last_minute: u64,
    /// The last 30 minutes, oldest first.
    pub series: Vec<MinuteCounts>,
    pub instances: Vec<InstanceInfo>,
    pub now_ms: u64,
}

/// `POST /api/v1/admin/events/recent` body: every filter is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventQuery {
    /// A kind prefix: `login` matches `login_failed` and `login_succeeded`.
    #[serde(default)]
    pub kind: Option<String>,
    /// A user id or username.
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
    /// Default 100, at most 500.
    #[serde(default)]
    pub limit: Option<u64>,
    /// Read the audit stream (longer retention, never trimmed by floods).
    #[serde(default)]
    pub audit: Option<bool>,
}

/// `POST /api/v1/admin/events/recent` answer, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventList {
    pub events: Vec<Event>,
}
