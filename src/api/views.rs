//! How the core's records appear on the wire: each conversion written
//! once, here, so a handler never copies fields by hand.
//!
//! Where a record and its wire form are the same (a lock holder, a
//! blacklist entry, a rate-limit window), the core uses the `api` type
//! itself and nothing converts. These are the records whose wire form
//! leaves something out (password generations, token claims) or adds
//! something (whether a session is the caller's, a username).

use super::auth::{Identity, TokenPair, Verified};
use super::locks::LockLease;
use super::sessions::{AdminSession, SessionView};
use super::users::UserView;
use crate::auth::{Login, Principal, Rotated};
use crate::lock::Lease;
use crate::session::Session;
use crate::user::User;

impl Session {
    /// As its owner sees it; `current` is the session of the request.
    pub fn owner_view(self, current: &str) -> SessionView {
        SessionView {
            current: self.id == current,
            session_id: self.id,
            device: self.device,
            ip: self.ip,
            created_at_ms: self.created_at_ms,
            last_seen_at_ms: self.last_seen_at_ms,
            idle_expires_at_ms: self.idle_expires_at_ms,
            absolute_expires_at_ms: self.absolute_expires_at_ms,
            generation: self.generation,
        }
    }

    /// As admins see it, with its user's name.
    pub fn admin_view(self, username: String) -> AdminSession {
        AdminSession {
            username,
            user_id: self.user_id,
            session_id: self.id,
            device: self.device,
            ip: self.ip,
            created_at_ms: self.created_at_ms,
            last_seen_at_ms: self.last_seen_at_ms,
            idle_expires_at_ms: self.idle_expires_at_ms,
            absolute_expires_at_ms: self.absolute_expires_at_ms,
            generation: self.generation,
        }
    }
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            user_id: user.id,
            username: user.username,
            roles: user.roles,
            disabled: user.disabled,
            must_change_password: user.must_change_password,
            created_at_ms: user.created_at_ms,
            updated_at_ms: user.updated_at_ms,
        }
    }
}

impl From<Principal> for Identity {
    fn from(principal: Principal) -> Self {
        Self {
            roles: principal.roles,
            must_change_password: principal.must_change_password,
            mfa_enrollment_required: principal.must_enroll_mfa,
            aal: principal.assurance.aal,
            amr: principal.assurance.amr,
            auth_time: principal.assurance.auth_time,
            user_id: principal.user_id,
            username: principal.username,
            session_id: principal.session_id,
        }
    }
}

impl From<Principal> for Verified {
    fn from(principal: Principal) -> Self {
        Self {
            user_id: principal.user_id,
            username: principal.username,
            roles: principal.roles,
            session_id: principal.session_id,
            aal: principal.assurance.aal,
            amr: principal.assurance.amr,
        }
    }
}

impl From<Lease> for LockLease {
    fn from(lease: Lease) -> Self {
        Self {
            name: lease.name,
            owner: lease.owner,
            fencing_token: lease.fencing_token,
            expires_in_ms: crate::duration::millis(lease.ttl),
        }
    }
}

impl From<&Login> for TokenPair {
    fn from(login: &Login) -> Self {
        Self {
            expires_in: login
                .access
                .claims
                .exp
                .saturating_sub(login.access.claims.iat),
            access_token: login.access.token.clone(),
            refresh_token: login.refresh.token.clone(),
            token_type: "Bearer".to_owned(),
            session_id: login.session_id.clone(),
            must_change_password: Some(login.user.must_change_password),
        }
    }
}

impl From<Rotated> for TokenPair {
    fn from(rotated: Rotated) -> Self {
        Self {
            expires_in: rotated.access.exp.saturating_sub(rotated.access.iat),
            access_token: rotated.access_token,
            refresh_token: rotated.refresh_token.unwrap_or_default(),
            token_type: "Bearer".to_owned(),
            session_id: rotated.access.sid,
            must_change_password: None,
        }
    }
}
