//! Second factors: TOTP authenticators, security keys and passkeys
//! (WebAuthn, see `webauthn`) and recovery codes, and the
//! tickets that carry a sign-in from its password to its second factor.
//!
//! Where other products are weak, this is strict by construction:
//! - A TOTP code works once. Each factor records the last time step it
//!   accepted, and one script accepts a step only if it is later
//!   (`accept.lua`): of any number of concurrent sign-ins with one code,
//!   exactly one gets through, and an older code never does.
//! - Nothing in Redis lets anyone in: TOTP secrets are sealed with a key
//!   Redis never sees (bound to their user and factor), recovery codes are
//!   kept as keyed hashes, and a code is taken out when used (`SREM`).
//! - A ticket (a sign-in whose password was right) lives minutes, is bound
//!   to its user, and counts its attempts before the code is checked
//!   (`attempt.lua`), so racing guesses cannot exceed the limit.
//! - A factor is a factor only once confirmed with a code from the
//!   authenticator; an unconfirmed one expires. The user's first factor
//!   brings the recovery codes in the same script, and removing the last
//!   one takes them away.
//!
//! This module stores and checks factors; what a request may do with them
//! (sign-in, step-up, policy) is decided by `auth` and `ops`.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::{FromRedisValue, Script, ScriptInvocation};

use crate::store::{Store, StoreError, keys};

mod devices;
mod list;
mod recovery;
mod secret;
mod ticket;
pub mod totp;
mod webauthn;

#[cfg(test)]
mod tests;

pub use devices::{DEVICE_TTL, RememberedDevice};
pub use list::{Enrolled, Factor};
pub use ticket::{ATTEMPTS, Attempt, Method, TTL as TICKET_TTL, Ticket};
pub use webauthn::{Asserted, CEREMONY_TTL, RelyingParty, Started};

/// The issuer authenticator apps show.
pub const ISSUER: &str = "Gatehouse";
/// Confirmed factors a user may have.
pub const MAX_FACTORS: u64 = 20;
/// Factors a user may have awaiting confirmation at once.
pub const MAX_PENDING: u64 = 5;
/// How long an enrolment may wait for its confirming code.
pub const PENDING_TTL: Duration = Duration::from_secs(10 * 60);
/// Recovery codes per set.
pub const RECOVERY_CODES: usize = 10;
/// The longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 64;

static ENROLL: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("enroll.lua")));
static ACCEPT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("accept.lua")));
static REMOVE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("remove.lua")));
static RESET: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("reset.lua")));

/// Why a second-factor operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no such factor: list the user's factors for their ids")]
    NotFound,
    #[error("the label is longer than {MAX_LABEL_CHARS} characters or has control characters")]
    InvalidLabel,
    #[error("the user has {MAX_FACTORS} factors, the most there may be: remove one first")]
    TooManyFactors,
    #[error(
        "{MAX_PENDING} factors await confirmation: confirm one, or wait for them to expire (10 minutes)"
    )]
    TooManyPending,
    #[error("the user has no second factor: enrol one first")]
    NoFactor,
    #[error("the WebAuthn ceremony is unknown, expired or finished: start it again")]
    CeremonyUnknown,
    #[error("the authenticator's answer did not verify: {0}")]
    CredentialRejected(String),
    #[error("corrupt second-factor data: {0}")]
    Corrupt(String),
}

impl From<redis::RedisError> for MfaError {
    fn from(err: redis::RedisError) -> Self {
        MfaError::Store(err.into())
    }
}

/// The kinds of factor: the wire type.
pub use crate::api::mfa::FactorKind as Kind;

/// A TOTP factor awaiting its confirming code: what the authenticator app
/// needs, shown once.
#[derive(Clone, Debug)]
pub struct TotpEnrolment {
    pub factor_id: String,
    /// The secret, base32.
    pub secret: String,
    /// `otpauth://totp/Gatehouse:<username>?…`, for a QR code.
    pub otpauth_uri: String,
}

/// A factor just confirmed; a user's first factor comes with recovery
/// codes, shown once.
#[derive(Clone, Debug)]
pub struct Confirmed {
    pub factor_id: String,
    pub recovery_codes: Option<Vec<String>>,
}

/// The second factors of all users. Cheap to clone.
#[derive(Clone)]
pub struct Factors {
    store: Store,
    keys: Arc<secret::Keys>,
    relying_party: Arc<RelyingParty>,
    ticket_ttl: Duration,
}

impl std::fmt::Debug for Factors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Factors").finish_non_exhaustive()
    }
}

