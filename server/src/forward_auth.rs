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
use http::{HeaderValue, header};

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
    let verified = Verified::from(principal);
    let mut response = Json(&verified).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-gatehouse-user", verified.user_id.as_str()),
        ("x-gatehouse-username", verified.username.as_str()),
        ("x-gatehouse-roles", &verified.roles.join(",")),
        ("x-gatehouse-session", verified.session_id.as_str()),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
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
