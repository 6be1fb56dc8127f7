//! Response compression (gzip, brotli) for clients that accept it.
//!
//! tower-http's `Compression` gives every response its own body type,
//! which the server must box back into axum's `Body`: one allocation per
//! request, even when nothing is compressed. Most API clients (scripts,
//! services, a proxy's forward-auth subrequest without the header) send
//! no `Accept-Encoding`, so only requests that carry one go through it;
//! the others still get the `Vary: Accept-Encoding` a compressible
//! response carries, exactly as if they had gone through it.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, Request, header};
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::compression::{Compression, CompressionBody};

#[derive(Clone, Copy, Debug, Default)]
pub struct CompressLayer;

impl<S: Clone> Layer<S> for CompressLayer {
    type Service = Compress<S>;

    fn layer(&self, inner: S) -> Compress<S> {
        Compress {
            compressing: Compression::new(inner.clone()),
            plain: inner,
        }
    }
}

#[derive(Clone)]
pub struct Compress<S> {
    plain: S,
    compressing: Compression<S>,
}

impl<S> Service<Request<Body>> for Compress<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = CompressFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        ready!(self.plain.poll_ready(cx))?;
        self.compressing.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if request.headers().contains_key(header::ACCEPT_ENCODING) {
            CompressFuture::Compressing {
                future: self.compressing.call(request),
            }
        } else {
            CompressFuture::Plain {
                future: self.plain.call(request),
            }
        }
    }
}

pin_project! {
    #[project = Projected]
    pub enum CompressFuture<F> {
        Compressing { #[pin] future: tower_http::compression::ResponseFuture<F, DefaultPredicate> },
        Plain { #[pin] future: F },
    }
}

impl<F> Future for CompressFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            Projected::Compressing { future } => {
                let response: Response<CompressionBody<Body>> = ready!(future.poll(cx))?;
                Poll::Ready(Ok(response.map(Body::new)))
            }
            Projected::Plain { future } => {
                let mut response = ready!(future.poll(cx))?;
                if would_compress(&response) {
                    response
                        .headers_mut()
                        .append(header::VARY, HeaderValue::from_static("accept-encoding"));
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}

/// Whether `Compression` would have compressed this response for a
/// client that accepts it (and so marked it `Vary: Accept-Encoding`).
fn would_compress(response: &Response) -> bool {
    let headers = response.headers();
    !headers.contains_key(header::CONTENT_ENCODING)
        && !headers.contains_key(header::CONTENT_RANGE)
        && !headers.get_all(header::VARY).iter().any(|value| {
            value
                .to_str()
                .is_ok_and(|v| v.to_ascii_lowercase().contains("accept-encoding"))
        })
        && DefaultPredicate::default().should_compress(response)
}
