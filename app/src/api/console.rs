//! What the admin console shows: the overview, everyone's sessions, the
//! event feed, and a demo lock. `/api/v1/admin/*`; each is one operation
//! of the core's admin capability ([`gatehouse::ops::Admin`]).

use gatehouse::api::console::{EventList, EventQuery, Overview};
use gatehouse::api::locks::LockLease;
use gatehouse::api::sessions::{AdminSessionPage, SessionQuery, UserSession};
use gatehouse::api::users::UserId;
use leptos::prelude::*;
use server_fn::codec::Json;

use crate::error::FnError;

/// `POST /api/v1/admin/overview`: counts, the last 30 minutes of sign-ins
/// and rejections, and the instances.
#[server(prefix = "/api/v1", endpoint = "admin/overview")]
pub async fn console_overview() -> Result<Overview, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.admin()?.overview().await?)
}

/// `POST /api/v1/admin/sessions/list` `{"offset","limit","query"}`: live
/// sessions of all users, newest first; `query` (a username) narrows to
/// one user's sessions.
#[server(prefix = "/api/v1", endpoint = "admin/sessions/list", input = Json)]
pub async fn admin_sessions(
    #[server(flatten)] body: SessionQuery,
) -> Result<AdminSessionPage, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.admin()?.sessions(body).await?)
}

/// `POST /api/v1/admin/sessions/revoke` `{"user_id","session_id"}`.
#[server(prefix = "/api/v1", endpoint = "admin/sessions/revoke", input = Json)]
pub async fn admin_revoke_session(#[server(flatten)] body: UserSession) -> Result<bool, FnError> {
    let caller = crate::caller::signed_in()?;
    let admin = caller.admin()?;
    admin
        .revoke_session(&body.user_id, &body.session_id)
        .await?;
    Ok(true)
}

/// `POST /api/v1/admin/sessions/revoke-all` `{"user_id"}`: signs a user
/// out everywhere. Returns how many sessions ended.
#[server(prefix = "/api/v1", endpoint = "admin/sessions/revoke-all", input = Json)]
pub async fn admin_logout_all(#[server(flatten)] body: UserId) -> Result<u64, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.admin()?.sign_out_everywhere(&body.user_id).await?)
}

/// `POST /api/v1/admin/events/recent` `{"kind","user","ip","limit","audit"}`:
/// the newest events, filtered by kind prefix, user (id or name) and
/// address; with `"audit": true`, from the audit stream (sign-ins,
/// sign-outs, revocations, role and password changes, admin actions),
/// which keeps them longer and which no flood can trim.
#[server(prefix = "/api/v1", endpoint = "admin/events/recent", input = Json)]
pub async fn recent_events(#[server(flatten)] body: EventQuery) -> Result<EventList, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.admin()?.events(body).await?)
}

/// `POST /api/v1/admin/locks/demo`: takes a lock for a minute (no
/// watchdog), to see the Locks page at work. Release it with
/// force-release.
#[server(prefix = "/api/v1", endpoint = "admin/locks/demo")]
pub async fn demo_lock() -> Result<LockLease, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.admin()?.demo_lock().await?)
}
