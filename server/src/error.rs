//! Plain axum routes answer errors exactly like server functions do.
//!
//! [`HttpError`] wraps the core's [`ApiError`] (the same JSON body and
//! status), so a client cannot tell which kind of route failed.

use axum::Json;
use axum::response::{IntoResponse, Response};
use gatehouse::api::ApiError;
use http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};

/// An [`ApiError`] on its way out of a plain axum handler.
#[derive(Debug)]
pub struct HttpError(pub ApiError);

impl<E: Into<ApiError>> From<E> for HttpError {
    fn from(err: E) -> Self {
        HttpError(err.into())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.0.retry_after_secs();
        let mut response = (status, Json(self.0)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
