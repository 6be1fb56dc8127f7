//! Signing in with a security key or passkey: `/api/v1/auth/mfa/webauthn/*`
//! (the second factor after a password, or a step-up) and
//! `/api/v1/auth/passkey/*` (a passkey alone). Each is two requests: the
//! start answers options for the browser's `navigator.credentials.get`,
//! the finish takes its answer (`PublicKeyCredential.toJSON()`) and
//! answers like login. Registering one is in `mfa`.

use gatehouse::api::auth::TokenPair;
use gatehouse::api::mfa::{
    Ceremony, PasskeyFinishRequest, PasskeyStartRequest, WebauthnFinishRequest,
    WebauthnStartRequest,
};
use leptos::prelude::*;
use server_fn::codec::Json;

use crate::error::FnError;

/// `POST /api/v1/auth/mfa/webauthn/start` `{"ticket"}`: options for
/// proving the ticket's security key or passkey (`mfa_invalid` for a
/// ticket expired, used up, or whose user has none).
#[server(prefix = "/api/v1", endpoint = "auth/mfa/webauthn/start", input = Json)]
pub async fn webauthn_start(
    #[server(flatten)] body: WebauthnStartRequest,
) -> Result<Ceremony, FnError> {
    let state = crate::state::current()?;
    Ok(ssr::ceremony(
        state.auth.start_webauthn(&body.ticket).await?,
    ))
}

/// `POST /api/v1/auth/mfa/webauthn/finish`
/// `{"ticket","ceremony_id","credential"}`: like `/mfa/verify` with a
/// code; an answer that does not verify is 401 `mfa_invalid`.
#[server(prefix = "/api/v1", endpoint = "auth/mfa/webauthn/finish", input = Json)]
pub async fn webauthn_finish(
    #[server(flatten)] body: WebauthnFinishRequest,
) -> Result<TokenPair, FnError> {
    let state = crate::state::current()?;
    let proved = state
        .auth
        .verify_webauthn(
            &body.ticket,
            &body.ceremony_id,
            &body.credential,
            &crate::caller::client(),
            crate::caller::access_token().as_deref(),
        )
        .await?;
    crate::api::auth::ssr::proved(&state, proved, body.remember_device).await
}

/// `POST /api/v1/auth/passkey/start` `{}`: options for signing in with a
/// passkey, no username or password.
#[server(prefix = "/api/v1", endpoint = "auth/passkey/start", input = Json)]
pub async fn passkey_start(
    #[server(flatten)] _body: PasskeyStartRequest,
) -> Result<Ceremony, FnError> {
    let state = crate::state::current()?;
    Ok(ssr::ceremony(state.auth.start_passkey().await?))
}

/// `POST /api/v1/auth/passkey/finish` `{"ceremony_id","credential"}`:
/// signs in as the passkey's user (`aal` 2, the authenticator having
/// verified them) and answers like login; 401 `mfa_invalid` otherwise.
#[server(prefix = "/api/v1", endpoint = "auth/passkey/finish", input = Json)]
pub async fn passkey_finish(
    #[server(flatten)] body: PasskeyFinishRequest,
) -> Result<TokenPair, FnError> {
    let state = crate::state::current()?;
    let login = state
        .auth
        .sign_in_with_passkey(
            &body.ceremony_id,
            &body.credential,
            &crate::caller::client(),
        )
        .await?;
    crate::cookies::send(&crate::cookies::login_cookies(&state.cookies, &login));
    Ok(TokenPair::from(&login))
}

/// The login page's code step with a security key: options for the ticket
/// the password step left in its cookie (sent only below
/// `/api/v1/ui/sign-in-code`). Not part of the JSON API.
#[server(prefix = "/api/v1", endpoint = "ui/sign-in-code/key-start")]
pub async fn sign_in_key_start() -> Result<Ceremony, FnError> {
    let state = crate::state::current()?;
    let ticket = ssr::ticket_cookie()?;
    Ok(ssr::ceremony(state.auth.start_webauthn(&ticket).await?))
}

/// The login page's code step with a security key: proves it for the
/// ticket in its cookie, sets the session's cookies and answers where to
/// go (the account page while something is pending there, else `next`).
/// Not part of the JSON API.
#[server(prefix = "/api/v1", endpoint = "ui/sign-in-code/key")]
pub async fn sign_in_key(
    ceremony_id: String,
    credential: String,
    next: Option<String>,
    remember_device: bool,
) -> Result<String, FnError> {
    let state = crate::state::current()?;
    let ticket = ssr::ticket_cookie()?;
    let credential = ssr::credential(credential)?;
    let proved = state
        .auth
        .verify_webauthn(
            &ticket,
            &ceremony_id,
            &credential,
            &crate::caller::client(),
            None,
        )
        .await?;
    crate::cookies::send(&[crate::cookies::clearing_mfa_ticket_cookie(&state.cookies)]);
    let account_first = crate::api::auth::ssr::account_first(&proved);
    crate::api::auth::ssr::proved(&state, proved, remember_device).await?;
    Ok(crate::api::auth::ssr::destination(
        account_first,
        next.as_deref(),
    ))
}

#[cfg(feature = "ssr")]
mod ssr {
    use gatehouse::api::mfa::Ceremony;

    use crate::error::FnError;

    pub fn ceremony(started: gatehouse::mfa::Started) -> Ceremony {
        Ceremony {
            ceremony_id: started.ceremony_id,
            options: started.options,
        }
    }

    /// The ticket the password step left in its cookie.
    pub fn ticket_cookie() -> Result<String, FnError> {
        crate::cookies::request_cookie(crate::cookies::MFA_TICKET_COOKIE).ok_or_else(|| {
            crate::ApiError::new(
                crate::ErrorCode::MfaInvalid,
                "This sign-in has expired. Sign in again with your password.",
            )
            .into()
        })
    }

    /// The browser's answer, as the page sends it (JSON text).
    pub fn credential(text: String) -> Result<Box<serde_json::value::RawValue>, FnError> {
        serde_json::value::RawValue::from_string(text).map_err(|_| {
            crate::ApiError::invalid_request(
                "`credential` is not JSON: send PublicKeyCredential.toJSON().",
            )
            .into()
        })
    }
}
