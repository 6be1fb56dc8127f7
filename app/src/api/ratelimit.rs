//! Rate limits as a service (`/api/v1/ratelimit/check`) and the
//! administrators' view of live windows (`/api/v1/admin/ratelimit/*`).

use gatehouse::api::Page;
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
    let caller = crate::caller::signed_in()?;
    let service = caller.state.auth.limit_service(&caller.principal)?;
    Ok(service
        .check(&body.policy, &body.key, body.cost.unwrap_or(1))
        .await?)
}

/// `POST /api/v1/admin/ratelimit/active` `{"offset","limit"}`: subjects
/// (users, addresses, service keys, sign-in attempts) with live windows,
/// most recently active first.
#[server(prefix = "/api/v1", endpoint = "admin/ratelimit/active", input = Json)]
pub async fn active_windows(#[server(flatten)] page: Page) -> Result<ActiveWindowPage, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.admin()?.active_windows(page).await?)
}

/// `POST /api/v1/admin/ratelimit/windows` `{"subject"}`: each policy's
/// window for one subject, with request times for sliding logs.
#[server(prefix = "/api/v1", endpoint = "admin/ratelimit/windows", input = Json)]
pub async fn subject_windows(
    #[server(flatten)] body: SubjectRequest,
) -> Result<WindowReport, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.admin()?.windows(body.subject).await?)
}

/// `POST /api/v1/admin/ratelimit/reset` `{"subject"}`: clears a subject's
/// windows (unblocks it; for sign-in attempts, ends the lockout).
#[server(prefix = "/api/v1", endpoint = "admin/ratelimit/reset", input = Json)]
pub async fn reset_windows(
    #[server(flatten)] body: SubjectRequest,
) -> Result<WindowsReset, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.admin()?.reset_windows(body.subject).await?)
}
