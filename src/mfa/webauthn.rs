//! WebAuthn factors, security keys and passkeys, verified by `webauthn-rs`
//! (the kanidm project's implementation).
//!
//! Why it is built this way:
//! - One registration serves both kinds. The browser is asked for a
//!   discoverable credential where the authenticator can keep one
//!   (`residentKey: preferred`) and for user verification where it can.
//!   The answer decides the kind: a credential the authenticator kept
//!   (`credProps.rk`) is a *passkey*, which also signs in without a
//!   password; any other is a security key, a second factor after the
//!   password.
//! - Assurance comes from each assertion, not from the registration:
//!   [`Asserted::user_verified`] is this assertion's UV flag, and a
//!   sign-in with a passkey alone requires it (the authenticator's PIN or
//!   biometrics are the second factor there). A credential that verified
//!   its user at registration must keep doing so (`webauthn-rs` enforces
//!   it).
//! - A ceremony's state (its challenge, and whom it is for) waits sealed
//!   in Redis for [`CEREMONY_TTL`] and is taken with `GETDEL`: one start,
//!   at most one finish, on any instance.
//! - Credentials are sealed like TOTP secrets, bound to their user and
//!   factor: someone who can write to Redis cannot plant a key of theirs.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use webauthn_rs::prelude::{
    Credential, DiscoverableAuthentication, PublicKeyCredential, RegisterPublicKeyCredential,
    SecurityKey, SecurityKeyAuthentication, SecurityKeyRegistration, Url, Uuid, Webauthn,
    WebauthnBuilder,
};
use webauthn_rs_proto::{ExtnState, ResidentKeyRequirement};

use super::{Confirmed, Factors, Kind, MAX_FACTORS, MfaError};
use crate::api::assurance::{Amr, Method as AmrMethod};
use crate::store::keys;

/// How long a ceremony waits for its finish.
pub const CEREMONY_TTL: Duration = Duration::from_secs(5 * 60);

static ADD: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("add.lua")));
static USED: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("used.lua")));

/// This service as authenticators see it: its origin, and its host as the
/// relying party id that every credential is bound to.
pub struct RelyingParty {
    webauthn: Webauthn,
}

impl RelyingParty {
    /// The relying party at `public_url` (where browsers reach the
    /// service). WebAuthn binds credentials to a host name, so an IP
    /// address is refused.
    pub fn new(public_url: &str) -> Result<Self, String> {
        let url =
            Url::parse(public_url).map_err(|err| format!("{public_url:?} is not a URL ({err})"))?;
        let host = url
            .host_str()
            .ok_or_else(|| format!("{public_url:?} has no host"))?;
        if host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok()
        {
            return Err(format!(
                "{public_url:?} names an IP address: WebAuthn needs a host name \
                 (http://localhost:PORT on one machine, else the service's domain)"
            ));
        }
        let webauthn = WebauthnBuilder::new(host, &url)
            .and_then(|builder| builder.rp_name("Gatehouse").build())
            .map_err(|err| format!("{public_url:?} cannot be a WebAuthn origin ({err})"))?;
        Ok(Self { webauthn })
    }
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty").finish_non_exhaustive()
    }
}

/// What a ceremony waits for.
#[derive(Serialize, Deserialize)]
enum Pending {
    Register {
        user_id: String,
        label: String,
        state: SecurityKeyRegistration,
    },
    /// A second factor after the password (or a step-up), for `ticket`.
    Assert {
        user_id: String,
        ticket: String,
        state: SecurityKeyAuthentication,
    },
    /// A sign-in with a passkey alone.
    Passkey { state: DiscoverableAuthentication },
}

/// A ceremony's first half, for the browser.
#[derive(Clone, Debug)]
pub struct Started {
    pub ceremony_id: String,
    /// `{"publicKey": …}`, as `parse…OptionsFromJSON` reads it.
    pub options: Box<RawValue>,
}

/// An assertion that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Asserted {
    pub user_id: String,
    pub factor_id: String,
    /// The authenticator verified its user (PIN, biometrics) this time.
    pub user_verified: bool,
    /// The credential may be synced to other devices (a software key).
    pub backup_eligible: bool,
}

