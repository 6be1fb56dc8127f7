//! One user, everything about them: `/api/v1/admin/users/get`.
//!
//! The console's user page shows a user's profile, sessions, revoked
//! tokens and last sign-in together; this gathers them in one call (their
//! request windows and events come from the calls the other console pages
//! use, keyed by the user).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use server_fn::codec::Json;

use crate::api::admin::{BlacklistEntry, UserView};
use crate::api::console::AdminSession;
use crate::error::ApiError;

/// How many of the most recently revoked tokens are searched for the
/// user's (the blacklist has no per-user index).
pub const BLACKLIST_SCAN: u64 = 500;

/// `POST /api/v1/admin/users/get` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserReport {
    pub user: UserView,
    /// When they last signed in, if the audit stream still has it.
    pub last_sign_in_ms: Option<u64>,
    /// Their live sessions, newest first.
    pub sessions: Vec<AdminSession>,
    /// Their revoked tokens that have not expired yet, among the
    /// [`BLACKLIST_SCAN`] most recently revoked.
    pub blacklist: Vec<BlacklistEntry>,
}

/// `POST /api/v1/admin/users/get` `{"user_id"}`: a user's profile, live
/// sessions, revoked tokens and last sign-in (404 `not_found` for an
/// unknown id).
#[server(prefix = "/api/v1", endpoint = "admin/users/get", input = Json)]
pub async fn user_detail(user_id: String) -> Result<UserReport, ApiError> {
    let state = crate::state::current()?;
    crate::caller::require_role(gatehouse::user::Role::Admin)?;
    let auth = &state.auth;
    let Some(user) = auth.users().get(&user_id).await? else {
        return Err(ApiError::not_found("No user has this id."));
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
            .map(|s| AdminSession::from_core(s, user.username.clone()))
            .collect(),
        blacklist: blacklist?
            .entries
            .into_iter()
            .filter(|e| e.user_id == user.id)
            .map(BlacklistEntry::from_core)
            .collect(),
        user: crate::api::admin::ssr::view(user),
    })
}
