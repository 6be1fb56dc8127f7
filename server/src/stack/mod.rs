//! The middleware around the router, composed once.
//!
//! axum's `Router::layer` wraps every route in a new boxed, cloned
//! service per call, and `middleware::from_fn` boxes each future: eleven
//! such layers made every request allocate about six times what a lean
//! handler does, and spread its CPU over allocations and copies. So each
//! concern here is a [`tower::Layer`] whose service has a concrete future
//! (no box), and [`crate::router::app`] stacks them once, in one
//! `ServiceBuilder`, around the whole router. Header values the
//! configuration fixes are built at start-up. `tests/allocations.rs`
//! counts what a request allocates, so a box or copy that creeps back in
//! fails a test.
//!
//! Outermost first: [`request_id`] (kept from the client or made, and
//! echoed), [`trace`] (a span per request, only when its level is on),
//! [`catch_panic`] (a panicking handler answers 500 JSON),
//! [`security`] (headers every response carries), [`metrics`] (requests
//! and latency by route class), [`compress`] (only for clients that
//! accept an encoding), [`limits`] (request timeout and body size, with
//! JSON errors), then the request guard ([`crate::guard`]) and the router.

pub mod catch_panic;
pub mod compress;
pub mod limits;
pub mod metrics;
pub mod request_id;
pub mod security;
pub mod trace;
