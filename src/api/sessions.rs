//! Sessions: the caller's own (`/api/v1/sessions/*`) and everyone's, for
//! admins (`/api/v1/admin/sessions/*`).

use serde::{Deserialize, Serialize};

/// A session as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionView {
    pub session_id: String,
    pub device: String,
    pub ip: String,
    pub created_at_ms: u64,
    pub last_seen_at_ms: u64,
    pub idle_expires_at_ms: u64,
    pub absolute_expires_at_ms: u64,
    /// Refresh-token rotations so far.
    pub generation: u64,
    /// The session this request was made with.
    pub current: bool,
}

/// `POST /api/v1/sessions/list` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

/// `POST /api/v1/sessions/revoke` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionId {
    pub session_id: String,
}

/// `POST /api/v1/sessions/revoke` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Revoked {
    pub session_id: String,
    pub revoked: bool,
}

/// A session as admins see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminSession {
    pub user_id: String,
    pub username: String,
    pub session_id: String,
    pub device: String,
    pub ip: String,
    pub created_at_ms: u64,
    pub last_seen_at_ms: u64,
    pub idle_expires_at_ms: u64,
    pub absolute_expires_at_ms: u64,
    pub generation: u64,
}

/// `POST /api/v1/admin/sessions/list` body: a page of everyone's sessions,
/// or, with `query` (a username), that user's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionQuery {
    #[serde(default)]
    pub offset: Option<u64>,
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub query: Option<String>,
}

/// `POST /api/v1/admin/sessions/list` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminSessionPage {
    pub total: u64,
    pub sessions: Vec<AdminSession>,
}

/// `POST /api/v1/admin/sessions/revoke` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserSession {
    pub user_id: String,
    pub session_id: String,
}
