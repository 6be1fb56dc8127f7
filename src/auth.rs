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
//!   names it.

use serde::{Deserialize, Serialize};

use crate::password::PasswordError;
use crate::session::{Ended, NewSession, SessionError, Sessions};
use crate::store::StoreError;
use crate::token::{AccessClaims, Issued, RefreshClaims, TokenError, Tokens};
use crate::user::{MAX_INPUT_BYTES, Role, User, UserError, Users};

/// Who is signing in, from where.
#[derive(Clone, Debug, Default)]
pub struct Client {
    pub ip: String,
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
    /// The access token's id and expiry (seconds since the epoch).
    pub token_id: String,
    pub token_expires_at: u64,
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
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the session has ended")]
    SessionEnded,
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
            SessionError::UserDisabled => AuthError::AccountDisabled,
            SessionError::Corrupt(detail) => AuthError::Corrupt(detail),
            SessionError::Store(err) => AuthError::Store(err),
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

/// Sign-in, authentication and sign-out. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Auth {
    users: Users,
    sessions: Sessions,
    tokens: Tokens,
}

fn check_input(username: &str, password: &str) -> Result<(), AuthError> {
    if username.trim().is_empty() {
        return Err(AuthError::InvalidInput("the username is empty"));
    }
    if password.is_empty() {
        return Err(AuthError::InvalidInput("the password is empty"));
    }
    if username.len() > MAX_INPUT_BYTES || password.len() > MAX_INPUT_BYTES {
        return Err(AuthError::InvalidInput(
            "the username or password is longer than 256 bytes",
        ));
    }
    Ok(())
}

impl Auth {
    pub fn new(users: Users, sessions: Sessions, tokens: Tokens) -> Self {
        Self {
            users,
            sessions,
            tokens,
        }
    }

    pub fn users(&self) -> &Users {
        &self.users
    }

    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// Checks the password and starts a session with a fresh token pair.
    #[tracing::instrument(skip_all, fields(ip = %client.ip, user_id), err(level = "info"))]
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: &Client,
    ) -> Result<Login, AuthError> {
        check_input(username, password)?;
        let hasher = self.users.hasher();
        let Some((user, hash)) = self.users.find_with_hash(username.trim()).await? else {
            hasher.verify_dummy(password).await?;
            return Err(AuthError::InvalidCredentials);
        };
        tracing::Span::current().record("user_id", user.id.as_str());
        if !hasher.verify(password, &hash).await? {
            return Err(AuthError::InvalidCredentials);
        }
        if user.disabled {
            return Err(AuthError::AccountDisabled);
        }
        let session_id = crate::random::hex::<16>();
        let roles = user.roles.iter().map(|r| r.as_str().to_owned()).collect();
        let access = self
            .tokens
            .issue_access(&user.id, &user.username, &session_id, roles)?;
        let refresh = self.tokens.issue_refresh(&user.id, &session_id, 0)?;
        self.sessions
            .create(&NewSession {
                id: &session_id,
                user_id: &user.id,
                ip: &client.ip,
                user_agent: &client.user_agent,
                refresh_jti: &refresh.claims.jti,
                access_jti: &access.claims.jti,
            })
            .await?;
        tracing::info!(session_id = %session_id, "signed in");
        Ok(Login {
            user,
            session_id,
            access,
            refresh,
        })
    }

    /// Validates an access token: signature and claims locally, then one
    /// Redis round trip to confirm the session and slide its idle timeout.
    pub async fn authenticate(&self, access_token: &str) -> Result<Principal, AuthError> {
        let claims = self.tokens.verify_access(access_token)?;
        self.sessions.touch(&claims.sub, &claims.sid).await?;
        Ok(principal(claims))
    }

    /// Ends the caller's session.
    pub async fn logout(&self, principal: &Principal) -> Result<Option<Ended>, AuthError> {
        Ok(self
            .sessions
            .revoke(&principal.user_id, &principal.session_id)
            .await?)
    }

    /// Ends all sessions of a user.
    pub async fn logout_all(&self, user_id: &str) -> Result<Vec<Ended>, AuthError> {
        Ok(self.sessions.revoke_all(user_id, None).await?)
    }

    /// Disables (ending every session) or re-enables a user.
    pub async fn set_disabled(
        &self,
        user_id: &str,
        disabled: bool,
    ) -> Result<Vec<Ended>, AuthError> {
        self.users.set_disabled(user_id, disabled).await?;
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
        if self.users.find_with_hash(username).await?.is_some() {
            return Ok(None);
        }
        match self.users.create(username, password, roles).await {
            Ok(user) => Ok(Some(user)),
            Err(UserError::UsernameTaken) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }
}