impl Factors {
    /// Factors on `store`, sealed with keys derived from `key` (which must
    /// stay the same for as long as the factors live: a new key makes
    /// every TOTP secret and WebAuthn credential unreadable), with
    /// WebAuthn credentials bound to `relying_party`.
    pub fn new(store: Store, key: &[u8; 32], relying_party: Arc<RelyingParty>) -> Self {
        Self {
            store,
            keys: Arc::new(secret::Keys::derive(key)),
            relying_party,
            ticket_ttl: ticket::TTL,
        }
    }

    /// Starts a TOTP enrolment: a new secret, kept sealed, that becomes a
    /// factor once [`Factors::confirm_totp`] sees a code of it.
    pub async fn enroll_totp(
        &self,
        user_id: &str,
        username: &str,
        label: Option<&str>,
    ) -> Result<TotpEnrolment, MfaError> {
        let label = label_or(label, "Authenticator app")?;
        let factor_id = crate::random::hex::<8>();
        let secret = crate::random::bytes::<{ totp::SECRET_BYTES }>();
        let sealed = self.keys.seal(user_id, &factor_id, &secret)?;
        let stored: i64 = ENROLL
            .key(keys::mfa_factor(user_id, &factor_id))
            .key(keys::mfa_pending(user_id))
            .key(keys::mfa_factors(user_id))
            .key(keys::mfa_factor_prefix(user_id))
            .arg(&factor_id)
            .arg(crate::duration::millis(PENDING_TTL))
            .arg(MAX_PENDING)
            .arg(MAX_FACTORS)
            .arg(&[
                "k",
                Kind::Totp.as_str(),
                "l",
                label,
                "c",
                &crate::duration::epoch_ms().to_string(),
                "s",
                &sealed,
                "ok",
                "0",
            ])
            .invoke_async(&mut self.store.conn())
            .await?;
        match stored {
            1 => Ok(TotpEnrolment {
                otpauth_uri: totp::otpauth_uri(ISSUER, username, &secret),
                secret: totp::base32(&secret),
                factor_id,
            }),
            0 => Err(MfaError::TooManyPending),
            _ => Err(MfaError::TooManyFactors),
        }
    }

    /// Confirms a TOTP enrolment with a code of its secret. `None` when
    /// the code is wrong (or its step was used). The user's first factor
    /// comes with a new set of recovery codes.
    pub async fn confirm_totp(
        &self,
        user_id: &str,
        factor_id: &str,
        code: &str,
    ) -> Result<Option<Confirmed>, MfaError> {
        if !keys::is_id(factor_id) {
            return Err(MfaError::NotFound);
        }
        let Some(secret) = self.secret(user_id, factor_id, false).await? else {
            return Err(MfaError::NotFound);
        };
        let Some(step) = totp::matching_step(&secret, code, now_secs()) else {
            return Ok(None);
        };
        let (codes, hashes) = self.recovery_set();
        match self.accept(user_id, factor_id, step, true, &hashes).await? {
            0 => Err(MfaError::NotFound),
            -1 => Ok(None),
            first => Ok(Some(Confirmed {
                factor_id: factor_id.to_owned(),
                recovery_codes: (first == 2).then_some(codes),
            })),
        }
    }

    /// The id of the user's TOTP factor that `code` is a current code of,
    /// if any, accepting its step (so the code works this once).
    pub async fn verify_totp(&self, user_id: &str, code: &str) -> Result<Option<String>, MfaError> {
        let now = now_secs();
        for factor_id in self.factor_ids(user_id).await? {
            let Some(secret) = self.secret(user_id, &factor_id, true).await? else {
                continue;
            };
            let Some(step) = totp::matching_step(&secret, code, now) else {
                continue;
            };
            if self.accept(user_id, &factor_id, step, false, &[]).await? == 1 {
                return Ok(Some(factor_id));
            }
        }
        Ok(None)
    }

    /// Whether the user has a confirmed factor.
    pub async fn has_factor(&self, user_id: &str) -> Result<bool, MfaError> {
        let count: u64 = redis::cmd("SCARD")
            .arg(keys::mfa_factors(user_id))
            .query_async(&mut self.store.conn())
            .await?;
        Ok(count > 0)
    }

