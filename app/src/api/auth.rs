//! Sign-in and sign-out: `/api/v1/auth/*`.
//!
//! `login` is the JSON API; `sign_in` is the same operation for the
//! browser's login form (form-encoded, so it works before the page has
//! hydrated, and answers with a redirect). Both set the session cookies.

use gatehouse::api::auth::{
    ChallengeRequest, Identity, LoginRequest, MfaMethod, MfaTicket, MfaVerify, PasswordChange,
    PasswordChanged, RefreshRequest, SignedOut, StepUpRequest, TokenPair,
};
use leptos::prelude::*;
use server_fn::codec::{GetUrl, Json};

use crate::error::FnError;

/// `POST /api/v1/auth/login` `{"username","password"}` (plus
/// `"challenge_id","challenge_solution"` when a challenge was required):
/// signs in and returns a token pair (and sets the session cookies).
#[server(prefix = "/api/v1", endpoint = "auth/login", input = Json)]
pub async fn login(#[server(flatten)] body: LoginRequest) -> Result<TokenPair, FnError> {
    let login = ssr::sign_in(
        &body.username,
        &body.password,
        body.challenge_id,
        body.challenge_solution,
    )
    .await?;
    Ok(TokenPair::from(&login))
}

/// `POST /api/v1/auth/mfa/verify` `{"ticket","method","code"}`: the
/// second step of signing in to an account with a second factor (the
/// ticket comes with the password step's 401 `mfa_required`). Answers
/// like login, with the session's `aal` 2; a wrong or used code, or a
/// ticket expired or tried five times, is 401 `mfa_invalid`. With a
/// step-up ticket (`/mfa/step-up`) and that session's access token, the
/// session is rotated into new tokens at `aal` 2 instead.
#[server(prefix = "/api/v1", endpoint = "auth/mfa/verify", input = Json)]
pub async fn verify_mfa(#[server(flatten)] body: MfaVerify) -> Result<TokenPair, FnError> {
    let state = crate::state::current()?;
    let proved = state
        .auth
        .verify_second_factor(
            &body.ticket,
            body.method,
            &body.code,
            &crate::caller::client(),
            crate::caller::access_token().as_deref(),
        )
        .await?;
    ssr::proved(&state, proved, body.remember_device).await
}

/// `POST /api/v1/auth/mfa/step-up` `{}`: a ticket (the `mfa` object of
/// `mfa_required`) for proving the caller's second factor again; proving
/// it with `/mfa/verify` renews this session's `auth_time` at `aal` 2,
/// which changes that answered 403 `step_up_required` need.
#[server(prefix = "/api/v1", endpoint = "auth/mfa/step-up", input = Json)]
pub async fn step_up(#[server(flatten)] _body: StepUpRequest) -> Result<MfaTicket, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.account().step_up().await?)
}

/// The login form's target: signs in, sets the cookies and redirects to
/// `next` (a path on this site). Not part of the JSON API. For an account
/// with a second factor the answer is 401 `mfa_required` whose ticket is
/// moved into a cookie for [`sign_in_code`]: the form carries errors back
/// in the URL when JavaScript is off, and a ticket must not be in one.
#[server(prefix = "/api/v1", endpoint = "ui/sign-in")]
pub async fn sign_in(
    username: String,
    password: String,
    next: Option<String>,
    #[server(default)] challenge_id: Option<String>,
    #[server(default)] challenge_solution: Option<String>,
) -> Result<(), FnError> {
    match ssr::sign_in(&username, &password, challenge_id, challenge_solution).await {
        Ok(login) => ssr::continue_to(
            login.user.must_change_password || login.access.claims.must_enroll_mfa,
            next.as_deref(),
        ),
        Err(err) => Err(ssr::ticket_to_cookie(err)),
    }
}

