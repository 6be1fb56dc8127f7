//! Core errors become [`ApiError`]s here, once: the one place that
//! decides which code (and so which HTTP status) a failure is sent with.
//! Causes are logged; the client gets a code and a safe message.

use super::{ApiError, ErrorCode};

impl From<crate::StoreError> for ApiError {
    fn from(err: crate::StoreError) -> Self {
        match err {
            crate::StoreError::Unavailable(_) => {
                tracing::warn!(error = %err, "Redis unavailable");
                ApiError::unavailable()
            }
            crate::StoreError::InvalidUrl { .. } | crate::StoreError::Command(_) => {
                tracing::error!(error = %err, "Redis command failed");
                ApiError::internal()
            }
        }
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(err: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError;
        use crate::token::TokenError;
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
                challenge: Some(challenge),
                ..ApiError::new(
                    ErrorCode::ChallengeRequired,
                    "Too many failed sign-ins lately: solve the challenge and sign in again \
                     with challenge_id and challenge_solution.",
                )
            },
            AuthError::MfaRequired(ticket) => ApiError {
                mfa: Some(ticket),
                ..ApiError::new(
                    ErrorCode::MfaRequired,
                    "This account has a second factor: send a code with the ticket to \
                     POST /api/v1/auth/mfa/verify.",
                )
            },
            AuthError::MfaInvalid => ApiError::new(
                ErrorCode::MfaInvalid,
                "The code is wrong or was used already, or the ticket has expired or was \
                 tried too often. Try the next code, or sign in again for a new ticket.",
            ),
            AuthError::StepUpRaced => ApiError::new(
                ErrorCode::Conflict,
                "The session's tokens were renewed while the second factor was being proved. \
                 Ask for a new step-up ticket (POST /api/v1/auth/mfa/step-up) and try again \
                 with the next code.",
            ),
            AuthError::Mfa(err) => err.into(),
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
            AuthError::Lock(crate::lock::LockError::Busy) => ApiError::new(
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
            AuthError::Journal(err) => {
                tracing::error!(error = %err, "a sign-out could not be journaled");
                ApiError::unavailable()
            }
            err @ (AuthError::Token(TokenError::Signing(_))
            | AuthError::Password(_)
            | AuthError::Corrupt(_)) => {
                tracing::error!(error = %err, "authentication failed internally");
                ApiError::internal()
            }
        }
    }
}

impl From<crate::auth::Refusal> for ApiError {
    fn from(refusal: crate::auth::Refusal) -> Self {
        use crate::auth::Refusal;
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
            Refusal::MfaEnrollmentRequired => ApiError::new(
                ErrorCode::MfaEnrollmentRequired,
                "Your role requires a second factor: add one first \
                 (POST /api/v1/auth/mfa/totp/enroll, then /totp/confirm, or the account page).",
            ),
        }
    }
}

impl From<crate::mfa::MfaError> for ApiError {
    fn from(err: crate::mfa::MfaError) -> Self {
        use crate::mfa::MfaError;
        match err {
            MfaError::Store(err) => err.into(),
            MfaError::NotFound => ApiError::new(ErrorCode::NotFound, format!("{err}.")),
            MfaError::InvalidLabel
            | MfaError::TooManyFactors
            | MfaError::TooManyPending
            | MfaError::NoFactor
            | MfaError::CeremonyUnknown
            | MfaError::CredentialRejected(_) => {
                ApiError::new(ErrorCode::ValidationFailed, format!("{err}."))
            }
            MfaError::Corrupt(_) => {
                tracing::error!(error = %err, "second-factor data unreadable");
                ApiError::internal()
            }
        }
    }
}

impl From<crate::user::UserError> for ApiError {
    fn from(err: crate::user::UserError) -> Self {
        use crate::user::UserError;
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

impl From<crate::ratelimit::LimitError> for ApiError {
    fn from(err: crate::ratelimit::LimitError) -> Self {
        match err {
            crate::ratelimit::LimitError::Store(err) => err.into(),
            other => {
                tracing::error!(error = %other, "rate limiting failed internally");
                ApiError::internal()
            }
        }
    }
}

impl From<crate::session::SessionError> for ApiError {
    fn from(err: crate::session::SessionError) -> Self {
        crate::auth::AuthError::from(err).into()
    }
}

impl From<crate::lock::LockError> for ApiError {
    fn from(err: crate::lock::LockError) -> Self {
        use crate::lock::LockError;
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

impl From<crate::ops::OpError> for ApiError {
    fn from(err: crate::ops::OpError) -> Self {
        use crate::ops::OpError;
        match err {
            OpError::Forbidden(message) => ApiError::new(ErrorCode::Forbidden, message),
            OpError::NotFound(message) => ApiError::not_found(message),
            OpError::Invalid(message) => ApiError::new(ErrorCode::ValidationFailed, message),
            OpError::StepUpRequired => ApiError::new(
                ErrorCode::StepUpRequired,
                "This needs a recent proof of your second factor: get a ticket with \
                 POST /api/v1/auth/mfa/step-up, prove a code with it at \
                 POST /api/v1/auth/mfa/verify, and retry.",
            ),
            OpError::Auth(err) => err.into(),
            OpError::User(err) => err.into(),
            OpError::Limit(err) => err.into(),
            OpError::Lock(err) => err.into(),
            OpError::Session(err) => err.into(),
            OpError::Store(err) => err.into(),
        }
    }
}
