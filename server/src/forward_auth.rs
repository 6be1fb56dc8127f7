//! Endpoints for other services: forward authentication and public keys.
//!
//! `GET /api/v1/auth/verify` lets a reverse proxy (nginx `auth_request`,
//! Traefik ForwardAuth) ask "may this request through?". The guard has
//! already authenticated the token in its one round trip; this only turns
//! the verdict into a status and identity headers for the upstream.
//! `GET /.well-known/jwks.json` publishes the public signing keys so
//! services can verify access tokens themselves.

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use gatehouse::api::Role;
use gatehouse::api::auth::Verified;
use gatehouse_app::state::AppState;
use http::{HeaderName, HeaderValue, header};

use crate::error::HttpError;

/// `GET /api/v1/auth/verify`: 200 with `X-Gatehouse-User` (user id),
/// `X-Gatehouse-Username`, `X-Gatehouse-Roles` (comma-separated),
/// `X-Gatehouse-Session` and `X-Gatehouse-Aal` (the session's assurance
/// level, 1 or 2), or 401 with the error code.
pub async fn verify(mut request: Request) -> Response {
    let principal = match crate::identity::principal(&mut request) {
        Ok(principal) => principal,
        Err(err) => return HttpError(err).into_response(),
    };
    let verified = Verified::from(principal);
    let mut response = crate::json::ok(&verified);
    let headers = response.headers_mut();
    if let Some(roles) = roles_header(&verified.roles) {
        headers.insert(HeaderName::from_static("x-gatehouse-roles"), roles);
    }
    // The body is written: the strings move into the headers, uncopied.
    for (name, value) in [
        ("x-gatehouse-user", verified.user_id),
        ("x-gatehouse-username", verified.username),
        ("x-gatehouse-session", verified.session_id),
    ] {
        if let Ok(value) = HeaderValue::from_maybe_shared(Bytes::from(value)) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    headers.insert(
        HeaderName::from_static("x-gatehouse-aal"),
        HeaderValue::from_static(if verified.aal >= 2 { "2" } else { "1" }),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The roles, comma-separated (a single role, the usual case, is a static
/// value).
fn roles_header(roles: &[Role]) -> Option<HeaderValue> {
    if let [role] = roles {
        return Some(HeaderValue::from_static(role.as_str()));
    }
    let mut buffer = [0u8; 64];
    let mut len = 0;
    for (i, role) in roles.iter().enumerate() {
        let separator: &[u8] = if i > 0 { b"," } else { b"" };
        for part in [separator, role.as_str().as_bytes()] {
            buffer.get_mut(len..len + part.len())?.copy_from_slice(part);
            len += part.len();
        }
    }
    HeaderValue::from_bytes(&buffer[..len]).ok()
}

/// `GET /.well-known/jwks.json`: the public keys (none for HS256).
pub async fn jwks(State(state): State<AppState>) -> Response {
    let mut response = Json(state.auth.jwks()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}
