//! One span per request, carrying the request id, method and path (never
//! the query string, which may carry tokens), so that every log line a
//! request causes can be found by its id; server errors are logged when
//! they are answered.
//!
//! `info_span!` builds nothing while its level is off (the usual case
//! under load with `RUST_LOG=warn`); no response body is wrapped.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::response::Response;
use http::Request;
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tracing::Instrument;
use tracing::instrument::Instrumented;

use super::request_id::X_REQUEST_ID;

#[derive(Clone, Copy, Debug, Default)]
pub struct TraceLayer;

impl<S> Layer<S> for TraceLayer {
    type Service = Trace<S>;

    fn layer(&self, inner: S) -> Trace<S> {
        Trace { inner }
    }
}

#[derive(Clone, Debug)]
pub struct Trace<S> {
    inner: S,
}

impl<S> Service<Request<Body>> for Trace<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = TraceFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let span = tracing::info_span!(
            "request",
            id = request
                .headers()
                .get(&X_REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-"),
            method = %request.method(),
            path = request.uri().path(),
        );
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        TraceFuture {
            future: future.instrument(span),
            started: Instant::now(),
        }
    }
}

pin_project! {
    pub struct TraceFuture<F> {
        #[pin]
        future: Instrumented<F>,
        started: Instant,
    }
}

impl<F> Future for TraceFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Poll::Ready(Ok(response)) = this.future.as_mut().poll(cx) else {
            return Poll::Pending;
        };
        let status = response.status();
        let _entered = this.future.span().enter();
        let latency_ms = this.started.elapsed().as_secs_f64() * 1000.0;
        if status.is_server_error() {
            tracing::error!(%status, latency_ms, "response failed");
        } else {
            tracing::debug!(%status, latency_ms, "finished processing request");
        }
        Poll::Ready(Ok(response))
    }
}
