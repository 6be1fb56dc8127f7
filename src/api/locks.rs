//! The lock service (`/api/v1/locks/*`) and the administrators' view of
//! every holder (`/api/v1/admin/locks/*`).

use serde::{Deserialize, Serialize};

/// `POST /api/v1/locks/acquire` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Acquire {
    /// Namespaced per caller (`<username>/<name>`) unless `global`.
    pub name: String,
    /// Default 30 000.
    #[serde(default)]
    pub ttl_ms: Option<u64>,
    /// How long to wait for a busy lock; default 0, at most 25 000.
    #[serde(default)]
    pub wait_ms: Option<u64>,
    /// Shown to admins; default `<username> via the API`.
    #[serde(default)]
    pub label: Option<String>,
    /// Admins only: use `name` as is.
    #[serde(default)]
    pub global: Option<bool>,
}

/// `POST /api/v1/locks/extend` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Extend {
    pub name: String,
    pub owner: String,
    /// Default 30 000.
    #[serde(default)]
    pub ttl_ms: Option<u64>,
    #[serde(default)]
    pub global: Option<bool>,
}

/// `POST /api/v1/locks/release` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Release {
    pub name: String,
    pub owner: String,
    #[serde(default)]
    pub global: Option<bool>,
}

/// A hold on a lock, as the API returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockReleased {
    pub name: String,
    pub released: bool,
    pub remaining_holds: u64,
}

/// A held lock as the registry shows it (no owner token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockInfo {
    pub name: String,
    pub label: String,
    /// The Gatehouse instance (or embedding process) that acquired it.
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockList {
    pub locks: Vec<LockInfo>,
}

/// `POST /api/v1/admin/locks/force-release` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockName {
    pub name: String,
}

/// `POST /api/v1/admin/locks/force-release` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ForceReleased {
    pub name: String,
    /// Whether a holder was removed.
    pub released: bool,
    /// Who held it.
    pub holder: Option<LockInfo>,
}
