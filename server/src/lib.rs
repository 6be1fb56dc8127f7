//! The `gatehouse` server: configuration, Redis startup, router and
//! middleware. `main.rs` only reads the configuration and runs a
//! [`lifecycle::Gatehouse`].
//!
//! - [`config`] is the typed command-line/environment configuration
//!   ([`config_reference`] renders it for the book);
//! - [`backend`] connects to the configured Redis or starts an embedded one;
//! - [`lifecycle`] owns a running instance: starts every task and stops them
//!   in order (main and the tests both use it);
//! - [`startup`] builds the state: keys, the auth service, the first admin;
//! - [`router`] holds every route, and composes [`stack`] (the middleware) around them;
//! - [`guard`] authenticates each request once and blocks cross-origin writes
//!   ([`limit_headers`] renders its `RateLimit` headers);
//! - [`forward_auth`] answers `/api/v1/auth/verify` and `/.well-known/jwks.json`;
//! - [`health`] answers `/health` and `/ready`;
//! - [`identity`] answers `/api/v1/auth/me` (with [`json`], the plain routes' JSON);
//! - [`live`] streams security events to consoles (SSE);
//! - [`openapi`] describes `/api/v1` (OpenAPI 3.1) and renders it as a page;
//! - [`error`] gives plain routes the same JSON errors as server functions;
//! - [`telemetry`] sets up logging.

pub mod backend;
pub mod check_config;
pub mod config;
pub mod config_file;
pub mod config_reference;
pub mod error;
pub mod forward_auth;
pub mod guard;
pub mod health;
pub mod identity;
pub mod json;
pub mod lifecycle;
pub mod limit_headers;
pub mod live;
pub mod openapi;
pub mod prometheus;
pub mod router;
pub mod stack;
pub mod startup;
pub mod telemetry;
