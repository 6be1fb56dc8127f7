//! Access and refresh tokens (JWTs).
//!
//! An access token is a short-lived JWT (default 15 minutes) that services
//! verify locally; a refresh token is a long-lived JWT (default 7 days)
//! that only Gatehouse accepts, to mint new pairs. Both carry `sub` (user
//! id), `sid` (session id), `jti`, `iat`, `nbf`, `exp`, `iss`, `aud` and a
//! `token_use` claim (`access` or `refresh`) so one can never stand in for
//! the other; the header carries `kid`. A service verifying access tokens
//! with the JWKS checks `aud` but knows nothing of `token_use`, so refresh
//! tokens also carry their own audience (`<audience>:refresh`) and header
//! type (`refresh+jwt`): no access-token verifier accepts one.
//!
//! Verification is strict and local (no Redis): the header must name a
//! known `kid` and use exactly that key's algorithm (no `alg: none`, no
//! HS256-with-a-public-key confusion), the signature must match, and
//! `iss`, `aud`, `exp` and `nbf` must hold within a small leeway. Whether
//! the session is still alive is the session module's job, in the same
//! single round trip as the rest of request validation.

mod keys;
mod verify;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::Header;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use crate::api::assurance::{Amr, Assurance};
pub use keys::{KeyError, Keyring, MIN_SECRET_BYTES};

/// Longest token accepted, in bytes; anything longer is garbage.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Token lifetimes and the claims every token carries.
#[derive(Clone, Debug)]
pub struct TokenConfig {
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            issuer: "gatehouse".to_owned(),
            audience: "gatehouse".to_owned(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(7 * 24 * 3600),
            leeway: Duration::from_secs(5),
        }
    }
}

/// Which kind of token this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenUse {
    Access,
    Refresh,
}

/// Claims of an access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: String,
    pub sid: String,
    pub jti: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub iss: String,
    pub aud: String,
    /// The username at sign-in, so services need no lookup to greet.
    pub name: String,
    pub roles: Vec<String>,
    pub token_use: TokenUse,
    /// How the session's user signed in (RFC 8176), its assurance level
    /// and when (see [`crate::api::assurance`]): set at sign-in, copied
    /// by refresh and renewal, never raised by them.
    #[serde(default = "Amr::password")]
    pub amr: Amr,
    #[serde(default = "crate::api::assurance::aal_one")]
    pub aal: u8,
    #[serde(default)]
    pub auth_time: u64,
    /// Issued to a session that must change its password before anything
    /// else (`pwc`, present only then). Redis decides this for every
    /// request; the claim is what degraded mode, which cannot ask, goes by.
    #[serde(rename = "pwc", default, skip_serializing_if = "std::ops::Not::not")]
    pub must_change_password: bool,
    /// Issued to a session whose user must enrol a second factor first
    /// (`--mfa-required-roles`; `enr`, present only then): like `pwc`.
    #[serde(rename = "enr", default, skip_serializing_if = "std::ops::Not::not")]
    pub must_enroll_mfa: bool,
}

/// What a session must do before anything else. Redis holds it for every
/// request; access tokens carry it (`pwc`, `enr`) for degraded mode, which
/// cannot ask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    /// Choose a new password.
    pub password_change: bool,
    /// Enrol a second factor (the user's role requires one).
    pub mfa_enrollment: bool,
}

impl AccessClaims {
    /// What the session had pending when this token was issued.
    pub fn pending(&self) -> Pending {
        Pending {
            password_change: self.must_change_password,
            mfa_enrollment: self.must_enroll_mfa,
        }
    }
}

/// Claims of a refresh token. `gen` (`generation`) is the session's refresh generation
/// this token belongs to; rotation advances it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshClaims {
    pub sub: String,
    pub sid: String,
    pub jti: String,
    #[serde(rename = "gen")]
    pub generation: u64,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub iss: String,
    pub aud: String,
    pub token_use: TokenUse,
    /// How the session's user signed in (RFC 8176), its assurance level
    /// and when (see [`crate::api::assurance`]): set at sign-in, copied
    /// by refresh and renewal, never raised by them.
    #[serde(default = "Amr::password")]
    pub amr: Amr,
    #[serde(default = "crate::api::assurance::aal_one")]
    pub aal: u8,
    #[serde(default)]
    pub auth_time: u64,
}

