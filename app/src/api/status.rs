//! `GET /api/v1/status`: is this instance healthy, and is its Redis?

use gatehouse::api::status::StatusReport;
use leptos::prelude::*;
use server_fn::codec::GetUrl;

use crate::error::FnError;

/// Reports this instance's health. Redis being down is a normal answer
/// here (`reachable: false`), not an error: the page exists to show it.
#[server(prefix = "/api/v1", endpoint = "status", input = GetUrl)]
pub async fn instance_status() -> Result<StatusReport, FnError> {
    let state = crate::state::current()?;
    let redis = state.auth.redis_status().await;
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
