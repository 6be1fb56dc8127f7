//! Rate limits as a service (`/api/v1/ratelimit/check`) and the
//! administrators' view of live windows (`/api/v1/admin/ratelimit/*`).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use server_fn::codec::Json;

use crate::error::ApiError;

/// `POST /api/v1/ratelimit/check` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitAnswer {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    pub reset_ms: u64,
    /// 0 when allowed; `null` when this cost can never pass.
    pub retry_after_ms: Option<u64>,
}

/// Whose window (the JSON shape of the core library's subject).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RateSubject {
    Ip { ip: String },
    User { user_id: String },
    Session { user_id: String, session_id: String },
    UserRoute { user_id: String, route: String },
    IpUsername { ip: String, username: String },
    Username { username: String },
    Key { key: String },
}

/// A subject with live windows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveWindow {
    pub subject: RateSubject,
    /// How people recognise it: a username, an address, a key.
    pub label: String,
    pub until_ms: u64,
}

/// `POST /api/v1/admin/ratelimit/active` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveWindowPage {
    pub total: u64,
    pub subjects: Vec<ActiveWindow>,
}

/// One policy's window for a subject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowView {
    pub policy: String,
    pub algorithm: String,
    pub limit: u64,
    pub used: u64,
    pub remaining: u64,
    pub window_ms: u64,
    pub reset_ms: u64,
    /// Sliding logs: arrival time of each request in the window.
    pub requests_ms: Vec<u64>,
    /// When this was read (ms since the epoch), to place `requests_ms`.
    pub now_ms: u64,
}

/// `POST /api/v1/admin/ratelimit/windows` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowReport {
    pub subject: RateSubject,
    pub windows: Vec<WindowView>,
}

/// `POST /api/v1/admin/ratelimit/reset` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowsReset {
    pub subject: RateSubject,
    pub windows_cleared: u64,
}

/// `POST /api/v1/ratelimit/check` `{"policy","key","cost"}`: counts `cost`
/// (default 1; 0 only looks) against the caller's `key` under a configured
/// policy, for services that want to ask before doing expensive work.
/// Keys are namespaced per caller. Needs the `service` or `admin` role.
#[server(prefix = "/api/v1", endpoint = "ratelimit/check", input = Json)]
pub async fn check_rate_limit(
    policy: String,
    key: String,
    #[server(default)] cost: Option<u64>,
) -> Result<RateLimitAnswer, ApiError> {
    use gatehouse::ratelimit::{Check, Subject};
    use gatehouse::user::Role;
    let state = crate::state::current()?;
    let caller = crate::caller::principal()?;
    if !(caller.has_role(Role::Service) || caller.has_role(Role::Admin)) {
        return Err(ApiError::new(
            crate::ErrorCode::Forbidden,
            "The rate-limit service needs the `service` or `admin` role.",
        ));
    }
    if key.is_empty() || key.len() > 200 {
        return Err(ApiError::new(
            crate::ErrorCode::ValidationFailed,
            "Use a key of 1 to 200 bytes.",
        ));
    }
    let limiter = state.auth.limiter();
    let policy = limiter.policy(&policy).ok_or_else(|| {
        ApiError::new(
            crate::ErrorCode::ValidationFailed,
            format!("No rate-limit policy named `{policy}`."),
        )
    })?;
    let checks = [Check {
        policy,
        subject: Subject::Key {
            key: format!("{}/{key}", caller.username),
        },
        cost: cost.unwrap_or(1),
    }];
    let decision = limiter.check(&checks, true).await?;
    let outcome = decision
        .outcomes
        .into_iter()
        .next()
        .ok_or_else(ApiError::internal)?;
    Ok(RateLimitAnswer {
        allowed: outcome.allowed,
        limit: outcome.limit,
        remaining: outcome.remaining,
        reset_ms: outcome.reset_ms,
        retry_after_ms: if outcome.allowed {
            Some(0)
        } else {
            outcome.retry_after_ms
        },
    })
}

