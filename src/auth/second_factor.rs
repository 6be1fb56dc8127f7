//! The second step of signing in, for accounts with a second factor: the
//! password step answered with a ticket (`mfa_required`), and this step
//! proves a factor with it and starts the session, at assurance level 2.
//! A signed-in session proves its factor again the same way (step-up,
//! for changes that need a recent proof): its ticket names the session,
//! which only that session's current access token can present, and the
//! session is rotated into tokens at level 2 instead of a new one opening.
//!
//! Guessing is bounded three ways: a ticket allows five attempts (counted
//! atomically before each check, see `mfa::ticket`), wrong codes count
//! against the account's `mfa-user` window (fail closed) whichever ticket
//! they came with, and they feed the proof-of-work windows like wrong
//! passwords do. A TOTP code works once (see `mfa`), and the ticket is
//! taken by exactly one caller, so one ticket opens one session.

use super::*;
use crate::api::assurance::{Amr, Method};
use crate::api::events::SecondFactor;
use crate::events::EventKind;
use crate::mfa::Method as MfaMethod;
use crate::ratelimit::{Check, Subject};
use crate::token::Assurance;

/// The policy counting wrong second-factor codes per account.
pub const MFA_FAILURES: &str = "mfa-user";

/// What a client presents as its second factor.
enum Proof<'a> {
    /// A TOTP or recovery code.
    Code { method: MfaMethod, code: &'a str },
    /// The browser's answer to a WebAuthn ceremony.
    Webauthn {
        ceremony_id: &'a str,
        credential: &'a serde_json::value::RawValue,
    },
}

impl Proof<'_> {
    fn method(&self) -> MfaMethod {
        match self {
            Proof::Code { method, .. } => *method,
            Proof::Webauthn { .. } => MfaMethod::Webauthn,
        }
    }
}

/// What proving a second factor did.
#[derive(Debug)]
pub enum Proved {
    /// A sign-in's ticket: a new session at `aal` 2.
    SignedIn(Login),
    /// A step-up's ticket: the caller's session, rotated into tokens at
    /// `aal` 2 with a new `auth_time`.
    SteppedUp(Rotated),
}

impl Auth {
    /// A step-up ticket for the caller's session, whose user has a second
    /// factor (else `NoFactor`): proved with [`Auth::verify_second_factor`]
    /// by the same session, it raises the session's assurance.
    pub async fn issue_step_up(&self, caller: &Principal) -> Result<crate::mfa::Ticket, AuthError> {
        Ok(self
            .inner
            .factors
            .issue_step_up_ticket(&caller.user_id, &caller.session_id)
            .await?)
    }

    /// Remembers the browser of `login`, a sign-in that proved a second
    /// factor (else `InvalidInput`): the token for its cookie, with which
    /// this user's sign-ins in that browser skip the second factor for 30
    /// days.
    pub async fn remember_device(
        &self,
        login: &Login,
        client: &Client,
    ) -> Result<String, AuthError> {
        if login.access.claims.aal < 2 {
            return Err(AuthError::InvalidInput(
                "only a sign-in with a second factor can remember its browser",
            ));
        }
        let label = crate::session::device::label(&client.user_agent);
        let token = self
            .inner
            .factors
            .remember_device(&login.user.id, &label)
            .await?;
        self.inner.events.emit(
            Event::new(EventKind::DeviceRemembered(crate::api::events::Device {
                device: label,
            }))
            .user(&login.user.id)
            .username(&login.user.username)
            .ip(&client.ip)
            .session(&login.access.claims.sid),
        );
        Ok(token)
    }

    /// Proves the second factor `ticket` stands for, with `code` by
    /// `method` (a TOTP or recovery code; WebAuthn is
    /// [`Auth::verify_webauthn`]). A sign-in's ticket starts its session
    /// (`aal` 2); a step-up's rotates the session of `caller_token` (which
    /// must be that session's current access token) into raised tokens.
    pub async fn verify_second_factor(
        &self,
        ticket: &str,
        method: MfaMethod,
        code: &str,
        client: &Client,
        caller_token: Option<&str>,
    ) -> Result<Proved, AuthError> {
        self.prove(ticket, Proof::Code { method, code }, client, caller_token)
            .await
    }

    /// Starts proving the security key or passkey of `ticket`'s user (the
    /// ticket counts no attempt until the finish).
    pub async fn start_webauthn(&self, ticket: &str) -> Result<crate::mfa::Started, AuthError> {
        let user_id = self
            .inner
            .factors
            .ticket_user(ticket, MfaMethod::Webauthn)
            .await?
            .ok_or(AuthError::MfaInvalid)?;
        Ok(self
            .inner
            .factors
            .start_webauthn_assertion(&user_id, ticket)
            .await?)
    }

    /// Proves `ticket`'s second factor with the browser's answer to the
    /// ceremony [`Auth::start_webauthn`] began; otherwise as
    /// [`Auth::verify_second_factor`].
    pub async fn verify_webauthn(
        &self,
        ticket: &str,
        ceremony_id: &str,
        credential: &serde_json::value::RawValue,
        client: &Client,
        caller_token: Option<&str>,
    ) -> Result<Proved, AuthError> {
        let proof = Proof::Webauthn {
            ceremony_id,
            credential,
        };
        self.prove(ticket, proof, client, caller_token).await
    }

