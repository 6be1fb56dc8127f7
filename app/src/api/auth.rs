//! Sign-in and sign-out: `/api/v1/auth/*`.
//!
//! `login` is the JSON API; `sign_in` is the same operation for the
//! browser's login form (form-encoded, so it works before the page has
//! hydrated, and answers with a redirect). Both set the session cookies.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use server_fn::codec::{GetUrl, Json};

use crate::error::ApiError;

/// The body of a successful `POST /api/v1/auth/login` (and, later,
/// `/api/v1/auth/refresh`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub session_id: String,
    /// Sign-in only: the user must change the password
    /// (`POST /api/v1/auth/password`) before anything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub must_change_password: Option<bool>,
}

/// The signed-in caller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub user_id: String,
    pub username: String,
    pub roles: Vec<String>,
    pub session_id: String,
    /// The password must be changed before anything else.
    #[serde(default)]
    pub must_change_password: bool,
}

/// What sign-out ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedOut {
    pub revoked_sessions: u64,
}

/// `POST /api/v1/auth/login` `{"username","password"}` (plus
/// `"challenge_id","challenge_solution"` when a challenge was required):
/// signs in and returns a token pair (and sets the session cookies).
#[server(prefix = "/api/v1", endpoint = "auth/login", input = Json)]
pub async fn login(
    username: String,
    password: String,
    #[server(default)] challenge_id: Option<String>,
    #[server(default)] challenge_solution: Option<String>,
) -> Result<TokenPair, ApiError> {
    let login = ssr::sign_in(&username, &password, challenge_id, challenge_solution).await?;
    Ok(TokenPair {
        expires_in: login
            .access
            .claims
            .exp
            .saturating_sub(login.access.claims.iat),
        access_token: login.access.token,
        refresh_token: login.refresh.token,
        token_type: "Bearer".to_owned(),
        session_id: login.session_id,
        must_change_password: Some(login.user.must_change_password),
    })
}

/// The login form's target: signs in, sets the cookies and redirects to
/// `next` (a path on this site).
#[server(prefix = "/api/v1", endpoint = "ui/sign-in")]
pub async fn sign_in(
    username: String,
    password: String,
    next: Option<String>,
    #[server(default)] challenge_id: Option<String>,
    #[server(default)] challenge_solution: Option<String>,
) -> Result<(), ApiError> {
    let login = ssr::sign_in(&username, &password, challenge_id, challenge_solution).await?;
    if login.user.must_change_password {
        leptos_axum::redirect(gatehouse::route::ACCOUNT_PAGE);
    } else {
        leptos_axum::redirect(&safe_next(next.as_deref()));
    }
    Ok(())
}

/// `POST /api/v1/auth/refresh` `{"refresh_token"}` (or the refresh
/// cookie, with `{}`): rotates the session's tokens and returns the new
/// pair, like login. Concurrent refreshes with the same token get the same
/// pair; a refresh token used again after its grace window ends the session.
#[server(prefix = "/api/v1", endpoint = "auth/refresh", input = Json)]
pub async fn refresh(
    #[server(default)] refresh_token: Option<String>,
) -> Result<TokenPair, ApiError> {
    let state = crate::state::current()?;
    let token = match refresh_token.filter(|t| !t.is_empty()) {
        Some(token) => token,
        None => leptos::prelude::use_context::<http::request::Parts>()
            .and_then(|parts| {
                crate::cookies::cookie(&parts.headers, crate::cookies::REFRESH_COOKIE)
            })
            .ok_or_else(|| {
                ApiError::new(
                    crate::ErrorCode::Unauthenticated,
                    "Send {\"refresh_token\": \"…\"} or the refresh cookie.",
                )
            })?,
    };
    let rotated = state.auth.refresh(&token, &crate::caller::client()).await?;
    crate::cookies::send(&crate::cookies::rotated_cookies(&state.cookies, &rotated));
    Ok(TokenPair {
        expires_in: rotated.access.exp.saturating_sub(rotated.access.iat),
        access_token: rotated.access_token,
        refresh_token: rotated.refresh_token.unwrap_or_default(),
        token_type: "Bearer".to_owned(),
        session_id: rotated.access.sid,
        must_change_password: None,
    })
}

/// `POST /api/v1/auth/challenge` `{"username"}`: a proof-of-work challenge
/// for signing in to `username` (single use, for this username only). A
/// client may ask for one ahead; otherwise a sign-in that needs one is
/// answered 401 `challenge_required` with one.
#[server(prefix = "/api/v1", endpoint = "auth/challenge", input = Json)]
pub async fn challenge(username: String) -> Result<crate::error::Challenge, ApiError> {
    let state = crate::state::current()?;
    if username.trim().is_empty() || username.len() > 256 {
        return Err(ApiError::invalid_request(
            "Give the username you want to sign in to (at most 256 bytes).",
        ));
    }
    Ok(state.auth.issue_challenge(&username).await?.into())
}

