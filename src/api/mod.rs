//! The wire contract: every JSON body of `/api/v1`, the error body, and the
//! event vocabulary, defined once.
//!
//! The server's handlers, the console in the browser and the OpenAPI
//! document all use these types, so a field added here reaches every side
//! at once, and nothing converts one copy into another field by field.
//! Where a core module has the same thing (a lock holder, a blacklist
//! entry, a rate-limit subject), it re-exports the type from here rather
//! than keeping its own.
//!
//! This module compiles without the crate's default `server` feature (no
//! Redis, tokio or argon2), which is how the wasm bundle depends on it.
//! Request bodies are the JSON objects the `POST` endpoints take; a field
//! with a default may be left out.

/// A closed list of names on the wire: the enum (serialized as those
/// names), `ALL` in the order written, `as_str` and `parse`, from one
/// list, so that each name is written once and the three cannot drift.
/// (Names are `tt`, not `literal`: a `literal` reaches derives wrapped in
/// an invisible group, which utoipa's reading of `serde(rename)` skips.)
macro_rules! wire_names {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$doc:meta])* $variant:ident = $text:tt,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum $name {
            $($(#[$doc])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every one, in the order written.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// Its name on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The one named `text`, if any.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

pub mod alerts;
pub mod assurance;
pub mod auth;
pub mod console;
pub mod error;
pub mod events;
pub mod locks;
pub mod mfa;
pub mod ratelimit;
pub mod role;
pub mod sessions;
pub mod status;
pub mod users;
#[cfg(feature = "server")]
mod views;

pub use error::{ApiError, ErrorCode};
pub use role::Role;

/// `{"offset","limit"}`: one page of a list (the default limit differs
/// per list and is given with each endpoint).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page {
    #[serde(default)]
    pub offset: Option<u64>,
    #[serde(default)]
    pub limit: Option<u64>,
}