impl AccessClaims {
    pub fn assurance(&self) -> Assurance {
        Assurance {
            amr: self.amr,
            aal: self.aal,
            auth_time: self.auth_time,
        }
    }
}

impl RefreshClaims {
    pub fn assurance(&self) -> Assurance {
        Assurance {
            amr: self.amr,
            aal: self.aal,
            auth_time: self.auth_time,
        }
    }
}

/// A freshly signed token and its claims.
#[derive(Clone, Debug)]
pub struct Issued<C> {
    pub token: String,
    pub claims: C,
}

/// Why a token was not accepted. The reason is for logs; clients only
/// learn "expired" or "invalid".
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is invalid: {0}")]
    Invalid(&'static str),
    #[error("the token could not be signed: {0}")]
    Signing(String),
}

/// Issues and verifies tokens. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Tokens {
    keyring: Keyring,
    config: TokenConfig,
    /// `aud` of refresh tokens: never the access tokens' audience.
    refresh_audience: String,
}

/// What a token is verified as.
#[derive(Clone, Copy)]
enum Kind {
    Access,
    /// An access token past its `exp`, to renew the current token of a
    /// live session.
    ExpiredAccess,
    Refresh,
}

/// JWT header `typ` of refresh tokens.
const REFRESH_TYP: &str = "refresh+jwt";

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

impl Tokens {
    pub fn new(keyring: Keyring, config: TokenConfig) -> Self {
        let refresh_audience = format!("{}:refresh", config.audience);
        Self {
            keyring,
            config,
            refresh_audience,
        }
    }

    pub fn config(&self) -> &TokenConfig {
        &self.config
    }

    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// Signs an access token for a session.
    pub fn issue_access(
        &self,
        user_id: &str,
        username: &str,
        session_id: &str,
        roles: Vec<String>,
        pending: Pending,
        assurance: Assurance,
    ) -> Result<Issued<AccessClaims>, TokenError> {
        let now = now_secs();
        let claims = AccessClaims {
            sub: user_id.to_owned(),
            sid: session_id.to_owned(),
            jti: crate::random::hex::<16>(),
            iat: now,
            nbf: now,
            exp: now + self.config.access_ttl.as_secs(),
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            name: username.to_owned(),
            roles,
            token_use: TokenUse::Access,
            must_change_password: pending.password_change,
            must_enroll_mfa: pending.mfa_enrollment,
            amr: assurance.amr,
            aal: assurance.aal,
            auth_time: assurance.auth_time,
        };
        Ok(Issued {
            token: self.sign(&claims)?,
            claims,
        })
    }

    /// Signs a refresh token for generation `generation` of a session.
    pub fn issue_refresh(
        &self,
        user_id: &str,
        session_id: &str,
        generation: u64,
        assurance: Assurance,
    ) -> Result<Issued<RefreshClaims>, TokenError> {
        let now = now_secs();
        let claims = RefreshClaims {
            sub: user_id.to_owned(),
            sid: session_id.to_owned(),
            jti: crate::random::hex::<16>(),
            generation,
            iat: now,
            nbf: now,
            exp: now + self.config.refresh_ttl.as_secs(),
            iss: self.config.issuer.clone(),
            aud: self.refresh_audience.clone(),
            token_use: TokenUse::Refresh,
            amr: assurance.amr,
            aal: assurance.aal,
            auth_time: assurance.auth_time,
        };
        Ok(Issued {
            token: self.sign_typed(&claims, Some(REFRESH_TYP))?,
            claims,
        })
    }

