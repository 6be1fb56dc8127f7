//! The caller's own sessions: `/api/v1/sessions/*`.

use gatehouse::api::sessions::{Revoked, SessionId, SessionList};
use leptos::prelude::*;
use server_fn::codec::Json;

use crate::error::FnError;

/// `POST /api/v1/sessions/list`: the caller's live sessions, most recently
/// used first.
#[server(prefix = "/api/v1", endpoint = "sessions/list")]
pub async fn list_sessions() -> Result<SessionList, FnError> {
    let state = crate::state::current()?;
    let principal = crate::caller::principal()?;
    let sessions = state.auth.sessions().list(&principal.user_id).await?;
    Ok(SessionList {
        sessions: sessions
            .into_iter()
            .map(|s| s.owner_view(&principal.session_id))
            .collect(),
    })
}

/// `POST /api/v1/sessions/revoke` `{"session_id"}`: ends one of the
/// caller's sessions (404 if it is not theirs or already over).
#[server(prefix = "/api/v1", endpoint = "sessions/revoke", input = Json)]
pub async fn revoke_session(#[server(flatten)] body: SessionId) -> Result<Revoked, FnError> {
    let state = crate::state::current()?;
    let principal = crate::caller::principal()?;
    let session_id = body.session_id;
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
        return Err(crate::ApiError::not_found("You have no live session with that id.").into());
    }
    if session_id == principal.session_id {
        crate::cookies::send(&crate::cookies::clearing_cookies(&state.cookies));
    }
    Ok(Revoked {
        session_id,
        revoked: true,
    })
}
