//! How long a request may take and how large its body may be; both
//! answered with Gatehouse's JSON error body.
//!
//! A body whose size is declared (`Content-Length`, which hyper then
//! enforces) is checked up front and passed on as it is; only a body of
//! unknown length is wrapped, to stop reading at the limit. The timeout
//! covers the time to the response's head, not a stream's body.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::response::{IntoResponse, Response};
use gatehouse::api::{ApiError, ErrorCode};
use http::{Request, StatusCode, header};
use http_body_util::Limited;
use pin_project_lite::pin_project;
use tokio::time::Timeout;
use tower::{Layer, Service};

use crate::error::HttpError;

#[derive(Clone, Copy, Debug)]
pub struct LimitsLayer {
    pub timeout: Duration,
    pub body_limit: usize,
}

impl<S> Layer<S> for LimitsLayer {
    type Service = Limits<S>;

    fn layer(&self, inner: S) -> Limits<S> {
        Limits {
            inner,
            limits: *self,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Limits<S> {
    inner: S,
    limits: LimitsLayer,
}

impl<S> Service<Request<Body>> for Limits<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = LimitsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let limit = self.limits.body_limit;
        let size = request.body().size_hint();
        if usize::try_from(size.lower()).map_or(true, |lower| lower > limit) {
            return LimitsFuture::TooLarge;
        }
        let request = match size.upper().and_then(|upper| usize::try_from(upper).ok()) {
            Some(upper) if upper <= limit => request,
            _ => request.map(|body| Body::new(Limited::new(body, limit))),
        };
        LimitsFuture::Running {
            future: tokio::time::timeout(self.limits.timeout, self.inner.call(request)),
        }
    }
}

pin_project! {
    #[project = Projected]
    pub enum LimitsFuture<F> {
        Running { #[pin] future: Timeout<F> },
        TooLarge,
    }
}

impl<F> Future for LimitsFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = match self.project() {
            Projected::Running { future } => match ready!(future.poll(cx)) {
                Ok(Ok(response)) => json_error_body(response),
                Err(_elapsed) => error(ErrorCode::Timeout),
            },
            Projected::TooLarge => error(ErrorCode::PayloadTooLarge),
        };
        Poll::Ready(Ok(response))
    }
}

/// Handlers that stop reading a body at the limit answer 413 with a text
/// body (axum's extractors do); clients of Gatehouse always get the JSON
/// error shape.
fn json_error_body(response: Response) -> Response {
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
    error(code)
}

fn error(code: ErrorCode) -> Response {
    let message = match code {
        ErrorCode::Timeout => "The request took too long and was abandoned. Try again.",
        _ => "The request body is larger than this server accepts.",
    };
    tracing::info!(error = ?code, "request rejected by a limit");
    HttpError(ApiError::new(code, message)).into_response()
}
