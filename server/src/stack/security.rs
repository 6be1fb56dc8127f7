//! Headers every response carries. Pages set their own, stricter CSP with
//! a per-response nonce; everything else gets one that allows nothing.
//! The values are static: setting them copies nothing.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, Request, header};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

static NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
static SAME_ORIGIN: HeaderValue = HeaderValue::from_static("same-origin");
static DENY: HeaderValue = HeaderValue::from_static("DENY");
static NOTHING_ALLOWED: HeaderValue =
    HeaderValue::from_static("default-src 'self'; object-src 'none'; frame-ancestors 'none'");

#[derive(Clone, Copy, Debug, Default)]
pub struct SecurityHeadersLayer;

impl<S> Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeaders<S>;

    fn layer(&self, inner: S) -> SecurityHeaders<S> {
        SecurityHeaders { inner }
    }
}

#[derive(Clone, Debug)]
pub struct SecurityHeaders<S> {
    inner: S,
}

impl<S> Service<Request<Body>> for SecurityHeaders<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = SecurityHeadersFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        SecurityHeadersFuture {
            future: self.inner.call(request),
        }
    }
}

pin_project! {
    pub struct SecurityHeadersFuture<F> {
        #[pin]
        future: F,
    }
}

impl<F> Future for SecurityHeadersFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Poll::Ready(Ok(mut response)) = self.project().future.poll(cx) else {
            return Poll::Pending;
        };
        let headers = response.headers_mut();
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF.clone());
        headers.insert(header::REFERRER_POLICY, SAME_ORIGIN.clone());
        headers.insert(header::X_FRAME_OPTIONS, DENY.clone());
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            headers.insert(header::CONTENT_SECURITY_POLICY, NOTHING_ALLOWED.clone());
        }
        Poll::Ready(Ok(response))
    }
}
