//! The HTTP surface: plain routes, the Leptos app and the middleware
//! around both.
//!
//! [`app`] builds the whole router from state, with no socket, so `main`
//! and the tests serve exactly the same thing.

use std::sync::LazyLock;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use gatehouse::api::{ApiError, ErrorCode};
use gatehouse_app::state::AppState;
use gatehouse_app::{App, shell};
use http::{HeaderValue, Request, StatusCode, header};
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::HttpError;
use crate::guard::{self, Guard};
use crate::live::{self, EventHub};
use crate::{forward_auth, health, openapi};

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
/// functions (the OpenAPI document's test checks both kinds against it).
pub const PLAIN_API_ROUTES: &[&str] = &[
    gatehouse::route::VERIFY_PATH,
    live::STREAM_PATH,
    openapi::PATH,
];

/// The complete router.
pub fn app(state: AppState, settings: HttpSettings, hub: EventHub) -> Router {
    let routes = ROUTES.clone();
    let leptos_options = state.leptos_options.clone();
    let guard = Guard {
        auth: state.auth.clone(),
        cookies: state.cookies,
        addressing: settings.addressing.clone(),
    };

    let mut router = Router::new();
    if let Some(handle) = settings.metrics.clone() {
        router = router.route(
            "/metrics",
            get(crate::prometheus::scrape).layer(axum::Extension(handle)),
        );
    }
    let router = router
        .route("/health", get(health::live))
        .route(
            "/ready",
            get(health::ready).layer(axum::Extension(settings.readiness.clone())),
        )
        .route(gatehouse::route::VERIFY_PATH, get(forward_auth::verify))
        .route(openapi::PATH, get(openapi::serve))
        .route(openapi::PAGE, get(openapi::reference))
        .route("/.well-known/jwks.json", get(forward_auth::jwks))
        // Only the stream needs the hub: other requests carry no copy of it.
        .route(
            live::STREAM_PATH,
            get(live::stream).layer(axum::Extension(hub)),
        )
        .leptos_routes(&state, routes, move || shell(leptos_options.clone()))
        // Server functions are registered at their exact paths above; any
        // other API path is a JSON 404, not an HTML page.
        .route("/api/{*path}", any(api_not_found))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        // Innermost first: each `Router::layer` call wraps what came before.
        .layer(axum::middleware::from_fn_with_state(guard, guard::guard))
        .layer(RequestBodyLimitLayer::new(settings.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            settings.request_timeout,
        ))
        .layer(axum::middleware::map_response(json_error_bodies))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn(crate::prometheus::record));
    with_security_headers(router)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(FastRequestId))
                .layer(TraceLayer::new_for_http().make_span_with(make_span))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(CatchPanicLayer::custom(panic_response)),
        )
        .with_state(state)
}

/// Request ids from a fast per-thread generator (no system call per
/// request, unlike a UUID v4 from the OS); a client's own `X-Request-Id`
/// is kept.
#[derive(Clone, Copy)]
struct FastRequestId;

impl MakeRequestId for FastRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&gatehouse::random::fast_hex())
            .ok()
            .map(RequestId::new)
    }
}

/// One span per request, carrying the request id; the query string is left
/// out because it may carry tokens.
fn make_span(request: &Request<Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        id = %request_id,
        method = %request.method(),
        path = %request.uri().path(),
    )
}

/// Headers every response carries. Pages set their own, stricter CSP with
/// a per-response nonce; everything else gets one that allows nothing.
fn with_security_headers(router: Router<AppState>) -> Router<AppState> {
    router
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; object-src 'none'; frame-ancestors 'none'",
            ),
        ))
}

/// `tower-http` answers timeouts and oversized bodies with an empty body;
/// clients of Gatehouse always get the JSON error shape.
async fn json_error_bodies(response: Response) -> Response {
    let code = match response.status() {
        StatusCode::REQUEST_TIMEOUT => ErrorCode::Timeout,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        _ => return response,
    };
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return response;
    }
    let message = match code {
        ErrorCode::Timeout => "The request took too long and was abandoned. Try again.",
        _ => "The request body is larger than this server accepts.",
    };
    tracing::info!(status = %response.status(), "request rejected by a limit");
    HttpError(ApiError::new(code, message)).into_response()
}

async fn api_not_found() -> HttpError {
    HttpError(ApiError::new(
        ErrorCode::NotFound,
        "No API endpoint at this path. The README lists the /api/v1 endpoints.",
    ))
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %detail, "a request handler panicked");
    HttpError(ApiError::internal()).into_response()
}
