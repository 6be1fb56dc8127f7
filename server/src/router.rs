//! The HTTP surface: plain routes, the Leptos app and the middleware
//! around both.
//!
//! [`app`] builds the whole router from state, with no socket, so `main`
//! and the tests serve exactly the same thing.

use std::sync::LazyLock;
use std::time::Duration;

use axum::Router;
use axum::routing::{any, get, post};
use gatehouse::api::{ApiError, ErrorCode};
use gatehouse_app::state::AppState;
use gatehouse_app::{App, shell};
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use tower::ServiceBuilder;

use crate::error::HttpError;
use crate::guard::{Guard, GuardService};
use crate::live::{self, EventHub};
use crate::stack::catch_panic::{CatchPanic, CatchPanicLayer};
use crate::stack::compress::{Compress, CompressLayer};
use crate::stack::limits::{Limits, LimitsLayer};
use crate::stack::metrics::{Metrics, MetricsLayer};
use crate::stack::request_id::{RequestId, RequestIdLayer};
use crate::stack::security::{SecurityHeaders, SecurityHeadersLayer};
use crate::stack::trace::{Trace, TraceLayer};
use crate::{forward_auth, health, identity, openapi};

/// HTTP settings applied to every request.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    pub request_timeout: Duration,
    pub body_limit: usize,
    /// How client addresses are found behind proxies.
    pub addressing: std::sync::Arc<gatehouse::network::Addressing>,
    /// Set at shutdown and while the configured admin is created: `/ready`
    /// says 503 then.
    pub readiness: crate::health::Readiness,
    /// Serves `/metrics` on this listener (to the `metrics` role) when set.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl From<&crate::config::Config> for HttpSettings {
    fn from(config: &crate::config::Config) -> Self {
        Self {
            request_timeout: config.request_timeout,
            body_limit: config.body_limit,
            addressing: std::sync::Arc::new(crate::config::addressing(config)),
            readiness: crate::health::Readiness::default(),
            metrics: None,
        }
    }
}

/// The app's pages, listed once per process. Listing them renders the app
/// with resource loading suppressed by a process-wide flag, and a page
/// resource first polled while that flag is up never resolves (leptos
/// issue #4773): listing again while another router serves pages would
/// hang that page until the request timeout.
static ROUTES: LazyLock<Vec<AxumRouteListing>> = LazyLock::new(|| generate_route_list(App));

/// The `/api/v1` routes that are plain axum handlers, not server
/// functions, with their methods (the OpenAPI document's test checks both
/// kinds against it).
pub const PLAIN_API_ROUTES: &[(&str, &str)] = &[
    ("GET", gatehouse::route::VERIFY_PATH),
    ("POST", gatehouse::route::ME_PATH),
    ("GET", live::STREAM_PATH),
    ("GET", openapi::PATH),
];

/// The whole server as one service: the middleware of [`crate::stack`]
/// and the request guard, composed once around the router. Its type is
/// spelled out so that `main` and the tests hold the same thing, and so
/// that nothing in it is boxed.
pub type Gateway =
    RequestId<Trace<CatchPanic<SecurityHeaders<Metrics<Compress<Limits<GuardService<Router>>>>>>>>;

/// The complete server.
pub fn app(state: AppState, settings: HttpSettings, hub: EventHub) -> Gateway {
    let guard = Guard {
        auth: state.auth.clone(),
        cookies: state.cookies,
        addressing: settings.addressing.clone(),
        limit_headers: crate::limit_headers::LimitHeaders::default(),
    };
    let limits = LimitsLayer {
        timeout: settings.request_timeout,
        body_limit: settings.body_limit,
    };
    ServiceBuilder::new()
        .layer(RequestIdLayer)
        .layer(TraceLayer)
        .layer(CatchPanicLayer)
        .layer(SecurityHeadersLayer)
        .layer(MetricsLayer::default())
        .layer(CompressLayer)
        .layer(limits)
        .layer(guard)
        .service(routes(state, &settings, hub))
}

/// Every route, with no middleware: each `Router::layer` call would box
/// every route again (the middleware is [`app`]'s, around all of them).
fn routes(state: AppState, settings: &HttpSettings, hub: EventHub) -> Router {
    let leptos_options = state.leptos_options.clone();
    let mut router = Router::new();
    if let Some(handle) = settings.metrics.clone() {
        router = router.route(
            "/metrics",
            get(crate::prometheus::scrape).layer(axum::Extension(handle)),
        );
    }
    router
        .route("/health", get(health::live))
        .route(
            "/ready",
            get(health::ready).layer(axum::Extension(settings.readiness.clone())),
        )
        .route(gatehouse::route::VERIFY_PATH, get(forward_auth::verify))
        .route(gatehouse::route::ME_PATH, post(identity::me))
        .route(openapi::PATH, get(openapi::serve))
        .route(openapi::PAGE, get(openapi::reference))
        .route("/.well-known/jwks.json", get(forward_auth::jwks))
        // Only the stream needs the hub: other requests carry no copy of it.
        .route(
            live::STREAM_PATH,
            get(live::stream).layer(axum::Extension(hub)),
        )
        .leptos_routes(&state, ROUTES.clone(), move || {
            shell(leptos_options.clone())
        })
        // Server functions are registered at their exact paths above; any
        // other API path is a JSON 404, not an HTML page.
        .route("/api/{*path}", any(api_not_found))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state)
}

async fn api_not_found() -> HttpError {
    HttpError(ApiError::new(
        ErrorCode::NotFound,
        "No API endpoint at this path. /docs/api lists the /api/v1 endpoints.",
    ))
}
