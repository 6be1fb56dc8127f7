//! The request guard: the HTTP adapter of the core's admission decision.
//!
//! For every request it
//! 1. lets probes and static files through untouched (the core's
//!    [`RouteClass`] says which: they cost no Redis and no rate limit);
//! 2. rejects cross-origin state changes (CSRF);
//! 3. turns the request into [`Facts`] (client address, the access token
//!    from the bearer header or the cookie, replay headers) and asks
//!    [`Auth::admit`], which decides everything else in one Redis round
//!    trip: who the caller is (with current roles), rate limits and their
//!    fail mode, replay protection, silent renewal;
//! 4. turns the [`Admission`] back into HTTP: a refusal becomes its JSON
//!    error (429, 409, 400, 403, 503), or, for a page a user with a pending
//!    password change may not see yet, a redirect to the form; the caller goes into the request's
//!    extensions for server functions and routes (`gatehouse_app::caller`),
//!    renewed tokens become cookies (browsers) or `X-New-Access-Token` /
//!    `X-New-Expires-In` headers (programs), and every checked policy
//!    becomes `RateLimit-Policy` / `RateLimit` headers.
//!
//! It decides nothing itself. It never rejects a request for lacking a
//! token: whether a route needs one is that route's business.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use gatehouse::api::{ApiError, ErrorCode};
use gatehouse::auth::{Admission, Auth, Caller, Client, Credential, Facts, Refusal, TokenSource};
use gatehouse::route::RouteClass;
use gatehouse_app::caller::Authenticated;
use gatehouse_app::cookies::{self, CookiePolicy};
use http::header::{HOST, ORIGIN, SET_COOKIE, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::error::HttpError;
use crate::limit_headers::LimitHeaders;

/// What the guard needs. A clone is a few reference counts.
#[derive(Clone)]
pub struct Guard {
    pub auth: Auth,
    pub cookies: CookiePolicy,
    pub addressing: std::sync::Arc<gatehouse::network::Addressing>,
    pub limit_headers: LimitHeaders,
}

impl<S> Layer<S> for Guard {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> GuardService<S> {
        GuardService {
            guard: self.clone(),
            inner,
        }
    }
}

/// The guard around the router.
#[derive(Clone)]
pub struct GuardService<S> {
    guard: Guard,
    inner: S,
}

impl<S> Service<Request<Body>> for GuardService<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = GuardFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let route = RouteClass::of(request.uri().path());
        if !route.is_admitted() {
            return GuardFuture::Passed {
                future: self.inner.call(request),
            };
        }
        // The service that was polled ready goes with this request; the
        // clone stays for the next (a router clone is a reference count).
        let ready = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, ready);
        GuardFuture::Admitting {
            // The one box of a request: admission is an `async fn` of the
            // core, whose future has no name to store here.
            future: Box::pin(guard(self.guard.clone(), route, request, inner)),
        }
    }
}

pin_project! {
    #[project = Projected]
    pub enum GuardFuture<F> {
        Passed { #[pin] future: F },
        Admitting { future: Pin<Box<dyn Future<Output = Response> + Send>> },
    }
}

impl<F> Future for GuardFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            Projected::Passed { future } => future.poll(cx),
            Projected::Admitting { future } => future.as_mut().poll(cx).map(Ok),
        }
    }
}

