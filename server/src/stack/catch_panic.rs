//! A handler that panics answers 500 with the JSON error body (and the
//! panic is logged), instead of dropping the connection.
//!
//! tower-http's `CatchPanic` boxes every response body to give both
//! outcomes one type; this keeps the inner service's `Response<Body>`.

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use futures_util::future::CatchUnwind;
use gatehouse::api::ApiError;
use http::Request;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::error::HttpError;

#[derive(Clone, Copy, Debug, Default)]
pub struct CatchPanicLayer;

impl<S> Layer<S> for CatchPanicLayer {
    type Service = CatchPanic<S>;

    fn layer(&self, inner: S) -> CatchPanic<S> {
        CatchPanic { inner }
    }
}

#[derive(Clone, Debug)]
pub struct CatchPanic<S> {
    inner: S,
}

impl<S> Service<Request<Body>> for CatchPanic<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = CatchPanicFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // A handler may panic before it returns its future, too.
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
            Ok(future) => CatchPanicFuture::Running {
                future: AssertUnwindSafe(future).catch_unwind(),
            },
            Err(panic) => CatchPanicFuture::Panicked {
                response: Some(panic_response(panic)),
            },
        }
    }
}

pin_project! {
    #[project = Projected]
    pub enum CatchPanicFuture<F> {
        Running { #[pin] future: CatchUnwind<AssertUnwindSafe<F>> },
        Panicked { response: Option<Response> },
    }
}

impl<F> Future for CatchPanicFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            Projected::Running { future } => match future.poll(cx) {
                Poll::Ready(Ok(result)) => Poll::Ready(result),
                Poll::Ready(Err(panic)) => Poll::Ready(Ok(panic_response(panic))),
                Poll::Pending => Poll::Pending,
            },
            Projected::Panicked { response } => {
                Poll::Ready(Ok(response.take().unwrap_or_else(internal)))
            }
        }
    }
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or_default();
    tracing::error!(panic = %detail, "a request handler panicked");
    internal()
}

fn internal() -> Response {
    HttpError(ApiError::internal()).into_response()
}
