//! The one error type every client of Gatehouse sees.
//!
//! Whether a request came from the Leptos UI, `curl` or another service,
//! a failure is a JSON body `{"error": <code>, "message": <text>}` with a
//! matching HTTP status. The code is a stable `snake_case` string that
//! programs branch on; the message is for people and says what to do next.
//! Causes (Redis errors, key material problems) are logged on the server
//! and never sent: a client learns what it can fix, nothing more.

use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

/// A stable, documented error code. Adding a variant is fine; renaming
/// one breaks clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request was malformed: bad JSON, missing or invalid fields.
    InvalidRequest,
    /// The request was well-formed but a field's value is not acceptable.
    ValidationFailed,
    /// Unknown username or wrong password (deliberately not told apart).
    InvalidCredentials,
    /// Sign-in needs a solved proof-of-work challenge (in `challenge`).
    ChallengeRequired,
    /// The request needs a signed-in caller and carried no token.
    Unauthenticated,
    /// The access token has expired: refresh it and retry.
    TokenExpired,
    /// The token is malformed, tampered with, or signed by an unknown key.
    TokenInvalid,
    /// The token's session has ended (signed out, revoked or expired).
    TokenRevoked,
    /// The account exists but is disabled.
    AccountDisabled,
    /// The caller lacks the role this needs.
    Forbidden,
    /// The caller must change the password (`POST /api/v1/auth/password`)
    /// before doing anything else.
    PasswordChangeRequired,
    /// The thing already exists (e.g. a taken username).
    Conflict,
    /// The lock stayed busy for the whole wait.
    LockBusy,
    /// The caller does not hold the lock (wrong owner, expired, released).
    LockNotHeld,
    /// A rate-limit policy refused the request; see `policy` and `retry_after_ms`.
    RateLimited,
    /// Too many failed sign-ins for this account from this address.
    LoginLocked,
    /// The request's nonce was seen before, or its timestamp is too far off.
    ReplayedRequest,
    /// The body is larger than the configured limit.
    PayloadTooLarge,
    /// The path does not exist.
    NotFound,
    /// Redis (or another dependency) is unreachable; try again shortly.
    Unavailable,
    /// The request took longer than the configured timeout.
    Timeout,
    /// A state-changing request came from another origin.
    CrossOrigin,
    /// Something failed on our side; the server log has the details.
    Internal,
}

impl ErrorCode {
    /// The HTTP status this code is sent with.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest => 400,
            ErrorCode::InvalidCredentials
            | ErrorCode::ChallengeRequired
            | ErrorCode::Unauthenticated
            | ErrorCode::TokenExpired
            | ErrorCode::TokenInvalid
            | ErrorCode::TokenRevoked => 401,
            ErrorCode::AccountDisabled
            | ErrorCode::Forbidden
            | ErrorCode::PasswordChangeRequired
            | ErrorCode::CrossOrigin => 403,
            ErrorCode::Conflict
            | ErrorCode::LockBusy
            | ErrorCode::LockNotHeld
            | ErrorCode::ReplayedRequest => 409,
            ErrorCode::RateLimited | ErrorCode::LoginLocked => 429,
            ErrorCode::ValidationFailed => 422,
            ErrorCode::NotFound => 404,
            ErrorCode::Timeout => 408,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
        }
    }
}

/// The JSON error body: `{"error": <code>, "message": <text>}`, plus
/// `policy` and `retry_after_ms` when a rate limit refused the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub error: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// With `challenge_required`: the challenge to solve (boxed: errors
    /// travel by value everywhere, challenges rarely).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<Box<Challenge>>,
}

/// A sign-in challenge (see `POST /api/v1/auth/challenge`): find `s` such
/// that SHA-256 of `salt + s` has `difficulty` leading zero bits, and sign
/// in with `challenge_id` and `challenge_solution` = `s`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    pub challenge_id: String,
    /// Always `sha256-leading-zero-bits`.
    pub algorithm: String,
    pub salt: String,
    pub difficulty: u8,
    pub expires_in_ms: u64,
}

#[cfg(feature = "ssr")]
impl From<gatehouse::auth::challenge::Challenge> for Challenge {
    fn from(c: gatehouse::auth::challenge::Challenge) -> Self {
        Self {
            challenge_id: c.challenge_id,
            algorithm: c.algorithm,
            salt: c.salt,
            difficulty: c.difficulty,
            expires_in_ms: c.expires_in_ms,
        }
    }
}

