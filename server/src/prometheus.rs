//! `/metrics` in the Prometheus text format, and the HTTP measurements.
//!
//! The recorder is installed once, before the core is built (the core
//! registers some counters up front); it is served either on the main
//! listener to callers with the `metrics` (or `admin`) role, or without
//! authentication on a listener of its own (`--metrics-addr`, for a
//! scraper on a private network). The names are in `gatehouse::observe`;
//! the HTTP measurements are taken by `stack::metrics`.

use axum::extract::Extension;
use axum::response::{IntoResponse, Response};
use gatehouse::api::ApiError;
use gatehouse_app::caller::Authenticated;
use http::{HeaderValue, header};
use metrics_exporter_prometheus::{BuildError, PrometheusBuilder, PrometheusHandle};

use crate::error::HttpError;

/// Latency buckets, in seconds: sub-millisecond Redis calls to slow pages.
const BUCKETS: [f64; 14] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Installs the process-wide recorder and describes every metric.
pub fn install() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets(&BUCKETS)?
        .install_recorder()?;
    gatehouse::observe::describe();
    metrics::gauge!(gatehouse::observe::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"))
        .set(1.0);
    Ok(handle)
}

/// `GET /metrics` on the main listener: `metrics` or `admin` role.
pub async fn scrape(
    Extension(handle): Extension<PrometheusHandle>,
    caller: Option<Extension<Authenticated>>,
) -> Response {
    match caller.map(|Extension(caller)| caller) {
        Some(Authenticated::Principal(p)) if p.may_read_metrics() => render(&handle),
        Some(Authenticated::Principal(_)) => HttpError(ApiError::forbidden()).into_response(),
        Some(Authenticated::Rejected(err)) => HttpError(err).into_response(),
        Some(Authenticated::Anonymous) | None => {
            HttpError(ApiError::unauthenticated()).into_response()
        }
    }
}

/// The exposition, as Prometheus expects it.
pub fn render(handle: &PrometheusHandle) -> Response {
    let mut response = handle.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
