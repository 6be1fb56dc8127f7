//! The caller's second factors: `/api/v1/auth/mfa/*` (signing in with one
//! is `verify_mfa` in `auth`). Once the account has a factor, every change
//! needs a recent sign-in with it (403 `step_up_required`).

use gatehouse::api::mfa::{
    Ceremony, DeviceId, FactorConfirmed, FactorId, FactorList, RecoveryCodes, TotpConfirmRequest,
    TotpEnrollRequest, TotpEnrollment, WebauthnRegisterFinishRequest, WebauthnRegisterStartRequest,
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
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

/// `POST /api/v1/auth/mfa/webauthn/register/start` `{}` or `{"label"}`:
/// options for the browser's `navigator.credentials.create` (read them
/// with `PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey)`).
#[server(prefix = "/api/v1", endpoint = "auth/mfa/webauthn/register/start", input = Json)]
pub async fn register_webauthn_start(
    #[server(flatten)] body: WebauthnRegisterStartRequest,
) -> Result<Ceremony, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller
        .account()
        .start_webauthn_registration(body.label.as_deref())
        .await?)
}

/// `POST /api/v1/auth/mfa/webauthn/register/finish`
/// `{"ceremony_id","credential"}` (`credential`: the browser's
/// `PublicKeyCredential.toJSON()`): the new security key or passkey is a
/// factor; the account's first comes with 10 recovery codes. An answer
/// that does not verify is 422 `validation_failed`.
#[server(prefix = "/api/v1", endpoint = "auth/mfa/webauthn/register/finish", input = Json)]
pub async fn register_webauthn_finish(
    #[server(flatten)] body: WebauthnRegisterFinishRequest,
) -> Result<FactorConfirmed, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller
        .account()
        .finish_webauthn_registration(&body.ceremony_id, &body.credential)
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

/// `POST /api/v1/auth/mfa/devices/forget` `{"device_id"}`: this browser
/// (or another the caller remembered) asks for the second factor again.
#[server(prefix = "/api/v1", endpoint = "auth/mfa/devices/forget", input = Json)]
pub async fn forget_device(#[server(flatten)] body: DeviceId) -> Result<DeviceId, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.account().forget_device(&body.device_id).await?)
}

/// The account page's TOTP enrolment: [`enroll_totp`]'s answer and its
/// `otpauth://` URI drawn as a QR code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpEnrollPage {
    pub enrollment: TotpEnrollment,
    /// An `<svg>` element (dark modules on white, with the quiet zone).
    pub qr_svg: String,
}

/// [`enroll_totp`] for the account page, with the QR code drawn here so
/// that the browser bundle carries no QR encoder. Not part of the JSON API.
#[server(prefix = "/api/v1", endpoint = "ui/totp-enroll")]
pub async fn enroll_totp_page() -> Result<TotpEnrollPage, FnError> {
    let caller = crate::caller::signed_in()?;
    let enrollment = caller.account().enroll_totp(None).await?;
    let qr_svg = ssr::qr_svg(&enrollment.otpauth_uri)?;
    Ok(TotpEnrollPage { enrollment, qr_svg })
}

#[cfg(feature = "ssr")]
mod ssr {
    use gatehouse::api::ApiError;
    use qrcode::render::svg;

    /// `text` as a QR code: an `<svg>` element without the XML declaration,
    /// scaled by the page.
    pub fn qr_svg(text: &str) -> Result<String, ApiError> {
        let code = qrcode::QrCode::new(text.as_bytes()).map_err(|err| {
            tracing::error!(%err, "the enrolment URI does not fit a QR code");
            ApiError::internal()
        })?;
        let image = code
            .render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build();
        Ok(match image.find("<svg") {
            Some(start) => image[start..].to_owned(),
            None => image,
        })
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn the_qr_code_is_an_svg_element() {
            let svg =
                super::qr_svg("otpauth://totp/Gatehouse:alice?secret=JBSWY3DPEHPK3PXP").unwrap();
            assert!(svg.starts_with("<svg"), "{svg}");
            assert!(svg.ends_with("</svg>"), "{svg}");
            assert!(!svg.contains("<script"));
        }
    }
}
