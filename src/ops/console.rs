//! What the admin console reads: the overview, users, everyone's sessions,
//! one user's report, the event feed, the blacklist, lock holders and
//! live rate-limit windows. Each is one call that joins the services it
//! needs (concurrently where they are independent).

use std::collections::HashMap;

use super::{Admin, OpError};
use crate::api::Page;
use crate::api::console::{EventList, EventQuery, MinuteCounts, Overview};
use crate::api::events::Kind;
use crate::api::locks::LockList;
use crate::api::ratelimit::{ActiveWindow, ActiveWindowPage, WindowReport};
use crate::api::sessions::{AdminSessionPage, SessionQuery};
use crate::api::users::{BlacklistPage, UserList, UserReport, UserView};
use crate::events::{Event, Filter, Stream};
use crate::ratelimit::Subject;

/// How many of the most recently revoked tokens a user report searches
/// for the user's (the blacklist has no per-user index).
pub const BLACKLIST_SCAN: u64 = 500;

/// How many events a feed query reads at most to find its matches.
const EVENT_SCAN: usize = 20_000;

impl Admin<'_> {
    /// Counts, the last 30 minutes of sign-ins and rejections, and the
    /// instances.
    pub async fn overview(&self) -> Result<Overview, OpError> {
        let auth = self.auth;
        let (sessions, locks, blacklist, series, instances) = tokio::join!(
            auth.sessions().counts(),
            auth.locks().list(),
            auth.blacklist().list(0, 1),
            auth.events().series(30),
            crate::instances::list(auth.store()),
        );
        let (active_sessions, active_users) = sessions?;
        let series: Vec<_> = series?
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
            instances: instances?,
            now_ms: crate::duration::epoch_ms(),
        })
    }

    /// Users, oldest first (default limit 100).
    pub async fn users(&self, page: Page) -> Result<UserList, OpError> {
        let page = self
            .auth
            .users()
            .list(page.offset.unwrap_or(0), page.limit.unwrap_or(100))
            .await?;
        Ok(UserList {
            total: page.total,
            users: page.users.into_iter().map(UserView::from).collect(),
        })
    }

    /// One user's profile, live sessions (newest first), revoked tokens
    /// (among the [`BLACKLIST_SCAN`] most recent), last sign-in and second
    /// factors.
    pub async fn user_report(&self, user_id: &str) -> Result<UserReport, OpError> {
        let auth = self.auth;
        let Some(user) = auth.users().get(user_id).await? else {
            return Err(OpError::NotFound("No user has this id."));
        };
        let last_sign_in = Filter {
            kind: Some(Kind::LoginSucceeded.as_str().to_owned()),
            user: Some(user.id.clone()),
            ip: None,
        };
        let (sessions, blacklist, signed_in, factors) = tokio::join!(
            auth.sessions().list(&user.id),
            auth.blacklist().list(0, BLACKLIST_SCAN),
            auth.events()
                .recent_in(Stream::Audit, &last_sign_in, 1, EVENT_SCAN),
            auth.factors().list(&user.id),
        );
        let mut sessions = sessions?;
        sessions.sort_by_key(|s| std::cmp::Reverse(s.created_at_ms));
        Ok(UserReport {
            last_sign_in_ms: signed_in?.first().map(|e| e.at_ms),
            sessions: sessions
                .into_iter()
                .map(|s| s.admin_view(user.username.clone()))
                .collect(),
            blacklist: blacklist?
                .entries
                .into_iter()
                .filter(|e| e.user_id == user.id)
                .collect(),
            mfa: factors.map_err(crate::auth::AuthError::from)?.into(),
            user: user.into(),
        })
    }

    /// Live sessions of all users, newest first; a username in `query`
    /// narrows to that user's sessions.
    pub async fn sessions(&self, query: SessionQuery) -> Result<AdminSessionPage, OpError> {
        let SessionQuery {
            offset,
            limit,
            query,
        } = query;
        let auth = self.auth;
        let (total, found) = match query.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            Some(username) => match auth.users().find(username).await? {
                Some(user) => {
                    let list = auth.sessions().list(&user.id).await?;
                    (list.len() as u64, list)
                }
                None => (0, Vec::new()),
            },
            None => {
                auth.sessions()
                    .list_all(offset.unwrap_or(0), limit.unwrap_or(50))
                    .await?
            }
        };
        let ids: Vec<&str> = found.iter().map(|s| s.user_id.as_str()).collect();
        let names = auth.users().usernames(&ids).await?;
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

    /// The newest events matching the query (at most 500), from the
    /// audit stream when it asks for it.
    pub async fn events(&self, query: EventQuery) -> Result<EventList, OpError> {
        let EventQuery {
            kind,
            user,
            ip,
            limit,
            audit,
        } = query;
        let filter = Filter {
            kind: kind.filter(|k| !k.is_empty()),
            user: user.filter(|u| !u.is_empty()),
            ip: ip.filter(|i| !i.is_empty()),
        };
        let limit = usize::try_from(limit.unwrap_or(100).clamp(1, 500)).unwrap_or(100);
        let stream = if audit.unwrap_or(false) {
            Stream::Audit
        } else {
            Stream::All
        };
        let events = self
            .auth
            .events()
            .recent_in(stream, &filter, limit, EVENT_SCAN)
            .await?;
        Ok(EventList { events })
    }

    /// Up to `count` events after the stream id `id`, oldest first (a live
    /// feed resuming where its client left off).
    pub async fn events_after(&self, id: &str, count: usize) -> Result<Vec<Event>, OpError> {
        Ok(self.auth.events().after(id, count).await?)
    }

    /// Revoked tokens that have not expired yet, most recent first
    /// (default limit 100).
    pub async fn blacklist(&self, page: Page) -> Result<BlacklistPage, OpError> {
        Ok(self
            .auth
            .blacklist()
            .list(page.offset.unwrap_or(0), page.limit.unwrap_or(100))
            .await?)
    }

    /// Every held lock.
    pub async fn locks(&self) -> Result<LockList, OpError> {
        Ok(LockList {
            locks: self.auth.locks().list().await?,
        })
    }

    /// Subjects with live rate-limit windows, most recently active first,
    /// each with a label people read (a username rather than an id).
    pub async fn active_windows(&self, page: Page) -> Result<ActiveWindowPage, OpError> {
        let (total, subjects) = self
            .auth
            .limiter()
            .active(page.offset.unwrap_or(0), page.limit.unwrap_or(100))
            .await?;
        let ids: Vec<&str> = subjects
            .iter()
            .filter_map(|a| match &a.subject {
                Subject::User { user_id }
                | Subject::Session { user_id, .. }
                | Subject::UserRoute { user_id, .. } => Some(user_id.as_str()),
                _ => None,
            })
            .collect();
        let names = self.auth.users().usernames(&ids).await?;
        Ok(ActiveWindowPage {
            total,
            subjects: subjects
                .into_iter()
                .map(|a| ActiveWindow {
                    label: label(&a.subject, &names),
                    subject: a.subject,
                    until_ms: a.until_ms,
                })
                .collect(),
        })
    }

    /// Each policy's window for one subject, with request times for
    /// sliding logs.
    pub async fn windows(&self, subject: Subject) -> Result<WindowReport, OpError> {
        let windows = self.auth.limiter().windows(&subject).await?;
        Ok(WindowReport { subject, windows })
    }
}

/// How the console names a rate-limit subject; `names` maps user ids to
/// usernames.
fn label(subject: &Subject, names: &HashMap<String, String>) -> String {
    let name = |id: &str| {
        names
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.chars().take(8).collect())
    };
    match subject {
        Subject::Ip { ip } => ip.clone(),
        Subject::User { user_id } => name(user_id),
        Subject::Session {
            user_id,
            session_id,
        } => format!(
            "{} (session {})",
            name(user_id),
            session_id.chars().take(8).collect::<String>()
        ),
        Subject::UserRoute { user_id, route } => format!("{} {route}", name(user_id)),
        Subject::IpUsername { ip, username } => format!("sign-in {username} from {ip}"),
        Subject::Username { username } => format!("sign-ins to {username}"),
        Subject::Key { key } => key.clone(),
    }
}
