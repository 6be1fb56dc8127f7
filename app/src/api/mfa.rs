//! The caller's second factors: `/api/v1/auth/mfa/*` (signing in with one
//! is `verify_mfa` in `auth`). Once the account has a factor, every change
//! needs a recent sign-in with it (403 `step_up_required`).

use gatehouse::api::mfa::{
    FactorConfirmed, FactorId, FactorList, RecoveryCodes, TotpConfirmRequest, TotpEnrollRequest,
    TotpEnrollment,
};
use leptos::prelude::*;
use server_fn::codec::Json;

use crate::error::FnError;

/// `POST /api/v1/auth/mfa/totp/enroll` `{}` or `{"label"}`: a new TOTP
/// secret (base32, and as an `otpauth://` URI for a QR code), a factor once
/// confirmed within 10 minutes.
#[server(prefix = "/api/v1", endpoint = "auth/mfa/totp/enroll", input = Json)]
pub async fn enroll_totp(
    #[server(flatten)] body: TotpEnrollRequest,
) -> Result<TotpEnrollment, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.account().enroll_totp(body.label.as_deref()).await?)
}

/// `POST /api/v1/auth/mfa/totp/confirm` `{"factor_id","code"}`: makes the
/// enrolment a factor; the account's first comes with 10 recovery codes,
/// shown once. A wrong code is 422 `validation_failed`.
#[server(prefix = "/api/v1", endpoint = "auth/mfa/totp/confirm", input = Json)]
pub async fn confirm_totp(
    #[server(flatten)] body: TotpConfirmRequest,
) -> Result<FactorConfirmed, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller
        .account()
        .confirm_totp(&body.factor_id, &body.code)
        .await?)
}

/// `POST /api/v1/auth/mfa/factors`: the caller's factors and how many
/// recovery codes are left.
#[server(prefix = "/api/v1", endpoint = "auth/mfa/factors")]
pub async fn list_factors() -> Result<FactorList, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.account().factors().await?)
}

/// `POST /api/v1/auth/mfa/factors/remove` `{"factor_id"}`: removes one of
/// the caller's factors (the last takes the recovery codes with it).
#[server(prefix = "/api/v1", endpoint = "auth/mfa/factors/remove", input = Json)]
pub async fn remove_factor(#[server(flatten)] body: FactorId) -> Result<FactorId, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.account().remove_factor(&body.factor_id).await?)
}

/// `POST /api/v1/auth/mfa/recovery-codes`: a new set of 10 recovery
/// codes, shown once; the old ones stop working.
#[server(prefix = "/api/v1", endpoint = "auth/mfa/recovery-codes")]
pub async fn new_recovery_codes() -> Result<RecoveryCodes, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.account().new_recovery_codes().await?)
}