    /// Verifies an access token's signature and claims (no Redis).
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let claims: AccessClaims = self.verify_inner(token, Kind::Access)?;
        if claims.token_use != TokenUse::Access {
            return Err(TokenError::Invalid("not an access token"));
        }
        Ok(claims)
    }

    /// Verifies an access token like [`Tokens::verify_access`] but accepts
    /// it after its `exp`: for renewing the current token of a live session
    /// (the caller must check that it is).
    pub fn verify_access_expired(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let claims: AccessClaims = self.verify_inner(token, Kind::ExpiredAccess)?;
        if claims.token_use != TokenUse::Access {
            return Err(TokenError::Invalid("not an access token"));
        }
        Ok(claims)
    }

    /// Verifies a refresh token's signature and claims (no Redis). Refresh
    /// tokens issued before they had their own audience carry the access
    /// audience; `token_use` still tells them apart here, and they are
    /// accepted until they expire so that upgrading signs no one out.
    pub fn verify_refresh(&self, token: &str) -> Result<RefreshClaims, TokenError> {
        let claims: RefreshClaims = self.verify_inner(token, Kind::Refresh)?;
        if claims.token_use != TokenUse::Refresh {
            return Err(TokenError::Invalid("not a refresh token"));
        }
        Ok(claims)
    }

    fn sign<C: Serialize>(&self, claims: &C) -> Result<String, TokenError> {
        self.sign_typed(claims, None)
    }

    /// Signs with the header `typ` set to `typ` (default `JWT`).
    fn sign_typed<C: Serialize>(
        &self,
        claims: &C,
        typ: Option<&str>,
    ) -> Result<String, TokenError> {
        let key = &self.keyring.signing;
        let mut header = Header::new(key.alg);
        header.kid = Some(key.kid.clone());
        if let Some(typ) = typ {
            header.typ = Some(typ.to_owned());
        }
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .map_err(|e| TokenError::Signing(e.to_string()))
    }

    fn verify_inner<C: DeserializeOwned + verify::Registered>(
        &self,
        token: &str,
        kind: Kind,
    ) -> Result<C, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Invalid("too long"));
        }
        let access = [self.config.audience.as_str()];
        let refresh = [
            self.refresh_audience.as_str(),
            self.config.audience.as_str(),
        ];
        let rules = verify::Rules {
            issuer: &self.config.issuer,
            audiences: match kind {
                Kind::Access | Kind::ExpiredAccess => &access,
                // Refresh tokens issued before they had their own audience
                // carry the access audience (see `verify_refresh`).
                Kind::Refresh => &refresh,
            },
            check_expiry: !matches!(kind, Kind::ExpiredAccess),
            leeway: self.config.leeway.as_secs(),
            now: now_secs(),
        };
        verify::verify(token, &self.keyring, &rules)
    }
}

impl verify::Registered for AccessClaims {
    fn exp(&self) -> u64 {
        self.exp
    }
    fn nbf(&self) -> u64 {
        self.nbf
    }
    fn iss(&self) -> &str {
        &self.iss
    }
    fn aud(&self) -> &str {
        &self.aud
    }
}

impl verify::Registered for RefreshClaims {
    fn exp(&self) -> u64 {
        self.exp
    }
    fn nbf(&self) -> u64 {
        self.nbf
    }
    fn iss(&self) -> &str {
        &self.iss
    }
    fn aud(&self) -> &str {
        &self.aud
    }
}

/// The HS256 secret shared by all instances when the operator configured
/// no key: created once (`SET NX`, so concurrent first starts agree) and
/// read by every instance from Redis.
///
/// Anyone who can read Redis can then forge tokens, but anyone who can
/// write Redis can already create sessions and admins; configure key
/// files (`--jwt-key-file`) to keep signing keys out of Redis.
pub async fn shared_default_secret(store: &crate::Store) -> Result<Vec<u8>, crate::StoreError> {
    use base64::Engine;
    let fresh = base64::engine::general_purpose::STANDARD.encode(crate::random::bytes::<48>());
    let previous: Option<String> = redis::cmd("SET")
        .arg(crate::store::keys::jwt_default_secret())
        .arg(&fresh)
        .arg("NX")
        .arg("GET")
        .query_async(&mut store.conn())
        .await?;
    Ok(previous.unwrap_or(fresh).into_bytes())
}

#[cfg(test)]
mod tests;
