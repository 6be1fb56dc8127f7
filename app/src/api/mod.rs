//! Server functions: the JSON API and what the UI calls.
//!
//! Every function here is thin: it takes the state from context, calls one
//! core-library function and maps the error. Paths live under `/api/v1`
//! and are a public contract (the book and /docs/api document each). Functions under
//! `/api/v1/ui/` serve the browser's forms and are not part of it.

pub mod admin;
pub mod alerts;
pub mod auth;
pub mod console;
pub mod locks;
pub mod mfa;
pub mod ratelimit;
pub mod sessions;
pub mod status;
pub mod users;
pub mod webauthn;