impl ApiError {
    pub fn new(error: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error,
            message: message.into(),
            policy: None,
            retry_after_ms: None,
            challenge: None,
        }
    }

    /// 429: a rate-limit policy refused the request.
    pub fn rate_limited(policy: &str, retry_after_ms: Option<u64>) -> Self {
        let wait = match retry_after_ms {
            Some(ms) => format!("Retry in {}.", wait_text(ms)),
            None => "This request costs more than the policy ever allows.".to_owned(),
        };
        Self {
            error: ErrorCode::RateLimited,
            message: format!("Too many requests (policy `{policy}`). {wait}"),
            policy: Some(policy.to_owned()),
            retry_after_ms,
            challenge: None,
        }
    }

    /// 429: sign-in locked out after too many failures.
    pub fn login_locked(retry_after_ms: u64) -> Self {
        Self {
            error: ErrorCode::LoginLocked,
            message: format!(
                "Too many failed sign-ins for this account from your address. Try again in {}.",
                wait_text(retry_after_ms)
            ),
            policy: Some("login-lockout".to_owned()),
            retry_after_ms: Some(retry_after_ms),
            challenge: None,
        }
    }

    /// `Retry-After` seconds for this error, if it has one.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after_ms.map(|ms| ms.div_ceil(1000).max(1))
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn internal() -> Self {
        Self::new(
            ErrorCode::Internal,
            "Gatehouse failed to handle this request; the server log has the details.",
        )
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            ErrorCode::Unauthenticated,
            "Sign in first: send the access token as `Authorization: Bearer <token>` or the session cookie.",
        )
    }

    pub fn forbidden() -> Self {
        Self::new(
            ErrorCode::Forbidden,
            "Your account does not have the role this needs.",
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn unavailable() -> Self {
        Self::new(
            ErrorCode::Unavailable,
            "Gatehouse cannot reach Redis right now. Try again in a few seconds.",
        )
    }

    /// The HTTP status to send this error with.
    pub fn status(&self) -> u16 {
        self.error.status()
    }
}

/// "3 s", "2 min", "1 h 5 min".
fn wait_text(ms: u64) -> String {
    let secs = ms.div_ceil(1000).max(1);
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs.div_ceil(60)),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    /// Failures inside the server-function machinery itself: on the server
    /// these are mostly undecodable requests; in the browser, a request that
    /// never got an answer.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
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
        }
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
            use leptos::prelude::use_context;
            let form_post = use_context::<http::request::Parts>().is_some_and(|parts| {
                parts
                    .headers
                    .get(http::header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("text/html"))
            });
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
            serde_json::to_vec(self).unwrap_or_else(|_| b"{\"error\":\"internal\"}".to_vec());
        server_fn::Bytes::from(json)
    }
}

/// Core-library errors become API errors here, once. The cause is logged;
/// the client gets a code and a safe message.
#[cfg(feature = "ssr")]
impl From<gatehouse::StoreError> for ApiError {
    fn from(err: gatehouse::StoreError) -> Self {
        match err {
            gatehouse::StoreError::Unavailable(_) => {
                tracing::warn!(error = %err, "Redis unavailable");
                ApiError::unavailable()
            }
            gatehouse::StoreError::InvalidUrl { .. } | gatehouse::StoreError::Command(_) => {
                tracing::error!(error = %err, "Redis command failed");
                ApiError::internal()
            }
        }
    }
}

#[cfg(feature = "ssr")]
impl From<gatehouse::auth::AuthError> for ApiError {
    fn from(err: gatehouse::auth::AuthError) -> Self {
        use gatehouse::auth::AuthError;
        use gatehouse::token::TokenError;
        match err {
            AuthError::InvalidCredentials => {
                ApiError::new(ErrorCode::InvalidCredentials, "Wrong username or password.")
            }
            AuthError::AccountDisabled => ApiError::new(
                ErrorCode::AccountDisabled,
                "This account is disabled. Ask an administrator to enable it.",
            ),
            AuthError::InvalidInput(reason) => ApiError::invalid_request(format!("{reason}.")),
            AuthError::ChallengeRequired(challenge) => ApiError {
                challenge: Some(Box::new((*challenge).into())),
                ..ApiError::new(
                    ErrorCode::ChallengeRequired,
                    "Too many failed sign-ins lately: solve the challenge and sign in again \
                     with challenge_id and challenge_solution.",
                )
            },
            AuthError::Token(TokenError::Expired) => ApiError::new(
                ErrorCode::TokenExpired,
                "The access token has expired. Refresh it (POST /api/v1/auth/refresh) and retry.",
            ),
            AuthError::Token(TokenError::Invalid(reason)) => {
                tracing::info!(reason, "token rejected");
                ApiError::new(
                    ErrorCode::TokenInvalid,
                    "The token is not valid. Sign in again.",
                )
            }
            AuthError::SessionEnded => ApiError::new(
                ErrorCode::TokenRevoked,
                "This session has ended (signed out, revoked or expired). Sign in again.",
            ),
            AuthError::TokenRevoked => ApiError::new(
                ErrorCode::TokenRevoked,
                "This token was revoked. Use the newest token, or sign in again.",
            ),
            AuthError::RefreshReused => ApiError::new(
                ErrorCode::TokenRevoked,
                "This refresh token was already used, so the session was ended to be safe. Sign in again.",
            ),
            AuthError::Lock(gatehouse::lock::LockError::Busy) => ApiError::new(
                ErrorCode::Unavailable,
                "Another refresh of this session is still running. Retry in a moment.",
            ),
            AuthError::Lock(err) => err.into(),
            AuthError::LoginLocked { retry_after_ms } => ApiError::login_locked(retry_after_ms),
            AuthError::RateLimited(outcome) => {
                ApiError::rate_limited(&outcome.policy, outcome.retry_after_ms)
            }
            AuthError::Store(err) => err.into(),
            AuthError::User(err) => err.into(),
            err @ (AuthError::Token(TokenError::Signing(_))
            | AuthError::Password(_)
            | AuthError::Corrupt(_)) => {
                tracing::error!(error = %err, "authentication failed internally");
                ApiError::internal()
            }
        }
    }
}

