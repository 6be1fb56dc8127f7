//! The caller's own sessions: `/api/v1/sessions/*`.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use server_fn::codec::Json;

use crate::error::ApiError;

/// A session as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

/// `POST /api/v1/sessions/revoke` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoked {
    pub session_id: String,
    pub revoked: bool,
}

/// `POST /api/v1/sessions/list`: the caller's live sessions, most recently
/// used first.
#[server(prefix = "/api/v1", endpoint = "sessions/list")]
pub async fn list_sessions() -> Result<SessionList, ApiError> {
    let state = crate::state::current()?;
    let principal = crate::caller::principal()?;
    let sessions = state.auth.sessions().list(&principal.user_id).await?;
    Ok(SessionList {
        sessions: sessions
            .into_iter()
            .map(|s| SessionView {
                current: s.id == principal.session_id,
                session_id: s.id,
                device: s.device,
                ip: s.ip,
                created_at_ms: s.created_at_ms,
                last_seen_at_ms: s.last_seen_at_ms,
                idle_expires_at_ms: s.idle_expires_at_ms,
                absolute_expires_at_ms: s.absolute_expires_at_ms,
                generation: s.generation,
            })
            .collect(),
    })
}

/// `POST /api/v1/sessions/revoke` `{"session_id"}`: ends one of the
/// caller's sessions (404 if it is not theirs or already over).
#[server(prefix = "/api/v1", endpoint = "sessions/revoke", input = Json)]
pub async fn revoke_session(session_id: String) -> Result<Revoked, ApiError> {
    let state = crate::state::current()?;
    let principal = crate::caller::principal()?;
    // Through `Auth`, like every other ending: the token is blacklisted and
    // the event recorded, whichever session (the current one too) it is.
    if state
        .auth
        .revoke_session(
            &principal.user_id,
            &session_id,
            gatehouse::blacklist::Reason::SessionRevoked,
        )
        .await?
        .is_none()
    {
        return Err(ApiError::not_found(
            "You have no live session with that id.",
        ));
    }
    if session_id == principal.session_id {
        crate::cookies::send(&crate::cookies::clearing_cookies(&state.cookies));
    }
    Ok(Revoked {
        session_id,
        revoked: true,
    })
}
