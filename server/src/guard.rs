//! The request guard: every request (except static files) passes through
//! here once.
//!
//! In order, it
//! 1. rejects cross-origin state changes (CSRF);
//! 2. records who the client is;
//! 3. checks replay protection (`X-Request-Nonce`, `X-Request-Timestamp`)
//!    where a policy requires it;
//! 4. authenticates the access token (bearer header or cookie) and applies
//!    the rate-limit policies guarding the path, in **one** Redis round
//!    trip (`Auth::authenticate_limited`), or only the limits for requests
//!    without a token;
//! 5. renews tokens silently: a token in the last part of its life (or a
//!    browser's expired cookie token whose session is still alive) is
//!    replaced during the request, with new cookies (browsers) or
//!    `X-New-Access-Token` / `X-New-Expires-In` headers (API clients);
//! 6. leaves the verdict in the request's extensions for server functions
//!    and routes (`gatehouse_app::caller`), and adds `RateLimit-Policy` /
//!    `RateLimit` headers to the response.
//!
//! It never rejects a request for lacking a token: whether a route needs
//! one is that route's business. It does reject rate-limited (429) and
//! replayed (409) requests, and, for policies that fail closed, requests
//! whose limits cannot be checked (503).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gatehouse::auth::{Auth, AuthError, Client, Principal, RequestInfo, Rotated};
use gatehouse::events::Event;
use gatehouse::ratelimit::{Decision, Limiter, REPLAY_WINDOW};
use gatehouse::token::TokenError;
use gatehouse_app::caller::Authenticated;
use gatehouse_app::cookies::{self, CookiePolicy, TokenSource};
use gatehouse_app::{ApiError, ErrorCode};
use http::header::{HOST, ORIGIN, SET_COOKIE, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::error::HttpError;

/// What the guard needs.
#[derive(Clone)]
pub struct Guard {
    pub auth: Auth,
    pub cookies: CookiePolicy,
    pub trust_forwarded_for: bool,
}

/// What the guard decided about one request.
struct Verdict {
    authenticated: Authenticated,
    renewed: Option<Rotated>,
    limits: Decision,
}

/// The middleware.
pub async fn guard(State(guard): State<Guard>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if is_static(&path) {
        return next.run(request).await;
    }
    if let Err(err) = same_origin(&request) {
        return err.into_response();
    }
    let client = client(&request, guard.trust_forwarded_for);
    request.extensions_mut().insert(client.clone());

    let token = cookies::access_token(request.headers());
    let nonce = match replay_nonce(&guard, &request, &path, token.as_ref()) {
        Ok(nonce) => nonce,
        Err(err) => return err.into_response(),
    };
    let info = RequestInfo {
        path: &path,
        ip: &client.ip,
        nonce: nonce.as_deref(),
    };
    let verdict = match verdict(&guard.auth, token.as_ref(), &info, &client).await {
        Ok(verdict) => verdict,
        Err(refusal) => return refusal,
    };
    if verdict.limits.replayed {
        return HttpError(ApiError::new(
            ErrorCode::ReplayedRequest,
            "This X-Request-Nonce was used before. Send each request with a new nonce.",
        ))
        .into_response();
    }
    if let Some(rejected) = verdict.limits.rejection() {
        tracing::info!(policy = %rejected.policy, ip = %client.ip, path, "rate limited");
        let mut event = Event::new("rate_limited")
            .ip(&client.ip)
            .detail("policy", &rejected.policy)
            .detail("path", &path);
        if let Authenticated::Principal(principal) = &verdict.authenticated {
            event = event
                .user(&principal.user_id)
                .username(&principal.username)
                .session(&principal.session_id);
        }
        guard.auth.events().emit(event);
        let mut response = HttpError(ApiError::rate_limited(
            &rejected.policy,
            rejected.retry_after_ms,
        ))
        .into_response();
        add_limit_headers(response.headers_mut(), &verdict.limits);
        return response;
    }

    // A cookie holding a dead token is deleted, so the browser stops
    // sending it; an expired one is kept for renewal.
    let clear_cookie = matches!(
        (&token, &verdict.authenticated),
        (Some((_, TokenSource::Cookie)), Authenticated::Rejected(err))
            if matches!(err.error, ErrorCode::TokenInvalid | ErrorCode::TokenRevoked)
    );
    request.extensions_mut().insert(verdict.authenticated);

    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    add_limit_headers(headers, &verdict.limits);
    if clear_cookie {
        append_cookies(headers, &cookies::clearing_cookies(&guard.cookies));
    }
    match (&token, verdict.renewed) {
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

/// Authenticates (and renews) the token and applies the rate limits.
/// `Err` is a finished refusal (503 for a fail-closed policy).
async fn verdict(
    auth: &Auth,
    token: Option<&(String, TokenSource)>,
    info: &RequestInfo<'_>,
    client: &Client,
) -> Result<Verdict, Response> {
    let Some((token, source)) = token else {
        return Ok(Verdict {
            authenticated: Authenticated::Anonymous,
            renewed: None,
            limits: anonymous_limits(auth.limiter(), info).await?,
        });
    };
    let (token, source) = (token.as_str(), *source);
    match auth.authenticate_limited(token, info).await {
        Ok((principal, limits)) => {
            let renewed = if limits.allowed() && auth.wants_renewal(&principal, now_secs()) {
                renew(auth, token, source, client, &principal).await
            } else {
                None
            };
            let principal = renewed.as_ref().map_or(principal, |r| r.principal.clone());
            Ok(Verdict {
                authenticated: Authenticated::Principal(principal),
                renewed,
                limits,
            })
        }
        Err(AuthError::Token(TokenError::Expired)) if source == TokenSource::Cookie => {
            match auth.renew_session(token, true, client).await {
                Ok(Some(rotated)) => {
                    let checks = auth.limiter().checks_for(
                        info.path,
                        info.ip,
                        Some((&rotated.principal.user_id, &rotated.principal.session_id)),
                    );
                    let limits = limits_or_fail_mode(auth.limiter(), &checks).await?;
                    Ok(Verdict {
                        authenticated: Authenticated::Principal(rotated.principal.clone()),
                        renewed: Some(rotated),
                        limits,
                    })
                }
                Ok(None) | Err(_) => {
                    rejected(auth, info, AuthError::Token(TokenError::Expired)).await
                }
            }
        }
        Err(err @ AuthError::Store(_)) => Ok(Verdict {
            // Redis is down: the request is not authenticated (protected
            // routes answer 503), and there is nothing to count with.
            authenticated: Authenticated::Rejected(err.into()),
            renewed: None,
            limits: Decision::default(),
        }),
        Err(err) => rejected(auth, info, err).await,
    }
}

/// A rejected token: the request goes on unauthenticated, counted per IP
/// like any anonymous request (so garbage tokens are throttled too).
async fn rejected(
    auth: &Auth,
    info: &RequestInfo<'_>,
    err: AuthError,
) -> Result<Verdict, Response> {
    Ok(Verdict {
        authenticated: Authenticated::Rejected(err.into()),
        renewed: None,
        limits: anonymous_limits(auth.limiter(), info).await?,
    })
}

async fn renew(
    auth: &Auth,
    token: &str,
    source: TokenSource,
    client: &Client,
    principal: &Principal,
) -> Option<Rotated> {
    let result = match source {
        TokenSource::Cookie => auth.renew_session(token, false, client).await,
        TokenSource::Bearer => auth.renew_access(token).await,
    };
    match result {
        Ok(renewed) => renewed,
        Err(err) => {
            tracing::warn!(session_id = %principal.session_id, error = %err, "silent renewal failed; the current token stays in use");
            None
        }
    }
}

async fn anonymous_limits(limiter: &Limiter, info: &RequestInfo<'_>) -> Result<Decision, Response> {
    let checks = limiter.checks_for(info.path, info.ip, None);
    limits_or_fail_mode(limiter, &checks).await
}

/// Applies `checks`; if Redis cannot be asked, fails closed (503) when a
/// policy says so, else lets the request through with a warning.
async fn limits_or_fail_mode(
    limiter: &Limiter,
    checks: &[gatehouse::ratelimit::Check<'_>],
) -> Result<Decision, Response> {
    match limiter.check(checks, true).await {
        Ok(decision) => Ok(decision),
        Err(err) if Limiter::fails_closed(checks) => {
            tracing::warn!(error = %err, "rate limits unavailable; refusing (fail-closed policy)");
            Err(HttpError(ApiError::unavailable()).into_response())
        }
        Err(err) => {
            tracing::warn!(error = %err, "rate limits unavailable; allowing (fail-open policies)");
            Ok(Decision::default())
        }
    }
}

/// Replay protection for state-changing requests from programs (bearer
/// tokens) on paths whose policy requires it: a fresh UUID nonce and a
/// timestamp within ±300 s. The nonce is remembered by the same script
/// that authenticates the request.
fn replay_nonce(
    guard: &Guard,
    request: &Request,
    path: &str,
    token: Option<&(String, TokenSource)>,
) -> Result<Option<String>, HttpError> {
    let state_changing = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let program = matches!(token, Some((_, TokenSource::Bearer)));
    if !(state_changing && program && guard.auth.limiter().requires_replay_protection(path)) {
        return Ok(None);
    }
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let (Some(nonce), Some(timestamp)) = (header("x-request-nonce"), header("x-request-timestamp"))
    else {
        return Err(HttpError(ApiError::invalid_request(
            "This endpoint requires replay protection: send X-Request-Nonce (a new UUID) and \
             X-Request-Timestamp (Unix seconds) with every request.",
        )));
    };
    if !is_uuid(nonce) {
        return Err(HttpError(ApiError::invalid_request(
            "X-Request-Nonce must be a UUID.",
        )));
    }
    let timestamp: u64 = timestamp.trim().parse().map_err(|_| {
        HttpError(ApiError::invalid_request(
            "X-Request-Timestamp must be Unix seconds.",
        ))
    })?;
    if now_secs().abs_diff(timestamp) > REPLAY_WINDOW.as_secs() {
        return Err(HttpError(ApiError::new(
            ErrorCode::ReplayedRequest,
            "X-Request-Timestamp is more than 300 s away from the server's clock.",
        )));
    }
    Ok(Some(nonce.to_ascii_lowercase()))
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers):
/// each checked policy as `"name";q=<quota>;w=<window s>` and
/// `"name";r=<remaining>;t=<seconds until reset>`.
fn add_limit_headers(headers: &mut HeaderMap, limits: &Decision) {
    if limits.outcomes.is_empty() {
        return;
    }
    let policy = limits
        .outcomes
        .iter()
        .map(|o| {
            format!(
                "\"{}\";q={};w={}",
                o.policy,
                o.limit,
                o.window_ms.div_ceil(1000)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let current = limits
        .outcomes
        .iter()
        .map(|o| {
            format!(
                "\"{}\";r={};t={}",
                o.policy,
                o.remaining,
                o.reset_ms.div_ceil(1000)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    for (name, value) in [("ratelimit-policy", policy), ("ratelimit", current)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

fn append_cookies(headers: &mut HeaderMap, cookies: &[String]) {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(SET_COOKIE, value);
        }
    }
}

fn now_secs() -> u64 {
    gatehouse::duration::epoch_ms() / 1000
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
        .map(|ip| ip.trim().to_owned())
        .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok());
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
    use super::{is_static, is_uuid};

    #[test]
    fn static_files_skip_the_guard() {
        assert!(is_static("/pkg/gatehouse.wasm"));
        assert!(is_static("/favicon.ico"));
        assert!(!is_static("/account"));
        assert!(!is_static("/api/v1/auth/me"));
    }

    #[test]
    fn nonces_must_be_uuids() {
        assert!(is_uuid("4f1c2f7e-9d3a-4c7b-8a52-0d6f5e1b2a3c"));
        assert!(!is_uuid("4f1c2f7e9d3a4c7b8a520d6f5e1b2a3c"));
        assert!(!is_uuid("zzzzzzzz-9d3a-4c7b-8a52-0d6f5e1b2a3c"));
    }
}
