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
mod password;
mod request;
mod rotation;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use admission::{Admission, Caller, Credential, Facts, Refusal, TokenSource};
pub use rotation::{Rotated, RotationConfig};

use crate::blacklist::{Blacklist, Reason, Revocation};
use crate::events::{Event, Events};
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
    /// Seals rotation results stored in Redis (derived from the signing key).
    sealing_key: [u8; 32],
}

/// What a password check found (never told to the client as such).
enum Verified {
    Match(User),
    WrongPassword(User),
    UnknownUser,
}

fn check_input(username: &str, password: &str) -> Result<(), AuthError> {
    if username.trim().is_empty() {
        return Err(AuthError::InvalidInput("the username is empty"));
    }
    if password.is_empty() {
        return Err(AuthError::InvalidInput("the password is empty"));
    }
    if username.len() > MAX_INPUT_BYTES {
        return Err(AuthError::InvalidInput(
            "the username is longer than 256 bytes",
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AuthError::InvalidInput(
            "the password is longer than 1024 characters",
        ));
    }
    Ok(())
}

impl Auth {
    pub fn new(parts: AuthParts) -> Self {
        let inner = Inner {
            sealing_key: parts.tokens.keyring().derive_key("rotation results"),
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
            admissions: crate::observe::Admissions::register(),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The Redis connection every service shares.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn blacklist(&self) -> &Blacklist {
        &self.inner.blacklist
    }

    pub fn locks(&self) -> &Locks {
        &self.inner.locks
    }

    pub fn limiter(&self) -> &Limiter {
        &self.inner.limiter
    }

    pub fn events(&self) -> &Events {
        &self.inner.events
    }

    pub fn users(&self) -> &Users {
        &self.inner.users
    }

    pub fn sessions(&self) -> &Sessions {
        &self.inner.sessions
    }

    pub fn tokens(&self) -> &Tokens {
        &self.inner.tokens
    }

    /// Checks the password and starts a session with a fresh token pair
    /// (for callers that never solve challenges: see [`Auth::login_with`]).
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: &Client,
    ) -> Result<Login, AuthError> {
        self.login_with(username, password, client, None).await
    }

    /// Checks the password and starts a session with a fresh token pair.
    /// When too many sign-ins to `username` or from the client have failed
    /// lately, a solved `challenge` is needed first (see [`challenge`]).
    #[tracing::instrument(skip_all, fields(ip = %client.ip, user_id), err(level = "info"))]
    pub async fn login_with(
        &self,
        username: &str,
        password: &str,
        client: &Client,
        challenge: Option<challenge::Solution<'_>>,
    ) -> Result<Login, AuthError> {
        check_input(username, password)?;
        // Under attack, proof of work before any password work.
        let failures = self.challenge_checks(username, client);
        self.require_challenge(&failures, username, challenge)
            .await?;
        // Brute-force protection, exact under concurrency: the attempt is
        // counted against the lockout window atomically (one script checks
        // and counts) *before* the password is verified, so however many
        // guesses race, at most the policy's limit reach Argon2. A correct
        // password clears the window.
        self.reserve_attempt(username, client).await?;
        let user = match self.verify_password(username, password).await? {
            Verified::Match(user) => user,
            // Already counted by the reservation above. The client learns
            // nothing either way; the event says which it was, but never
            // records a username that matches no account (people type
            // passwords into the username field).
            Verified::WrongPassword(user) => {
                self.count_failure(&failures).await?;
                self.inner.events.emit(
                    Event::new("login_failed")
                        .user(&user.id)
                        .username(&user.username)
                        .ip(&client.ip)
                        .detail("reason", "invalid_credentials"),
                );
                return Err(AuthError::InvalidCredentials);
            }
            Verified::UnknownUser => {
                self.count_failure(&failures).await?;
                self.inner.events.emit(
                    Event::new("login_failed")
                        .ip(&client.ip)
                        .detail("reason", "unknown_user"),
                );
                return Err(AuthError::InvalidCredentials);
            }
        };
        tracing::Span::current().record("user_id", user.id.as_str());
        self.clear_attempts(username, client).await?;
        if user.disabled {
            self.inner.events.emit(
                Event::new("login_failed")
                    .user(&user.id)
                    .username(&user.username)
                    .ip(&client.ip)
                    .detail("reason", "account_disabled"),
            );
            return Err(AuthError::AccountDisabled);
        }
        let session_id = crate::random::hex::<16>();
        let roles = user.roles.iter().map(|r| r.as_str().to_owned()).collect();
        let access =
            self.inner
                .tokens
                .issue_access(&user.id, &user.username, &session_id, roles)?;
        let refresh = self.inner.tokens.issue_refresh(&user.id, &session_id, 0)?;
        self.inner
            .sessions
            .create(&NewSession {
                id: &session_id,
                user_id: &user.id,
                ip: &client.ip,
                user_agent: &client.user_agent,
                refresh_jti: &refresh.claims.jti,
                access_jti: &access.claims.jti,
                access_expires_at_ms: access.claims.exp * 1000,
                must_change_password: user.must_change_password,
                password_generation: user.password_generation,
            })
            .await?;
        tracing::info!(session_id = %session_id, "signed in");
        let device = crate::session::device::label(&client.user_agent);
        for kind in ["login_succeeded", "session_created"] {
            self.inner.events.emit(
                Event::new(kind)
                    .user(&user.id)
                    .username(&user.username)
                    .session(&session_id)
                    .ip(&client.ip)
                    .detail("device", &device),
            );
        }
        Ok(Login {
            user,
            session_id,
            access,
            refresh,
        })
    }

    /// Whether `password` is the user's. Unknown users cost the same
    /// Argon2 work as wrong passwords.
    async fn verify_password(&self, username: &str, password: &str) -> Result<Verified, AuthError> {
        let hasher = self.inner.users.hasher();
        let Some((user, hash)) = self.inner.users.find_with_hash(username.trim()).await? else {
            hasher.verify_dummy(password).await?;
            return Ok(Verified::UnknownUser);
        };
        if hasher.verify(password, &hash).await? {
            Ok(Verified::Match(user))
        } else {
            Ok(Verified::WrongPassword(user))
        }
    }

    /// Counts a password guess for `username` from the client's address
    /// against the lockout policy (if configured), refusing it when the
    /// window is full. Checking and counting is one script, so however
    /// many guesses race, at most the policy's limit get through.
    async fn reserve_attempt(&self, username: &str, client: &Client) -> Result<(), AuthError> {
        let Some(check) = self.lockout(username, client) else {
            return Ok(());
        };
        let decision = self
            .inner
            .limiter
            .check(std::slice::from_ref(&check), true)
            .await?;
        if let Some(rejected) = decision.rejection() {
            let retry_after_ms = rejected.retry_after_ms.unwrap_or(rejected.reset_ms);
            // Once per address, username and lockout window, with a count.
            self.inner.events.refused(
                &format!(
                    "{}:{}:{}",
                    rejected.policy,
                    client.limit_key,
                    username.trim().to_lowercase()
                ),
                std::time::Duration::from_millis(retry_after_ms),
                Event::new("login_locked")
                    .username(username.trim())
                    .ip(&client.ip)
                    .detail("retry_after_ms", retry_after_ms),
            );
            return Err(AuthError::LoginLocked { retry_after_ms });
        }
        Ok(())
    }

    /// A right password clears the guesses counted for it.
    async fn clear_attempts(&self, username: &str, client: &Client) -> Result<(), AuthError> {
        if let Some(check) = self.lockout(username, client) {
            self.inner.limiter.reset(&check.subject).await?;
        }
        Ok(())
    }

    /// The lockout check for signing in to `username` from the client's
    /// address, if the lockout policy is configured.
    fn lockout(&self, username: &str, client: &Client) -> Option<Check<'_>> {
        self.inner
            .limiter
            .policy(crate::ratelimit::policy::LOGIN_LOCKOUT)
            .map(|policy| Check {
                policy,
                subject: Subject::IpUsername {
                    ip: client.limit_key.clone(),
                    username: username.trim().to_lowercase(),
                },
                cost: 1,
            })
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
            let kind = if reason == Reason::Logout {
                "logout"
            } else {
                "session_revoked"
            };
            self.inner.events.emit(
                Event::new(kind)
                    .user(user_id)
                    .session(session_id)
                    .detail("reason", reason.as_str()),
            );
        }
        Ok(ended)
    }

    /// Ends all sessions of a user.
    pub async fn logout_all(&self, user_id: &str) -> Result<Vec<Ended>, AuthError> {
        let ended = self.inner.sessions.revoke_all(user_id, None).await?;
        self.blacklist_ended(user_id, &ended, Reason::SessionRevoked)
            .await?;
        self.inner.events.emit(
            Event::new("signed_out_everywhere")
                .user(user_id)
                .detail("sessions", ended.len()),
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
        Ok(self.inner.blacklist.add(&revocations).await?)
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
}

/// The caller a token Gatehouse has just issued describes: its roles are
/// the current ones, read when it was issued.
fn principal(claims: AccessClaims) -> Principal {
    let roles = claims.roles.iter().filter_map(|r| Role::parse(r)).collect();
    principal_with_roles(claims, roles, false)
}

/// The caller a verified token describes, with `roles` and the pending
/// password change as Redis holds them now (never trusted from an older
/// token).
fn principal_with_roles(
    claims: AccessClaims,
    roles: Vec<Role>,
    must_change_password: bool,
) -> Principal {
    Principal {
        user_id: claims.sub,
        username: claims.name,
        session_id: claims.sid,
        roles,
        token_id: claims.jti,
        token_issued_at: claims.iat,
        token_expires_at: claims.exp,
        must_change_password,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::Hasher;
    use crate::session::SessionConfig;
    use crate::testing::TestRedis;
    use crate::token::{Keyring, TokenConfig};

    pub(super) async fn auth_with(
        store: &Store,
        tokens: TokenConfig,
        rotation: RotationConfig,
    ) -> Auth {
        let store = store.clone();
        let tokens = Tokens::new(
            Keyring::from_secret(b"0123456789abcdef0123456789abcdef").unwrap(),
            tokens,
        );
        Auth::new(AuthParts {
            users: Users::new(store.clone(), Hasher::new(4).await.unwrap()),
            sessions: Sessions::new(store.clone(), SessionConfig::default()),
            tokens,
            locks: Locks::new(store.clone(), "test"),
            blacklist: Blacklist::new(store.clone()),
            limiter: crate::ratelimit::Limiter::new(
                store.clone(),
                crate::ratelimit::default_policies(),
            ),
            events: Events::new(store.clone(), "test", 10_000),
            rotation,
            challenges: Default::default(),
            store,
        })
    }

    async fn auth(redis: &TestRedis) -> Auth {
        auth_with(
            &redis.store().await,
            TokenConfig::default(),
            RotationConfig::default(),
        )
        .await
    }

    pub(super) fn client() -> Client {
        Client {
            ip: "198.51.100.4".into(),
            limit_key: "198.51.100.4".into(),
            user_agent: "curl/8.5.0".into(),
        }
    }

    crate::both_topologies! {
        async fn login_authenticate_logout(backend) {
            let auth = auth_with(
                &backend.store().await,
                TokenConfig::default(),
                RotationConfig::default(),
            )
            .await;
            let user = auth
                .users()
                .create("grace", "grace hopper 1906", &[Role::User])
                .await
                .unwrap();
            let login = auth.login("GRACE", "grace hopper 1906", &client()).await.unwrap();
            assert_eq!(login.user.id, user.id);
            let principal = auth.authenticate(&login.access.token).await.unwrap();
            assert_eq!(principal.session_id, login.session_id);
            assert_eq!(principal.username, "grace");
            assert_eq!(principal.roles, vec![Role::User]);
            let sessions = auth.sessions().list(&user.id).await.unwrap();
            assert_eq!(sessions[0].device, "curl");

            // The console's cross-user views, whose keys live in other slots.
            let second = auth.users().create("hedy", "hedy lamarr 1914", &[Role::User]).await.unwrap();
            auth.login("hedy", "hedy lamarr 1914", &client()).await.unwrap();
            let (total, all) = auth.sessions().list_all(0, 10).await.unwrap();
            assert_eq!(total, 2);
            let mut owners: Vec<&str> = all.iter().map(|s| s.user_id.as_str()).collect();
            owners.sort_unstable();
            let mut expected = vec![user.id.as_str(), second.id.as_str()];
            expected.sort_unstable();
            assert_eq!(owners, expected);
            assert_eq!(auth.sessions().counts().await.unwrap(), (2, 2));
            let names = auth.users().usernames(&[&user.id, &second.id]).await.unwrap();
            assert_eq!(names.len(), 2);

            auth.logout(&principal).await.unwrap();
            assert!(matches!(
                auth.authenticate(&login.access.token).await,
                Err(AuthError::TokenRevoked)
            ));
            let listed = auth.blacklist().list(0, 10).await.unwrap();
            assert_eq!(listed.entries.len(), 1);
            assert_eq!(listed.entries[0].jti, login.access.claims.jti);
            assert_eq!(listed.entries[0].reason, "logout");
            assert_eq!(auth.sessions().prune_index(0, 100).await.unwrap().1, 0);
            let (left, _) = auth.sessions().list_all(0, 10).await.unwrap();
            assert_eq!(left, 1, "only hedy's session is left");

            // Events (a stream plus per-minute counters in other slots).
            auth.events().flush().await;
            let recent = auth
                .events()
                .recent(&crate::events::Filter::default(), 100, 1_000)
                .await
                .unwrap();
            let kinds: Vec<&str> = recent.iter().map(|e| e.kind.as_str()).collect();
            assert!(kinds.contains(&"login_succeeded") && kinds.contains(&"logout"), "{kinds:?}");
            let series = auth.events().series(2).await.unwrap();
            let logins: u64 = series.iter().map(|(_, counts)| counts.iter().sum::<u64>()).sum();
            assert!(logins >= 2, "per-minute counters were written: {series:?}");
        }
    }

    #[tokio::test]
    async fn unknown_user_and_wrong_password_fail_alike_with_the_same_argon2_work() {
        let redis = TestRedis::start().await;
        let auth = auth(&redis).await;
        auth.users()
            .create("ada", "lovelace-1815", &[Role::User])
            .await
            .unwrap();
        let hasher = auth.users().hasher().clone();

        let before = hasher.verifications();
        let unknown = auth
            .login("nobody", "lovelace-1815", &client())
            .await
            .unwrap_err();
        assert_eq!(
            hasher.verifications(),
            before + 1,
            "unknown user ran one Argon2 verification"
        );
        let wrong = auth
            .login("ada", "wrong-password", &client())
            .await
            .unwrap_err();
        assert_eq!(
            hasher.verifications(),
            before + 2,
            "wrong password ran one Argon2 verification"
        );
        assert!(matches!(unknown, AuthError::InvalidCredentials));
        assert!(matches!(wrong, AuthError::InvalidCredentials));
        assert_eq!(unknown.to_string(), wrong.to_string());
    }

    #[tokio::test]
    async fn a_failed_sign_in_for_no_such_user_never_records_what_was_typed() {
        let redis = TestRedis::start().await;
        let auth = auth(&redis).await;
        auth.users()
            .create("erin", "long enough, really", &[Role::User])
            .await
            .unwrap();
        // A password typed into the username field, and a wrong password.
        let typed = "hunter2-my-secret";
        auth.login(typed, "whatever", &client()).await.unwrap_err();
        auth.login("erin", "not it", &client()).await.unwrap_err();
        auth.events().flush().await;
        let failed = auth
            .events()
            .recent(
                &crate::events::Filter {
                    kind: Some("login_failed".into()),
                    ..Default::default()
                },
                10,
                100,
            )
            .await
            .unwrap();
        assert_eq!(failed.len(), 2);
        let stored = serde_json::to_string(&failed).unwrap();
        assert!(
            !stored.contains(typed),
            "the typed username was stored: {stored}"
        );
        let reasons: Vec<&str> = failed
            .iter()
            .map(|e| e.details["reason"].as_str())
            .collect();
        assert_eq!(reasons, ["invalid_credentials", "unknown_user"]);
        assert_eq!(failed[0].username.as_deref(), Some("erin"));
    }

    #[tokio::test]
    async fn disabled_users_learn_it_only_with_the_right_password() {
        let redis = TestRedis::start().await;
        let auth = auth(&redis).await;
        let user = auth
            .users()
            .create("mallory", "long enough, really", &[Role::User])
            .await
            .unwrap();
        let login = auth
            .login("mallory", "long enough, really", &client())
            .await
            .unwrap();
        let ended = auth.set_disabled(&user.id, true).await.unwrap();
        assert_eq!(ended.len(), 1, "disabling ends existing sessions");
        assert!(matches!(
            auth.authenticate(&login.access.token).await,
            Err(AuthError::TokenRevoked)
        ));
        assert!(matches!(
            auth.login("mallory", "wrong", &client()).await,
            Err(AuthError::InvalidCredentials)
        ));
        assert!(matches!(
            auth.login("mallory", "long enough, really", &client())
                .await,
            Err(AuthError::AccountDisabled)
        ));
        auth.set_disabled(&user.id, false).await.unwrap();
        auth.login("mallory", "long enough, really", &client())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn empty_and_oversized_input_is_rejected_without_hashing() {
        let redis = TestRedis::start().await;
        let auth = auth(&redis).await;
        let before = auth.users().hasher().verifications();
        for (username, password) in [
            ("", "x"),
            ("  ", "x"),
            ("a", ""),
            (&"u".repeat(257) as &str, "x"),
            // Longer than any acceptable password (1024 four-byte characters).
            ("a", &"p".repeat(4097)),
        ] {
            assert!(matches!(
                auth.login(username, password, &client()).await,
                Err(AuthError::InvalidInput(_))
            ));
        }
        assert_eq!(auth.users().hasher().verifications(), before);
    }

    #[tokio::test]
    async fn refresh_tokens_do_not_authenticate_requests() {
        let redis = TestRedis::start().await;
        let auth = auth(&redis).await;
        auth.users()
            .create("ken", "long enough, really", &[Role::User])
            .await
            .unwrap();
        let login = auth
            .login("ken", "long enough, really", &client())
            .await
            .unwrap();
        assert!(matches!(
            auth.authenticate(&login.refresh.token).await,
            Err(AuthError::Token(TokenError::Invalid(_)))
        ));
    }

    #[tokio::test]
    async fn ensure_user_creates_once_and_never_overwrites() {
        let redis = TestRedis::start().await;
        let auth = auth(&redis).await;
        assert!(
            auth.ensure_user("root", "first password", &[Role::Admin])
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            auth.ensure_user("root", "second password", &[Role::User])
                .await
                .unwrap()
                .is_none()
        );
        auth.login("root", "first password", &client())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn redis_down_is_an_error_never_an_allow() {
        let mut redis = TestRedis::start().await;
        let auth = auth(&redis).await;
        auth.users()
            .create("linus", "long enough, really", &[Role::User])
            .await
            .unwrap();
        let login = auth
            .login("linus", "long enough, really", &client())
            .await
            .unwrap();
        redis.stop().await;
        assert!(matches!(
            auth.authenticate(&login.access.token).await,
            Err(AuthError::Store(_))
        ));
    }
}
