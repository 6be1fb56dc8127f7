//! Signing in with a passkey alone: no username, no password. The
//! browser offers the passkeys it holds for this site, the user picks one
//! and unlocks it (PIN or biometrics), and its user handle says whose it
//! is. The authenticator must have verified its user: that verification
//! and the key are the two factors, so the session starts at `aal` 2
//! (`amr` `hwk` or `swk`, and `user`). A passkey that did not verify its
//! user signs no one in; it still serves as a second factor after the
//! password.

use super::*;
use crate::api::events::{LoginFailed, LoginFailure, SecondFactor};
use crate::events::EventKind;
use crate::mfa::{Method as MfaMethod, Started};
use crate::token::Assurance;

impl Auth {
    /// Starts a passkey sign-in: options for the browser.
    pub async fn start_passkey(&self) -> Result<Started, AuthError> {
        Ok(self.inner.factors.start_passkey().await?)
    }

    /// Finishes a passkey sign-in with the browser's answer: the session,
    /// or `MfaInvalid` (an unknown, expired or finished ceremony, a
    /// passkey this service does not know, or one whose authenticator did
    /// not verify its user).
    #[tracing::instrument(skip_all, fields(ip = %client.ip, user_id), err(level = "info"))]
    pub async fn sign_in_with_passkey(
        &self,
        ceremony_id: &str,
        credential: &serde_json::value::RawValue,
        client: &Client,
    ) -> Result<Login, AuthError> {
        let Some(asserted) = self
            .inner
            .factors
            .finish_passkey(ceremony_id, credential)
            .await?
        else {
            return Err(AuthError::MfaInvalid);
        };
        tracing::Span::current().record("user_id", asserted.user_id.as_str());
        let Some(user) = self.inner.users.get(&asserted.user_id).await? else {
            return Err(AuthError::MfaInvalid);
        };
        let event = |kind| {
            Event::new(kind)
                .user(&user.id)
                .username(&user.username)
                .ip(&client.ip)
        };
        if user.disabled {
            self.inner
                .events
                .emit(event(EventKind::LoginFailed(LoginFailed {
                    reason: LoginFailure::AccountDisabled,
                })));
            return Err(AuthError::AccountDisabled);
        }
        let amr = asserted.amr();
        if amr.aal() < 2 {
            // `finish_passkey` requires user verification; this is the
            // rule it follows, kept where the level is decided.
            return Err(AuthError::MfaInvalid);
        }
        self.inner
            .events
            .emit(event(EventKind::MfaSucceeded(SecondFactor {
                method: MfaMethod::Webauthn,
            })));
        let assurance = Assurance {
            amr,
            aal: amr.aal(),
            auth_time: crate::duration::epoch_ms() / 1000,
        };
        self.start_session(user, client, assurance).await
    }
}

#[cfg(test)]
mod tests;
