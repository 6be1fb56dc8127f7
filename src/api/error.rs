//! The one error every client of Gatehouse sees.
//!
//! Whether a request came from the console, `curl` or another service, a
//! failure is a JSON body `{"error": <code>, "message": <text>}` with the
//! HTTP status [`ErrorCode::status`] gives. The code is a stable
//! `snake_case` string that programs branch on; the message is for people
//! and says what to do next. Causes (Redis errors, key material problems)
//! are logged on the server and never sent (see `from_core`, where each
//! core error becomes one of these, once): a client learns what it can
//! fix, nothing more.

use serde::{Deserialize, Serialize};

use super::auth::{Challenge, MfaTicket};

/// A stable, documented error code. Adding a variant is fine; renaming
/// one breaks clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// The password was right; the account's second factor is needed
    /// (the ticket is in `mfa`).
    MfaRequired,
    /// The second-factor code is wrong or used, or the ticket is unknown,
    /// expired or used up.
    MfaInvalid,
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
    /// The action needs a second factor proved within `--step-up-max-age`:
    /// `POST /api/v1/auth/mfa/step-up`, then `/mfa/verify`.
    StepUpRequired,
    /// The caller must change the password (`POST /api/v1/auth/password`)
    /// before doing anything else.
    PasswordChangeRequired,
    /// The caller's role requires a second factor: enrol one
    /// (`POST /api/v1/auth/mfa/totp/enroll`) before doing anything else.
    MfaEnrollmentRequired,
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
            | ErrorCode::MfaRequired
            | ErrorCode::MfaInvalid
            | ErrorCode::Unauthenticated
            | ErrorCode::TokenExpired
            | ErrorCode::TokenInvalid
            | ErrorCode::TokenRevoked => 401,
            ErrorCode::AccountDisabled
            | ErrorCode::Forbidden
            | ErrorCode::PasswordChangeRequired
            | ErrorCode::MfaEnrollmentRequired
            | ErrorCode::StepUpRequired
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
/// `policy` and `retry_after_ms` when a rate limit refused the request
/// (`retry_after_ms` also when Redis is unavailable).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// With `mfa_required`: the ticket to prove the second factor with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa: Option<Box<MfaTicket>>,
}

/// What a caller without the role an operation needs is told.
pub const MISSING_ROLE: &str = "Your account does not have the role this needs.";

impl ApiError {
    pub fn new(error: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error,
            message: message.into(),
            policy: None,
            retry_after_ms: None,
            challenge: None,
            mfa: None,
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
            mfa: None,
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
            mfa: None,
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
        Self::new(ErrorCode::Forbidden, MISSING_ROLE)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// Redis cannot answer now; clients are asked to retry in a second
    /// (`Retry-After: 1`), about when an open breaker tries again.
    pub fn unavailable() -> Self {
        Self {
            retry_after_ms: Some(UNAVAILABLE_RETRY_MS),
            ..Self::new(
                ErrorCode::Unavailable,
                "Gatehouse cannot reach Redis right now. Try again in a few seconds.",
            )
        }
    }

    /// The HTTP status to send this error with.
    pub fn status(&self) -> u16 {
        self.error.status()
    }
}

/// When a client should retry after a 503: a breaker that opened probes
/// Redis every 250 ms and lets traffic through after three good probes.
const UNAVAILABLE_RETRY_MS: u64 = 1000;

/// "3 s", "2 min", "1 h 5 min".
fn wait_text(ms: u64) -> String {
    let secs = ms.div_ceil(1000).max(1);
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs.div_ceil(60)),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(feature = "server")]
mod from_core;
