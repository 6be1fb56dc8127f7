//! The lock service for other programs: `/api/v1/locks/*`, and the
//! administrators' view of every holder: `/api/v1/admin/locks/*`.
//!
//! Callers need the `service` or `admin` role. Lock names are namespaced
//! per caller (`<username>/<name>`), so two services cannot collide by
//! accident; an admin may pass `"global": true` to use a name as is.
//! Acquisitions over HTTP have no watchdog: the caller extends before
//! `expires_in_ms` runs out, and releases with its owner token.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use server_fn::codec::Json;

use crate::error::ApiError;

/// Longest wait accepted over HTTP: below the request timeout.
pub const MAX_HTTP_WAIT_MS: u64 = 25_000;

/// A hold on a lock, as the API returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockLease {
    /// The full lock name (with the caller's namespace).
    pub name: String,
    /// The owner token: needed to extend and release. Keep it secret.
    pub owner: String,
    /// Strictly increasing per lock; send it with every protected write.
    pub fencing_token: u64,
    pub expires_in_ms: u64,
}

/// What a release left.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockReleased {
    pub name: String,
    pub released: bool,
    pub remaining_holds: u64,
}

/// A held lock as admins see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    pub name: String,
    pub label: String,
    pub instance: String,
    pub acquired_at_ms: u64,
    pub ttl_ms: u64,
    pub ttl_left_ms: u64,
    pub fencing_token: u64,
    pub hold_count: u64,
    pub waiters: u64,
}

/// `POST /api/v1/admin/locks/list` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockList {
    pub locks: Vec<LockHolder>,
}

/// `POST /api/v1/admin/locks/force-release` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForceReleased {
    pub name: String,
    /// Whether a holder was removed.
    pub released: bool,
    /// Who held it.
    pub holder: Option<LockHolder>,
}

/// `POST /api/v1/locks/acquire` `{"name","ttl_ms","wait_ms","label"}`:
/// takes the lock, waiting up to `wait_ms` (409 `lock_busy` after that).
#[server(prefix = "/api/v1", endpoint = "locks/acquire", input = Json)]
pub async fn acquire_lock(
    name: String,
    #[server(default)] ttl_ms: Option<u64>,
    #[server(default)] wait_ms: Option<u64>,
    #[server(default)] label: Option<String>,
    #[server(default)] global: Option<bool>,
) -> Result<LockLease, ApiError> {
    use std::time::Duration;
    let state = crate::state::current()?;
    let caller = ssr::lock_caller()?;
    let name = ssr::full_name(&caller, &name, global.unwrap_or(false))?;
    let wait_ms = wait_ms.unwrap_or(0);
    if wait_ms > MAX_HTTP_WAIT_MS {
        return Err(ApiError::new(
            crate::ErrorCode::ValidationFailed,
            format!("wait_ms may be at most {MAX_HTTP_WAIT_MS}; retry instead of waiting longer."),
        ));
    }
    let label = match label.map(|l| l.chars().take(200).collect::<String>()) {
        Some(label) if !label.trim().is_empty() => label,
        _ => format!("{} via the API", caller.username),
    };
    let options = gatehouse::lock::LockOptions {
        ttl: Duration::from_millis(ttl_ms.unwrap_or(30_000)),
        wait: Duration::from_millis(wait_ms),
        label,
        holder: None,
        watchdog: false,
        fencing: true,
    };
    let lease = state.locks.acquire_lease(&name, &options).await?;
    Ok(ssr::lease(lease))
}

/// `POST /api/v1/locks/extend` `{"name","owner","ttl_ms"}`: resets the
/// TTL (default: 30 s) if `owner` still holds the lock (else 409
/// `lock_not_held`).
#[server(prefix = "/api/v1", endpoint = "locks/extend", input = Json)]
pub async fn extend_lock(
    name: String,
    owner: String,
    #[server(default)] ttl_ms: Option<u64>,
    #[server(default)] global: Option<bool>,
) -> Result<LockLease, ApiError> {
    let state = crate::state::current()?;
    let caller = ssr::lock_caller()?;
    let name = ssr::full_name(&caller, &name, global.unwrap_or(false))?;
    let ttl = std::time::Duration::from_millis(ttl_ms.unwrap_or(30_000));
    let lease = state.locks.extend(&name, &owner, ttl).await?;
    Ok(ssr::lease(lease))
}

