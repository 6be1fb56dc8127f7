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

/// `POST /api/v1/admin/users/get` `{"user_id"}`: a user's profile, live
/// sessions, revoked tokens (among the 500 most recently revoked) and
/// last sign-in (404 `not_found` for an unknown id).
#[server(prefix = "/api/v1", endpoint = "admin/users/get", input = Json)]
pub async fn user_detail(#[server(flatten)] body: UserId) -> Result<UserReport, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.admin()?.user_report(&body.user_id).await?)
}
