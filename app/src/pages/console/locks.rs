//! `/console/locks`: who holds which lock right now, with live TTL
//! countdowns; force-release with confirmation; a demo lock to try it.

use gatehouse::api::events::Kind;
use gatehouse::api::locks::{LockInfo, LockName};
use leptos::prelude::*;
use leptos_meta::Title;

use super::{Empty, SCROLL, TABLE, TD, TH};
use crate::api::console::DemoLock;
use crate::api::locks::{ForceReleaseLock, list_locks};
use crate::components::step_up::ActionError;
use crate::components::time::{Clock, RelativeTime, now_ms};
use crate::components::ui::{BUTTON, BUTTON_DANGER, Card, ErrorNotice, LOADING, loading};
use crate::events::{Group, group};
use crate::live::use_live;

#[component]
pub fn LocksPage() -> impl IntoView {
    let changes = use_live()
        .watch(|kind| group(kind) == Group::Locks || kind == Kind::AdminLockForceReleased);
    let clock = expect_context::<Clock>().0;
    let every_five_seconds = Memo::new(move |_| clock.get() / 5_000);
    let demo = ServerAction::<DemoLock>::new();
    let release = ServerAction::<ForceReleaseLock>::new();
    let locks = Resource::new(
        move || {
            (
                changes.get(),
                every_five_seconds.get(),
                demo.version().get(),
                release.version().get(),
            )
        },
        |_| list_locks(),
    );
    view! {
        <Title text="Locks · Console"/>
        <Card>
            <div class="mb-4 flex flex-wrap items-center justify-between gap-2">
                <p class="text-sm text-slate-600 dark:text-slate-400">
                    "Locks held through the lock service and by Gatehouse itself (refresh rotations)."
                </p>
                <button type="button" class=BUTTON on:click=move |_| { demo.dispatch(DemoLock {}); }>
                    "Take a demo lock"
                </button>
            </div>
            {move || demo.value().get().and_then(Result::err).map(|err| view! { <ErrorNotice message=err.0.message/> })}
            {move || release.value().get().and_then(Result::err).map(|err| view! { <ActionError err/> })}
            <Transition fallback=|| loading(LOADING)>
                {move || Suspend::new(async move {
                    match locks.await {
                        Ok(list) if list.locks.is_empty() => view! {
                            <Empty text="Held locks appear here with their holder and a countdown to expiry."/>
                        }.into_any(),
                        Ok(list) => {
                            let fetched_at = now_ms();
                            view! {
                                <div class=SCROLL>
                                    <table class=TABLE data-testid="locks-table">
                                        <thead><tr>
                                            <th class=TH>"Lock"</th><th class=TH>"Holder"</th><th class=TH>"Instance"</th>
                                            <th class=TH>"Acquired"</th><th class=TH>"Expires"</th><th class=TH>"Fencing"</th>
                                            <th class=TH>"Holds"</th><th class=TH>"Waiters"</th><th class=TH></th>
                                        </tr></thead>
                                        <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                                            {list.locks.into_iter().map(|lock| view! { <Row lock fetched_at release/> }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            }.into_any()
                        }
                        Err(err) => view! { <ErrorNotice message=err.0.message/> }.into_any(),
                    }
                })}
            </Transition>
        </Card>
    }
}

#[component]
fn Row(lock: LockInfo, fetched_at: u64, release: ServerAction<ForceReleaseLock>) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let name = lock.name.clone();
    view! {
        <tr data-lock=lock.name.clone()>
            <td class=TD><code class="text-xs">{lock.name.clone()}</code></td>
            <td class=TD>{lock.label.clone()}</td>
            <td class=TD><code class="text-xs">{lock.instance.clone()}</code></td>
            <td class=TD><RelativeTime at_ms=lock.acquired_at_ms/></td>
            <td class=TD data-testid="lock-ttl"><RelativeTime at_ms=fetched_at + lock.ttl_left_ms deadline=true/></td>
            <td class=format!("{TD} tabular-nums")>{lock.fencing_token}</td>
            <td class=format!("{TD} tabular-nums")>{lock.hold_count}</td>
            <td class=format!("{TD} tabular-nums")>{lock.waiters}</td>
            <td class=format!("{TD} whitespace-nowrap")>
                <Show
                    when=move || confirming.get()
                    fallback=move || view! {
                        <button type="button" class=BUTTON_DANGER on:click=move |_| confirming.set(true)>"Force release"</button>
                    }
                >
                    {
                        let name = name.clone();
                        view! {
                            <span class="mr-2 text-xs">"Release it?"</span>
                            <button type="button" class=BUTTON_DANGER
                                on:click=move |_| { release.dispatch(LockName { name: name.clone() }.into()); }>
                                "Yes, release"
                            </button>
                            " "
                            <button type="button" class=BUTTON on:click=move |_| confirming.set(false)>"Cancel"</button>
                        }
                    }
                </Show>
            </td>
        </tr>
    }
}
