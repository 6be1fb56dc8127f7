//! What an admin changes: users, their sessions and second factors,
//! sign-in lockouts, rate limit windows and locks. Every change is written
//! to the audit stream here, with the admin's name and address, so that no
//! caller of the core can make one without leaving a trace.

use std::time::Duration;

use super::{OpError, parse_roles};
use crate::api::auth::PasswordChanged;
use crate::api::events::{
    AdminLock, AdminMfaReset, AdminSessions, AdminSessionsEnded, AdminWindowsReset, ByAdmin,
    LockoutReset, PasswordReset, RolesChanged,
};
use crate::api::locks::{ForceReleased, LockLease};
use crate::api::mfa::MfaReset;
use crate::api::ratelimit::WindowsReset;
use crate::api::users::UserView;
use crate::auth::{Auth, Client, Principal};
use crate::blacklist::Reason;
use crate::events::{Event, EventKind};
use crate::lock::LockOptions;
use crate::ratelimit::Subject;
use crate::user::Role;

/// The admin capability: only [`Auth::admin`] makes one, and only for a
/// caller with the admin role.
#[derive(Clone, Copy, Debug)]
pub struct Admin<'a> {
    pub(super) auth: &'a Auth,
    pub(super) admin: &'a Principal,
    client: &'a Client,
}

impl<'a> Admin<'a> {
    pub(super) fn new(auth: &'a Auth, admin: &'a Principal, client: &'a Client) -> Self {
        Self {
            auth,
            admin,
            client,
        }
    }

    /// Every admin write needs a recent second factor from an admin who
    /// has one (see [`super::factors::require_step_up`]).
    pub(super) async fn step_up(&self) -> Result<(), OpError> {
        super::factors::require_step_up(self.auth, self.admin).await
    }

    /// Records this admin's action: `kind` from the admin's username (every
    /// admin kind says `by` whom), from the admin's address, plus what
    /// `about` adds (to whom).
    pub(super) fn audit(
        &self,
        kind: impl FnOnce(String) -> EventKind,
        about: impl FnOnce(Event) -> Event,
    ) {
        let event = Event::new(kind(self.admin.username.clone())).ip(&self.client.ip);
        self.auth.events().emit(about(event));
    }

