//! What the server gives every page render and server function.
//!
//! [`AppState`] is one `Arc` handle (no globals): the server builds the
//! [`Shared`] state once at startup, axum passes the handle to plain routes
//! as router state, and `leptos_axum` provides it as context to server
//! functions, which fetch it with [`current`]. axum clones router state for
//! every request, so a clone must be a reference-count bump, never a copy
//! of the services or the Leptos options.

use std::ops::Deref;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::FromRef;
use gatehouse::api::ApiError;
use gatehouse::auth::Auth;
use leptos::config::LeptosOptions;
use leptos::prelude::*;

use crate::cookies::CookiePolicy;

/// The shared server state; see [`Shared`] for what it holds.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What every request can reach, built once.
pub struct Shared {
    /// The Gatehouse core: sign-in, admission, and every operation
    /// ([`gatehouse::ops`]); nothing here reaches Redis another way.
    pub auth: Auth,
    /// How session cookies are set.
    pub cookies: CookiePolicy,
    /// Who this instance is.
    pub instance: Instance,
    /// Where the site's files are and how Leptos renders.
    pub leptos_options: LeptosOptions,
}

/// This server process, as other instances and the console see it.
#[derive(Debug)]
pub struct Instance {
    /// Unique per process: `<host>-<random>`, or set by the operator.
    pub id: String,
    /// The Gatehouse version.
    pub version: &'static str,
    /// When the process started.
    pub started_at: SystemTime,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The state, from inside a server function or a component rendering on
/// the server.
pub fn current() -> Result<AppState, ApiError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the Leptos context; the router is miswired");
        ApiError::internal()
    })
}

/// Sends a Content-Security-Policy that lets exactly this page's scripts run.
///
/// Leptos hydrates through one inline module script; instead of allowing
/// all inline scripts, each page gets a fresh nonce that Leptos puts on its
/// own script tags, and `'strict-dynamic'` lets the modules they import
/// load. `'wasm-unsafe-eval'` permits compiling the WebAssembly bundle (and
/// nothing else: `eval` stays forbidden).
pub fn content_security_policy() {
    leptos::nonce::provide_nonce();
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
         manifest-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}
