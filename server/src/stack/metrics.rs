//! Requests counted by route class, method and status, and timed by route
//! class (`gatehouse::observe`'s names).
//!
//! Looking a labelled metric up by its labels builds a key (an allocation)
//! and hashes it, on every request: instead each combination's handle is
//! registered with the recorder the first time it is seen and kept here,
//! so a request costs an array index and an atomic add. Handles are
//! registered lazily so that `/metrics` lists only the combinations that
//! happened.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::response::Response;
use gatehouse::route::RouteClass;
use http::Request;
use metrics::{Counter, Histogram};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// The methods counted by name; others are `other`.
const METHODS: [&str; 7] = ["GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"];
/// Statuses Gatehouse answers with, as labels; others are `other`.
const STATUSES: [u16; 22] = [
    200, 201, 204, 301, 302, 303, 304, 400, 401, 403, 404, 405, 408, 409, 413, 415, 422, 429, 500,
    502, 503, 504,
];
const CLASSES: usize = RouteClass::ALL.len();

type Counters = [[[OnceLock<Counter>; STATUSES.len() + 1]; METHODS.len() + 1]; CLASSES];

/// The handles, shared by every clone of the layer.
#[derive(Default)]
struct Handles {
    requests: Counters,
    durations: [OnceLock<Histogram>; CLASSES],
}

#[derive(Clone, Default)]
pub struct MetricsLayer {
    handles: Arc<Handles>,
}

impl<S> Layer<S> for MetricsLayer {
    type Service = Metrics<S>;

    fn layer(&self, inner: S) -> Metrics<S> {
        Metrics {
            inner,
            handles: Arc::clone(&self.handles),
        }
    }
}

#[derive(Clone)]
pub struct Metrics<S> {
    inner: S,
    handles: Arc<Handles>,
}

impl<S> Service<Request<Body>> for Metrics<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = MetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let class = RouteClass::of(request.uri().path());
        let method = METHODS
            .iter()
            .position(|m| *m == request.method().as_str())
            .unwrap_or(METHODS.len());
        MetricsFuture {
            future: self.inner.call(request),
            handles: Arc::clone(&self.handles),
            class,
            method,
            started: Instant::now(),
        }
    }
}

pin_project! {
    pub struct MetricsFuture<F> {
        #[pin]
        future: F,
        handles: Arc<Handles>,
        class: RouteClass,
        method: usize,
        started: Instant,
    }
}

impl<F> Future for MetricsFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Poll::Ready(Ok(response)) = this.future.poll(cx) else {
            return Poll::Pending;
        };
        let class = *this.class;
        let code = response.status().as_u16();
        let status = STATUSES
            .iter()
            .position(|s| *s == code)
            .unwrap_or(STATUSES.len());
        let label = class.as_str();
        this.handles.durations[class.index()]
            .get_or_init(
                || metrics::histogram!(gatehouse::observe::HTTP_DURATION, "class" => label),
            )
            .record(this.started.elapsed().as_secs_f64());
        this.handles.requests[class.index()][*this.method][status]
            .get_or_init(|| {
                metrics::counter!(
                    gatehouse::observe::HTTP_REQUESTS,
                    "class" => label,
                    "method" => method_label(*this.method),
                    "status" => status_label(status),
                )
            })
            .increment(1);
        Poll::Ready(Ok(response))
    }
}

fn method_label(index: usize) -> &'static str {
    METHODS.get(index).copied().unwrap_or("other")
}

fn status_label(index: usize) -> String {
    STATUSES
        .get(index)
        .map_or_else(|| "other".to_owned(), u16::to_string)
}
