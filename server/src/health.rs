//! Liveness and readiness probes for load balancers and orchestrators.
//!
//! `/health` says the process is up and serving HTTP; it never touches
//! Redis, so a Redis outage does not get healthy instances restarted.
//! `/ready` says this instance can do useful work right now: it sends
//! PING and answers 503 while Redis is unreachable.

use axum::Json;
use axum::extract::State;
use gatehouse_app::state::AppState;
use serde_json::{Value, json};

use crate::error::HttpError;

/// `GET /health`: 200 while the process serves HTTP.
pub async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /ready`: 200 when Redis answers PING, 503 `unavailable` otherwise.
pub async fn ready(State(state): State<AppState>) -> Result<Json<Value>, HttpError> {
    state.store.ping().await?;
    Ok(Json(json!({"status": "ready", "redis": "ok"})))
}
