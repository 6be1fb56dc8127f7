//! Liveness and readiness probes for load balancers and orchestrators.
//!
//! `/health` says the process is up and serving HTTP; it never touches
//! Redis, so a Redis outage does not get healthy instances restarted.
//! `/ready` says this instance can do useful work right now: it sends
//! PING and answers 503 while Redis is unreachable, and from the moment
//! a shutdown begins (so a load balancer stops sending new work while
//! in-flight requests finish), and while the configured admin user is
//! still being created (a sign-in with its password would fail until
//! then).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::State;
use axum::{Extension, Json};
use gatehouse_app::state::AppState;
use gatehouse_app::{ApiError, ErrorCode};
use serde_json::{Value, json};

use crate::error::HttpError;

/// Set when the instance starts shutting down.
#[derive(Clone, Debug, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn start(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Set while the configured admin user is being created (see
/// `startup::bootstrap_admin`).
#[derive(Clone, Debug, Default)]
pub struct Provisioning(Arc<AtomicBool>);

impl Provisioning {
    pub fn set(&self, provisioning: bool) {
        self.0.store(provisioning, Ordering::Relaxed);
    }

    pub fn is_provisioning(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// `GET /health`: 200 while the process serves HTTP.
pub async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /ready`: 200 when Redis answers PING, 503 `unavailable` otherwise,
/// while the configured admin is being created, or while shutting down.
pub async fn ready(
    State(state): State<AppState>,
    Extension((draining, provisioning)): Extension<(Draining, Provisioning)>,
) -> Result<Json<Value>, HttpError> {
    if draining.is_draining() {
        return Err(HttpError(ApiError::new(
            ErrorCode::Unavailable,
            "This instance is shutting down; send new requests to another one.",
        )));
    }
    if provisioning.is_provisioning() {
        return Err(HttpError(ApiError::new(
            ErrorCode::Unavailable,
            "This instance is still creating its configured admin user; try again in a moment.",
        )));
    }
    state.store.ping().await?;
    Ok(Json(json!({"status": "ready", "redis": "ok"})))
}
