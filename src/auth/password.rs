//! Changing and resetting passwords.
//!
//! A new password is a session decision as much as a user one, so it lives
//! with [`Auth`]: whoever knew the old password may hold sessions, so
//! every other session ends (and its access token is blacklisted) in the
//! same call. A person changing their own password keeps the session they
//! changed it from; an admin reset ends them all. Checking the current
//! password is a sign-in attempt in disguise, so it spends the sign-in
//! lockout like a sign-in does: a stolen session cannot be used to guess
//! the password at Argon2 speed.

use super::sign_in::Verified;
use super::{Auth, AuthError, Client, Principal};
use crate::api::events::SessionsEnded;
use crate::blacklist::Reason;
use crate::events::{Event, EventKind};
use crate::session::Ended;
use crate::user::{UserError, policy};

impl Auth {
    /// The caller changes their own password: `current` must be right and
    /// `new` acceptable to [`policy`]. Clears a pending "must change",
    /// ends every other session of the user, and returns them.
    #[tracing::instrument(skip_all, fields(user_id = %principal.user_id), err(level = "info"))]
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
        client: &Client,
    ) -> Result<Vec<Ended>, AuthError> {
        if current.is_empty() || current.len() > policy::MAX_PASSWORD_BYTES {
            return Err(AuthError::InvalidInput(
                "give your current password (at most 1024 characters)",
            ));
        }
        // The cheap refusals first: a weak new password costs no guess.
        policy::check(new, &principal.username).map_err(UserError::from)?;
        if new == current {
            return Err(UserError::from(policy::Rejected::Unchanged).into());
        }
        self.reserve_attempt(&principal.username, client).await?;
        let user = match self.verify_password(&principal.username, current).await? {
            Verified::Match(user) if user.id == principal.user_id => user,
            Verified::Match(_) | Verified::UnknownUser => return Err(AuthError::SessionEnded),
            Verified::WrongPassword(user) => {
                self.inner.events.emit(
                    Event::new(EventKind::PasswordChangeFailed)
                        .user(&user.id)
                        .username(&user.username)
                        .session(&principal.session_id)
                        .ip(&client.ip),
                );
                return Err(AuthError::InvalidCredentials);
            }
        };
        self.clear_attempts(&principal.username, client).await?;
        self.inner.users.set_password(&user, new, false).await?;
        self.inner
            .sessions
            .clear_pending(
                &user.id,
                &principal.session_id,
                crate::token::Pending {
                    password_change: true,
                    mfa_enrollment: false,
                },
            )
            .await?;
        let ended = self
            .inner
            .sessions
            .revoke_all(&user.id, Some(&principal.session_id))
            .await?;
        self.blacklist_ended(&user.id, &ended, Reason::SessionRevoked)
            .await?;
        tracing::info!(other_sessions_ended = ended.len(), "password changed");
        self.inner.events.emit(
            Event::new(EventKind::PasswordChanged(SessionsEnded {
                sessions_ended: ended.len() as u64,
            }))
            .user(&user.id)
            .username(&user.username)
            .session(&principal.session_id)
            .ip(&client.ip),
        );
        Ok(ended)
    }

    /// An admin sets `user_id`'s password: every session of the user ends
    /// (returned, blacklisted), and with `must_change` the user must choose
    /// a new one right after signing in. Recording who did it is the
    /// caller's (as for the other admin actions).
    #[tracing::instrument(skip_all, fields(user_id = %user_id, must_change), err(level = "info"))]
    pub async fn reset_password(
        &self,
        user_id: &str,
        password: &str,
        must_change: bool,
    ) -> Result<Vec<Ended>, AuthError> {
        let user = self
            .inner
            .users
            .get(user_id)
            .await?
            .ok_or(UserError::NotFound)?;
        // The new password (and flag) first, then the sweep: sessions
        // opened with the old password before this point are ended.
        self.inner
            .users
            .set_password(&user, password, must_change)
            .await?;
        let ended = self.inner.sessions.revoke_all(&user.id, None).await?;
        self.blacklist_ended(&user.id, &ended, Reason::AdminRevoke)
            .await?;
        tracing::info!(sessions_ended = ended.len(), "password reset");
        Ok(ended)
    }
}

#[cfg(test)]
mod tests;
