//! What the admin console shows: the overview, everyone's sessions, the
//! event feed, and a demo lock. `/api/v1/admin/*`; every function re-checks
//! the admin role.

use std::collections::BTreeMap;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use server_fn::codec::Json;

use crate::api::locks::LockLease;
use crate::error::ApiError;

/// One minute of the overview's time series.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinuteCounts {
    pub minute_ms: u64,
    pub logins: u64,
    pub failures: u64,
    pub lockouts: u64,
    pub rejections: u64,
}

/// A running Gatehouse instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceView {
    pub id: String,
    pub version: String,
    pub started_at_ms: u64,
    pub last_seen_ms: u64,
}

/// `POST /api/v1/admin/overview` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    pub active_sessions: u64,
    pub active_users: u64,
    pub held_locks: u64,
    pub blacklist_size: u64,
    pub rejected_last_minute: u64,
    /// The last 30 minutes, oldest first.
    pub series: Vec<MinuteCounts>,
    pub instances: Vec<InstanceView>,
    pub now_ms: u64,
}

/// A session as admins see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// `POST /api/v1/admin/sessions/list` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminSessionPage {
    pub total: u64,
    pub sessions: Vec<AdminSession>,
}

/// A security event (the JSON shape of the stream's entries).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    #[serde(default)]
    pub id: String,
    pub kind: String,
    pub at_ms: u64,
    #[serde(default)]
    pub instance: String,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub details: BTreeMap<String, String>,
}

/// `POST /api/v1/admin/events/recent` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventList {
    pub events: Vec<EventView>,
}

/// `POST /api/v1/admin/overview`: counts, the last 30 minutes of sign-ins
/// and rejections, and the instances.
#[server(prefix = "/api/v1", endpoint = "admin/overview")]
pub async fn console_overview() -> Result<Overview, ApiError> {
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
    let series: Vec<MinuteCounts> = series?
        .into_iter()
        .map(
            |(minute_ms, [logins, failures, lockouts, rejections])| MinuteCounts {
                minute_ms,
                logins,
                failures,
                lockouts,
                rejections,
            },
        )
        .collect();
    Ok(Overview {
        active_sessions,
        active_users,
        held_locks: locks?.len() as u64,
        blacklist_size: blacklist?.total,
        rejected_last_minute: series.last().map_or(0, |m| m.rejections),
        series,
        instances: instances?
            .into_iter()
            .map(|i| InstanceView {
                id: i.id,
                version: i.version,
                started_at_ms: i.started_at_ms,
                last_seen_ms: i.last_seen_ms,
            })
            .collect(),
        now_ms: gatehouse::duration::epoch_ms(),
    })
}

/// `POST /api/v1/admin/sessions/list` `{"offset","limit","query"}`: live
/// sessions of all users, newest first; `query` (a username) narrows to
/// one user's sessions.
#[server(prefix = "/api/v1", endpoint = "admin/sessions/list", input = Json)]
pub async fn admin_sessions(
    #[server(default)] offset: Option<u64>,
    #[server(default)] limit: Option<u64>,
    #[server(default)] query: Option<String>,
) -> Result<AdminSessionPage, ApiError> {
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
                AdminSession::from_core(s, username)
            })
            .collect(),
    })
}

#[cfg(feature = "ssr")]
impl AdminSession {
    /// A core session, with its user's name.
    pub(crate) fn from_core(s: gatehouse::session::Session, username: String) -> Self {
        Self {
            username,
            user_id: s.user_id,
            session_id: s.id,
            device: s.device,
            ip: s.ip,
            created_at_ms: s.created_at_ms,
            last_seen_at_ms: s.last_seen_at_ms,
            idle_expires_at_ms: s.idle_expires_at_ms,
            absolute_expires_at_ms: s.absolute_expires_at_ms,
            generation: s.generation,
        }
    }
}

/// `POST /api/v1/admin/sessions/revoke` `{"user_id","session_id"}`.
#[server(prefix = "/api/v1", endpoint = "admin/sessions/revoke", input = Json)]
pub async fn admin_revoke_session(user_id: String, session_id: String) -> Result<bool, ApiError> {
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
        return Err(ApiError::not_found("No live session with that id."));
    }
    crate::caller::admin_event(&state, &admin, "admin_session_revoked", |e| {
        e.user(&user_id).session(&session_id)
    });
    Ok(true)
}

/// `POST /api/v1/admin/sessions/revoke-all` `{"user_id"}`: signs a user
/// out everywhere. Returns how many sessions ended.
#[server(prefix = "/api/v1", endpoint = "admin/sessions/revoke-all", input = Json)]
pub async fn admin_logout_all(user_id: String) -> Result<u64, ApiError> {
    let state = crate::state::current()?;
    let admin = crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let ended = state.auth.logout_all(&user_id).await?;
    crate::caller::admin_event(&state, &admin, "admin_signed_out_everywhere", |e| {
        e.user(&user_id).detail("sessions", ended.len())
    });
    Ok(ended.len() as u64)
}

/// `POST /api/v1/admin/events/recent` `{"kind","user","ip","limit","audit"}`:
/// the newest events, filtered by kind prefix, user (id or name) and
/// address; with `"audit": true`, from the audit stream (sign-ins,
/// sign-outs, revocations, role and password changes, admin actions),
/// which keeps them longer and which no flood can trim.
#[server(prefix = "/api/v1", endpoint = "admin/events/recent", input = Json)]
pub async fn recent_events(
    #[server(default)] kind: Option<String>,
    #[server(default)] user: Option<String>,
    #[server(default)] ip: Option<String>,
    #[server(default)] limit: Option<u64>,
    #[server(default)] audit: Option<bool>,
) -> Result<EventList, ApiError> {
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
    Ok(EventList {
        events: events
            .into_iter()
            .map(|e| EventView {
                id: e.id,
                kind: e.kind,
                at_ms: e.at_ms,
                instance: e.instance,
                user_id: e.user_id,
                username: e.username,
                session_id: e.session_id,
                ip: e.ip,
                details: e.details,
            })
            .collect(),
    })
}

/// `POST /api/v1/admin/locks/demo`: takes a lock for a minute (no
/// watchdog), to see the Locks page at work. Release it with
/// force-release.
#[server(prefix = "/api/v1", endpoint = "admin/locks/demo")]
pub async fn demo_lock() -> Result<LockLease, ApiError> {
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
    Ok(LockLease {
        name: lease.name,
        owner: lease.owner,
        fencing_token: lease.fencing_token,
        expires_in_ms: u64::try_from(lease.ttl.as_millis()).unwrap_or(u64::MAX),
    })
}
