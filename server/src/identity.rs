//! `POST /api/v1/auth/me`: who the caller is.
//!
//! The guard has already admitted the request and put its verdict in the
//! request's extensions; answering is only turning that verdict into JSON.
//! It is a plain route rather than a server function because the
//! server-function machinery (a reactive owner, a copy of the request
//! head in its context, a response-options map) cost this hot endpoint
//! more than everything else it does.

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use gatehouse::api::ApiError;
use gatehouse::api::auth::Identity;
use gatehouse::auth::Principal;
use gatehouse_app::caller::Authenticated;

use crate::error::HttpError;
use crate::json;

/// `POST /api/v1/auth/me`: the caller's identity with the roles they have
/// now, or 401 with why there is none.
pub async fn me(mut request: Request) -> Response {
    match principal(&mut request) {
        Ok(principal) => json::ok(&Identity::from(principal)),
        Err(err) => HttpError(err).into_response(),
    }
}

/// The signed-in caller the guard found (taken out of the request, which
/// is not needed any more: no copy).
pub fn principal(request: &mut Request) -> Result<Principal, ApiError> {
    match request.extensions_mut().remove::<Authenticated>() {
        Some(Authenticated::Principal(principal)) => Ok(principal),
        Some(Authenticated::Rejected(err)) => Err(err),
        Some(Authenticated::Anonymous) | None => Err(ApiError::unauthenticated()),
    }
}
