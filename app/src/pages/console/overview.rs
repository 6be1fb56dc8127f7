//! `/console`: counts, the last 30 minutes, and the instances.

use gatehouse::api::console::{InstanceInfo, InstanceMode, MinuteCounts, Overview};
use leptos::prelude::*;
use leptos_meta::Title;

use super::{Empty, SCROLL, TABLE, TD, TH};
use crate::api::console::console_overview;
use crate::components::time::{Clock, RelativeTime};
use crate::components::ui::{Card, ErrorNotice, LOADING, loading};
use crate::live::use_live;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let changes = use_live().watch(|_| true);
    let clock = expect_context::<Clock>().0;
    let every_ten_seconds = Memo::new(move |_| clock.get() / 10_000);
    let overview = Resource::new(
        move || (changes.get(), every_ten_seconds.get()),
        |_| console_overview(),
    );
    view! {
        <Title text="Console"/>
        <Transition fallback=|| loading(LOADING)>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(overview) => view! { <OverviewView overview/> }.into_any(),
                    Err(err) => view! { <ErrorNotice message=err.0.message/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn OverviewView(overview: Overview) -> impl IntoView {
    let stats = [
        ("Active sessions", overview.active_sessions, "sessions"),
        ("Active users", overview.active_users, "users"),
        ("Held locks", overview.held_locks, "locks"),
        ("Blacklisted tokens", overview.blacklist_size, "blacklist"),
        (
            "Rejected (last minute)",
            overview.rejected_last_minute,
            "rejected",
        ),
    ];
    let now = overview.now_ms;
    let live = move |i: &&InstanceInfo| now.saturating_sub(i.last_seen_ms) <= STALE_MS;
    let degraded = overview
        .instances
        .iter()
        .filter(live)
        .filter(|i| i.mode != InstanceMode::Normal)
        .count();
    view! {
        <div class="space-y-6">
            {(degraded > 0).then(|| view! {
                <p role="status" data-testid="degraded-banner" class="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-200">
                    {format!(
                        "Redis is not answering {degraded} instance{}: they answer who callers are from their tokens for a while (degraded mode) and refuse everything else with 503.",
                        if degraded == 1 { "" } else { "s" },
                    )}
                </p>
            })}
            <dl class="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-5">
                {stats.into_iter().map(|(label, value, id)| view! {
                    <div class="rounded-lg border border-slate-200 bg-white p-3 dark:border-slate-800 dark:bg-slate-900">
                        <dt class="text-xs text-slate-500 dark:text-slate-400">{label}</dt>
                        <dd class="mt-1 text-2xl font-semibold tabular-nums" data-testid=format!("stat-{id}")>{value}</dd>
                    </div>
                }).collect_view()}
            </dl>
            <Card title="Sign-ins and rejections, last 30 minutes">
                <Chart series=overview.series/>
            </Card>
            <Card title="Instances">
                {if overview.instances.is_empty() {
                    view! { <Empty text="Running instances report here every few seconds."/> }.into_any()
                } else {
                    view! {
                        <div class=SCROLL>
                            <table class=TABLE>
                                <thead><tr>
                                    <th class=TH>"Instance"</th><th class=TH>"Version"</th>
                                    <th class=TH>"Redis"</th>
                                    <th class=TH>"Started"</th><th class=TH>"Last heartbeat"</th>
                                </tr></thead>
                                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                                    {overview.instances.into_iter().map(|i| {
                                        let stale = !live(&&i);
                                        view! {
                                            <tr>
                                                <td class=TD>
                                                    <span class=if stale { "mr-2 inline-block h-2 w-2 rounded-full bg-slate-400" } else { "mr-2 inline-block h-2 w-2 rounded-full bg-emerald-500" }></span>
                                                    <code class="font-mono text-xs">{i.id}</code>
                                                </td>
                                                <td class=TD>{i.version}</td>
                                                <td class=TD>{mode(i.mode, i.degraded_since_ms)}</td>
                                                <td class=TD><RelativeTime at_ms=i.started_at_ms/></td>
                                                <td class=TD><RelativeTime at_ms=i.last_seen_ms/></td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any()
                }}
            </Card>
        </div>
    }
}

/// How long after its last heartbeat an instance counts as gone.
const STALE_MS: u64 = 20_000;

/// An instance's Redis mode, in words.
fn mode(mode: InstanceMode, since_ms: Option<u64>) -> impl IntoView {
    match (mode, since_ms) {
        (InstanceMode::Normal, _) => view! { "Answering" }.into_any(),
        (InstanceMode::Degraded, Some(since)) => {
            view! { "Degraded, Redis last answered " <RelativeTime at_ms=since/> }.into_any()
        }
        (InstanceMode::Degraded, None) => view! { "Degraded" }.into_any(),
        (InstanceMode::Unavailable, _) => view! { "Not answering (503)" }.into_any(),
    }
}

/// Bars per minute: successful sign-ins (green) and rejections, failed
/// sign-ins and lockouts included (red).
#[component]
fn Chart(series: Vec<MinuteCounts>) -> impl IntoView {
    let max = series
        .iter()
        .map(|m| m.logins.max(m.rejections + m.failures + m.lockouts))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let width = 300.0;
    let height = 80.0;
    let slot = width / series.len().max(1) as f64;
    let bars = series
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let x = i as f64 * slot;
            let good = m.logins as f64 / max * height;
            let bad = (m.rejections + m.failures + m.lockouts) as f64 / max * height;
            view! {
                <rect x=x + slot * 0.1 y=height - good width=slot * 0.4 height=good class="fill-emerald-500"></rect>
                <rect x=x + slot * 0.5 y=height - bad width=slot * 0.4 height=bad class="fill-red-500"></rect>
            }
        })
        .collect_view();
    let totals = series.iter().fold((0, 0), |(l, r), m| {
        (l + m.logins, r + m.rejections + m.failures + m.lockouts)
    });
    view! {
        <svg viewBox=format!("0 0 {width} {height}") preserveAspectRatio="none" class="h-24 w-full" role="img"
            aria-label=format!("{} sign-ins and {} rejections in the last 30 minutes", totals.0, totals.1)>
            {bars}
        </svg>
        <div class="mt-2 flex flex-wrap justify-between gap-2 text-xs text-slate-500 dark:text-slate-400">
            <span>"30 min ago"</span>
            <span class="flex gap-3">
                <span><span class="mr-1 inline-block h-2 w-2 rounded-sm bg-emerald-500"></span>{format!("sign-ins {}", totals.0)}</span>
                <span><span class="mr-1 inline-block h-2 w-2 rounded-sm bg-red-500"></span>{format!("rejected {}", totals.1)}</span>
            </span>
            <span>"now"</span>
        </div>
    }
}
