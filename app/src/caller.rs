//! Who is calling: what the server's request guard found out, as server
//! functions and pages see it.
//!
//! The guard middleware (in the server crate) authenticates each request
//! once, in one Redis round trip, and stores the outcome in the request's
//! extensions as [`Authenticated`]. Server functions read it from there
//! with [`signed_in`] or [`principal`]: no second lookup, and no way to
//! reach protected code without going through the guard. What the caller
//! may do is decided by the core ([`gatehouse::ops`]).

use gatehouse::api::ApiError;
use gatehouse::auth::{Client, Principal};
use leptos::prelude::with_context;

/// The guard's verdict on a request.
#[derive(Clone, Debug)]
pub enum Authenticated {
    /// No token was presented.
    Anonymous,
    /// A valid token of a live session.
    Principal(Principal),
    /// A token was presented and rejected (or could not be checked).
    Rejected(ApiError),
}

impl From<gatehouse::auth::Caller> for Authenticated {
    fn from(caller: gatehouse::auth::Caller) -> Self {
        use gatehouse::auth::Caller;
        match caller {
            Caller::Anonymous => Authenticated::Anonymous,
            Caller::Principal(principal) => Authenticated::Principal(principal),
            Caller::Rejected(err) => Authenticated::Rejected(err.into()),
        }
    }
}

/// What the guard put in the request's extensions (borrowed from the
/// context: the request head is not copied).
fn extension<T: Clone + Send + Sync + 'static>() -> Option<T> {
    with_context::<http::request::Parts, _>(|parts| parts.extensions.get::<T>().cloned()).flatten()
}

fn verdict() -> Authenticated {
    extension::<Authenticated>().unwrap_or(Authenticated::Anonymous)
}

/// The signed-in caller, or the reason there is none.
pub fn principal() -> Result<Principal, ApiError> {
    match verdict() {
        Authenticated::Principal(principal) => Ok(principal),
        Authenticated::Anonymous => Err(ApiError::unauthenticated()),
        Authenticated::Rejected(err) => Err(err),
    }
}

/// The signed-in caller if there is one; a rejected token counts as none,
/// but Redis being unreachable is still an error.
pub fn optional_principal() -> Result<Option<Principal>, ApiError> {
    match verdict() {
        Authenticated::Principal(principal) => Ok(Some(principal)),
        Authenticated::Rejected(err) if err.error == crate::ErrorCode::Unavailable => Err(err),
        Authenticated::Anonymous | Authenticated::Rejected(_) => Ok(None),
    }
}

/// A signed-in caller of a server function, with what its operations
/// need: the state, who it is, and (read only when an operation records
/// it) where from.
pub struct SignedIn {
    pub state: crate::state::AppState,
    pub principal: Principal,
    client: std::cell::OnceCell<Client>,
}

/// The signed-in caller of this server function, or the reason there is
/// none.
pub fn signed_in() -> Result<SignedIn, ApiError> {
    Ok(SignedIn {
        state: crate::state::current()?,
        principal: principal()?,
        client: std::cell::OnceCell::new(),
    })
}

impl SignedIn {
    /// Where the caller is, copied from the request the first time an
    /// operation needs it (most only read, and pages call several).
    pub fn client(&self) -> &Client {
        self.client.get_or_init(client)
    }

    /// The admin operations, if the caller is an admin.
    pub fn admin(&self) -> Result<gatehouse::ops::Admin<'_>, ApiError> {
        Ok(self.state.auth.admin(&self.principal, self.client())?)
    }

    /// The caller's own account.
    pub fn account(&self) -> gatehouse::ops::Account<'_> {
        self.state.auth.account(&self.principal)
    }
}

/// The access token the request presented (bearer header or cookie).
pub fn access_token() -> Option<String> {
    with_context::<http::request::Parts, _>(|parts| {
        crate::cookies::access_token(&parts.headers).map(|(token, _)| token.to_owned())
    })
    .flatten()
}

/// The client's address and user agent, as the guard recorded them.
pub fn client() -> Client {
    extension::<Client>().unwrap_or_default()
}
