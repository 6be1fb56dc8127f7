//! The lock service for other programs: `/api/v1/locks/*`, and the
//! administrators' view of every holder: `/api/v1/admin/locks/*`.
//!
//! Callers need the `service` or `admin` role. Lock names are namespaced
//! per caller (`<username>/<name>`), so two services cannot collide by
//! accident; an admin may pass `"global": true` to use a name as is.
//! Acquisitions over HTTP have no watchdog: the caller extends before
//! `expires_in_ms` runs out, and releases with its owner token.

#[cfg(feature = "ssr")]
use gatehouse::api::events::{AdminLock, EventKind};
use gatehouse::api::locks::{
    Acquire, Extend, ForceReleased, LockLease, LockList, LockName, LockReleased, Release,
};
use leptos::prelude::*;
use server_fn::codec::Json;

use crate::error::FnError;

/// Longest wait accepted over HTTP: below the request timeout.
pub const MAX_HTTP_WAIT_MS: u64 = 25_000;

/// `POST /api/v1/locks/acquire` `{"name","ttl_ms","wait_ms","label"}`:
/// takes the lock, waiting up to `wait_ms` (409 `lock_busy` after that).
#[server(prefix = "/api/v1", endpoint = "locks/acquire", input = Json)]
pub async fn acquire_lock(#[server(flatten)] body: Acquire) -> Result<LockLease, FnError> {
    use std::time::Duration;
    let Acquire {
        name,
        ttl_ms,
        wait_ms,
        label,
        global,
    } = body;
    let state = crate::state::current()?;
    let caller = ssr::lock_caller()?;
    let name = ssr::full_name(&caller, &name, global.unwrap_or(false))?;
    let wait_ms = wait_ms.unwrap_or(0);
    if wait_ms > MAX_HTTP_WAIT_MS {
        return Err(crate::ApiError::new(
            crate::ErrorCode::ValidationFailed,
            format!("wait_ms may be at most {MAX_HTTP_WAIT_MS}; retry instead of waiting longer."),
        )
        .into());
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
    Ok(lease.into())
}

/// `POST /api/v1/locks/extend` `{"name","owner","ttl_ms"}`: resets the
/// TTL (default: 30 s) if `owner` still holds the lock (else 409
/// `lock_not_held`).
#[server(prefix = "/api/v1", endpoint = "locks/extend", input = Json)]
pub async fn extend_lock(#[server(flatten)] body: Extend) -> Result<LockLease, FnError> {
    let Extend {
        name,
        owner,
        ttl_ms,
        global,
    } = body;
    let state = crate::state::current()?;
    let caller = ssr::lock_caller()?;
    let name = ssr::full_name(&caller, &name, global.unwrap_or(false))?;
    let ttl = std::time::Duration::from_millis(ttl_ms.unwrap_or(30_000));
    let lease = state.locks.extend(&name, &owner, ttl).await?;
    Ok(lease.into())
}

/// `POST /api/v1/locks/release` `{"name","owner"}`: releases the lock if
/// `owner` holds it (else 409 `lock_not_held`).
#[server(prefix = "/api/v1", endpoint = "locks/release", input = Json)]
pub async fn release_lock(#[server(flatten)] body: Release) -> Result<LockReleased, FnError> {
    let Release {
        name,
        owner,
        global,
    } = body;
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
pub async fn list_locks() -> Result<LockList, FnError> {
    let state = crate::state::current()?;
    crate::caller::require_role(gatehouse::user::Role::Admin)?;
    Ok(LockList {
        locks: state.locks.list().await?,
    })
}

/// `POST /api/v1/admin/locks/force-release` `{"name"}`: removes a lock
/// whoever holds it (its holder finds out at its next extension).
#[server(prefix = "/api/v1", endpoint = "admin/locks/force-release", input = Json)]
pub async fn force_release_lock(
    #[server(flatten)] body: LockName,
) -> Result<ForceReleased, FnError> {
    let name = body.name;
    let state = crate::state::current()?;
    let admin = crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let holder = state.locks.force_release(&name).await?;
    tracing::warn!(admin = %admin.user_id, lock = %name, "admin force-released a lock");
    let lock = name.clone();
    crate::caller::admin_event(
        &state,
        &admin,
        |by| EventKind::AdminLockForceReleased(AdminLock { by, lock }),
        |e| e,
    );
    Ok(ForceReleased {
        name,
        released: holder.is_some(),
        holder,
    })
}

#[cfg(feature = "ssr")]
mod ssr {
    use gatehouse::api::{ApiError, ErrorCode};
    use gatehouse::auth::Principal;
    use gatehouse::user::Role;

    /// The caller, who must hold a role that grants locks.
    pub fn lock_caller() -> Result<Principal, ApiError> {
        let principal = crate::caller::principal()?;
        if principal.has_role(Role::Service) || principal.has_role(Role::Admin) {
            Ok(principal)
        } else {
            Err(ApiError::new(
                ErrorCode::Forbidden,
                "The lock service needs the `service` or `admin` role.",
            ))
        }
    }

    /// `<username>/<name>`, or `name` for an admin asking for a global lock.
    pub fn full_name(caller: &Principal, name: &str, global: bool) -> Result<String, ApiError> {
        if name.starts_with(gatehouse::lock::INTERNAL_PREFIX) {
            return Err(ApiError::new(
                ErrorCode::ValidationFailed,
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
                ErrorCode::Forbidden,
                "Only admins may use global lock names.",
            ));
        }
        Ok(format!("{}/{name}", caller.username))
    }
}
