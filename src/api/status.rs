//! `GET /api/v1/status`: is this instance healthy, and is its Redis?

use serde::{Deserialize, Serialize};

/// What `GET /api/v1/status` answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusReport {
    /// This server process.
    pub instance_id: String,
    /// The Gatehouse version.
    pub version: String,
    /// Seconds since the process started.
    pub uptime_secs: u64,
    /// Redis as this instance sees it right now.
    pub redis: RedisStatus,
    /// When this was measured (milliseconds since the Unix epoch).
    pub checked_at_ms: u64,
}

/// Redis reachability, measured with one `INFO server` round trip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedisStatus {
    pub reachable: bool,
    /// `redis_version` from `INFO`, when reachable.
    pub version: Option<String>,
    /// Round-trip time of the probe in milliseconds, when reachable.
    pub round_trip_ms: Option<f64>,
}
