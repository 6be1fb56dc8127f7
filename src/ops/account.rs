//! What a signed-in user does with their own account: list and end their
//! sessions, change their password, sign out here or everywhere.

use super::OpError;
use crate::api::auth::PasswordChanged;
use crate::api::sessions::{Revoked, SessionList};
use crate::auth::{Auth, Client, Principal};
use crate::blacklist::Reason;

/// The caller's own account; [`Auth::account`] makes one for any
/// signed-in caller.
#[derive(Clone, Copy, Debug)]
pub struct Account<'a> {
    auth: &'a Auth,
    principal: &'a Principal,
}

impl<'a> Account<'a> {
    pub(super) fn new(auth: &'a Auth, principal: &'a Principal) -> Self {
        Self { auth, principal }
    }

    pub(super) fn auth(&self) -> &'a Auth {
        self.auth
    }

    pub(super) fn principal(&self) -> &'a Principal {
        self.principal
    }

    /// The caller's live sessions, the current one marked.
    pub async fn sessions(&self) -> Result<SessionList, OpError> {
        let sessions = self.auth.sessions().list(&self.principal.user_id).await?;
        Ok(SessionList {
            sessions: sessions
                .into_iter()
                .map(|s| s.owner_view(&self.principal.session_id))
                .collect(),
        })
    }

    /// Ends one of the caller's sessions, the current one too
    /// (`not_found` if it is not theirs or already over). Like every
    /// ending, its token is blacklisted and the event recorded.
    pub async fn revoke_session(&self, session_id: String) -> Result<Revoked, OpError> {
        let ended = self
            .auth
            .revoke_session(&self.principal.user_id, &session_id, Reason::SessionRevoked)
            .await?;
        if ended.is_none() {
            return Err(OpError::NotFound("You have no live session with that id."));
        }
        Ok(Revoked {
            session_id,
            revoked: true,
        })
    }

    /// Changes the caller's password and ends every other session of
    /// theirs; this one stays signed in. A wrong current password counts
    /// against the sign-in lockout of `client`.
    pub async fn change_password(
        &self,
        current: &str,
        new: &str,
        client: &Client,
    ) -> Result<PasswordChanged, OpError> {
        self.require_step_up().await?;
        let ended = self
            .auth
            .change_password(self.principal, current, new, client)
            .await?;
        Ok(PasswordChanged {
            revoked_sessions: ended.len() as u64,
        })
    }

    /// Ends this session; answers how many ended (0 if it already had).
    pub async fn sign_out(&self) -> Result<u64, OpError> {
        Ok(u64::from(self.auth.logout(self.principal).await?.is_some()))
    }

    /// Ends every session of the caller; answers how many ended.
    pub async fn sign_out_everywhere(&self) -> Result<u64, OpError> {
        Ok(self.auth.logout_all(&self.principal.user_id).await?.len() as u64)
    }
}
