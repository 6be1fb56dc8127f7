//! Server functions' error type.
//!
//! The error body itself, its codes and their HTTP statuses are the
//! core's ([`gatehouse::api::ApiError`]), shared with the plain axum
//! routes. Leptos needs its own trait on a server function's error type,
//! and the orphan rule keeps that trait off a type of another crate: hence
//! this newtype, which adds only the trait. Its JSON is the inner body's.

use std::ops::Deref;

use gatehouse::api::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

/// An [`ApiError`] as a server function returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(transparent)]
#[error(transparent)]
pub struct FnError(pub ApiError);

impl Deref for FnError {
    type Target = ApiError;

    fn deref(&self) -> &ApiError {
        &self.0
    }
}

/// Whatever becomes an [`ApiError`] (every core error does, in the core)
/// becomes a server function's error, so handlers use `?` throughout.
impl<E: Into<ApiError>> From<E> for FnError {
    fn from(err: E) -> Self {
        FnError(err.into())
    }
}

impl FromServerFnError for FnError {
    type Encoder = JsonEncoding;

    /// Failures inside the server-function machinery itself: on the server
    /// these are mostly undecodable requests; in the browser, a request that
    /// never got an answer.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        FnError(match value {
            ServerFnErrorErr::Args(detail)
            | ServerFnErrorErr::Deserialization(detail)
            | ServerFnErrorErr::MissingArg(detail) => {
                #[cfg(feature = "ssr")]
                tracing::info!(%detail, "rejected an undecodable request");
                ApiError::invalid_request(format!("The request body could not be read: {detail}"))
            }
            ServerFnErrorErr::UnsupportedRequestMethod(detail) => ApiError::invalid_request(detail),
            ServerFnErrorErr::Request(detail) | ServerFnErrorErr::Response(detail) => {
                ApiError::new(
                    ErrorCode::Unavailable,
                    format!("Gatehouse could not be reached: {detail}"),
                )
            }
            ServerFnErrorErr::Registration(_)
            | ServerFnErrorErr::ServerError(_)
            | ServerFnErrorErr::MiddlewareError(_)
            | ServerFnErrorErr::Serialization(_) => ApiError::internal(),
        })
    }

    /// Encoding an error for the wire is also where its HTTP status is
    /// decided: server functions answer errors with 500 unless told
    /// otherwise, and this is the one place every error passes through.
    /// A plain HTML form post (no JavaScript) is the exception: it is
    /// redirected back to its page with the error in the URL, and a status
    /// set here would replace that redirect.
    fn ser(&self) -> server_fn::Bytes {
        #[cfg(feature = "ssr")]
        {
            use leptos::prelude::{use_context, with_context};
            let form_post = with_context::<http::request::Parts, _>(|parts| {
                parts
                    .headers
                    .get(http::header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("text/html"))
            })
            .unwrap_or(false);
            if !form_post
                && let Some(response) = use_context::<leptos_axum::ResponseOptions>()
                && let Ok(status) = http::StatusCode::from_u16(self.status())
            {
                response.set_status(status);
                if status == http::StatusCode::UNAUTHORIZED {
                    response.insert_header(
                        http::header::WWW_AUTHENTICATE,
                        http::HeaderValue::from_static("Bearer"),
                    );
                }
                if let Some(secs) = self.retry_after_secs() {
                    response
                        .insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
                }
            }
        }
        let json =
            serde_json::to_vec(&self.0).unwrap_or_else(|_| b"{\"error\":\"internal\"}".to_vec());
        server_fn::Bytes::from(json)
    }
}

#[cfg(test)]
mod tests;
