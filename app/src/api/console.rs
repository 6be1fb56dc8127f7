//! What the admin console shows: the overview, everyone's sessions, the
//! event feed, and a demo lock. `/api/v1/admin/*`; every function re-checks
//! the admin role.

use gatehouse::api::console::{EventList, EventQuery, Overview};
#[cfg(feature = "ssr")]
use gatehouse::api::events::{self, ByAdmin, EventKind};
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
    let state = crate::state::current()?;
    crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let auth = &state.auth;
    let (sessions, locks, blacklist, series, instances) = futures_util::join!(
        auth.sessions().counts(),
        state.locks.list(),
        auth.blacklist().list(0, 1),
        auth.events().series(30),
        gatehouse::instances::list(&state.store),
    );
    let (active_sessions, active_users) = sessions?;
    let series: Vec<_> = series?
        .into_iter()
        .map(|(minute_ms, [logins, failures, lockouts, rejections])| {
            gatehouse::api::console::MinuteCounts {
                minute_ms,
                logins,
                failures,
                lockouts,
                rejections,
            }
        })
        .collect();
    Ok(Overview {
        active_sessions,
        active_users,
        held_locks: locks?.len() as u64,
        blacklist_size: blacklist?.total,
        rejected_last_minute: series.last().map_or(0, |m| m.rejections),
        series,
        instances: instances?,
        now_ms: gatehouse::duration::epoch_ms(),
    })
}

/// `POST /api/v1/admin/sessions/list` `{"offset","limit","query"}`: live
/// sessions of all users, newest first; `query` (a username) narrows to
/// one user's sessions.
#[server(prefix = "/api/v1", endpoint = "admin/sessions/list", input = Json)]
pub async fn admin_sessions(
    #[server(flatten)] body: SessionQuery,
) -> Result<AdminSessionPage, FnError> {
    let SessionQuery {
        offset,
        limit,
        query,
    } = body;
    let state = crate::state::current()?;
    crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let sessions = state.auth.sessions();
    let (total, found) = match query.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        Some(username) => match state.auth.users().find(username).await? {
            Some(user) => {
                let list = sessions.list(&user.id).await?;
                (list.len() as u64, list)
            }
            None => (0, Vec::new()),
        },
        None => {
            sessions
                .list_all(offset.unwrap_or(0), limit.unwrap_or(50))
                .await?
        }
    };
    let ids: Vec<&str> = found.iter().map(|s| s.user_id.as_str()).collect();
    let names = state.auth.users().usernames(&ids).await?;
    Ok(AdminSessionPage {
        total,
        sessions: found
            .into_iter()
            .map(|s| {
                let username = names.get(&s.user_id).cloned().unwrap_or_default();
                s.admin_view(username)
            })
            .collect(),
    })
}

/// `POST /api/v1/admin/sessions/revoke` `{"user_id","session_id"}`.
#[server(prefix = "/api/v1", endpoint = "admin/sessions/revoke", input = Json)]
pub async fn admin_revoke_session(#[server(flatten)] body: UserSession) -> Result<bool, FnError> {
    let UserSession {
        user_id,
        session_id,
    } = body;
    let state = crate::state::current()?;
    let admin = crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let ended = state
        .auth
        .revoke_session(
            &user_id,
            &session_id,
            gatehouse::blacklist::Reason::AdminRevoke,
        )
        .await?;
    if ended.is_none() {
        return Err(crate::ApiError::not_found("No live session with that id.").into());
    }
    crate::caller::admin_event(
        &state,
        &admin,
        |by| EventKind::AdminSessionRevoked(ByAdmin { by }),
        |e| e.user(&user_id).session(&session_id),
    );
    Ok(true)
}

/// `POST /api/v1/admin/sessions/revoke-all` `{"user_id"}`: signs a user
/// out everywhere. Returns how many sessions ended.
#[server(prefix = "/api/v1", endpoint = "admin/sessions/revoke-all", input = Json)]
pub async fn admin_logout_all(#[server(flatten)] body: UserId) -> Result<u64, FnError> {
    let user_id = body.user_id;
    let state = crate::state::current()?;
    let admin = crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let ended = state.auth.logout_all(&user_id).await?;
    let sessions = ended.len() as u64;
    crate::caller::admin_event(
        &state,
        &admin,
        |by| EventKind::AdminSignedOutEverywhere(events::AdminSessions { by, sessions }),
        |e| e.user(&user_id),
    );
    Ok(ended.len() as u64)
}

/// `POST /api/v1/admin/events/recent` `{"kind","user","ip","limit","audit"}`:
/// the newest events, filtered by kind prefix, user (id or name) and
/// address; with `"audit": true`, from the audit stream (sign-ins,
/// sign-outs, revocations, role and password changes, admin actions),
/// which keeps them longer and which no flood can trim.
#[server(prefix = "/api/v1", endpoint = "admin/events/recent", input = Json)]
pub async fn recent_events(#[server(flatten)] body: EventQuery) -> Result<EventList, FnError> {
    let EventQuery {
        kind,
        user,
        ip,
        limit,
        audit,
    } = body;
    let state = crate::state::current()?;
    crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let filter = gatehouse::events::Filter {
        kind: kind.filter(|k| !k.is_empty()),
        user: user.filter(|u| !u.is_empty()),
        ip: ip.filter(|i| !i.is_empty()),
    };
    let limit = usize::try_from(limit.unwrap_or(100).clamp(1, 500)).unwrap_or(100);
    let stream = if audit.unwrap_or(false) {
        gatehouse::events::Stream::Audit
    } else {
        gatehouse::events::Stream::All
    };
    let events = state
        .auth
        .events()
        .recent_in(stream, &filter, limit, 20_000)
        .await?;
    Ok(EventList { events })
}

/// `POST /api/v1/admin/locks/demo`: takes a lock for a minute (no
/// watchdog), to see the Locks page at work. Release it with
/// force-release.
#[server(prefix = "/api/v1", endpoint = "admin/locks/demo")]
pub async fn demo_lock() -> Result<LockLease, FnError> {
    let state = crate::state::current()?;
    let admin = crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let name = format!("demo/{}", gatehouse::random::hex::<3>());
    let lease = state
        .locks
        .acquire_lease(
            &name,
            &gatehouse::lock::LockOptions {
                ttl: std::time::Duration::from_secs(60),
                wait: std::time::Duration::ZERO,
                label: format!("demo by {}", admin.username),
                holder: None,
                watchdog: false,
                // A random name each time: a counter per demo would pile up.
                fencing: false,
            },
        )
        .await?;
    Ok(lease.into())
}
