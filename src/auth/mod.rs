//! Sign-in and request authentication: the rules that tie users,
//! sessions and tokens together.
//!
//! [`Auth`] is what the server calls. It keeps these promises:
//! - a failed sign-in looks the same whatever the cause (unknown user or
//!   wrong password: same error, and the same Argon2 work, see
//!   [`crate::password`]); only after a *correct* password does a disabled
//!   account learn that it is disabled;
//! - authenticating a request is local signature and claim checks plus
//!   exactly one Redis round trip (the session is alive; its idle timeout
//!   slides);
//! - signing out ends the session, which invalidates every token that
//!   names it, and blacklists its access token;
//! - refreshing rotates the refresh token exactly once however many
//!   callers race, and a rotated refresh token presented again ends the
//!   session (see [`rotation`]).

mod admission;
pub mod challenge;
mod degraded;
mod passkey;
mod password;
mod request;
mod rotation;
mod second_factor;
mod services;
mod sign_in;
mod sign_out;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use admission::{Admission, Caller, Credential, Facts, Refusal, TokenSource};
pub use degraded::Mode;
pub(crate) use request::ADMIT_LUA;
pub use rotation::{Rotated, RotationConfig};
pub use second_factor::Proved;

use crate::api::events::{SessionEnded, Sessions as SessionCount};
use crate::blacklist::{Blacklist, Reason, Revocation};
use crate::events::{Event, EventKind, Events};
use crate::lock::{LockError, Locks};
use crate::password::PasswordError;
use crate::ratelimit::{Check, LimitError, Limiter, Outcome, Subject};
use crate::session::{Ended, NewSession, SessionError, Sessions};
use crate::store::{Store, StoreError};
use crate::token::{AccessClaims, Issued, RefreshClaims, TokenError, Tokens};
use crate::user::policy::MAX_PASSWORD_BYTES;
use crate::user::{MAX_INPUT_BYTES, Role, User, UserError, Users};

/// Who is signing in, from where (built by [`crate::network::Addressing::client`]).
#[derive(Clone, Debug, Default)]
pub struct Client {
    /// The client's address, as events record it.
    pub ip: String,
    /// What rate limits and the sign-in lockout key the client by: the
    /// address, or an IPv6 client's network.
    pub limit_key: String,
    pub user_agent: String,
}

/// A successful sign-in.
#[derive(Clone, Debug)]
pub struct Login {
    pub user: User,
    pub session_id: String,
    pub access: Issued<AccessClaims>,
    pub refresh: Issued<RefreshClaims>,
}

/// The caller of an authenticated request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub user_id: String,
    pub username: String,
    pub session_id: String,
    pub roles: Vec<Role>,
    /// The access token's id, issue time and expiry (seconds since the
    /// epoch).
    pub token_id: String,
    pub token_issued_at: u64,
    pub token_expires_at: u64,
    /// The session's user must change the password before doing anything
    /// else (read with the session; admission refuses everything else).
    pub must_change_password: bool,
    /// The session's user must enrol a second factor before doing
    /// anything else (their role requires one; read with the session).
    #[serde(default)]
    pub must_enroll_mfa: bool,
    /// How the session's user signed in, as its token says.
    pub assurance: crate::token::Assurance,
}

