//! The `gatehouse` server: configuration, Redis startup, router and
//! middleware. `main.rs` only wires these together; tests use them directly.
//!
//! - [`config`] is the typed command-line/environment configuration;
//! - [`backend`] connects to the configured Redis or starts an embedded one;
//! - [`router`] holds every route and the middleware around them;
//! - [`health`] answers `/health` and `/ready`;
//! - [`error`] gives plain routes the same JSON errors as server functions;
//! - [`telemetry`] sets up logging.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod backend;
pub mod config;
pub mod error;
pub mod health;
pub mod router;
pub mod telemetry;

use std::sync::Arc;
use std::time::SystemTime;

use gatehouse::Store;
use gatehouse_app::state::{AppState, Instance};
use leptos::config::LeptosOptions;

use crate::config::Config;

/// The state every request sees, built from the configuration and a
/// connected store.
pub fn app_state(config: &Config, store: Store) -> AppState {
    let instance = Instance {
        id: config
            .instance_id
            .clone()
            .unwrap_or_else(default_instance_id),
        version: env!("CARGO_PKG_VERSION"),
        started_at: SystemTime::now(),
    };
    let leptos_options = LeptosOptions::builder()
        .output_name("gatehouse")
        .site_root(config.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(config.addr)
        .build();
    AppState {
        store,
        instance: Arc::new(instance),
        leptos_options,
    }
}

/// `<hostname>-<6 random hex digits>`: unique per process.
fn default_instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "gatehouse".to_owned());
    format!("{host}-{}", gatehouse::random::hex::<3>())
}
