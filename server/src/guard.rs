//! The request guard: every request (except static files) passes through
//! here once.
//!
//! It rejects cross-origin state changes (CSRF), records who the client is,
//! and authenticates the access token (bearer header or cookie) with one
//! Redis round trip, leaving the verdict in the request's extensions for
//! server functions and routes (`gatehouse_app::caller`). It never rejects
//! a request for lacking a token: whether a route needs one is that
//! route's business.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gatehouse::auth::{Auth, Client};
use gatehouse_app::caller::Authenticated;
use gatehouse_app::cookies::{self, CookiePolicy, TokenSource};
use gatehouse_app::{ApiError, ErrorCode};
use http::header::{HOST, ORIGIN, SET_COOKIE, USER_AGENT};
use http::{HeaderValue, Method};

use crate::error::HttpError;

/// What the guard needs.
#[derive(Clone)]
pub struct Guard {
    pub auth: Auth,
    pub cookies: CookiePolicy,
    pub trust_forwarded_for: bool,
}

/// The middleware.
pub async fn guard(State(guard): State<Guard>, mut request: Request, next: Next) -> Response {
    if is_static(request.uri().path()) {
        return next.run(request).await;
    }
    if let Err(err) = same_origin(&request) {
        return err.into_response();
    }
    let client = client(&request, guard.trust_forwarded_for);
    request.extensions_mut().insert(client);

    let token = cookies::access_token(request.headers());
    let verdict = match &token {
        None => Authenticated::Anonymous,
        Some((token, _)) => match guard.auth.authenticate(token).await {
            Ok(principal) => Authenticated::Principal(principal),
            Err(err) => Authenticated::Rejected(ApiError::from(err)),
        },
    };
    // A cookie holding a dead token is deleted, so the browser stops
    // sending it; an expired one is kept for renewal.
    let clear_cookie = matches!(
        (&token, &verdict),
        (Some((_, TokenSource::Cookie)), Authenticated::Rejected(err))
            if matches!(err.error, ErrorCode::TokenInvalid | ErrorCode::TokenRevoked)
    );
    request.extensions_mut().insert(verdict);

    let mut response = next.run(request).await;
    if clear_cookie {
        for cookie in cookies::clearing_cookies(&guard.cookies) {
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(SET_COOKIE, value);
            }
        }
    }
    response
}

/// Bundle files, icons, the manifest: no session work for them.
fn is_static(path: &str) -> bool {
    path.starts_with("/pkg/")
        || path
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains('.'))
}

/// State-changing requests must come from this site. Browsers always send
/// `Origin` on cross-origin POSTs; programs without one are not browsers
/// and carry no ambient cookies worth forging.
fn same_origin(request: &Request) -> Result<(), HttpError> {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return Ok(());
    }
    let headers = request.headers();
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

fn client(request: &Request, trust_forwarded_for: bool) -> Client {
    let forwarded = trust_forwarded_for
        .then(|| request.headers().get("x-forwarded-for")?.to_str().ok())
        .flatten()
        .and_then(|list| list.split(',').next())
        .map(|ip| ip.trim().to_owned());
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_string());
    Client {
        ip: forwarded.or(peer).unwrap_or_else(|| "unknown".to_owned()),
        user_agent: request
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .chars()
            .take(512)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::is_static;

    #[test]
    fn static_files_skip_the_guard() {
        assert!(is_static("/pkg/gatehouse.wasm"));
        assert!(is_static("/favicon.ico"));
        assert!(!is_static("/account"));
        assert!(!is_static("/api/v1/auth/me"));
    }
}
