//! The session cookies browsers carry, and reading tokens from requests.
//!
//! Browsers get the tokens as cookies they cannot read from JavaScript
//! (`HttpOnly`), that are never sent cross-site (`SameSite=Strict`) and,
//! unless the operator turned it off for plain-http development, only over
//! HTTPS (`Secure`). The refresh cookie is sent only to the refresh
//! endpoint. Programs send `Authorization: Bearer <access token>` instead.

use std::time::Duration;

use gatehouse::auth::{Login, Rotated, TokenSource};
use http::HeaderMap;
use http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use leptos::prelude::use_context;

/// Holds the access token.
pub const ACCESS_COOKIE: &str = "gh_access";
/// Holds the refresh token; sent only to [`REFRESH_PATH`].
pub const REFRESH_COOKIE: &str = "gh_refresh";
/// Where the refresh cookie goes.
pub const REFRESH_PATH: &str = "/api/v1/auth/refresh";
/// Holds the login form's second-factor ticket between its two steps, so
/// that the ticket never appears in a URL (the form works without
/// JavaScript, which carries errors back in the URL); sent only to
/// [`MFA_TICKET_PATH`].
pub const MFA_TICKET_COOKIE: &str = "gh_mfa";
/// Where the ticket cookie goes: the login form's code step.
pub const MFA_TICKET_PATH: &str = "/api/v1/ui/sign-in-code";
/// Holds a remembered browser's token (see `gatehouse::mfa::DEVICE_TTL`);
/// sent to the API, where sign-in reads it.
pub const DEVICE_COOKIE: &str = "gh_device";

/// Cookie attributes that come from configuration.
#[derive(Clone, Copy, Debug)]
pub struct CookiePolicy {
    pub secure: bool,
    /// The access cookie outlives the access token (up to the session's
    /// lifetime), so an expired token can still be recognised and renewed.
    pub access_max_age: Duration,
    pub refresh_max_age: Duration,
}

/// The access token of a request: the `Authorization: Bearer` header wins
/// over the cookie.
pub fn access_token(headers: &HeaderMap) -> Option<(&str, TokenSource)> {
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .unwrap_or("")
            .trim();
        // A malformed Authorization header is still the caller's choice of
        // credential: pass it on so it is rejected, never ignored.
        return Some((token, TokenSource::Bearer));
    }
    cookie_value(headers, ACCESS_COOKIE).map(|token| (token, TokenSource::Cookie))
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    cookie_value(headers, name).map(str::to_owned)
}

/// The value of cookie `name` on the request being served.
pub fn request_cookie(name: &str) -> Option<String> {
    leptos::prelude::with_context::<http::request::Parts, _>(|parts| cookie(&parts.headers, name))
        .flatten()
}

/// [`cookie`], borrowed from the request's headers.
fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

fn set_cookie(name: &str, value: &str, path: &str, max_age: Duration, secure: bool) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={}; HttpOnly; SameSite=Strict{}",
        max_age.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value storing an access token.
pub fn access_cookie(policy: &CookiePolicy, token: &str) -> String {
    set_cookie(
        ACCESS_COOKIE,
        token,
        "/",
        policy.access_max_age,
        policy.secure,
    )
}

/// The `Set-Cookie` value storing a refresh token.
pub fn refresh_cookie(policy: &CookiePolicy, token: &str) -> String {
    set_cookie(
        REFRESH_COOKIE,
        token,
        REFRESH_PATH,
        policy.refresh_max_age,
        policy.secure,
    )
}

/// `Set-Cookie` values that store a new token pair.
pub fn login_cookies(policy: &CookiePolicy, login: &Login) -> [String; 2] {
    [
        access_cookie(policy, &login.access.token),
        refresh_cookie(policy, &login.refresh.token),
    ]
}

/// `Set-Cookie` values for rotated tokens (the refresh cookie only when a
/// new refresh token was issued).
pub fn rotated_cookies(policy: &CookiePolicy, rotated: &Rotated) -> Vec<String> {
    let mut cookies = vec![access_cookie(policy, &rotated.access_token)];
    if let Some(refresh) = &rotated.refresh_token {
        cookies.push(refresh_cookie(policy, refresh));
    }
    cookies
}

/// `Set-Cookie` values that delete both cookies.
pub fn clearing_cookies(policy: &CookiePolicy) -> [String; 2] {
    [
        set_cookie(ACCESS_COOKIE, "", "/", Duration::ZERO, policy.secure),
        set_cookie(
            REFRESH_COOKIE,
            "",
            REFRESH_PATH,
            Duration::ZERO,
            policy.secure,
        ),
    ]
}

/// The `Set-Cookie` value holding a second-factor ticket for as long as
/// it lives.
pub fn mfa_ticket_cookie(policy: &CookiePolicy, ticket: &str, lifetime: Duration) -> String {
    set_cookie(
        MFA_TICKET_COOKIE,
        ticket,
        MFA_TICKET_PATH,
        lifetime,
        policy.secure,
    )
}

/// The `Set-Cookie` value remembering this browser for its user.
pub fn device_cookie(policy: &CookiePolicy, token: &str) -> String {
    set_cookie(
        DEVICE_COOKIE,
        token,
        "/api/v1/",
        gatehouse::mfa::DEVICE_TTL,
        policy.secure,
    )
}

/// The `Set-Cookie` value deleting the ticket cookie.
pub fn clearing_mfa_ticket_cookie(policy: &CookiePolicy) -> String {
    mfa_ticket_cookie(policy, "", Duration::ZERO)
}

/// Adds `Set-Cookie` headers to the response of the current server
/// function or page.
pub fn send(cookies: &[String]) {
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    for cookie in cookies {
        if let Ok(value) = http::HeaderValue::from_str(cookie) {
            response.append_header(SET_COOKIE, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_wins_over_cookie_and_cookies_parse() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "a=1; gh_access=tok-c; b=2".parse().unwrap());
        assert_eq!(access_token(&headers), Some(("tok-c", TokenSource::Cookie)));
        headers.insert(AUTHORIZATION, "Bearer tok-b".parse().unwrap());
        assert_eq!(access_token(&headers), Some(("tok-b", TokenSource::Bearer)));
        headers.insert(AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(access_token(&headers), Some(("", TokenSource::Bearer)));
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_by_policy() {
        let cookie = set_cookie(ACCESS_COOKIE, "t", "/", Duration::from_secs(60), true);
        assert_eq!(
            cookie,
            "gh_access=t; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(
            !set_cookie(ACCESS_COOKIE, "t", "/", Duration::from_secs(60), false).contains("Secure")
        );
    }
}
