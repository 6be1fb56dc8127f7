//! The request guard: every request (except static files) passes through
//! here once.
//!
//! It rejects cross-origin state changes (CSRF), records who the client is,
//! and authenticates the access token (bearer header or cookie) with one
//! Redis round trip, leaving the verdict in the request's extensions for
//! server functions and routes (`gatehouse_app::caller`). It never rejects
//! a request for lacking a token: whether a route needs one is that
//! route's business.
//!
//! It also renews tokens silently: a token in the last part of its life
//! (or a browser's expired cookie token whose session is still alive) is
//! replaced during the request, with new cookies (browsers) or
//! `X-New-Access-Token` / `X-New-Expires-In` headers (API clients).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gatehouse::auth::{Auth, AuthError, Client, Principal, Rotated};
use gatehouse::token::TokenError;
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
    request.extensions_mut().insert(client.clone());

    let token = cookies::access_token(request.headers());
    let (verdict, renewed) = match &token {
        None => (Authenticated::Anonymous, None),
        Some((token, source)) => authenticate(&guard.auth, token, *source, &client).await,
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
    let headers = response.headers_mut();
    if clear_cookie {
        append_cookies(headers, &cookies::clearing_cookies(&guard.cookies));
    }
    match (&token, renewed) {
        (Some((_, TokenSource::Cookie)), Some(rotated)) => {
            append_cookies(headers, &cookies::rotated_cookies(&guard.cookies, &rotated));
        }
        (Some((_, TokenSource::Bearer)), Some(rotated)) => {
            let expires_in = rotated.access.exp.saturating_sub(rotated.access.iat);
            if let Ok(value) = HeaderValue::from_str(&rotated.access_token) {
                headers.insert("x-new-access-token", value);
                headers.insert("x-new-expires-in", HeaderValue::from(expires_in));
            }
        }
        _ => {}
    }
    response
}

fn append_cookies(headers: &mut http::HeaderMap, cookies: &[String]) {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(SET_COOKIE, value);
        }
    }
}

/// Authenticates the token, renewing it silently when it is in its
/// renewal window (or, for a browser's cookie, already expired while its
/// session lives on). Renewal runs under the session's rotation lock, so
/// concurrent requests renew once and all carry the same new token back.
async fn authenticate(
    auth: &Auth,
    token: &str,
    source: TokenSource,
    client: &Client,
) -> (Authenticated, Option<Rotated>) {
    let renewal = |principal: Principal, result: Result<Option<Rotated>, AuthError>| match result {
        Ok(Some(rotated)) => (
            Authenticated::Principal(rotated.principal.clone()),
            Some(rotated),
        ),
        Ok(None) => (Authenticated::Principal(principal), None),
        Err(err) => {
            tracing::warn!(error = %err, "silent renewal failed; the current token stays in use");
            (Authenticated::Principal(principal), None)
        }
    };
    match auth.authenticate(token).await {
        Ok(principal) if auth.wants_renewal(&principal, now_secs()) => {
            let result = match source {
                TokenSource::Cookie => auth.renew_session(token, false, client).await,
                TokenSource::Bearer => auth.renew_access(token).await,
            };
            renewal(principal, result)
        }
        Ok(principal) => (Authenticated::Principal(principal), None),
        Err(AuthError::Token(TokenError::Expired)) if source == TokenSource::Cookie => {
            match auth.renew_session(token, true, client).await {
                Ok(Some(rotated)) => (
                    Authenticated::Principal(rotated.principal.clone()),
                    Some(rotated),
                ),
                Ok(None) => (
                    Authenticated::Rejected(AuthError::Token(TokenError::Expired).into()),
                    None,
                ),
                Err(err) => (Authenticated::Rejected(err.into()), None),
            }
        }
        Err(err) => (Authenticated::Rejected(err.into()), None),
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