#[cfg(feature = "ssr")]
impl From<gatehouse::auth::Refusal> for ApiError {
    fn from(refusal: gatehouse::auth::Refusal) -> Self {
        use gatehouse::auth::Refusal;
        match refusal {
            Refusal::RateLimited(outcome) => {
                ApiError::rate_limited(&outcome.policy, outcome.retry_after_ms)
            }
            Refusal::Replayed(message) => ApiError::new(ErrorCode::ReplayedRequest, message),
            Refusal::BadReplayHeaders(message) => ApiError::invalid_request(message),
            Refusal::Unavailable => ApiError::unavailable(),
            Refusal::Unauthenticated => ApiError::unauthenticated(),
            Refusal::Forbidden => ApiError::forbidden(),
            Refusal::PasswordChangeRequired => ApiError::new(
                ErrorCode::PasswordChangeRequired,
                "Choose a new password first: POST /api/v1/auth/password \
                 {\"current_password\",\"new_password\"}, or the form on /account.",
            ),
        }
    }
}

#[cfg(feature = "ssr")]
impl From<gatehouse::user::UserError> for ApiError {
    fn from(err: gatehouse::user::UserError) -> Self {
        use gatehouse::user::UserError;
        match err {
            UserError::InvalidUsername(reason) => ApiError::new(
                ErrorCode::ValidationFailed,
                format!("Invalid username: {reason}."),
            ),
            UserError::InvalidPassword(reason) => ApiError::new(
                ErrorCode::ValidationFailed,
                format!("Invalid password: {reason}."),
            ),
            UserError::InvalidRoles(reason) => ApiError::new(
                ErrorCode::ValidationFailed,
                format!("Invalid roles: {reason}."),
            ),
            UserError::UsernameTaken => {
                ApiError::new(ErrorCode::Conflict, "That username is taken.")
            }
            UserError::NotFound => ApiError::not_found("No such user."),
            UserError::Store(err) => err.into(),
            err @ (UserError::Corrupt(_) | UserError::Password(_)) => {
                tracing::error!(error = %err, "user operation failed internally");
                ApiError::internal()
            }
        }
    }
}

#[cfg(feature = "ssr")]
impl From<gatehouse::ratelimit::LimitError> for ApiError {
    fn from(err: gatehouse::ratelimit::LimitError) -> Self {
        match err {
            gatehouse::ratelimit::LimitError::Store(err) => err.into(),
            other => {
                tracing::error!(error = %other, "rate limiting failed internally");
                ApiError::internal()
            }
        }
    }
}

#[cfg(feature = "ssr")]
impl From<gatehouse::session::SessionError> for ApiError {
    fn from(err: gatehouse::session::SessionError) -> Self {
        gatehouse::auth::AuthError::from(err).into()
    }
}

#[cfg(feature = "ssr")]
impl From<gatehouse::lock::LockError> for ApiError {
    fn from(err: gatehouse::lock::LockError) -> Self {
        use gatehouse::lock::LockError;
        match err {
            LockError::Busy => ApiError::new(
                ErrorCode::LockBusy,
                "The lock is held by someone else and was not released within wait_ms.",
            ),
            LockError::NotHeld => ApiError::new(
                ErrorCode::LockNotHeld,
                "You do not hold this lock: the owner token is wrong, or the lock expired or was released.",
            ),
            err @ (LockError::InvalidName | LockError::InvalidTtl | LockError::InvalidWait) => {
                ApiError::new(ErrorCode::ValidationFailed, format!("{}.", err))
            }
            LockError::Store(err) => err.into(),
            err @ LockError::Corrupt(_) => {
                tracing::error!(error = %err, "lock operation failed internally");
                ApiError::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests;