impl Asserted {
    /// What the assertion proved (RFC 8176): a software key (`swk`, one
    /// that may be synced) or a hardware key (`hwk`), and `user` when the
    /// authenticator verified its user.
    pub fn amr(&self) -> Amr {
        let key = Amr::empty().with(if self.backup_eligible {
            AmrMethod::Swk
        } else {
            AmrMethod::Hwk
        });
        if self.user_verified {
            key.with(AmrMethod::User)
        } else {
            key
        }
    }
}

impl Factors {
    /// Starts registering a security key or passkey for the user.
    pub async fn start_webauthn_registration(
        &self,
        user_id: &str,
        username: &str,
        label: Option<&str>,
    ) -> Result<Started, MfaError> {
        let label = super::label_or(label, "Passkey")?;
        let exclude = self
            .credentials(user_id)
            .await?
            .into_iter()
            .map(|(_, credential)| credential.cred_id)
            .collect();
        let (mut options, state) = self
            .relying_party
            .webauthn
            .start_securitykey_registration(
                user_handle(user_id)?,
                username,
                username,
                Some(exclude),
                None,
                None,
            )
            .map_err(|err| MfaError::Corrupt(format!("WebAuthn registration options: {err}")))?;
        // A passkey where the authenticator can keep one; any kind of
        // authenticator (not only a security key).
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(ResidentKeyRequirement::Preferred);
            selection.require_resident_key = false;
        }
        options.public_key.hints = None;
        // No credProtect: browsers refuse "user verification required" with
        // verification only preferred; a sign-in that needs the user
        // verified asks for it itself.
        if let Some(extensions) = options.public_key.extensions.as_mut() {
            extensions.cred_protect = None;
        }
        let pending = Pending::Register {
            user_id: user_id.to_owned(),
            label: label.to_owned(),
            state,
        };
        self.begin(&pending, &options).await
    }

    /// Finishes a registration with the browser's credential
    /// (`PublicKeyCredential.toJSON()`); the user's first factor comes
    /// with recovery codes.
    pub async fn finish_webauthn_registration(
        &self,
        user_id: &str,
        ceremony_id: &str,
        credential: &RawValue,
    ) -> Result<Confirmed, MfaError> {
        let Some(Pending::Register {
            user_id: owner,
            label,
            state,
        }) = self.take(ceremony_id).await?
        else {
            return Err(MfaError::CeremonyUnknown);
        };
        if owner != user_id {
            return Err(MfaError::CeremonyUnknown);
        }
        let answer: RegisterPublicKeyCredential =
            serde_json::from_str(credential.get()).map_err(|err| {
                MfaError::CredentialRejected(format!("it is not a credential: {err}"))
            })?;
        let key = self
            .relying_party
            .webauthn
            .finish_securitykey_registration(&answer, &state)
            .map_err(|err| MfaError::CredentialRejected(err.to_string()))?;
        let credential = Credential::from(key);
        // What the browser says (`credProps`, unsigned): it only names the
        // kind. A sign-in with the passkey alone still needs an assertion
        // that verifies with this credential's key.
        let passkey = matches!(
            &credential.extensions.cred_props,
            ExtnState::Set(props) | ExtnState::Unsolicited(props) | ExtnState::Unsigned(props)
                if props.rk == Some(true)
        );
        let factor_id = crate::random::hex::<8>();
        let sealed = self.seal_credential(user_id, &factor_id, &credential)?;
        let created = crate::duration::epoch_ms().to_string();
        let fields = [
            "k",
            Kind::Webauthn.as_str(),
            "l",
            &label,
            "c",
            &created,
            "s",
            &sealed,
            "ok",
            "1",
            "pk",
            flag(passkey),
            "be",
            flag(credential.backup_eligible),
        ];
        let (codes, hashes) = self.recovery_set();
        let added: i64 = self
            .durably(
                "mfa_enrolled",
                ADD.key(keys::mfa_factor(user_id, &factor_id))
                    .key(keys::mfa_factors(user_id))
                    .key(keys::mfa_recovery(user_id))
                    .arg(&factor_id)
                    .arg(MAX_FACTORS)
                    .arg(fields.len())
                    .arg(&fields[..])
                    .arg(&hashes),
            )
            .await?;
        match added {
            -1 => Err(MfaError::TooManyFactors),
            first => Ok(Confirmed {
                factor_id,
                recovery_codes: (first == 2).then_some(codes),
            }),
        }
    }

    /// Starts proving the user's security key or passkey for `ticket` (a
    /// sign-in's or a step-up's); `NoFactor` without one.
    pub async fn start_webauthn_assertion(
        &self,
        user_id: &str,
        ticket: &str,
    ) -> Result<Started, MfaError> {
        let keys: Vec<SecurityKey> = self
            .credentials(user_id)
            .await?
            .into_iter()
            .map(|(_, credential)| SecurityKey::from(credential))
            .collect();
        if keys.is_empty() {
            return Err(MfaError::NoFactor);
        }
        let (mut options, state) = self
            .relying_party
            .webauthn
            .start_securitykey_authentication(&keys)
            .map_err(|err| MfaError::Corrupt(format!("WebAuthn request options: {err}")))?;
        options.public_key.hints = None;
        let pending = Pending::Assert {
            user_id: user_id.to_owned(),
            ticket: ticket.to_owned(),
            state,
        };
        self.begin(&pending, &options).await
    }

    /// Finishes an assertion started for `ticket`: `None` when the
    /// ceremony is unknown, expired, someone else's, or the answer does not
    /// verify.
    pub async fn finish_webauthn_assertion(
        &self,
        ticket: &str,
        ceremony_id: &str,
        credential: &RawValue,
    ) -> Result<Option<Asserted>, MfaError> {
        let Some((
            Pending::Assert {
                user_id,
                ticket: expected,
                state,
            },
            answer,
        )) = self.take_answer(ceremony_id, credential).await?
        else {
            return Ok(None);
        };
        if expected != ticket {
            return Ok(None);
        }
        let Ok(result) = self
            .relying_party
            .webauthn
            .finish_securitykey_authentication(&answer, &state)
        else {
            return Ok(None);
        };
        let credentials = self.credentials(&user_id).await?;
        self.used(&user_id, credentials, result).await
    }

    /// Starts a sign-in with a passkey alone: the browser offers the
    /// passkeys it has for this site.
    pub async fn start_passkey(&self) -> Result<Started, MfaError> {
        let (mut options, state) = self
            .relying_party
            .webauthn
            .start_discoverable_authentication()
            .map_err(|err| MfaError::Corrupt(format!("WebAuthn request options: {err}")))?;
        // A button press, not the autofill `conditional` mediation.
        options.mediation = None;
        self.begin(&Pending::Passkey { state }, &options).await
    }

    /// Finishes a passkey sign-in: whose passkey it was, when it verified
    /// with the authenticator verifying its user (`None` otherwise).
    pub async fn finish_passkey(
        &self,
        ceremony_id: &str,
        credential: &RawValue,
    ) -> Result<Option<Asserted>, MfaError> {
        let Some((Pending::Passkey { state }, answer)) =
            self.take_answer(ceremony_id, credential).await?
        else {
            return Ok(None);
        };
        let webauthn = &self.relying_party.webauthn;
        let Ok((handle, credential_id)) = webauthn.identify_discoverable_authentication(&answer)
        else {
            return Ok(None);
        };
        let user_id = handle.simple().to_string();
        if !keys::is_id(&user_id) {
            return Ok(None);
        }
        let credentials = self.credentials(&user_id).await?;
        let Some((_, stored)) = credentials
            .iter()
            .find(|(_, stored)| stored.cred_id.as_slice() == credential_id)
        else {
            return Ok(None);
        };
        match webauthn.finish_discoverable_authentication_v2(&answer, state, stored) {
            Ok(result) if result.user_verified() => self.used(&user_id, credentials, result).await,
            _ => Ok(None),
        }
    }

    /// Takes a ceremony out of Redis (so it works once) with the browser's
    /// answer to it; `None` for an unknown ceremony or an unreadable answer.
    async fn take_answer(
        &self,
        ceremony_id: &str,
        credential: &RawValue,
    ) -> Result<Option<(Pending, PublicKeyCredential)>, MfaError> {
        let Some(pending) = self.take(ceremony_id).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_str(credential.get())
            .ok()
            .map(|answer| (pending, answer)))
    }

    /// Records a verified assertion on its factor, one of the user's
    /// `credentials` as read for the ceremony (last used, and the
    /// authenticator's counter and backup state), and says what it proved.
    async fn used(
        &self,
        user_id: &str,
        credentials: Vec<(String, Credential)>,
        result: webauthn_rs::prelude::AuthenticationResult,
    ) -> Result<Option<Asserted>, MfaError> {
        let Some((factor_id, credential)) = credentials
            .into_iter()
            .find(|(_, credential)| credential.cred_id == *result.cred_id())
        else {
            // Removed since the ceremony started.
            return Ok(None);
        };
        let mut key = SecurityKey::from(credential);
        key.update_credential(&result);
        let credential = Credential::from(key);
        let sealed = self.seal_credential(user_id, &factor_id, &credential)?;
        let recorded: u64 = USED
            .key(keys::mfa_factor(user_id, &factor_id))
            .arg(&["s", &sealed, "u", &crate::duration::epoch_ms().to_string()])
            .arg(&["be", flag(credential.backup_eligible)])
            .invoke_async(&mut self.store.conn())
            .await?;
        if recorded == 0 {
            return Ok(None);
        }
        Ok(Some(Asserted {
            user_id: user_id.to_owned(),
            factor_id,
            user_verified: result.user_verified(),
            backup_eligible: credential.backup_eligible,
        }))
    }

    /// The user's confirmed WebAuthn credentials, by factor id.
    async fn credentials(&self, user_id: &str) -> Result<Vec<(String, Credential)>, MfaError> {
        let ids = self.factor_ids(user_id).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("HMGET")
                .arg(keys::mfa_factor(user_id, id))
                .arg(&["k", "s"]);
        }
        let replies: Vec<(Option<String>, Option<String>)> =
            pipe.query_async(&mut self.store.conn()).await?;
        let mut credentials = Vec::new();
        for (factor_id, reply) in ids.into_iter().zip(replies) {
            if let (Some(kind), Some(sealed)) = reply
                && Kind::parse(&kind) == Some(Kind::Webauthn)
            {
                let json = self.keys.unseal(user_id, &factor_id, &sealed)?;
                let credential = serde_json::from_slice(&json).map_err(|err| {
                    MfaError::Corrupt(format!("credential of factor {factor_id}: {err}"))
                })?;
                credentials.push((factor_id, credential));
            }
        }
        Ok(credentials)
    }

    fn seal_credential(
        &self,
        user_id: &str,
        factor_id: &str,
        credential: &Credential,
    ) -> Result<String, MfaError> {
        let json = serde_json::to_vec(credential)
            .map_err(|err| MfaError::Corrupt(format!("a credential: {err}")))?;
        self.keys.seal(user_id, factor_id, &json)
    }

    /// Keeps `pending` for [`CEREMONY_TTL`] under a new ceremony id.
    async fn begin(
        &self,
        pending: &Pending,
        options: &impl Serialize,
    ) -> Result<Started, MfaError> {
        let ceremony_id = crate::random::hex::<16>();
        let json = serde_json::to_vec(pending)
            .map_err(|err| MfaError::Corrupt(format!("a WebAuthn ceremony: {err}")))?;
        let sealed = self.keys.seal(CEREMONY, &ceremony_id, &json)?;
        let options = serde_json::value::to_raw_value(options)
            .map_err(|err| MfaError::Corrupt(format!("WebAuthn options: {err}")))?;
        let _: () = redis::cmd("SET")
            .arg(keys::mfa_ceremony(&ceremony_id))
            .arg(sealed)
            .arg("PX")
            .arg(crate::duration::millis(CEREMONY_TTL))
            .query_async(&mut self.store.conn())
            .await?;
        Ok(Started {
            ceremony_id,
            options,
        })
    }

    /// Takes a ceremony: its state for exactly one caller.
    async fn take(&self, ceremony_id: &str) -> Result<Option<Pending>, MfaError> {
        if !keys::is_id(ceremony_id) || ceremony_id.len() != 32 {
            return Ok(None);
        }
        let sealed: Option<String> = redis::cmd("GETDEL")
            .arg(keys::mfa_ceremony(ceremony_id))
            .query_async(&mut self.store.conn())
            .await?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let json = self.keys.unseal(CEREMONY, ceremony_id, &sealed)?;
        serde_json::from_slice(&json)
            .map(Some)
            .map_err(|err| MfaError::Corrupt(format!("a WebAuthn ceremony: {err}")))
    }
}

/// What ceremonies are sealed for (in place of a user id).
const CEREMONY: &str = "webauthn ceremony";

/// The WebAuthn user handle of a user: their 16-byte id.
fn user_handle(user_id: &str) -> Result<Uuid, MfaError> {
    Uuid::try_parse(user_id)
        .map_err(|_| MfaError::Corrupt(format!("user id {user_id} is not 16 bytes of hex")))
}

fn flag(on: bool) -> &'static str {
    if on { "1" } else { "0" }
}