/// Admits one request of class `route` (see the module docs) and runs
/// `next` with it unless it is refused.
async fn guard<S>(guard: Guard, route: RouteClass, request: Request<Body>, mut next: S) -> Response
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    let state_changing = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if state_changing && let Err(err) = same_origin(request.headers()) {
        return err.into_response();
    }
    // The facts borrow the head while admission awaits; the body (not
    // `Sync`) stays aside.
    let (mut parts, body) = request.into_parts();
    let client = client(&parts, &guard.addressing);
    let token = cookies::access_token(&parts.headers);
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let facts = Facts {
        path: parts.uri.path(),
        route,
        state_changing,
        client: &client,
        credential: token.map(|(token, source)| Credential { token, source }),
        nonce: header("x-request-nonce"),
        timestamp: header("x-request-timestamp"),
        now_secs: gatehouse::duration::epoch_ms() / 1000,
    };
    let Admission {
        caller,
        refusal,
        limits,
        renewal,
        clear_cookies,
        expires_in_secs,
        degraded,
    } = guard.auth.admit(&facts).await;
    if let Some(refusal) = refusal {
        if refusal.wants_account_page() && !parts.uri.path().starts_with("/api/") {
            return axum::response::Redirect::to(gatehouse::route::ACCOUNT_PAGE).into_response();
        }
        let error = match (refusal, caller) {
            // The caller's own rejection says best why (expired, revoked...).
            (Refusal::Unauthenticated, Caller::Rejected(err)) => err.into(),
            (refusal, _) => refusal.into(),
        };
        let mut response = HttpError(error).into_response();
        guard.limit_headers.add(response.headers_mut(), &limits);
        if degraded {
            response.headers_mut().insert(DEGRADED, DEGRADED_VALUE);
        }
        return response;
    }
    parts.extensions.insert(client);
    parts.extensions.insert(Authenticated::from(caller));
    let request = Request::from_parts(parts, body);

    let Ok(mut response) = next.call(request).await;
    let headers = response.headers_mut();
    guard.limit_headers.add(headers, &limits);
    if clear_cookies {
        append_cookies(headers, &cookies::clearing_cookies(&guard.cookies));
    }
    match renewal {
        Some((rotated, TokenSource::Cookie)) => {
            append_cookies(headers, &cookies::rotated_cookies(&guard.cookies, &rotated));
        }
        Some((rotated, TokenSource::Bearer)) => {
            let expires_in = rotated.access.exp.saturating_sub(rotated.access.iat);
            if let Ok(value) = HeaderValue::from_str(&rotated.access_token) {
                headers.insert("x-new-access-token", value);
                headers.insert("x-new-expires-in", HeaderValue::from(expires_in));
            }
        }
        None => {}
    }
    if let Some(secs) = expires_in_secs {
        headers.insert("x-gatehouse-token-expires-in", HeaderValue::from(secs));
    }
    if degraded {
        headers.insert(DEGRADED, DEGRADED_VALUE);
    }
    response
}

/// Set on every answer decided in degraded mode (Redis away: from the
/// token and the revocation mirror); forward-auth's proxy passes it on.
pub const DEGRADED: HeaderName = HeaderName::from_static("x-gatehouse-degraded");
const DEGRADED_VALUE: HeaderValue = HeaderValue::from_static("1");

fn append_cookies(headers: &mut HeaderMap, cookies: &[String]) {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(SET_COOKIE, value);
        }
    }
}

/// State-changing requests must come from this site. Browsers always send
/// `Origin` on cross-origin POSTs; programs without one are not browsers
/// and carry no ambient cookies worth forging.
fn same_origin(headers: &HeaderMap) -> Result<(), HttpError> {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes() == b"cross-site")
    {
        return Err(cross_origin("cross-site request"));
    }
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let origin_host = origin
        .split_once("://")
        .map(|(_, host)| host.trim_end_matches('/'));
    let host = headers.get(HOST).and_then(|v| v.to_str().ok());
    match (origin_host, host) {
        (Some(origin_host), Some(host)) if origin_host.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err(cross_origin(origin)),
    }
}

fn cross_origin(origin: &str) -> HttpError {
    tracing::warn!(origin, "rejected a cross-origin state-changing request");
    HttpError(ApiError::new(
        ErrorCode::CrossOrigin,
        "State-changing requests must come from this site (the Origin header does not match).",
    ))
}

fn client(request: &http::request::Parts, addressing: &gatehouse::network::Addressing) -> Client {
    let values = |name: HeaderName| {
        request
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
    };
    addressing.client(
        request
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip()),
        values(http::header::FORWARDED),
        values(HeaderName::from_static("x-forwarded-for")),
        request
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default(),
    )
}
