//! Gatehouse's web UI: Leptos components, pages and server functions.
//!
//! The crate is compiled twice. With `ssr` it is part of the server: pages
//! render to HTML and server functions run their bodies, calling the core
//! library. With `hydrate` it is the browser bundle (the `hydrate()` entry
//! point below): the same components take over the server's HTML, and
//! server functions become HTTP calls. The browser build sees only the core
//! library's wire types (`gatehouse::api`, without its `server` feature),
//! never tokio or redis: everything that touches them sits behind
//! `#[cfg(feature = "ssr")]`.
//!
//! - [`api`]: server functions. Each has a stable `/api/v1/...` path and a
//!   JSON body, so they double as Gatehouse's public JSON API.
//! - [`error`]: [`FnError`], server functions' error: the core's
//!   [`ApiError`], the JSON error every client sees.
//! - `pages`, `components`: what people see; `events`: how the console
//!   labels, groups and colours each kind of security event.
//! - `state` (ssr): [`state::AppState`], what the server hands to every
//!   server function.

pub mod api;
#[cfg(feature = "ssr")]
pub mod caller;
mod components;
#[cfg(feature = "ssr")]
pub mod cookies;
mod desktop;
pub mod error;
mod events;
mod live;
mod pages;
#[cfg(feature = "hydrate")]
mod pow;
#[cfg(feature = "ssr")]
pub mod state;
mod webauthn;

pub use error::FnError;
pub use gatehouse::api::{ApiError, ErrorCode};

use leptos::prelude::*;
use leptos_meta::{Link, Meta, MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{Lazy, SsrMode, path};

use crate::components::layout::Layout;
use crate::components::time::provide_clock;
use crate::pages::console::{ConsoleLayout, lazy};
use crate::pages::{account::AccountPage, home::HomePage, login::LoginPage, not_found::NotFound};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    state::content_security_policy();
    let theme = components::theme::Theme::current().attribute();
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body class="min-h-screen bg-slate-50 text-slate-900 antialiased dark:bg-slate-950 dark:text-slate-100">
                <App/>
            </body>
        </html>
    }
}

/// The application: layout and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_clock();

    view! {
        <Stylesheet id="leptos" href="/pkg/gatehouse.css"/>
        <Title formatter=|page: String| {
            if page.is_empty() { "Gatehouse".to_owned() } else { format!("{page} · Gatehouse") }
        }/>
        <Meta name="description" content="Gatehouse: sign-in, sessions, locks and rate limits on Redis, with a live console."/>
        <Meta name="theme-color" content="#0f172a"/>
        <Link rel="icon" href="/favicon.ico" sizes="any"/>
        <Link rel="icon" href="/icon.svg" type_="image/svg+xml"/>
        <Link rel="apple-touch-icon" href="/icon-192.png"/>
        <Link rel="manifest" href="/manifest.webmanifest"/>
        <Router>
            <Layout>
                <Routes fallback=NotFound>
                    // Async: the status is in the HTML itself (the page
                    // must work without JavaScript), never a fallback.
                    <Route path=path!("") view=HomePage ssr=SsrMode::Async/>
                    // Async: the code step (a lazy chunk in the browser)
                    // is in the HTML when JavaScript is off.
                    <Route path=path!("login") view=LoginPage ssr=SsrMode::Async/>
                    // Async: the whole page (sessions included) is in the
                    // HTML, so it works without JavaScript.
                    <Route path=path!("account") view=AccountPage ssr=SsrMode::Async/>
                    // The console's pages are lazy: a chunk of their own
                    // (see pages/console/lazy.rs).
                    <ParentRoute path=path!("console") view=ConsoleLayout ssr=SsrMode::Async>
                        <Route path=path!("") view={Lazy::<lazy::Overview>::new()}/>
                        <Route path=path!("sessions") view={Lazy::<lazy::Sessions>::new()}/>
                        <Route path=path!("users") view={Lazy::<lazy::Users>::new()}/>
                        <Route path=path!("users/:id") view={Lazy::<lazy::User>::new()}/>
                        <Route path=path!("locks") view={Lazy::<lazy::Locks>::new()}/>
                        <Route path=path!("blacklist") view={Lazy::<lazy::Blacklist>::new()}/>
                        <Route path=path!("windows") view={Lazy::<lazy::Windows>::new()}/>
                        <Route path=path!("events") view={Lazy::<lazy::Events>::new()}/>
                        <Route path=path!("alerts") view={Lazy::<lazy::Alerts>::new()}/>
                    </ParentRoute>
                </Routes>
            </Layout>
        </Router>
    }
}

/// The browser entry point: takes over the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // What `leptos::mount::hydrate_lazy` does (hydration that waits for
    // the chunks of lazy routes), then a signal for tests and for people
    // debugging: the page is interactive once `data-hydrated` appears, a
    // console page included (its chunk arrives after the main bundle).
    let Some(body) = document().body() else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        leptos::mount::hydrate_from_async(body.clone(), App)
            .await
            .forget();
        let _ = body.set_attribute("data-hydrated", "true");
    });
    // Installable as an app: the service worker caches the shell only.
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().service_worker().register("/sw.js");
    }
}
