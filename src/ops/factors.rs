//! A signed-in user's second factors: enrol a TOTP authenticator or
//! register a security key or passkey, list
//! and remove factors, make new recovery codes.
//!
//! Once an account has a factor, changing its factors is a sensitive
//! action: a stolen session (or a password alone) must not be able to
//! remove the factor that protects the account, or add one of its own.
//! So it needs a session whose user proved a second factor (`aal` 2)
//! within `--step-up-max-age` (403 `step_up_required` otherwise).

use super::OpError;
use super::account::Account;
use crate::api::events::FactorChanged;
use crate::api::mfa::{
    Ceremony, DeviceId, FactorConfirmed, FactorId, FactorList, RecoveryCodes, TotpEnrollment,
};
use crate::auth::{Auth, Principal};
use crate::events::{Event, EventKind};

impl Account<'_> {
    /// Starts enrolling a TOTP authenticator (see [`TotpEnrollment`]).
    pub async fn enroll_totp(&self, label: Option<&str>) -> Result<TotpEnrollment, OpError> {
        self.require_step_up().await?;
        let principal = self.principal();
        let enrolment = self
            .auth()
            .factors()
            .enroll_totp(&principal.user_id, &principal.username, label)
            .await
            .map_err(crate::auth::AuthError::from)?;
        Ok(TotpEnrollment {
            factor_id: enrolment.factor_id,
            secret: enrolment.secret,
            otpauth_uri: enrolment.otpauth_uri,
        })
    }

    /// Confirms an enrolment with a code of the authenticator; a wrong
    /// code is `Invalid`. The first factor comes with recovery codes.
    pub async fn confirm_totp(
        &self,
        factor_id: &str,
        code: &str,
    ) -> Result<FactorConfirmed, OpError> {
        self.require_step_up().await?;
        let principal = self.principal();
        let confirmed = self
            .auth()
            .factors()
            .confirm_totp(&principal.user_id, factor_id, code)
            .await
            .map_err(crate::auth::AuthError::from)?
            .ok_or_else(|| {
                OpError::Invalid(
                    "The code is wrong or was used already: type the code the app shows now."
                        .to_owned(),
                )
            })?;
        self.enrolled(confirmed).await
    }

    /// Starts registering a security key or passkey: options for the
    /// browser's `navigator.credentials.create`.
    pub async fn start_webauthn_registration(
        &self,
        label: Option<&str>,
    ) -> Result<Ceremony, OpError> {
        self.require_step_up().await?;
        let principal = self.principal();
        let started = self
            .auth()
            .factors()
            .start_webauthn_registration(&principal.user_id, &principal.username, label)
            .await
            .map_err(crate::auth::AuthError::from)?;
        Ok(Ceremony {
            ceremony_id: started.ceremony_id,
            options: started.options,
        })
    }

    /// Makes the browser's new credential a factor (a passkey if the
    /// authenticator keeps it); an answer that does not verify, or a
    /// ceremony expired or finished, is `validation_failed`.
    pub async fn finish_webauthn_registration(
        &self,
        ceremony_id: &str,
        credential: &serde_json::value::RawValue,
    ) -> Result<FactorConfirmed, OpError> {
        self.require_step_up().await?;
        let confirmed = self
            .auth()
            .factors()
            .finish_webauthn_registration(&self.principal().user_id, ceremony_id, credential)
            .await
            .map_err(crate::auth::AuthError::from)?;
        self.enrolled(confirmed).await
    }

    /// After a factor was added: the audit event, and a session that had
    /// to enrol one may now do everything else.
    async fn enrolled(&self, confirmed: crate::mfa::Confirmed) -> Result<FactorConfirmed, OpError> {
        let principal = self.principal();
        self.record(EventKind::MfaEnrolled(FactorChanged {
            factor_id: confirmed.factor_id.clone(),
        }));
        if principal.must_enroll_mfa {
            self.auth()
                .sessions()
                .clear_pending(
                    &principal.user_id,
                    &principal.session_id,
                    crate::token::Pending {
                        password_change: false,
                        mfa_enrollment: true,
                    },
                )
                .await
                .map_err(crate::auth::AuthError::from)?;
        }
        Ok(FactorConfirmed {
            factor_id: confirmed.factor_id,
            recovery_codes: confirmed.recovery_codes,
        })
    }

    /// The caller's factors and how many recovery codes are left.
    pub async fn factors(&self) -> Result<FactorList, OpError> {
        let enrolled = self
            .auth()
            .factors()
            .list(&self.principal().user_id)
            .await
            .map_err(crate::auth::AuthError::from)?;
        Ok(enrolled.into())
    }

    /// Removes one of the caller's factors (the last one takes the
    /// recovery codes with it).
    pub async fn remove_factor(&self, factor_id: &str) -> Result<FactorId, OpError> {
        self.require_step_up().await?;
        match self
            .auth()
            .factors()
            .remove(&self.principal().user_id, factor_id)
            .await
        {
            Ok(()) => {}
            Err(crate::mfa::MfaError::NotFound) => {
                return Err(OpError::NotFound("You have no factor with that id."));
            }
            Err(err) => return Err(crate::auth::AuthError::from(err).into()),
        }
        self.record(EventKind::MfaRemoved(FactorChanged {
            factor_id: factor_id.to_owned(),
        }));
        Ok(FactorId {
            factor_id: factor_id.to_owned(),
        })
    }

    /// A new set of recovery codes; the old ones stop working.
    pub async fn new_recovery_codes(&self) -> Result<RecoveryCodes, OpError> {
        self.require_step_up().await?;
        let recovery_codes = self
            .auth()
            .factors()
            .new_recovery_codes(&self.principal().user_id)
            .await
            .map_err(crate::auth::AuthError::from)?;
        self.record(EventKind::RecoveryCodesRenewed);
        Ok(RecoveryCodes { recovery_codes })
    }

    /// Forgets one of the caller's remembered browsers (no step-up: it
    /// only takes a shortcut away).
    pub async fn forget_device(&self, device_id: &str) -> Result<DeviceId, OpError> {
        self.auth()
            .factors()
            .forget_device(&self.principal().user_id, device_id)
            .await
            .map_err(crate::auth::AuthError::from)?;
        self.record(EventKind::DeviceForgotten(
            crate::api::events::DeviceForgotten {
                device_id: device_id.to_owned(),
            },
        ));
        Ok(DeviceId {
            device_id: device_id.to_owned(),
        })
    }

    /// The gate of changes that need a recent second factor: see
    /// [`require_step_up`].
    pub(super) async fn require_step_up(&self) -> Result<(), OpError> {
        require_step_up(self.auth(), self.principal()).await
    }

    /// A step-up ticket for this session (`validation_failed` without a
    /// factor): proving it with `/mfa/verify` raises the session to `aal`
    /// 2 with a new `auth_time`, which the changes behind
    /// [`require_step_up`] ask for.
    pub async fn step_up(&self) -> Result<crate::mfa::Ticket, OpError> {
        Ok(self.auth().issue_step_up(self.principal()).await?)
    }

    fn record(&self, kind: EventKind) {
        let principal = self.principal();
        self.auth().events().emit(
            Event::new(kind)
                .user(&principal.user_id)
                .username(&principal.username)
                .session(&principal.session_id),
        );
    }
}

/// Passes for a user without a factor, or a session whose user proved a
/// second factor within `--step-up-max-age`; else `step_up_required`.
/// Changing factors, the password, and every admin write go through it,
/// so a stolen password-only session (or one proved long ago) changes
/// nothing that matters.
pub(super) async fn require_step_up(auth: &Auth, principal: &Principal) -> Result<(), OpError> {
    let assurance = principal.assurance;
    let now = crate::duration::epoch_ms() / 1000;
    let recent = assurance.aal >= 2
        && now.saturating_sub(assurance.auth_time) <= auth.step_up_max_age().as_secs();
    if recent
        || !auth
            .factors()
            .has_factor(&principal.user_id)
            .await
            .map_err(crate::auth::AuthError::from)?
    {
        return Ok(());
    }
    Err(OpError::StepUpRequired)
}