/// The login form's second step: proves a code of the account's
/// authenticator app or a recovery code with the ticket [`sign_in`] left
/// in its cookie, then redirects like `sign_in`. Not part of the JSON API
/// (which is `verify_mfa`).
#[server(prefix = "/api/v1", endpoint = "ui/sign-in-code")]
pub async fn sign_in_code(
    method: MfaMethod,
    code: String,
    next: Option<String>,
    #[server(default)] remember_device: Option<String>,
) -> Result<(), FnError> {
    let state = crate::state::current()?;
    let ticket =
        crate::cookies::request_cookie(crate::cookies::MFA_TICKET_COOKIE).ok_or_else(|| {
            crate::ApiError::new(
                crate::ErrorCode::MfaInvalid,
                "This sign-in has expired. Sign in again with your password.",
            )
        })?;
    let proved = state
        .auth
        .verify_second_factor(&ticket, method, &code, &crate::caller::client(), None)
        .await?;
    crate::cookies::send(&[crate::cookies::clearing_mfa_ticket_cookie(&state.cookies)]);
    let account_first = ssr::account_first(&proved);
    ssr::proved(
        &state,
        proved,
        remember_device.is_some_and(|on| !on.is_empty()),
    )
    .await?;
    ssr::continue_to(account_first, next.as_deref())
}

/// `POST /api/v1/auth/refresh` `{"refresh_token"}` (or the refresh
/// cookie, with `{}`): rotates the session's tokens and returns the new
/// pair, like login. Concurrent refreshes with the same token get the same
/// pair; a refresh token used again after its grace window ends the session.
#[server(prefix = "/api/v1", endpoint = "auth/refresh", input = Json)]
pub async fn refresh(#[server(flatten)] body: RefreshRequest) -> Result<TokenPair, FnError> {
    let state = crate::state::current()?;
    let token = match body.refresh_token.filter(|t| !t.is_empty()) {
        Some(token) => token,
        None => {
            crate::cookies::request_cookie(crate::cookies::REFRESH_COOKIE).ok_or_else(|| {
                crate::ApiError::new(
                    crate::ErrorCode::Unauthenticated,
                    "Send {\"refresh_token\": \"…\"} or the refresh cookie.",
                )
            })?
        }
    };
    let rotated = state.auth.refresh(&token, &crate::caller::client()).await?;
    crate::cookies::send(&crate::cookies::rotated_cookies(&state.cookies, &rotated));
    Ok(rotated.into())
}

/// `POST /api/v1/auth/challenge` `{"username"}`: a proof-of-work challenge
/// for signing in to `username` (single use, for this username only). A
/// client may ask for one ahead; otherwise a sign-in that needs one is
/// answered 401 `challenge_required` with one.
#[server(prefix = "/api/v1", endpoint = "auth/challenge", input = Json)]
pub async fn challenge(
    #[server(flatten)] body: ChallengeRequest,
) -> Result<gatehouse::api::auth::Challenge, FnError> {
    let state = crate::state::current()?;
    let username = body.username;
    if username.trim().is_empty() || username.len() > 256 {
        return Err(crate::ApiError::invalid_request(
            "Give the username you want to sign in to (at most 256 bytes).",
        )
        .into());
    }
    Ok(state.auth.issue_challenge(&username).await?)
}

/// `POST /api/v1/auth/password` `{"current_password","new_password"}`:
/// changes the caller's password (12 to 1024 characters, not a common
/// password, not the username) and ends every other session of theirs;
/// this one stays signed in. A wrong current password is 401
/// `invalid_credentials` and counts against the sign-in lockout.
#[server(prefix = "/api/v1", endpoint = "auth/password", input = Json)]
pub async fn change_password(
    #[server(flatten)] body: PasswordChange,
) -> Result<PasswordChanged, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller
        .account()
        .change_password(&body.current_password, &body.new_password, caller.client())
        .await?)
}

/// Calls a server function; if it fails because the access token expired,
/// refreshes once (with the refresh cookie) and calls it again. This is
/// how the browser stays signed in across token expiry without noticing.
pub async fn with_refresh<T, F, Fut>(call: F) -> Result<T, FnError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, FnError>>,
{
    match call().await {
        Err(err) if err.error == crate::ErrorCode::TokenExpired => {
            refresh(RefreshRequest::default()).await?;
            call().await
        }
        other => other,
    }
}

/// `POST /api/v1/auth/logout`: ends the caller's session, also while
/// Redis is unavailable (the core journals it until Redis is back).
#[server(prefix = "/api/v1", endpoint = "auth/logout")]
pub async fn logout() -> Result<SignedOut, FnError> {
    let state = crate::state::current()?;
    let revoked_sessions = match crate::caller::signed_in() {
        Ok(caller) => caller.account().sign_out().await?,
        Err(err) if err.error == crate::ErrorCode::Unavailable => {
            let token = crate::caller::access_token().ok_or(err)?;
            state.auth.logout_unconfirmed(&token).await?
        }
        Err(err) => return Err(err.into()),
    };
    crate::cookies::send(&crate::cookies::clearing_cookies(&state.cookies));
    Ok(SignedOut { revoked_sessions })
}

