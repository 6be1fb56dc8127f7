//! One user, everything about them: `/api/v1/admin/users/get`.
//!
//! The console's user page shows a user's profile, sessions, revoked
//! tokens and last sign-in together; this gathers them in one call (their
//! request windows and events come from the calls the other console pages
//! use, keyed by the user).

use gatehouse::api::users::{UserId, UserReport};
use leptos::prelude::*;
use server_fn::codec::Json;

use crate::error::FnError;

/// How many of the most recently revoked tokens are searched for the
/// user's (the blacklist has no per-user index).
pub const BLACKLIST_SCAN: u64 = 500;

/// `POST /api/v1/admin/users/get` `{"user_id"}`: a user's profile, live
/// sessions, revoked tokens (among the [`BLACKLIST_SCAN`] most recently
/// revoked) and last sign-in (404 `not_found` for an unknown id).
#[server(prefix = "/api/v1", endpoint = "admin/users/get", input = Json)]
pub async fn user_detail(#[server(flatten)] body: UserId) -> Result<UserReport, FnError> {
    let state = crate::state::current()?;
    crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let auth = &state.auth;
    let Some(user) = auth.users().get(&body.user_id).await? else {
        return Err(crate::ApiError::not_found("No user has this id.").into());
    };
    let last_sign_in = gatehouse::events::Filter {
        kind: Some("login_succeeded".to_owned()),
        user: Some(user.id.clone()),
        ip: None,
    };
    let (sessions, blacklist, signed_in) = futures_util::join!(
        auth.sessions().list(&user.id),
        auth.blacklist().list(0, BLACKLIST_SCAN),
        auth.events()
            .recent_in(gatehouse::events::Stream::Audit, &last_sign_in, 1, 20_000),
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
        user: user.into(),
    })
}
