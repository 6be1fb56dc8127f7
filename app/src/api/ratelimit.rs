//! Rate limits as a service (`/api/v1/ratelimit/check`) and the
//! administrators' view of live windows (`/api/v1/admin/ratelimit/*`).

use gatehouse::api::Page;
#[cfg(feature = "ssr")]
use gatehouse::api::events::EventKind;
use gatehouse::api::ratelimit::{
    ActiveWindowPage, CheckRequest, RateLimitAnswer, SubjectRequest, WindowReport, WindowsReset,
};
use leptos::prelude::*;
use server_fn::codec::Json;

use crate::error::FnError;

/// `POST /api/v1/ratelimit/check` `{"policy","key","cost"}`: counts `cost`
/// (default 1; 0 only looks) against the caller's `key` under a configured
/// policy, for services that want to ask before doing expensive work.
/// Keys are namespaced per caller. Needs the `service` or `admin` role.
#[server(prefix = "/api/v1", endpoint = "ratelimit/check", input = Json)]
pub async fn check_rate_limit(
    #[server(flatten)] body: CheckRequest,
) -> Result<RateLimitAnswer, FnError> {
    use gatehouse::api::ApiError;
    use gatehouse::ratelimit::{Check, Subject};
    let CheckRequest { policy, key, cost } = body;
    use gatehouse::user::Role;
    let state = crate::state::current()?;
    let caller = crate::caller::principal()?;
    if !(caller.has_role(Role::Service) || caller.has_role(Role::Admin)) {
        return Err(ApiError::new(
            crate::ErrorCode::Forbidden,
            "The rate-limit service needs the `service` or `admin` role.",
        )
        .into());
    }
    if key.is_empty() || key.len() > 200 {
        return Err(ApiError::new(
            crate::ErrorCode::ValidationFailed,
            "Use a key of 1 to 200 bytes.",
        )
        .into());
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
pub async fn active_windows(#[server(flatten)] page: Page) -> Result<ActiveWindowPage, FnError> {
    let state = crate::state::current()?;
    crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let (total, subjects) = state
        .auth
        .limiter()
        .active(page.offset.unwrap_or(0), page.limit.unwrap_or(100))
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
            .map(|a| gatehouse::api::ratelimit::ActiveWindow {
                label: ssr::label(&a.subject, &names),
                subject: a.subject,
                until_ms: a.until_ms,
            })
            .collect(),
    })
}

/// `POST /api/v1/admin/ratelimit/windows` `{"subject"}`: each policy's
/// window for one subject, with request times for sliding logs.
#[server(prefix = "/api/v1", endpoint = "admin/ratelimit/windows", input = Json)]
pub async fn subject_windows(
    #[server(flatten)] body: SubjectRequest,
) -> Result<WindowReport, FnError> {
    let state = crate::state::current()?;
    crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let windows = state.auth.limiter().windows(&body.subject).await?;
    Ok(WindowReport {
        subject: body.subject,
        windows,
    })
}

/// `POST /api/v1/admin/ratelimit/reset` `{"subject"}`: clears a subject's
/// windows (unblocks it; for sign-in attempts, ends the lockout).
#[server(prefix = "/api/v1", endpoint = "admin/ratelimit/reset", input = Json)]
pub async fn reset_windows(
    #[server(flatten)] body: SubjectRequest,
) -> Result<WindowsReset, FnError> {
    let state = crate::state::current()?;
    let admin = crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let subject = body.subject;
    let windows_cleared = state.auth.limiter().reset(&subject).await?;
    tracing::info!(admin = %admin.user_id, subject = ?subject, "admin reset rate-limit windows");
    let subject_json = serde_json::to_string(&subject).unwrap_or_default();
    crate::caller::admin_event(
        &state,
        &admin,
        |by| {
            EventKind::WindowsReset(gatehouse::api::events::AdminWindowsReset {
                by,
                subject: subject_json,
            })
        },
        |e| e,
    );
    Ok(WindowsReset {
        subject,
        windows_cleared,
    })
}

#[cfg(feature = "ssr")]
mod ssr {
    use gatehouse::ratelimit::Subject;

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
}