/// `POST /api/v1/auth/logout-all`: ends every session of the caller.
#[server(prefix = "/api/v1", endpoint = "auth/logout-all")]
pub async fn logout_all() -> Result<SignedOut, FnError> {
    let caller = crate::caller::signed_in()?;
    let revoked_sessions = caller.account().sign_out_everywhere().await?;
    crate::cookies::send(&crate::cookies::clearing_cookies(&caller.state.cookies));
    Ok(SignedOut { revoked_sessions })
}

/// `GET /api/v1/auth/session`: the signed-in caller, or `null`. For pages
/// that look different when signed in; never answers 401.
#[server(prefix = "/api/v1", endpoint = "auth/session", input = GetUrl)]
pub async fn current_session() -> Result<Option<Identity>, FnError> {
    Ok(crate::caller::optional_principal()?.map(Identity::from))
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
pub(crate) mod ssr {
    use gatehouse::api::auth::TokenPair;
    use gatehouse::auth::{Login, Proved};

    use crate::error::FnError;

    /// Checks the credentials (and the challenge's solution, if one was
    /// needed), starts a session and sets its cookies.
    pub async fn sign_in(
        username: &str,
        password: &str,
        challenge_id: Option<String>,
        challenge_solution: Option<String>,
    ) -> Result<Login, FnError> {
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
        let remembered = crate::cookies::request_cookie(crate::cookies::DEVICE_COOKIE);
        let login = state
            .auth
            .login_with(
                username,
                password,
                &crate::caller::client(),
                solution,
                remembered.as_deref(),
            )
            .await?;
        crate::cookies::send(&crate::cookies::login_cookies(&state.cookies, &login));
        Ok(login)
    }

    /// Where the login form goes once signed in: the account page while
    /// something is pending there (a password to choose, a second factor
    /// to enrol), else `next`.
    pub fn continue_to(account_first: bool, next: Option<&str>) -> Result<(), FnError> {
        leptos_axum::redirect(&destination(account_first, next));
        Ok(())
    }

    /// The path of [`continue_to`].
    pub fn destination(account_first: bool, next: Option<&str>) -> String {
        if account_first {
            gatehouse::route::ACCOUNT_PAGE.to_owned()
        } else {
            super::safe_next(next)
        }
    }

    /// Whether a proved second factor goes to the account page first (a
    /// password an admin set waits to be changed).
    pub fn account_first(proved: &Proved) -> bool {
        match proved {
            Proved::SignedIn(login) => login.user.must_change_password,
            Proved::SteppedUp(rotated) => rotated.principal.must_change_password,
        }
    }

    /// Sets the cookies of a proved second factor (a new session's, with
    /// `remember` the browser's too, or a stepped-up session's new tokens)
    /// and answers its tokens.
    pub async fn proved(
        state: &crate::state::AppState,
        proved: Proved,
        remember: bool,
    ) -> Result<TokenPair, FnError> {
        match proved {
            Proved::SignedIn(login) => {
                crate::cookies::send(&crate::cookies::login_cookies(&state.cookies, &login));
                if remember {
                    let token = state
                        .auth
                        .remember_device(&login, &crate::caller::client())
                        .await?;
                    crate::cookies::send(&[crate::cookies::device_cookie(&state.cookies, &token)]);
                }
                Ok(TokenPair::from(&login))
            }
            Proved::SteppedUp(rotated) => {
                crate::cookies::send(&crate::cookies::rotated_cookies(&state.cookies, &rotated));
                Ok(rotated.into())
            }
        }
    }

    /// Moves the ticket of an `mfa_required` answer into its cookie,
    /// leaving the methods and lifetime for the page to show.
    pub fn ticket_to_cookie(mut err: FnError) -> FnError {
        let Some(mfa) = err.0.mfa.as_mut() else {
            return err;
        };
        let ticket = std::mem::take(&mut mfa.ticket);
        let lifetime = std::time::Duration::from_millis(mfa.expires_in_ms);
        if let Ok(state) = crate::state::current() {
            crate::cookies::send(&[crate::cookies::mfa_ticket_cookie(
                &state.cookies,
                &ticket,
                lifetime,
            )]);
        }
        err
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