/// `POST /api/v1/locks/release` `{"name","owner"}`: releases the lock if
/// `owner` holds it (else 409 `lock_not_held`).
#[server(prefix = "/api/v1", endpoint = "locks/release", input = Json)]
pub async fn release_lock(
    name: String,
    owner: String,
    #[server(default)] global: Option<bool>,
) -> Result<LockReleased, ApiError> {
    let state = crate::state::current()?;
    let caller = ssr::lock_caller()?;
    let name = ssr::full_name(&caller, &name, global.unwrap_or(false))?;
    let released = state.locks.release(&name, &owner).await?;
    Ok(LockReleased {
        name,
        released: true,
        remaining_holds: released.remaining_holds,
    })
}

/// `POST /api/v1/admin/locks/list`: every held lock.
#[server(prefix = "/api/v1", endpoint = "admin/locks/list")]
pub async fn list_locks() -> Result<LockList, ApiError> {
    let state = crate::state::current()?;
    crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let locks = state.locks.list().await?;
    Ok(LockList {
        locks: locks.into_iter().map(ssr::holder).collect(),
    })
}

/// `POST /api/v1/admin/locks/force-release` `{"name"}`: removes a lock
/// whoever holds it (its holder finds out at its next extension).
#[server(prefix = "/api/v1", endpoint = "admin/locks/force-release", input = Json)]
pub async fn force_release_lock(name: String) -> Result<ForceReleased, ApiError> {
    let state = crate::state::current()?;
    let admin = crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let holder = state.locks.force_release(&name).await?;
    tracing::warn!(admin = %admin.user_id, lock = %name, "admin force-released a lock");
    crate::caller::admin_event(&state, &admin, "admin_lock_force_released", |e| {
        e.detail("lock", &name)
    });
    Ok(ForceReleased {
        name,
        released: holder.is_some(),
        holder: holder.map(ssr::holder),
    })
}

#[cfg(feature = "ssr")]
mod ssr {
    use gatehouse::auth::Principal;
    use gatehouse::lock::{Lease, LockInfo};
    use gatehouse::user::Role;

    use super::{LockHolder, LockLease};
    use crate::error::ApiError;

    /// The caller, who must hold a role that grants locks.
    pub fn lock_caller() -> Result<Principal, ApiError> {
        let principal = crate::caller::principal()?;
        if principal.has_role(Role::Service) || principal.has_role(Role::Admin) {
            Ok(principal)
        } else {
            Err(ApiError::new(
                crate::ErrorCode::Forbidden,
                "The lock service needs the `service` or `admin` role.",
            ))
        }
    }

    /// `<username>/<name>`, or `name` for an admin asking for a global lock.
    pub fn full_name(caller: &Principal, name: &str, global: bool) -> Result<String, ApiError> {
        if name.starts_with(gatehouse::lock::INTERNAL_PREFIX) {
            return Err(ApiError::new(
                crate::ErrorCode::ValidationFailed,
                format!(
                    "Lock names starting with `{}` are Gatehouse's own; choose another name.",
                    gatehouse::lock::INTERNAL_PREFIX
                ),
            ));
        }
        if global {
            if caller.has_role(Role::Admin) {
                return Ok(name.to_owned());
            }
            return Err(ApiError::new(
                crate::ErrorCode::Forbidden,
                "Only admins may use global lock names.",
            ));
        }
        Ok(format!("{}/{name}", caller.username))
    }

    pub fn lease(lease: Lease) -> LockLease {
        LockLease {
            name: lease.name,
            owner: lease.owner,
            fencing_token: lease.fencing_token,
            expires_in_ms: u64::try_from(lease.ttl.as_millis()).unwrap_or(u64::MAX),
        }
    }

    pub fn holder(info: LockInfo) -> LockHolder {
        LockHolder {
            name: info.name,
            label: info.label,
            instance: info.instance,
            acquired_at_ms: info.acquired_at_ms,
            ttl_ms: info.ttl_ms,
            ttl_left_ms: info.ttl_left_ms,
            fencing_token: info.fencing_token,
            hold_count: info.hold_count,
            waiters: info.waiters,
        }
    }
}