    #[tracing::instrument(skip_all, fields(ip = %client.ip, user_id), err(level = "info"))]
    async fn prove(
        &self,
        ticket: &str,
        proof: Proof<'_>,
        client: &Client,
        caller_token: Option<&str>,
    ) -> Result<Proved, AuthError> {
        let factors = &self.inner.factors;
        let Some(attempt) = factors.attempt_ticket(ticket).await? else {
            return Err(AuthError::MfaInvalid);
        };
        tracing::Span::current().record("user_id", attempt.user_id.as_str());
        // A step-up ticket is proved by its own session, or not at all
        // (checked before any code, which would be spent otherwise).
        let stepping_up = match &attempt.session_id {
            None => None,
            Some(session_id) => {
                let token = caller_token.ok_or(AuthError::MfaInvalid)?;
                let claims = self.inner.tokens.verify_access(token)?;
                if claims.sub != attempt.user_id || claims.sid != *session_id {
                    return Err(AuthError::MfaInvalid);
                }
                Some(claims)
            }
        };
        let window = self.mfa_window(&attempt.user_id);
        if let Some(window) = &window {
            // Would one more wrong code fit? (Looks only; wrong codes
            // count below.)
            let decision = self
                .inner
                .limiter
                .check(std::slice::from_ref(window), false)
                .await?;
            if let Some(rejected) = decision.rejection() {
                return Err(AuthError::RateLimited(rejected.clone()));
            }
        }
        let Some(user) = self.inner.users.get(&attempt.user_id).await? else {
            return Err(AuthError::MfaInvalid);
        };
        let method = proof.method();
        let proved = if attempt.methods.contains(&method) {
            self.check_proof(&user.id, ticket, proof).await?
        } else {
            None
        };
        let event = |kind| {
            Event::new(kind)
                .user(&user.id)
                .username(&user.username)
                .ip(&client.ip)
        };
        let Some(gained) = proved else {
            if let Some(window) = &window {
                self.inner
                    .limiter
                    .check(std::slice::from_ref(window), true)
                    .await?;
            }
            let failures = self.challenge_checks(&user.username, client);
            self.count_failure(&failures).await?;
            self.inner
                .events
                .emit(event(EventKind::MfaFailed(SecondFactor { method })));
            return Err(AuthError::MfaInvalid);
        };
        if !factors.take_ticket(ticket).await? {
            return Err(AuthError::MfaInvalid);
        }
        if user.disabled {
            return Err(AuthError::AccountDisabled);
        }
        if method == MfaMethod::RecoveryCode {
            self.inner.events.emit(event(EventKind::RecoveryCodeUsed));
        }
        let auth_time = crate::duration::epoch_ms() / 1000;
        let Some(claims) = stepping_up else {
            self.inner
                .events
                .emit(event(EventKind::MfaSucceeded(SecondFactor { method })));
            let amr = Amr::password().union(gained);
            let assurance = Assurance {
                amr,
                aal: amr.aal(),
                auth_time,
            };
            return self
                .start_session(user, client, assurance)
                .await
                .map(Proved::SignedIn);
        };
        self.inner
            .events
            .emit(event(EventKind::StepUp(SecondFactor { method })).session(&claims.sid));
        let amr = claims.assurance().amr.union(gained);
        let raised = Assurance {
            amr,
            aal: amr.aal(),
            auth_time,
        };
        self.step_up_session(&claims, raised, client)
            .await
            .map(Proved::SteppedUp)
    }

    /// Checks a proof of `user_id`'s factor: the methods it proved, or
    /// `None`. A TOTP or recovery code is spent here (it works once).
    async fn check_proof(
        &self,
        user_id: &str,
        ticket: &str,
        proof: Proof<'_>,
    ) -> Result<Option<Amr>, AuthError> {
        let factors = &self.inner.factors;
        let otp = Amr::empty().with(Method::Otp);
        Ok(match proof {
            Proof::Code {
                method: MfaMethod::Totp,
                code,
            } => factors.verify_totp(user_id, code).await?.map(|_| otp),
            Proof::Code {
                method: MfaMethod::RecoveryCode,
                code,
            } => factors
                .use_recovery_code(user_id, code)
                .await?
                .then_some(otp),
            // WebAuthn has its own two requests.
            Proof::Code {
                method: MfaMethod::Webauthn,
                ..
            } => None,
            Proof::Webauthn {
                ceremony_id,
                credential,
            } => factors
                .finish_webauthn_assertion(ticket, ceremony_id, credential)
                .await?
                .filter(|asserted| asserted.user_id == user_id)
                .map(|asserted| asserted.amr()),
        })
    }

    /// The account's window of wrong second-factor codes, if configured.
    fn mfa_window(&self, user_id: &str) -> Option<Check<'_>> {
        self.inner.limiter.policy(MFA_FAILURES).map(|policy| Check {
            policy,
            subject: Subject::User {
                user_id: user_id.to_owned(),
            },
            cost: 1,
        })
    }
}

#[cfg(test)]
mod tests;
