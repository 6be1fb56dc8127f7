//! `/console/*`: the live admin console.
//!
//! Every page needs the admin role: anyone else gets a clear 403 page (and
//! every server function behind it re-checks the role anyway). The frame
//! opens the live event feed once for all pages and shows its state.

pub mod alert_rules;
pub mod alerts;
pub mod blacklist;
pub mod events;
pub mod lazy;
pub mod locks;
pub mod overview;
pub mod sessions;
pub mod user;
pub mod users;
pub mod windows;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Outlet, Redirect};
use leptos_router::hooks::use_location;

use crate::components::layout::SessionContext;
use crate::components::ui::{ErrorNotice, LOADING, loading};
use crate::live::provide_live;

/// Checks the role, then shows the console frame around the page.
#[component]
pub fn ConsoleLayout() -> impl IntoView {
    let session = expect_context::<SessionContext>().0;
    let location = use_location();
    view! {
        <Transition fallback=|| loading(LOADING)>
            {move || Suspend::new(async move {
                match session.await {
                    Ok(Some(identity)) if identity.roles.contains(&gatehouse::api::Role::Admin) => {
                        view! { <ConsoleFrame/> }.into_any()
                    }
                    Ok(Some(_)) => view! { <Forbidden/> }.into_any(),
                    Ok(None) => {
                        let next = location.pathname.get_untracked();
                        view! { <Redirect path=format!("/login?next={next}")/> }.into_any()
                    }
                    Err(err) => view! { <ErrorNotice message=err.0.message/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The 403 page for signed-in people without the admin role.
#[component]
fn Forbidden() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::FORBIDDEN);
    }
    view! {
        <Title text="Forbidden"/>
        <section class="mx-auto max-w-md py-16 text-center" data-testid="forbidden">
            <p class="text-sm font-semibold text-slate-500 dark:text-slate-400">"403"</p>
            <h1 class="mt-2 text-2xl font-semibold">"The console is for administrators"</h1>
            <p class="mt-2 text-slate-600 dark:text-slate-400">
                "Your account does not have the admin role. Ask an administrator if you need it."
            </p>
        </section>
    }
}

#[component]
fn ConsoleFrame() -> impl IntoView {
    let live = provide_live();
    let open = open_alerts(live);
    let host = host();
    view! {
        <Title formatter=move |page: String| {
            let count = match open.get() { 0 => String::new(), n => format!("({n}) ") };
            format!("{count}{page} · Gatehouse {host}")
        }/>
        <div class="mb-4 flex flex-wrap items-center justify-between gap-2">
            <h1 class="text-2xl font-semibold tracking-tight">"Console"</h1>
            <p class="flex items-center gap-2 text-sm" data-testid="live" data-connected=move || live.connected.get().to_string()>
                <span
                    class=move || if live.connected.get() { "h-2.5 w-2.5 rounded-full bg-emerald-500" } else { "h-2.5 w-2.5 rounded-full bg-slate-400" }
                    aria-hidden="true"
                ></span>
                {move || match (live.connected.get(), live.session_ended.get()) {
                    (_, true) => "Stopped",
                    (true, false) => "Live",
                    (false, false) => "Reconnecting…",
                }}
            </p>
        </div>
        // Screen readers hear each new event, politely (after what they
        // are reading); the tables below update silently.
        <p class="sr-only" aria-live="polite" data-testid="announcer">
            {move || live.events.with(|events| events.first().map(announcement))}
        </p>
        {move || live.session_ended.get().then(|| view! {
            <p role="alert" class="mb-4 rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-200">
                "Your session has ended (signed out, revoked, or no longer an admin), so live updates stopped. "
                <a href="/login?next=/console" class="font-medium underline">"Sign in again"</a>
            </p>
        })}
        <nav aria-label="Console" class="relative -mx-4 mb-6 overflow-x-auto border-b border-slate-200 px-4 dark:border-slate-800">
            <ul class="flex gap-1 text-sm whitespace-nowrap">
                <Tab href="/console">"Overview"</Tab>
                <Tab href="/console/sessions">"Sessions"</Tab>
                <Tab href="/console/users">"Users"</Tab>
                <Tab href="/console/locks">"Locks"</Tab>
                <Tab href="/console/blacklist">"Blacklist"</Tab>
                <Tab href="/console/windows">"Request windows"</Tab>
                <Tab href="/console/events">"Events"</Tab>
                <li>
                    <A
                        href="/console/alerts"
                        exact=true
                        attr:class=TAB
                        attr:data-testid="alerts-tab"
                    >
                        "Alerts"
                        {move || (open.get() > 0).then(|| view! {
                            <span class="ml-1.5 rounded-full bg-red-700 px-1.5 py-0.5 text-xs font-semibold text-white" data-testid="open-alerts">
                                {open.get()} <span class="sr-only">" open"</span>
                            </span>
                        })}
                    </A>
                </li>
            </ul>
        </nav>
        <Outlet/>
    }
}

/// A user's name (or id) linking to their page.
#[component]
pub(super) fn UserLink(user_id: String, #[prop(optional)] name: Option<String>) -> impl IntoView {
    let href = format!("/console/users/{user_id}");
    let text = match name.filter(|n| !n.is_empty()) {
        Some(name) => name.into_any(),
        None => view! { <ShortId id=user_id/> }.into_any(),
    };
    view! {
        <A href=href attr:class="font-medium text-sky-700 underline-offset-2 hover:underline dark:text-sky-400">
            {text}
        </A>
    }
}

/// What the live region says about a new event.
fn announcement(event: &gatehouse::api::console::Event) -> String {
    let what = crate::events::label(event.kind.kind());
    match &event.username {
        Some(username) => format!("New event: {what}, {username}"),
        None => format!("New event: {what}"),
    }
}

/// The open alerts, kept current by the live feed, shown on the app's
/// icon (the badge) and notified as they are raised (see
/// [`crate::desktop`]). The work is in lazy functions, fetched after
/// hydration: the bundle every page loads stays small.
fn open_alerts(live: crate::live::Live) -> ReadSignal<u64> {
    use gatehouse::api::events::EventKind;

    let (open, set_open) = signal(0u64);
    let changes = live.watch(alerts::changes_alerts);
    Effect::new(move |_| {
        changes.track();
        leptos::task::spawn_local(async move {
            if let Some(count) = count_open().await {
                set_open.set(count);
            }
        });
    });
    let seen = StoredValue::new(String::new());
    Effect::new(move |_| {
        live.events.with(|events| {
            let last = seen.get_value();
            for event in events.iter().take_while(|e| e.id != last) {
                if let EventKind::AlertRaised(alert) = &event.kind {
                    leptos::task::spawn_local(notify(alert.clone()));
                }
            }
            if let Some(newest) = events.first() {
                seen.set_value(newest.id.clone());
            }
        })
    });
    open
}

/// The open alerts, also shown on the app's icon.
#[leptos::lazy]
async fn count_open() -> Option<u64> {
    let count = crate::api::alerts::open_alerts().await.ok()?;
    crate::desktop::set_badge(count);
    Some(count)
}

/// Notifies a new alert, if this browser's admin asked for it.
#[leptos::lazy]
async fn notify(alert: gatehouse::api::events::AlertRaised) {
    crate::desktop::notify(&alert);
}

/// The address the console is served at, for the window title: which
/// Gatehouse this window is.
fn host() -> String {
    #[cfg(feature = "ssr")]
    return use_context::<http::request::Parts>()
        .and_then(|parts| {
            let host = parts.headers.get(http::header::HOST)?;
            host.to_str().ok().map(str::to_owned)
        })
        .unwrap_or_default();
    #[cfg(not(feature = "ssr"))]
    web_sys::window()
        .and_then(|w| w.location().host().ok())
        .unwrap_or_default()
}

const TAB: &str = "inline-block border-b-2 border-transparent px-3 py-2 text-slate-600 hover:text-slate-900 aria-[current=page]:border-sky-500 aria-[current=page]:text-slate-900 dark:text-slate-400 dark:hover:text-white dark:aria-[current=page]:text-white";

#[component]
fn Tab(href: &'static str, children: Children) -> impl IntoView {
    view! {
        <li>
            <A
                href=href
                exact=true
                attr:class=TAB
            >
                {children()}
            </A>
        </li>
    }
}

/// A short form of a long id, whole on hover.
#[component]
pub fn ShortId(#[prop(into)] id: String) -> impl IntoView {
    let short: String = id.chars().take(8).collect();
    view! { <code class="font-mono text-xs" title=id>{short}</code> }
}

/// "What would appear here" for empty lists.
#[component]
pub fn Empty(#[prop(into)] text: String) -> impl IntoView {
    view! {
        <p class="rounded-md border border-dashed border-slate-300 px-4 py-6 text-center text-sm text-slate-500 dark:border-slate-700 dark:text-slate-400">
            {text}
        </p>
    }
}

/// Table classes, shared by every console table.
pub const TABLE: &str = "min-w-full divide-y divide-slate-200 text-sm dark:divide-slate-800";
pub const TH: &str = "px-3 py-2 text-left text-xs font-semibold uppercase tracking-wide text-slate-500 dark:text-slate-400";
pub const TD: &str = "px-3 py-2 align-top";
/// Wraps wide tables so they scroll inside the card, not the page.
pub const SCROLL: &str = "-mx-4 overflow-x-auto px-4";