fn principal(claims: AccessClaims) -> Principal {
    Principal {
        user_id: claims.sub,
        username: claims.name,
        session_id: claims.sid,
        roles: claims.roles.iter().filter_map(|r| Role::parse(r)).collect(),
        token_id: claims.jti,
        token_expires_at: claims.exp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::Hasher;
    use crate::session::SessionConfig;
    use crate::testing::TestRedis;
    use crate::token::{Keyring, TokenConfig};

    async fn auth(redis: &TestRedis) -> Auth {
        let store = redis.store().await;
        let tokens = Tokens::new(
            Keyring::from_secret(b"0123456789abcdef0123456789abcdef").unwrap(),
            TokenConfig::default(),
        );
        Auth::new(
            Users::new(store.clone(), Hasher::new(4).await.unwrap()),
            Sessions::new(store, SessionConfig::default()),
            tokens,
        )
    }

    fn client() -> Client {
        Client {
            ip: "198.51.100.4".into(),
            user_agent: "curl/8.5.0".into(),
        }
    }

    #[tokio::test]
    async fn login_authenticate_logout() {
        let redis = TestRedis::start().await;
        let auth = auth(&redis).await;
        let user = auth
            .users()
            .create("grace", "hopper-1906", &[Role::User])
            .await
            .unwrap();
        let login = auth.login("GRACE", "hopper-1906", &client()).await.unwrap();
        assert_eq!(login.user.id, user.id);
        let principal = auth.authenticate(&login.access.token).await.unwrap();
        assert_eq!(principal.session_id, login.session_id);
        assert_eq!(principal.username, "grace");
        assert_eq!(principal.roles, vec![Role::User]);
        let sessions = auth.sessions().list(&user.id).await.unwrap();
        assert_eq!(sessions[0].device, "curl");

        auth.logout(&principal).await.unwrap();
        assert!(matches!(
            auth.authenticate(&login.access.token).await,
            Err(AuthError::SessionEnded)
        ));
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
    async fn disabled_users_learn_it_only_with_the_right_password() {
        let redis = TestRedis::start().await;
        let auth = auth(&redis).await;
        let user = auth
            .users()
            .create("mallory", "long enough", &[Role::User])
            .await
            .unwrap();
        let login = auth
            .login("mallory", "long enough", &client())
            .await
            .unwrap();
        let ended = auth.set_disabled(&user.id, true).await.unwrap();
        assert_eq!(ended.len(), 1, "disabling ends existing sessions");
        assert!(matches!(
            auth.authenticate(&login.access.token).await,
            Err(AuthError::SessionEnded)
        ));
        assert!(matches!(
            auth.login("mallory", "wrong", &client()).await,
            Err(AuthError::InvalidCredentials)
        ));
        assert!(matches!(
            auth.login("mallory", "long enough", &client()).await,
            Err(AuthError::AccountDisabled)
        ));
        auth.set_disabled(&user.id, false).await.unwrap();
        auth.login("mallory", "long enough", &client())
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
            ("a", &"p".repeat(257)),
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
            .create("ken", "long enough", &[Role::User])
            .await
            .unwrap();
        let login = auth.login("ken", "long enough", &client()).await.unwrap();
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
            .create("linus", "long enough", &[Role::User])
            .await
            .unwrap();
        let login = auth.login("linus", "long enough", &client()).await.unwrap();
        redis.stop().await;
        assert!(matches!(
            auth.authenticate(&login.access.token).await,
            Err(AuthError::Store(_))
        ));
    }
}
