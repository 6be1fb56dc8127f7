//! JSON answers of the plain routes, serialized straight into the body's
//! buffer (axum's `Json` does the same, after a generic detour through
//! `IntoResponseParts`).

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use gatehouse::api::ApiError;
use http::{HeaderMap, HeaderValue, header};
use serde::Serialize;

use crate::error::HttpError;

/// `200` with `value` as its JSON body.
pub fn ok(value: &impl Serialize) -> Response {
    let mut buffer = Vec::with_capacity(256);
    if let Err(err) = serde_json::to_writer(&mut buffer, value) {
        tracing::error!(error = %err, "an answer could not be serialized");
        return HttpError(ApiError::internal()).into_response();
    }
    let mut response = Response::new(Body::from(buffer));
    // Room for every header the middleware adds, so the map grows once.
    *response.headers_mut() = HeaderMap::with_capacity(16);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
