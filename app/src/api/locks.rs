//! The lock service for other programs: `/api/v1/locks/*`, and the
//! administrators' view of every holder: `/api/v1/admin/locks/*`.
//!
//! Callers need the `service` or `admin` role. Lock names are namespaced
//! per caller (`<username>/<name>`), so two services cannot collide by
//! accident; an admin may pass `"global": true` to use a name as is.
//! Acquisitions over HTTP have no watchdog: the caller extends before
//! `expires_in_ms` runs out, and releases with its owner token.

#[cfg(feature = "ssr")]
use std::time::Duration;

use gatehouse::api::locks::{
    Acquire, Extend, ForceReleased, LockLease, LockList, LockName, LockReleased, Release,
};
use leptos::prelude::*;
use server_fn::codec::Json;

use crate::error::FnError;

/// `POST /api/v1/locks/acquire` `{"name","ttl_ms","wait_ms","label"}`:
/// takes the lock, waiting up to `wait_ms` (at most 25 000; 409
/// `lock_busy` after that).
#[server(prefix = "/api/v1", endpoint = "locks/acquire", input = Json)]
pub async fn acquire_lock(#[server(flatten)] body: Acquire) -> Result<LockLease, FnError> {
    let caller = crate::caller::signed_in()?;
    let service = caller.state.auth.lock_service(&caller.principal)?;
    let lock = ssr::lock(&body.name, body.global);
    Ok(service
        .acquire(
            lock,
            body.ttl_ms.map(Duration::from_millis),
            Duration::from_millis(body.wait_ms.unwrap_or(0)),
            body.label,
        )
        .await?)
}

/// `POST /api/v1/locks/extend` `{"name","owner","ttl_ms"}`: resets the
/// TTL (default: 30 s) if `owner` still holds the lock (else 409
/// `lock_not_held`).
#[server(prefix = "/api/v1", endpoint = "locks/extend", input = Json)]
pub async fn extend_lock(#[server(flatten)] body: Extend) -> Result<LockLease, FnError> {
    let caller = crate::caller::signed_in()?;
    let service = caller.state.auth.lock_service(&caller.principal)?;
    let lock = ssr::lock(&body.name, body.global);
    Ok(service
        .extend(lock, &body.owner, body.ttl_ms.map(Duration::from_millis))
        .await?)
}

/// `POST /api/v1/locks/release` `{"name","owner"}`: releases the lock if
/// `owner` holds it (else 409 `lock_not_held`).
#[server(prefix = "/api/v1", endpoint = "locks/release", input = Json)]
pub async fn release_lock(#[server(flatten)] body: Release) -> Result<LockReleased, FnError> {
    let caller = crate::caller::signed_in()?;
    let service = caller.state.auth.lock_service(&caller.principal)?;
    let lock = ssr::lock(&body.name, body.global);
    Ok(service.release(lock, &body.owner).await?)
}

/// `POST /api/v1/admin/locks/list`: every held lock.
#[server(prefix = "/api/v1", endpoint = "admin/locks/list")]
pub async fn list_locks() -> Result<LockList, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.admin()?.locks().await?)
}

/// `POST /api/v1/admin/locks/force-release` `{"name"}`: removes a lock
/// whoever holds it (its holder finds out at its next extension).
#[server(prefix = "/api/v1", endpoint = "admin/locks/force-release", input = Json)]
pub async fn force_release_lock(
    #[server(flatten)] body: LockName,
) -> Result<ForceReleased, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.admin()?.force_release(body.name).await?)
}

#[cfg(feature = "ssr")]
mod ssr {
    use gatehouse::ops::LockRef;

    /// The lock a request names.
    pub fn lock(name: &str, global: Option<bool>) -> LockRef<'_> {
        LockRef {
            name,
            global: global.unwrap_or(false),
        }
    }
}
