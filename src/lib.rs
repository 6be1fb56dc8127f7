//! Gatehouse core: the security primitives of the Gatehouse gateway, on Redis.
//!
//! This crate knows nothing about HTTP or HTML. It is the part another Rust
//! service can embed to get the same guarantees Gatehouse's own server relies
//! on, and it is where every Redis key and script lives, so that the rules
//! about atomicity and key layout are enforced in one place.
//!
//! Modules:
//! - [`api`]: the JSON bodies of `/api/v1` and the event vocabulary, defined
//!   once for the server and the browser (the only module without the
//!   default `server` feature, so the wasm bundle can use it).
//! - [`store`]: the Redis connection (single node or Cluster) and the key
//!   layout. Every key is built here, under the `gh:` prefix, with hash tags
//!   so that keys a script touches together share a Cluster slot.
//! - [`user`]: accounts, roles, the case-insensitive username index.
//! - [`password`]: Argon2id hashing off the async runtime.
//! - [`token`]: access and refresh JWTs, key files, rotation, JWKS.
//! - [`session`]: one Redis session per sign-in per device, with sliding
//!   idle and absolute lifetimes enforced by TTLs.
//! - [`auth`]: the core value ([`auth::Auth`], built once, shared by an
//!   `Arc` handle): sign-in, the admission decision for every request
//!   (one Redis round trip: session, current roles, rate limits, replay),
//!   refresh rotation and silent renewal, sign-out.
//! - [`ops`]: the application layer: what an admin, a service and a
//!   signed-in user may do, as capabilities whose methods are whole
//!   operations with their audit events.
//! - [`blacklist`]: access tokens revoked before they expire.
//! - [`revocations`]: every revocation in a stream each instance mirrors,
//!   so that degraded mode (Redis away) still refuses revoked tokens.
//! - [`mfa`]: second factors (TOTP, recovery codes) and the tickets that
//!   carry a sign-in from its password to its second factor.
//! - [`lock`]: distributed locks with owner tokens, a watchdog, fencing and
//!   a registry.
//! - [`ratelimit`]: sliding-log, sliding-counter and GCRA limits, checked
//!   atomically per request.
//! - [`route`]: which requests are admitted at all (probes and static
//!   files are not), and forward-auth's own class.
//! - [`events`]: the security event stream; [`instances`]: heartbeats.
//! - [`duration`]: the duration syntax of all configuration.
//! - [`random`]: unguessable ids and secrets from the OS CSPRNG.
//! - [`embedded`]: a private `redis-server` child process, used when the
//!   operator configured no Redis, and by the test helpers.
//! - `testing` (feature `test-util`): throwaway Redis servers for tests.
//!
//! Errors are one `thiserror` enum per module, because callers react to
//! different failures in different ways (a missing binary is an operator
//! problem, an unreachable Redis is a 503); the HTTP layer converts them once.

#[cfg(feature = "server")]
pub mod alerts;
#[cfg(feature = "server")]
pub mod auth;
#[cfg(feature = "server")]
pub mod blacklist;
#[cfg(feature = "server")]
pub mod duration;
#[cfg(feature = "server")]
pub mod embedded;
#[cfg(feature = "server")]
pub mod events;
#[cfg(feature = "server")]
pub mod instances;
#[cfg(feature = "server")]
pub mod lock;
#[cfg(feature = "server")]
pub mod mfa;
#[cfg(feature = "server")]
pub mod network;
#[cfg(feature = "server")]
pub mod observe;
#[cfg(feature = "server")]
pub mod ops;
#[cfg(feature = "server")]
pub mod password;
#[cfg(feature = "server")]
pub mod random;
#[cfg(feature = "server")]
pub mod ratelimit;
#[cfg(feature = "server")]
pub mod revocations;
#[cfg(feature = "server")]
pub mod route;
#[cfg(feature = "server")]
pub mod session;
#[cfg(feature = "server")]
pub mod signouts;
#[cfg(feature = "server")]
pub mod store;
#[cfg(all(feature = "server", any(test, feature = "test-util")))]
pub mod testing;
#[cfg(feature = "server")]
pub mod token;
#[cfg(feature = "server")]
pub mod upkeep;
#[cfg(feature = "server")]
pub mod user;

pub mod api;

#[cfg(feature = "server")]
pub use store::{Store, StoreConfig, StoreError};
