//! Rate limits as a service (`/api/v1/ratelimit/check`) and the
//! administrators' view of live windows (`/api/v1/admin/ratelimit/*`).

use serde::{Deserialize, Serialize};

/// `POST /api/v1/ratelimit/check` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckRequest {
    /// A configured policy's name.
    pub policy: String,
    /// The caller's own key (1 to 200 bytes), namespaced per caller.
    pub key: String,
    /// Default 1; 0 only looks.
    #[serde(default)]
    pub cost: Option<u64>,
}

/// `POST /api/v1/ratelimit/check` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateLimitAnswer {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    pub reset_ms: u64,
    /// 0 when allowed; `null` when this cost can never pass.
    pub retry_after_ms: Option<u64>,
}

/// Whose window.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    Ip { ip: String },
    User { user_id: String },
    Session { user_id: String, session_id: String },
    UserRoute { user_id: String, route: String },
    IpUsername { ip: String, username: String },
    Username { username: String },
    Key { key: String },
}

/// `POST /api/v1/admin/ratelimit/windows` and `/reset` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubjectRequest {
    pub subject: Subject,
}

/// A subject with live windows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActiveWindow {
    pub subject: Subject,
    /// How people recognise it: a username, an address, a key.
    pub label: String,
    /// When its longest window runs out if it makes no more requests.
    pub until_ms: u64,
}

/// `POST /api/v1/admin/ratelimit/active` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActiveWindowPage {
    pub total: u64,
    pub subjects: Vec<ActiveWindow>,
}

/// How a policy counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// Exact; stores each request's time (memory grows with the limit).
    SlidingLog,
    /// Two weighted fixed buckets; O(1) memory.
    SlidingCounter,
    /// Smooth rate with bursts; O(1) memory.
    Gcra,
}

impl Algorithm {
    /// Its name in policies and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::SlidingLog => "sliding-log",
            Algorithm::SlidingCounter => "sliding-counter",
            Algorithm::Gcra => "gcra",
        }
    }
}

/// One policy's window for a subject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Window {
    pub policy: String,
    pub algorithm: Algorithm,
    pub limit: u64,
    pub used: u64,
    pub remaining: u64,
    pub window_ms: u64,
    pub reset_ms: u64,
    /// Sliding logs only: when each request in the window arrived (ms
    /// since the epoch), oldest first.
    pub requests_ms: Vec<u64>,
    /// When this was read (ms since the epoch), to place `requests_ms`.
    pub now_ms: u64,
}

/// `POST /api/v1/admin/ratelimit/windows` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WindowReport {
    pub subject: Subject,
    pub windows: Vec<Window>,
}

/// `POST /api/v1/admin/ratelimit/reset` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WindowsReset {
    pub subject: Subject,
    pub windows_cleared: u64,
}
