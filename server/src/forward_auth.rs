//! Endpoints for other services: forward authentication and public keys.
//!
//! `GET /api/v1/auth/verify` lets a reverse proxy (nginx `auth_request`,
//! Traefik ForwardAuth) ask "may this request through?". The guard has
//! already authenticated the token in its one round trip; this only turns
//! the verdict into a status and identity headers for the upstream.
//! `GET /.well-known/jwks.json` publishes the public signing keys so
//! services can verify access tokens themselves.

use axum::Json;
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use gatehouse::api::ApiError;
use gatehouse::api::auth::Verified;
use gatehouse_app::caller::Authenticated;
use gatehouse_app::state::AppState;
use http::{HeaderMap, HeaderValue, header};

use crate::error::HttpError;

/// `GET /api/v1/auth/verify`: 200 with `X-Gatehouse-User` (user id),
/// `X-Gatehouse-Username`, `X-Gatehouse-Roles` (comma-separated) and
/// `X-Gatehouse-Session`, or 401 with the error code.
pub async fn verify(verdict: Option<Extension<Authenticated>>) -> Response {
    let principal = match verdict.map(|Extension(v)| v) {
        Some(Authenticated::Principal(principal)) => principal,
        Some(Authenticated::Rejected(err)) => return HttpError(err).into_response(),
        Some(Authenticated::Anonymous) | None => {
            return HttpError(ApiError::unauthenticated()).into_response();
        }
    };
    let mut identity = HeaderMap::with_capacity(5);
    let roles: Vec<&str> = principal.roles.iter().map(|r| r.as_str()).collect();
    for (name, value) in [
        ("x-gatehouse-user", principal.user_id.as_str()),
        ("x-gatehouse-username", principal.username.as_str()),
        ("x-gatehouse-roles", &roles.join(",")),
        ("x-gatehouse-session", principal.session_id.as_str()),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            identity.insert(name, value);
        }
    }
    identity.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let mut response = Json(Verified::from(principal)).into_response();
    response.headers_mut().extend(identity);
    response
}

/// `GET /.well-known/jwks.json`: the public keys (none for HS256).
pub async fn jwks(State(state): State<AppState>) -> Response {
    let mut response = Json(state.auth.tokens().keyring().jwks()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}
