//! The caller's own sessions: `/api/v1/sessions/*`.

use gatehouse::api::sessions::{Revoked, SessionId, SessionList};
use leptos::prelude::*;
use server_fn::codec::Json;

use crate::error::FnError;

/// `POST /api/v1/sessions/list`: the caller's live sessions, most recently
/// used first.
#[server(prefix = "/api/v1", endpoint = "sessions/list")]
pub async fn list_sessions() -> Result<SessionList, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.account().sessions().await?)
}

/// `POST /api/v1/sessions/revoke` `{"session_id"}`: ends one of the
/// caller's sessions (404 if it is not theirs or already over).
#[server(prefix = "/api/v1", endpoint = "sessions/revoke", input = Json)]
pub async fn revoke_session(#[server(flatten)] body: SessionId) -> Result<Revoked, FnError> {
    let caller = crate::caller::signed_in()?;
    let current = body.session_id == caller.principal.session_id;
    let revoked = caller.account().revoke_session(body.session_id).await?;
    if current {
        crate::cookies::send(&crate::cookies::clearing_cookies(&caller.state.cookies));
    }
    Ok(revoked)
}
