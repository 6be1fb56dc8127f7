//! `X-Request-Id`: a client's (or proxy's) own id is kept, otherwise a
//! fresh one is made; either way the handlers, the logs and the response
//! carry it.
//!
//! A fresh id comes from a per-thread generator (no system call) and is
//! written straight into the header's buffer; the response gets a clone,
//! which is a reference count, not a copy.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// The header's name.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone, Copy, Debug, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestId<S>;

    fn layer(&self, inner: S) -> RequestId<S> {
        RequestId { inner }
    }
}

#[derive(Clone, Debug)]
pub struct RequestId<S> {
    inner: S,
}

impl<S> Service<Request<Body>> for RequestId<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = RequestIdFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let id = match request.headers().get(&X_REQUEST_ID) {
            Some(id) => id.clone(),
            None => {
                let id = fresh();
                request
                    .headers_mut()
                    .insert(X_REQUEST_ID.clone(), id.clone());
                id
            }
        };
        RequestIdFuture {
            future: self.inner.call(request),
            id: Some(id),
        }
    }
}

pin_project! {
    pub struct RequestIdFuture<F> {
        #[pin]
        future: F,
        id: Option<HeaderValue>,
    }
}

impl<F> Future for RequestIdFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Poll::Ready(Ok(mut response)) = this.future.poll(cx) else {
            return Poll::Pending;
        };
        if let Some(id) = this.id.take() {
            response.headers_mut().insert(X_REQUEST_ID.clone(), id);
        }
        Poll::Ready(Ok(response))
    }
}

/// 32 hex digits in one shared buffer.
fn fresh() -> HeaderValue {
    let id = Bytes::from_owner(gatehouse::random::fast_hex_digits());
    // Hex digits are always a valid header value.
    HeaderValue::from_maybe_shared(id).unwrap_or_else(|_| HeaderValue::from_static("-"))
}