impl Principal {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// Why authentication failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user or wrong password; deliberately indistinguishable.
    #[error("invalid username or password")]
    InvalidCredentials,
    #[error("the account is disabled")]
    AccountDisabled,
    /// The password was right; the account's second factor is needed.
    #[error("a second factor is required")]
    MfaRequired(Box<crate::mfa::Ticket>),
    /// A second-factor code was wrong or used, or its ticket is unknown,
    /// expired or used up (not told apart).
    #[error("the second factor was not proved")]
    MfaInvalid,
    /// A step-up's session was rotated (by another request) while its
    /// factor was proved, so its raised tokens could not be issued.
    #[error("the session's tokens changed during the step-up")]
    StepUpRaced,
    #[error(transparent)]
    Mfa(crate::mfa::MfaError),
    #[error("{0}")]
    InvalidInput(&'static str),
    /// Sign-in to this username (or from this address) needs a solved
    /// proof-of-work challenge first; here is a fresh one.
    #[error("sign-in needs a solved challenge")]
    ChallengeRequired(Box<challenge::Challenge>),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the session has ended")]
    SessionEnded,
    #[error("the access token was revoked")]
    TokenRevoked,
    #[error("a used refresh token was presented again; the session was ended")]
    RefreshReused,
    #[error(transparent)]
    Lock(#[from] LockError),
    /// Too many failed sign-ins for this username from this address.
    #[error("sign-in locked for {retry_after_ms} ms after too many failures")]
    LoginLocked { retry_after_ms: u64 },
    /// A rate-limit policy refused the request.
    #[error("rate limited by policy {}", .0.policy)]
    RateLimited(Outcome),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    User(UserError),
    #[error("stored session is corrupt: {0}")]
    Corrupt(String),
    /// Redis was unavailable and the sign-out could not be journaled.
    #[error(transparent)]
    Journal(#[from] crate::signouts::JournalError),
}

impl From<SessionError> for AuthError {
    fn from(err: SessionError) -> Self {
        match err {
            SessionError::Ended => AuthError::SessionEnded,
            SessionError::TokenRevoked => AuthError::TokenRevoked,
            SessionError::UserDisabled => AuthError::AccountDisabled,
            // The password the sign-in checked is no longer the password.
            SessionError::PasswordChanged => AuthError::InvalidCredentials,
            SessionError::Corrupt(detail) => AuthError::Corrupt(detail),
            SessionError::Store(err) => AuthError::Store(err),
        }
    }
}

impl From<redis::RedisError> for AuthError {
    fn from(err: redis::RedisError) -> Self {
        AuthError::Store(err.into())
    }
}

impl From<LimitError> for AuthError {
    fn from(err: LimitError) -> Self {
        match err {
            LimitError::Store(err) => AuthError::Store(err),
            other => AuthError::Corrupt(other.to_string()),
        }
    }
}

impl From<crate::mfa::MfaError> for AuthError {
    fn from(err: crate::mfa::MfaError) -> Self {
        match err {
            crate::mfa::MfaError::Store(err) => AuthError::Store(err),
            other => AuthError::Mfa(other),
        }
    }
}

impl From<UserError> for AuthError {
    fn from(err: UserError) -> Self {
        match err {
            UserError::Store(err) => AuthError::Store(err),
            UserError::Password(err) => AuthError::Password(err),
            other => AuthError::User(other),
        }
    }
}

/// Everything [`Auth`] is built from.
#[derive(Clone, Debug)]
pub struct AuthParts {
    pub store: Store,
    pub users: Users,
    pub sessions: Sessions,
    pub tokens: Tokens,
    pub locks: Locks,
    pub blacklist: Blacklist,
    pub limiter: Limiter,
    pub events: Events,
    pub rotation: RotationConfig,
    pub challenges: challenge::ChallengeConfig,
    /// Where sign-outs Redis cannot take wait for it (without one, such a
    /// sign-out fails with Redis' error).
    pub signouts: Option<Arc<crate::signouts::Journal>>,
    /// How long after Redis last answered degraded mode may answer from
    /// tokens and the revocation mirror (zero: off, fail closed).
    pub degraded_max: std::time::Duration,
    /// How recently a user with a second factor must have proved it for a
    /// sensitive action (changing their factors).
    pub step_up_max_age: std::time::Duration,
    /// Roles whose users must have a second factor: without one, their
    /// sessions may only enrol one.
    pub mfa_required_roles: Vec<Role>,
    /// This service as WebAuthn authenticators see it.
    pub relying_party: Arc<crate::mfa::RelyingParty>,
    /// The key second factors are sealed with (see
    /// [`crate::mfa::key_from_file`]); `None`: one derived from the token
    /// signing key.
    pub mfa_key: Option<[u8; 32]>,
}

/// The Gatehouse core: sign-in, admission, rotation and sign-out, and
/// the one instance of every service they use.
///
/// Built once at startup; what the server, its middleware and every
/// server function hold is this handle, whose clone is one reference-count
/// bump: no request ever copies the services or their configuration.
#[derive(Clone, Debug)]
pub struct Auth {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    users: Users,
    sessions: Sessions,
    tokens: Tokens,
    locks: Locks,
    blacklist: Blacklist,
    limiter: Limiter,
    events: Events,
    rotation: RotationConfig,
    challenges: challenge::ChallengeConfig,
    admissions: crate::observe::Admissions,
    signouts: Option<Arc<crate::signouts::Journal>>,
    /// `None` when degraded mode is off.
    degraded: Option<degraded::Degraded>,
    /// Fail-open limits while Redis is away.
    local_limits: crate::ratelimit::LocalLimits,
    /// Seals rotation results stored in Redis (derived from the signing key).
    sealing_key: [u8; 32],
    /// Second factors (their key derived from the signing key).
    factors: crate::mfa::Factors,
    step_up_max_age: std::time::Duration,
    mfa_required_roles: Vec<Role>,
}

impl Auth {
    pub fn new(parts: AuthParts) -> Self {
        let degraded = degraded::Degraded::start(
            &parts.store,
            parts.degraded_max,
            parts.tokens.config().access_ttl,
        );
        let inner = Inner {
            degraded,
            local_limits: crate::ratelimit::LocalLimits::default(),
            sealing_key: parts.tokens.keyring().derive_key("rotation results"),
            factors: crate::mfa::Factors::new(
                parts.store.clone(),
                &parts
                    .mfa_key
                    .unwrap_or_else(|| parts.tokens.keyring().derive_key("second factors")),
                parts.relying_party,
            ),
            store: parts.store,
            users: parts.users,
            sessions: parts.sessions,
            tokens: parts.tokens,
            locks: parts.locks,
            blacklist: parts.blacklist,
            limiter: parts.limiter,
            events: parts.events,
            rotation: parts.rotation,
            challenges: parts.challenges,
            step_up_max_age: parts.step_up_max_age,
            mfa_required_roles: parts.mfa_required_roles,
            admissions: crate::observe::Admissions::register(),
            signouts: parts.signouts,
        };
        let auth = Self {
            inner: Arc::new(inner),
        };
        auth.replay_sign_outs();
        auth.watch_mode();
        auth
    }

    /// The public keys tokens are verified with, as a JWKS.
    pub fn jwks(&self) -> serde_json::Value {
        self.inner.tokens.keyring().jwks()
    }

    /// How recently a second factor must have been proved for a
    /// sensitive action.
    pub fn step_up_max_age(&self) -> std::time::Duration {
        self.inner.step_up_max_age
    }

    /// Whether Redis answers now.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.inner.store.ping().await
    }

    /// Validates an access token: signature and claims locally, then one
    /// Redis round trip to confirm the session is alive, the token is not
    /// blacklisted and the user not disabled, to read the user's current
    /// roles, and to slide the idle timeout. (Requests go through
    /// [`Auth::admit`], which adds the rate limits to the same round trip.)
    pub async fn authenticate(&self, access_token: &str) -> Result<Principal, AuthError> {
        let claims = self.inner.tokens.verify_access(access_token)?;
        Ok(self.authenticate_limited(claims, &[], None).await?.0)
    }

    /// Ends the caller's session.
    pub async fn logout(&self, principal: &Principal) -> Result<Option<Ended>, AuthError> {
        self.revoke_session(&principal.user_id, &principal.session_id, Reason::Logout)
            .await
    }

    /// Ends one session of a user, blacklisting its access token.
    pub async fn revoke_session(
        &self,
        user_id: &str,
        session_id: &str,
        reason: Reason,
    ) -> Result<Option<Ended>, AuthError> {
        let ended = self.inner.sessions.revoke(user_id, session_id).await?;
        if let Some(ended) = &ended {
            self.blacklist_ended(user_id, std::slice::from_ref(ended), reason)
                .await?;
            let ended = SessionEnded { reason };
            let kind = if reason == Reason::Logout {
                EventKind::Logout(ended)
            } else {
                EventKind::SessionRevoked(ended)
            };
            self.inner
                .events
                .emit(Event::new(kind).user(user_id).session(session_id));
        }
        Ok(ended)
    }

    /// Ends all sessions of a user.
    pub async fn logout_all(&self, user_id: &str) -> Result<Vec<Ended>, AuthError> {
        let ended = self.inner.sessions.revoke_all(user_id, None).await?;
        self.blacklist_ended(user_id, &ended, Reason::SessionRevoked)
            .await?;
        self.inner.events.emit(
            Event::new(EventKind::SignedOutEverywhere(SessionCount {
                sessions: ended.len() as u64,
            }))
            .user(user_id),
        );
        Ok(ended)
    }

    async fn blacklist_ended(
        &self,
        user_id: &str,
        ended: &[Ended],
        reason: Reason,
    ) -> Result<(), AuthError> {
        let revocations: Vec<Revocation<'_>> = ended
            .iter()
            .map(|e| Revocation {
                jti: &e.access_jti,
                user_id,
                session_id: &e.session_id,
                reason,
                expires_at_ms: e.access_expires_at_ms,
                grace: std::time::Duration::ZERO,
            })
            .collect();
        // The sessions' ends are in the revocation stream already.
        Ok(self.inner.blacklist.add_published(&revocations).await?)
    }

    /// Disables (ending every session) or re-enables a user.
    pub async fn set_disabled(
        &self,
        user_id: &str,
        disabled: bool,
    ) -> Result<Vec<Ended>, AuthError> {
        self.inner.users.set_disabled(user_id, disabled).await?;
        if disabled {
            // Order matters: new sessions are refused first, so none can
            // slip in between this sweep and the flag.
            return self.logout_all(user_id).await;
        }
        Ok(Vec::new())
    }

    /// Creates `username` with `password` and `roles` unless a user of
    /// that name exists; never overwrites. Returns the new user, if any.
    pub async fn ensure_user(
        &self,
        username: &str,
        password: &str,
        roles: &[Role],
    ) -> Result<Option<User>, AuthError> {
        if self.inner.users.find_with_hash(username).await?.is_some() {
            return Ok(None);
        }
        match self.inner.users.create(username, password, roles).await {
            Ok(user) => Ok(Some(user)),
            Err(UserError::UsernameTaken) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// On a fresh install (no user at all), creates `admin` with a random
    /// password that must be changed at the first sign-in, and returns it
    /// with that password; otherwise nothing.
    pub async fn create_first_admin(&self) -> Result<Option<(User, String)>, AuthError> {
        if self.inner.users.list(0, 1).await?.total > 0 {
            return Ok(None);
        }
        let password = crate::random::hex::<12>();
        let Some(created) = self
            .ensure_user("admin", &password, &[Role::Admin, Role::User])
            .await?
        else {
            return Ok(None);
        };
        self.inner
            .users
            .set_must_change_password(&created.id, true)
            .await?;
        Ok(Some((created, password)))
    }
}

/// The caller a token describes by itself: a token Gatehouse has just
/// issued (its roles and pending password change are the current ones,
/// read when it was issued), or one degraded mode cannot check further.
fn principal(claims: AccessClaims) -> Principal {
    let roles = claims.roles.iter().filter_map(|r| Role::parse(r)).collect();
    let pending = claims.pending();
    principal_with_roles(claims, roles, pending)
}

/// The caller a verified token describes, with `roles` and the pending
/// password change as Redis holds them now (never trusted from an older
/// token).
fn principal_with_roles(
    claims: AccessClaims,
    roles: Vec<Role>,
    pending: crate::token::Pending,
) -> Principal {
    Principal {
        assurance: claims.assurance(),
        user_id: claims.sub,
        username: claims.name,
        session_id: claims.sid,
        roles,
        token_id: claims.jti,
        token_issued_at: claims.iat,
        token_expires_at: claims.exp,
        must_change_password: pending.password_change,
        must_enroll_mfa: pending.mfa_enrollment,
    }
}

#[cfg(test)]
mod tests;