/// What a password change ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordChanged {
    /// Sessions ended (with their tokens) because of the change.
    pub revoked_sessions: u64,
}

/// `POST /api/v1/auth/password` `{"current_password","new_password"}`:
/// changes the caller's password (12 to 1024 characters, not a common
/// password, not the username) and ends every other session of theirs;
/// this one stays signed in. A wrong current password is 401
/// `invalid_credentials` and counts against the sign-in lockout.
#[server(prefix = "/api/v1", endpoint = "auth/password", input = Json)]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<PasswordChanged, ApiError> {
    let state = crate::state::current()?;
    let principal = crate::caller::principal()?;
    let ended = state
        .auth
        .change_password(
            &principal,
            &current_password,
            &new_password,
            &crate::caller::client(),
        )
        .await?;
    Ok(PasswordChanged {
        revoked_sessions: ended.len() as u64,
    })
}

/// Calls a server function; if it fails because the access token expired,
/// refreshes once (with the refresh cookie) and calls it again. This is
/// how the browser stays signed in across token expiry without noticing.
pub async fn with_refresh<T, F, Fut>(call: F) -> Result<T, ApiError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    match call().await {
        Err(err) if err.error == crate::ErrorCode::TokenExpired => {
            refresh(None).await?;
            call().await
        }
        other => other,
    }
}

/// `POST /api/v1/auth/logout`: ends the caller's session.
#[server(prefix = "/api/v1", endpoint = "auth/logout")]
pub async fn logout() -> Result<SignedOut, ApiError> {
    let state = crate::state::current()?;
    let principal = crate::caller::principal()?;
    let ended = state.auth.logout(&principal).await?;
    crate::cookies::send(&crate::cookies::clearing_cookies(&state.cookies));
    Ok(SignedOut {
        revoked_sessions: u64::from(ended.is_some()),
    })
}

/// `POST /api/v1/auth/logout-all`: ends every session of the caller.
#[server(prefix = "/api/v1", endpoint = "auth/logout-all")]
pub async fn logout_all() -> Result<SignedOut, ApiError> {
    let state = crate::state::current()?;
    let principal = crate::caller::principal()?;
    let ended = state.auth.logout_all(&principal.user_id).await?;
    crate::cookies::send(&crate::cookies::clearing_cookies(&state.cookies));
    Ok(SignedOut {
        revoked_sessions: ended.len() as u64,
    })
}

/// `POST /api/v1/auth/me`: who the token belongs to.
#[server(prefix = "/api/v1", endpoint = "auth/me")]
pub async fn me() -> Result<Identity, ApiError> {
    Ok(ssr::me(crate::caller::principal()?))
}

/// `GET /api/v1/auth/session`: the signed-in caller, or `null`. For pages
/// that look different when signed in; never answers 401.
#[server(prefix = "/api/v1", endpoint = "auth/session", input = GetUrl)]
pub async fn current_session() -> Result<Option<Identity>, ApiError> {
    Ok(crate::caller::optional_principal()?.map(ssr::me))
}

/// Where to send someone after signing in: a path on this site, never
/// another origin (`//evil.example` and `/\evil.example` are other origins
/// to browsers).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/account".to_owned(),
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use gatehouse::auth::{Login, Principal};

    use super::Identity;
    use crate::error::ApiError;

    /// Checks the credentials (and the challenge's solution, if one was
    /// needed), starts a session and sets its cookies.
    pub async fn sign_in(
        username: &str,
        password: &str,
        challenge_id: Option<String>,
        challenge_solution: Option<String>,
    ) -> Result<Login, ApiError> {
        let state = crate::state::current()?;
        let nonempty = |value: Option<String>| value.filter(|v| !v.is_empty());
        let (challenge_id, challenge_solution) =
            (nonempty(challenge_id), nonempty(challenge_solution));
        let solution = match (&challenge_id, &challenge_solution) {
            (Some(challenge_id), Some(solution)) => Some(gatehouse::auth::challenge::Solution {
                challenge_id,
                solution,
            }),
            _ => None,
        };
        let login = state
            .auth
            .login_with(username, password, &crate::caller::client(), solution)
            .await?;
        crate::cookies::send(&crate::cookies::login_cookies(&state.cookies, &login));
        Ok(login)
    }

    pub fn me(principal: Principal) -> Identity {
        Identity {
            user_id: principal.user_id,
            username: principal.username,
            roles: principal
                .roles
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            session_id: principal.session_id,
            must_change_password: principal.must_change_password,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_never_leaves_the_site() {
        assert_eq!(safe_next(Some("/account?x=1")), "/account?x=1");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "account",
            "/a\nb",
        ] {
            assert_eq!(safe_next(Some(bad)), "/account", "{bad}");
        }
        assert_eq!(safe_next(None), "/account");
    }
}