    /// Creates a user (`conflict` if the name is taken).
    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
        roles: &[String],
    ) -> Result<UserView, OpError> {
        self.step_up().await?;
        let roles = parse_roles(roles)?;
        let user = self.auth.users().create(username, password, &roles).await?;
        tracing::info!(admin = %self.admin.user_id, user_id = %user.id, "admin created a user");
        self.audit(
            |by| EventKind::UserCreated(ByAdmin { by }),
            |e| e.user(&user.id).username(&user.username),
        );
        Ok(user.into())
    }

    /// Disables a user, ending every session of theirs at once, or enables
    /// one. Answers how many sessions ended. An admin cannot disable
    /// themself (nobody might be left to undo it).
    pub async fn set_disabled(&self, user_id: &str, disabled: bool) -> Result<u64, OpError> {
        self.step_up().await?;
        if disabled && user_id == self.admin.user_id {
            return Err(OpError::Invalid(
                "You cannot disable your own account.".to_owned(),
            ));
        }
        let sessions_ended = self.auth.set_disabled(user_id, disabled).await?.len() as u64;
        self.audit(
            |by| {
                let change = AdminSessionsEnded { by, sessions_ended };
                if disabled {
                    EventKind::UserDisabled(change)
                } else {
                    EventKind::UserEnabled(change)
                }
            },
            |e| e.user(user_id),
        );
        Ok(sessions_ended)
    }

    /// Sets a user's password (the rules of a change) and ends every
    /// session of theirs; with `must_change` they choose a new one when
    /// they next sign in.
    pub async fn set_password(
        &self,
        user_id: &str,
        password: &str,
        must_change: bool,
    ) -> Result<PasswordChanged, OpError> {
        self.step_up().await?;
        let ended = self
            .auth
            .reset_password(user_id, password, must_change)
            .await?;
        let sessions_ended = ended.len() as u64;
        self.audit(
            |by| {
                EventKind::PasswordReset(PasswordReset {
                    by,
                    must_change,
                    sessions_ended,
                })
            },
            |e| e.user(user_id),
        );
        Ok(PasswordChanged {
            revoked_sessions: sessions_ended,
        })
    }

    /// Replaces a user's roles; admission reads roles fresh, so this takes
    /// effect at the user's next request. An admin cannot drop their own
    /// admin role.
    pub async fn set_roles(&self, user_id: &str, roles: &[String]) -> Result<(), OpError> {
        self.step_up().await?;
        let parsed = parse_roles(roles)?;
        if user_id == self.admin.user_id && !parsed.contains(&Role::Admin) {
            return Err(OpError::Invalid(
                "You cannot remove your own admin role.".to_owned(),
            ));
        }
        self.auth.users().set_roles(user_id, &parsed).await?;
        let roles = roles.join(",");
        self.audit(
            |by| EventKind::RolesChanged(RolesChanged { by, roles }),
            |e| e.user(user_id),
        );
        Ok(())
    }

    /// Ends the sign-in lockouts of `username` from every address; answers
    /// how many windows were cleared.
    pub async fn reset_lockout(&self, username: &str) -> Result<u64, OpError> {
        self.step_up().await?;
        let windows_cleared = self.auth.limiter().reset_lockouts(username).await?;
        self.audit(
            |by| {
                EventKind::LockoutReset(LockoutReset {
                    by,
                    windows_cleared,
                })
            },
            |e| e.username(username),
        );
        Ok(windows_cleared)
    }

    /// Ends one session of a user (`not_found` if it is not live).
    pub async fn revoke_session(&self, user_id: &str, session_id: &str) -> Result<(), OpError> {
        self.step_up().await?;
        let ended = self
            .auth
            .revoke_session(user_id, session_id, Reason::AdminRevoke)
            .await?;
        if ended.is_none() {
            return Err(OpError::NotFound("No live session with that id."));
        }
        self.audit(
            |by| EventKind::AdminSessionRevoked(ByAdmin { by }),
            |e| e.user(user_id).session(session_id),
        );
        Ok(())
    }

    /// Signs a user out everywhere; answers how many sessions ended.
    pub async fn sign_out_everywhere(&self, user_id: &str) -> Result<u64, OpError> {
        self.step_up().await?;
        let sessions = self.auth.logout_all(user_id).await?.len() as u64;
        self.audit(
            |by| EventKind::AdminSignedOutEverywhere(AdminSessions { by, sessions }),
            |e| e.user(user_id),
        );
        Ok(sessions)
    }

    /// Removes every second factor and recovery code of a user (who lost
    /// them) and ends every session of theirs: they sign in next with the
    /// password alone, and may enrol again.
    pub async fn reset_mfa(&self, user_id: &str) -> Result<MfaReset, OpError> {
        self.step_up().await?;
        if self.auth.users().get(user_id).await?.is_none() {
            return Err(OpError::NotFound("No user has this id."));
        }
        let factors_removed = self
            .auth
            .factors()
            .reset(user_id)
            .await
            .map_err(crate::auth::AuthError::from)?;
        let sessions_ended = self.auth.logout_all(user_id).await?.len() as u64;
        tracing::info!(admin = %self.admin.user_id, %user_id, factors_removed, "admin reset second factors");
        self.audit(
            |by| {
                EventKind::MfaReset(AdminMfaReset {
                    by,
                    factors_removed,
                    sessions_ended,
                })
            },
            |e| e.user(user_id),
        );
        Ok(MfaReset {
            factors_removed,
            revoked_sessions: sessions_ended,
        })
    }

    /// Clears a subject's rate-limit windows (unblocks it; for sign-in
    /// attempts, ends the lockout).
    pub async fn reset_windows(&self, subject: Subject) -> Result<WindowsReset, OpError> {
        self.step_up().await?;
        let windows_cleared = self.auth.limiter().reset(&subject).await?;
        tracing::info!(admin = %self.admin.user_id, ?subject, "admin reset rate-limit windows");
        let subject_json = serde_json::to_string(&subject).unwrap_or_default();
        self.audit(
            |by| {
                EventKind::WindowsReset(AdminWindowsReset {
                    by,
                    subject: subject_json,
                })
            },
            |e| e,
        );
        Ok(WindowsReset {
            subject,
            windows_cleared,
        })
    }

    /// Removes a lock whoever holds it (its holder finds out at its next
    /// extension).
    pub async fn force_release(&self, name: String) -> Result<ForceReleased, OpError> {
        self.step_up().await?;
        let holder = self.auth.locks().force_release(&name).await?;
        tracing::warn!(admin = %self.admin.user_id, lock = %name, "admin force-released a lock");
        let lock = name.clone();
        self.audit(
            |by| EventKind::AdminLockForceReleased(AdminLock { by, lock }),
            |e| e,
        );
        Ok(ForceReleased {
            name,
            released: holder.is_some(),
            holder,
        })
    }

    /// Takes a lock for a minute, without a watchdog, to see the Locks page
    /// at work (released by force-release, or when it expires).
    pub async fn demo_lock(&self) -> Result<LockLease, OpError> {
        let name = format!("demo/{}", crate::random::hex::<3>());
        let options = LockOptions {
            ttl: Duration::from_secs(60),
            wait: Duration::ZERO,
            label: format!("demo by {}", self.admin.username),
            holder: None,
            watchdog: false,
            // A random name each time: a counter per demo would pile up.
            fencing: false,
        };
        Ok(self
            .auth
            .locks()
            .acquire_lease(&name, &options)
            .await?
            .into())
    }
}
