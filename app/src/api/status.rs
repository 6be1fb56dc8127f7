//! `GET /api/v1/status`: is this instance healthy, and is its Redis?

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use server_fn::codec::GetUrl;

use crate::error::ApiError;

/// What `GET /api/v1/status` answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
pub struct RedisStatus {
    pub reachable: bool,
    /// `redis_version` from `INFO`, when reachable.
    pub version: Option<String>,
    /// Round-trip time of the probe in milliseconds, when reachable.
    pub round_trip_ms: Option<f64>,
}

/// Reports this instance's health. Redis being down is a normal answer
/// here (`reachable: false`), not an error: the page exists to show it.
#[server(prefix = "/api/v1", endpoint = "status", input = GetUrl)]
pub async fn instance_status() -> Result<StatusReport, ApiError> {
    let state = crate::state::current()?;
    let redis = match state.store.server_info().await {
        Ok(info) => RedisStatus {
            reachable: true,
            version: Some(info.version),
            round_trip_ms: Some(info.round_trip.as_secs_f64() * 1000.0),
        },
        Err(err) => {
            tracing::warn!(error = %err, "status probe: Redis unreachable");
            RedisStatus {
                reachable: false,
                version: None,
                round_trip_ms: None,
            }
        }
    };
    let now = std::time::SystemTime::now();
    Ok(StatusReport {
        instance_id: state.instance.id.clone(),
        version: state.instance.version.to_owned(),
        uptime_secs: now
            .duration_since(state.instance.started_at)
            .unwrap_or_default()
            .as_secs(),
        redis,
        checked_at_ms: now
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64,
    })
}
