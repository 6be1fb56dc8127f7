//! Liveness and readiness probes for load balancers and orchestrators.
//!
//! `/health` says the process is up and serving HTTP; it never touches
//! Redis, so a Redis outage does not get healthy instances restarted.
//! `/ready` says this instance can do useful work right now: it sends
//! PING and answers 503 while Redis is unreachable (at once while a
//! circuit breaker is open, see `Store::ping`) unless degraded mode still
//! answers (then 200 with `"status":"degraded"`), and from the moment
//! a shutdown begins (so a load balancer stops sending new work while
//! in-flight requests finish), and while the configured admin user is
//! still being created (a sign-in with its password would fail until
//! then).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::{Extension, Json};
use gatehouse::api::{ApiError, ErrorCode};
use gatehouse::auth::Mode;
use gatehouse_app::state::AppState;
use http::{HeaderMap, HeaderValue, header};
use serde_json::{Value, json};

use crate::error::HttpError;

/// What `/ready` reports besides Redis: not ready while the configured
/// admin user is being created (see `startup::bootstrap_admin`), nor from
/// the moment a shutdown begins. Clones share it.
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<Flags>);

#[derive(Debug, Default)]
struct Flags {
    provisioning: AtomicBool,
    draining: AtomicBool,
}

impl Readiness {
    /// The instance starts shutting down (for good).
    pub fn start_draining(&self) {
        self.0.draining.store(true, Ordering::Relaxed);
    }

    /// The configured admin is being created (`true`), or is done.
    pub fn set_provisioning(&self, provisioning: bool) {
        self.0.provisioning.store(provisioning, Ordering::Relaxed);
    }

    pub fn is_provisioning(&self) -> bool {
        self.0.provisioning.load(Ordering::Relaxed)
    }

    /// Why this instance is not ready, whatever Redis says.
    fn not_ready(&self) -> Option<&'static str> {
        if self.0.draining.load(Ordering::Relaxed) {
            Some("This instance is shutting down; send new requests to another one.")
        } else if self.is_provisioning() {
            Some(
                "This instance is still creating its configured admin user; try again in a moment.",
            )
        } else {
            None
        }
    }
}

/// `GET /health`: 200 while the process serves HTTP. The body is fixed,
/// so nothing is built per request.
pub async fn live() -> Response {
    let mut response = Response::new(Body::from(r#"{"status":"ok"}"#));
    // Room for the middleware's headers, so the map grows once.
    let headers = response.headers_mut();
    *headers = HeaderMap::with_capacity(16);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `GET /ready`: 200 when Redis answers PING; 200 `{"status":"degraded"}`
/// while Redis is away but degraded mode answers (within
/// `--degraded-max`: if every instance turned unready at once, a load
/// balancer would make the outage total); 503 `unavailable` otherwise,
/// while the configured admin is being created, or while shutting down.
pub async fn ready(
    State(state): State<AppState>,
    Extension(readiness): Extension<Readiness>,
) -> Result<Json<Value>, HttpError> {
    if let Some(why) = readiness.not_ready() {
        return Err(HttpError(ApiError::new(ErrorCode::Unavailable, why)));
    }
    if let Mode::Degraded { since_ms } = state.auth.mode() {
        return Ok(Json(json!({
            "status": "degraded",
            "redis": "unavailable",
            "degraded_since_ms": since_ms,
        })));
    }
    state.auth.ping().await?;
    Ok(Json(json!({"status": "ready", "redis": "ok"})))
}
