//! The home page: what Gatehouse is, and this instance's live status.
//!
//! The status comes from the `instance_status` server function: called
//! directly while the server renders the page, and over HTTP when the
//! person presses "Check again" after hydration.

use gatehouse::api::status::StatusReport;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::status::instance_status;

#[component]
pub fn HomePage() -> impl IntoView {
    let checks = RwSignal::new(0u32);
    // Blocking: the status is in the HTML itself, so it shows without JavaScript.
    let status = Resource::new_blocking(move || checks.get(), |_| instance_status());

    view! {
        <Title text="Status"/>
        <section class="mb-6">
            <h1 class="text-2xl font-semibold tracking-tight">"Gatehouse"</h1>
            <p class="mt-1 max-w-2xl text-slate-600 dark:text-slate-400">
                "Sign-in, sessions, distributed locks and rate limits on Redis, with a console that shows what is happening now."
            </p>
        </section>
        <section
            aria-labelledby="status-heading"
            class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900"
        >
            <div class="flex flex-wrap items-center justify-between gap-2">
                <h2 id="status-heading" class="text-lg font-medium">"Instance status"</h2>
                <button
                    type="button"
                    class="rounded-md border border-slate-300 px-3 py-1.5 text-sm hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 dark:border-slate-700 dark:hover:bg-slate-800"
                    on:click=move |_| checks.update(|n| *n += 1)
                >
                    "Check again"
                </button>
            </div>
            <Transition fallback=|| view! { <p class="mt-4 text-sm text-slate-500 dark:text-slate-400">"Checking…"</p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(status) => view! { <StatusDetails status/> }.into_any(),
                        Err(err) => view! {
                            <p role="alert" class="mt-4 text-sm text-red-700 dark:text-red-400">{err.0.message}</p>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn StatusDetails(status: StatusReport) -> impl IntoView {
    let redis = status.redis;
    let (dot, label) = if redis.reachable {
        ("bg-emerald-500", "reachable")
    } else {
        ("bg-red-500", "unreachable")
    };
    let version = redis.version.unwrap_or_else(|| "—".to_owned());
    let round_trip = redis
        .round_trip_ms
        .map(|ms| format!("{ms:.2} ms"))
        .unwrap_or_else(|| "—".to_owned());
    let checked_at = status.checked_at_ms.to_string();
    view! {
        <dl
            class="mt-4 grid grid-cols-1 gap-x-6 gap-y-3 text-sm sm:grid-cols-2"
            data-testid="status"
            data-checked-at=checked_at
        >
            <Row term="Redis">
                <span class="inline-flex items-center gap-2" data-testid="redis-state">
                    <span class=format!("h-2 w-2 rounded-full {dot}") aria-hidden="true"></span>
                    {label}
                </span>
            </Row>
            <Row term="Redis version">{version}</Row>
            <Row term="Round trip">{round_trip}</Row>
            <Row term="Instance">
                <code class="break-all">{status.instance_id}</code>
            </Row>
            <Row term="Gatehouse version">{status.version}</Row>
            <Row term="Uptime">{format_uptime(status.uptime_secs)}</Row>
        </dl>
    }
}

#[component]
fn Row(term: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="flex justify-between gap-4 border-b border-slate-100 pb-2 dark:border-slate-800">
            <dt class="text-slate-500 dark:text-slate-400">{term}</dt>
            <dd class="text-right font-medium">{children()}</dd>
        </div>
    }
}

fn format_uptime(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86400 => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
        _ => format!("{} d {} h", secs / 86400, secs % 86400 / 3600),
    }
}