    /// Removes a factor, confirmed or pending; the last one takes the
    /// recovery codes with it.
    pub async fn remove(&self, user_id: &str, factor_id: &str) -> Result<(), MfaError> {
        if !keys::is_id(factor_id) {
            return Err(MfaError::NotFound);
        }
        let removed: u64 = self
            .durably(
                "mfa_removed",
                REMOVE
                    .key(keys::mfa_factor(user_id, factor_id))
                    .key(keys::mfa_factors(user_id))
                    .key(keys::mfa_pending(user_id))
                    .key(keys::mfa_recovery(user_id))
                    .key(keys::mfa_devices(user_id))
                    .key(keys::mfa_device_prefix(user_id))
                    .arg(factor_id),
            )
            .await?;
        if removed == 1 {
            Ok(())
        } else {
            Err(MfaError::NotFound)
        }
    }

    /// Removes every factor, recovery code and remembered browser of the
    /// user; returns how many confirmed factors there were.
    pub async fn reset(&self, user_id: &str) -> Result<u64, MfaError> {
        self.durably(
            "mfa_reset",
            RESET
                .key(keys::mfa_factors(user_id))
                .key(keys::mfa_pending(user_id))
                .key(keys::mfa_recovery(user_id))
                .key(keys::mfa_factor_prefix(user_id))
                .key(keys::mfa_devices(user_id))
                .key(keys::mfa_device_prefix(user_id)),
        )
        .await
    }

    async fn factor_ids(&self, user_id: &str) -> Result<Vec<String>, MfaError> {
        Ok(redis::cmd("SMEMBERS")
            .arg(keys::mfa_factors(user_id))
            .query_async(&mut self.store.conn())
            .await?)
    }

    /// The unsealed secret of a TOTP factor in the state asked for
    /// (`confirmed`, or pending), or `None`.
    async fn secret(
        &self,
        user_id: &str,
        factor_id: &str,
        confirmed: bool,
    ) -> Result<Option<Vec<u8>>, MfaError> {
        let (kind, sealed, state): (Option<String>, Option<String>, Option<String>) =
            redis::cmd("HMGET")
                .arg(keys::mfa_factor(user_id, factor_id))
                .arg(&["k", "s", "ok"])
                .query_async(&mut self.store.conn())
                .await?;
        let wanted = if confirmed { "1" } else { "0" };
        match (kind.as_deref().and_then(Kind::parse), sealed, state) {
            (Some(Kind::Totp), Some(sealed), Some(state)) if state == wanted => {
                self.keys.unseal(user_id, factor_id, &sealed).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Runs accept.lua (see there for the answers).
    async fn accept(
        &self,
        user_id: &str,
        factor_id: &str,
        step: u64,
        confirm: bool,
        recovery_hashes: &[String],
    ) -> Result<i64, MfaError> {
        self.durably(
            "mfa_step_accepted",
            ACCEPT
                .key(keys::mfa_factor(user_id, factor_id))
                .key(keys::mfa_factors(user_id))
                .key(keys::mfa_pending(user_id))
                .key(keys::mfa_recovery(user_id))
                .arg(factor_id)
                .arg(step)
                .arg(crate::duration::epoch_ms())
                .arg(if confirm { "1" } else { "0" })
                .arg(recovery_hashes),
        )
        .await
    }

    /// Runs a script whose write must survive a failover: a lost step
    /// acceptance would let its code work again, a lost removal would
    /// bring a factor back (see `store::durable`).
    async fn durably<T: FromRedisValue>(
        &self,
        what: &'static str,
        call: &mut ScriptInvocation<'_>,
    ) -> Result<T, MfaError> {
        let mut write = self.store.durable();
        let reply = call.invoke_async(write.conn()).await?;
        write.confirm(what).await;
        Ok(reply)
    }
}

/// The key second factors are sealed with, from the contents of a key
/// file (`--mfa-key-file`): at least 32 bytes of secret (surrounding
/// whitespace ignored), hashed to 32. With one, rotating the token
/// signing key leaves every factor readable.
pub fn key_from_file(contents: &[u8]) -> Result<[u8; 32], String> {
    let secret = contents.trim_ascii();
    if secret.len() < 32 {
        return Err(format!(
            "the key file holds {} bytes of secret; it needs at least 32 (for example \
             `openssl rand -base64 48`)",
            secret.len()
        ));
    }
    use sha2::Digest;
    Ok(sha2::Sha256::new()
        .chain_update(b"gatehouse mfa key file:")
        .chain_update(secret)
        .finalize()
        .into())
}

/// A factor's label as given (trimmed), or `default`.
fn label_or<'a>(label: Option<&'a str>, default: &'a str) -> Result<&'a str, MfaError> {
    let label = match label.map(str::trim) {
        None | Some("") => default,
        Some(label) => label,
    };
    if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
        return Err(MfaError::InvalidLabel);
    }
    Ok(label)
}

fn now_secs() -> u64 {
    crate::duration::epoch_ms() / 1000
}