/// `POST /api/v1/admin/ratelimit/active` `{"offset","limit"}`: subjects
/// (users, addresses, service keys, sign-in attempts) with live windows,
/// most recently active first.
#[server(prefix = "/api/v1", endpoint = "admin/ratelimit/active", input = Json)]
pub async fn active_windows(
    #[server(default)] offset: Option<u64>,
    #[server(default)] limit: Option<u64>,
) -> Result<ActiveWindowPage, ApiError> {
    let state = crate::state::current()?;
    crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let (total, subjects) = state
        .auth
        .limiter()
        .active(offset.unwrap_or(0), limit.unwrap_or(100))
        .await?;
    let ids: Vec<&str> = subjects
        .iter()
        .filter_map(|a| match &a.subject {
            gatehouse::ratelimit::Subject::User { user_id }
            | gatehouse::ratelimit::Subject::Session { user_id, .. }
            | gatehouse::ratelimit::Subject::UserRoute { user_id, .. } => Some(user_id.as_str()),
            _ => None,
        })
        .collect();
    let names = state.auth.users().usernames(&ids).await?;
    Ok(ActiveWindowPage {
        total,
        subjects: subjects
            .into_iter()
            .map(|a| ActiveWindow {
                label: ssr::label(&a.subject, &names),
                subject: ssr::view(a.subject),
                until_ms: a.until_ms,
            })
            .collect(),
    })
}

/// `POST /api/v1/admin/ratelimit/windows` `{"subject"}`: each policy's
/// window for one subject, with request times for sliding logs.
#[server(prefix = "/api/v1", endpoint = "admin/ratelimit/windows", input = Json)]
pub async fn subject_windows(subject: RateSubject) -> Result<WindowReport, ApiError> {
    let state = crate::state::current()?;
    crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let windows = state
        .auth
        .limiter()
        .windows(&ssr::core(subject.clone()))
        .await?;
    let now_ms = gatehouse::duration::epoch_ms();
    Ok(WindowReport {
        subject,
        windows: windows
            .into_iter()
            .map(|w| WindowView {
                policy: w.policy,
                algorithm: w.algorithm.as_str().to_owned(),
                limit: w.limit,
                used: w.used,
                remaining: w.remaining,
                window_ms: w.window_ms,
                reset_ms: w.reset_ms,
                requests_ms: w.requests_ms,
                now_ms,
            })
            .collect(),
    })
}

/// `POST /api/v1/admin/ratelimit/reset` `{"subject"}`: clears a subject's
/// windows (unblocks it; for sign-in attempts, ends the lockout).
#[server(prefix = "/api/v1", endpoint = "admin/ratelimit/reset", input = Json)]
pub async fn reset_windows(subject: RateSubject) -> Result<WindowsReset, ApiError> {
    let state = crate::state::current()?;
    let admin = crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let windows_cleared = state
        .auth
        .limiter()
        .reset(&ssr::core(subject.clone()))
        .await?;
    tracing::info!(admin = %admin.user_id, subject = ?subject, "admin reset rate-limit windows");
    crate::caller::admin_event(&state, &admin, "windows_reset", |e| {
        e.detail(
            "subject",
            serde_json::to_string(&subject).unwrap_or_default(),
        )
    });
    Ok(WindowsReset {
        subject,
        windows_cleared,
    })
}

#[cfg(feature = "ssr")]
mod ssr {
    use gatehouse::ratelimit::Subject;

    use super::RateSubject;

    pub fn view(subject: Subject) -> RateSubject {
        match subject {
            Subject::Ip { ip } => RateSubject::Ip { ip },
            Subject::User { user_id } => RateSubject::User { user_id },
            Subject::Session {
                user_id,
                session_id,
            } => RateSubject::Session {
                user_id,
                session_id,
            },
            Subject::UserRoute { user_id, route } => RateSubject::UserRoute { user_id, route },
            Subject::IpUsername { ip, username } => RateSubject::IpUsername { ip, username },
            Subject::Username { username } => RateSubject::Username { username },
            Subject::Key { key } => RateSubject::Key { key },
        }
    }

    pub fn label(subject: &Subject, names: &std::collections::HashMap<String, String>) -> String {
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
            } => {
                format!(
                    "{} (session {})",
                    name(user_id),
                    session_id.chars().take(8).collect::<String>()
                )
            }
            Subject::UserRoute { user_id, route } => format!("{} {route}", name(user_id)),
            Subject::IpUsername { ip, username } => format!("sign-in {username} from {ip}"),
            Subject::Username { username } => format!("sign-ins to {username}"),
            Subject::Key { key } => key.clone(),
        }
    }

    pub fn core(subject: RateSubject) -> Subject {
        match subject {
            RateSubject::Ip { ip } => Subject::Ip { ip },
            RateSubject::User { user_id } => Subject::User { user_id },
            RateSubject::Session {
                user_id,
                session_id,
            } => Subject::Session {
                user_id,
                session_id,
            },
            RateSubject::UserRoute { user_id, route } => Subject::UserRoute { user_id, route },
            RateSubject::IpUsername { ip, username } => Subject::IpUsername { ip, username },
            RateSubject::Username { username } => Subject::Username { username },
            RateSubject::Key { key } => Subject::Key { key },
        }
    }
}
