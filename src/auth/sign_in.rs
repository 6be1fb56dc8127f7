//! Signing in: input checks, the sign-in limits (counted before the
//! password is verified, so concurrent guesses cannot outrun them), the
//! password check that costs the same whether or not the user exists, and
//! the new session with its token pair.

use super::*;
use crate::api::events::{Device, LoginFailed, LoginFailure, LoginLocked, Repeats, SignedIn};
use crate::events::EventKind;
use crate::token::Assurance;

/// What a password check found (never told to the client as such).
pub(super) enum Verified {
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
    /// Checks the password and starts a session with a fresh token pair
    /// (for callers that never solve challenges: see [`Auth::login_with`]).
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: &Client,
    ) -> Result<Login, AuthError> {
        self.login_with(username, password, client, None, None)
            .await
    }

    /// Checks the password and starts a session with a fresh token pair.
    /// When too many sign-ins to `username` or from the client have failed
    /// lately, a solved `challenge` is needed first (see [`challenge`]).
    /// An account with a second factor answers `MfaRequired`, unless
    /// `remembered` is the token of a browser its user let skip it (see
    /// [`crate::mfa::DEVICE_TTL`]); that session is at `aal` 1.
    #[tracing::instrument(skip_all, fields(ip = %client.ip, user_id), err(level = "info"))]
    pub async fn login_with(
        &self,
        username: &str,
        password: &str,
        client: &Client,
        challenge: Option<challenge::Solution<'_>>,
        remembered: Option<&str>,
    ) -> Result<Login, AuthError> {
        check_input(username, password)?;
        // Under attack, proof of work before any password work.
        let failures = self.challenge_checks(username, client);
        self.require_challenge(&failures, username, client, challenge)
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
                    Event::new(EventKind::LoginFailed(LoginFailed {
                        reason: LoginFailure::InvalidCredentials,
                    }))
                    .user(&user.id)
                    .username(&user.username)
                    .ip(&client.ip),
                );
                return Err(AuthError::InvalidCredentials);
            }
            Verified::UnknownUser => {
                self.count_failure(&failures).await?;
                self.inner.events.emit(
                    Event::new(EventKind::LoginFailed(LoginFailed {
                        reason: LoginFailure::UnknownUser,
                    }))
                    .ip(&client.ip),
                );
                return Err(AuthError::InvalidCredentials);
            }
        };
        tracing::Span::current().record("user_id", user.id.as_str());
        self.clear_attempts(username, client).await?;
        if user.disabled {
            self.inner.events.emit(
                Event::new(EventKind::LoginFailed(LoginFailed {
                    reason: LoginFailure::AccountDisabled,
                }))
                .user(&user.id)
                .username(&user.username)
                .ip(&client.ip),
            );
            return Err(AuthError::AccountDisabled);
        }
        // A second factor, where the account has one, before any session.
        // (One question to Redis: a ticket is issued only if it has one.)
        // A browser the user remembered skips it (and only it).
        let skip = match remembered {
            Some(token) => self.inner.factors.is_remembered(&user.id, token).await?,
            None => false,
        };
        if !skip {
            match self.inner.factors.issue_ticket(&user.id).await {
                Ok(ticket) => return Err(AuthError::MfaRequired(Box::new(ticket))),
                Err(crate::mfa::MfaError::NoFactor) => {}
                Err(err) => return Err(err.into()),
            }
        }
        let now = crate::duration::epoch_ms() / 1000;
        self.start_session(user, client, Assurance::password(now))
            .await
    }

    /// What a session of `user`, signed in as `assurance` says, must do
    /// before anything else: choose a password an admin set, or enrol the
    /// second factor one of their roles requires (asked of Redis only for
    /// such a role, at level 1).
    pub(super) async fn pending_for(
        &self,
        user: &User,
        assurance: Assurance,
    ) -> Result<crate::token::Pending, AuthError> {
        let required = assurance.aal < 2
            && user
                .roles
                .iter()
                .any(|role| self.inner.mfa_required_roles.contains(role));
        Ok(crate::token::Pending {
            password_change: user.must_change_password,
            mfa_enrollment: required && !self.inner.factors.has_factor(&user.id).await?,
        })
    }

    /// Starts a session for `user`, who proved who they are as
    /// `assurance` says: a fresh token pair, the session, the events.
    pub(super) async fn start_session(
        &self,
        user: User,
        client: &Client,
        assurance: Assurance,
    ) -> Result<Login, AuthError> {
        let session_id = crate::random::hex::<16>();
        let roles = user.roles.iter().map(|r| r.as_str().to_owned()).collect();
        let pending = self.pending_for(&user, assurance).await?;
        let access = self.inner.tokens.issue_access(
            &user.id,
            &user.username,
            &session_id,
            roles,
            pending,
            assurance,
        )?;
        let refresh = self
            .inner
            .tokens
            .issue_refresh(&user.id, &session_id, 0, assurance)?;
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
                pending,
                password_generation: user.password_generation,
            })
            .await?;
        tracing::info!(session_id = %session_id, "signed in");
        let device = Device {
            device: crate::session::device::label(&client.user_agent),
        };
        let signed_in = SignedIn {
            device: device.device.clone(),
            admin: user
                .roles
                .contains(&crate::user::Role::Admin)
                .then_some(true),
        };
        for kind in [
            EventKind::LoginSucceeded(signed_in),
            EventKind::SessionCreated(device),
        ] {
            self.inner.events.emit(
                Event::new(kind)
                    .user(&user.id)
                    .username(&user.username)
                    .session(&session_id)
                    .ip(&client.ip),
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
    pub(super) async fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Verified, AuthError> {
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
    pub(super) async fn reserve_attempt(
        &self,
        username: &str,
        client: &Client,
    ) -> Result<(), AuthError> {
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
                Event::new(EventKind::LoginLocked(LoginLocked {
                    retry_after_ms,
                    repeats: Repeats::default(),
                }))
                .username(username.trim())
                .ip(&client.ip),
            );
            return Err(AuthError::LoginLocked { retry_after_ms });
        }
        Ok(())
    }

    /// A right password clears the guesses counted for it.
    pub(super) async fn clear_attempts(
        &self,
        username: &str,
        client: &Client,
    ) -> Result<(), AuthError> {
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
}
