//! The application layer: what each kind of caller may do, as types.
//!
//! Authorization is decided here, once, by constructing a capability:
//! [`Auth::admin`] gives an [`Admin`] only to a caller with the admin
//! role, [`Auth::lock_service`] and [`Auth::limit_service`] give a
//! [`LockService`] and a [`LimitService`] to services (and admins), and
//! [`Auth::account`] gives every signed-in caller their own [`Account`].
//! A capability's methods are whole operations: they join the services
//! they need, apply the rules (an admin cannot disable themself, a
//! service's lock names are its own) and write the audit trail. An HTTP
//! handler is one call plus translation, and a program embedding the core
//! gets the same rules and the same audit events without any HTTP.

mod account;
mod admin;
mod alerts;
mod console;
mod factors;
mod service;
#[cfg(test)]
mod tests;

pub use account::Account;
pub use admin::Admin;
pub use service::{LimitService, LockRef, LockService, MAX_WAIT_MS};

use crate::api::error::MISSING_ROLE;
use crate::api::status::RedisStatus;
use crate::auth::{Auth, AuthError, Client, Principal};
use crate::lock::LockError;
use crate::ratelimit::LimitError;
use crate::session::SessionError;
use crate::store::StoreError;
use crate::user::{Role, UserError};

/// Why an operation was not done.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// The caller lacks the role the operation needs; says which.
    #[error("{0}")]
    Forbidden(&'static str),
    /// What the operation names does not exist (or is not the caller's).
    #[error("{0}")]
    NotFound(&'static str),
    /// The request is well formed but not allowed as it stands.
    #[error("{0}")]
    Invalid(String),
    /// The operation needs a session whose user proved a second factor
    /// recently (`--step-up-max-age`).
    #[error("this needs a recent sign-in with your second factor")]
    StepUpRequired,
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Auth {
    /// The admin capability, for a caller with the admin role; `client`
    /// is where the admin's actions are recorded as coming from.
    pub fn admin<'a>(
        &'a self,
        principal: &'a Principal,
        client: &'a Client,
    ) -> Result<Admin<'a>, OpError> {
        require(principal, &[Role::Admin], MISSING_ROLE)?;
        Ok(Admin::new(self, principal, client))
    }

    /// A signed-in caller's own account.
    pub fn account<'a>(&'a self, principal: &'a Principal) -> Account<'a> {
        Account::new(self, principal)
    }

    /// The lock service, for the `service` and `admin` roles.
    pub fn lock_service<'a>(
        &'a self,
        principal: &'a Principal,
    ) -> Result<LockService<'a>, OpError> {
        require(
            principal,
            &[Role::Service, Role::Admin],
            "The lock service needs the `service` or `admin` role.",
        )?;
        Ok(LockService::new(self, principal))
    }

    /// The rate-limit service, for the `service` and `admin` roles.
    pub fn limit_service<'a>(
        &'a self,
        principal: &'a Principal,
    ) -> Result<LimitService<'a>, OpError> {
        require(
            principal,
            &[Role::Service, Role::Admin],
            "The rate-limit service needs the `service` or `admin` role.",
        )?;
        Ok(LimitService::new(self, principal))
    }

    /// Whether `principal`, an admin when its request began, may still
    /// follow the admin's live feed at `now_secs` (see
    /// [`Auth::still_allowed`]).
    pub async fn still_admin(&self, principal: &Principal, now_secs: u64) -> Result<bool, OpError> {
        Ok(self.still_allowed(principal, Role::Admin, now_secs).await?)
    }

    /// Redis as this instance sees it now; unreachable is an answer, not
    /// an error.
    pub async fn redis_status(&self) -> RedisStatus {
        match self.store().server_info().await {
            Ok(info) => RedisStatus {
                reachable: true,
                version: Some(info.version),
                round_trip_ms: Some(info.round_trip.as_secs_f64() * 1000.0),
            },
            Err(err) => {
                tracing::warn!(error = %err, "status probe: Redis unreachable");
                RedisStatus {
                    reachable: false,
                    version: None,
                    round_trip_ms: None,
                }
            }
        }
    }
}

impl Principal {
    /// Whether the caller may read the metrics (the `metrics` or `admin`
    /// role).
    pub fn may_read_metrics(&self) -> bool {
        self.has_role(Role::Metrics) || self.has_role(Role::Admin)
    }
}

/// Lets `principal` through if it has any of `roles`.
fn require(principal: &Principal, roles: &[Role], refusal: &'static str) -> Result<(), OpError> {
    if roles.iter().any(|&role| principal.has_role(role)) {
        return Ok(());
    }
    tracing::info!(user_id = %principal.user_id, ?roles, "forbidden: missing role");
    Err(OpError::Forbidden(refusal))
}

/// Role names from a request, each one known.
pub fn parse_roles(names: &[String]) -> Result<Vec<Role>, OpError> {
    names
        .iter()
        .map(|name| {
            Role::parse(name).ok_or_else(|| {
                let known: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
                OpError::Invalid(format!(
                    "Unknown role `{name}`: use one of {}.",
                    known.join(", ")
                ))
            })
        })
        .collect()
}
