//! `/console/events`: the security event feed, live, with filters.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{Empty, ShortId, UserLink};
use crate::api::console::{EventView, recent_events};
use crate::components::time::RelativeTime;
use crate::components::ui::{BUTTON, Card, ErrorNotice, INPUT};
use crate::live::use_live;

#[derive(Clone, Debug, Default, PartialEq)]
struct Filter {
    kind: String,
    user: String,
    ip: String,
}

impl Filter {
    fn matches(&self, e: &EventView) -> bool {
        (self.kind.is_empty() || e.kind.starts_with(&self.kind))
            && (self.user.is_empty()
                || e.user_id.as_deref() == Some(self.user.as_str())
                || e.username
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&self.user)))
            && (self.ip.is_empty() || e.ip.as_deref() == Some(self.ip.as_str()))
    }
}

#[component]
pub fn EventsPage() -> impl IntoView {
    let live = use_live();
    let filter = RwSignal::new(Filter::default());
    let initial = Resource::new(
        move || filter.get(),
        |f| recent_events(Some(f.kind), Some(f.user), Some(f.ip), Some(200), None),
    );
    let (kind, user, ip) = (
        NodeRef::<leptos::html::Input>::new(),
        NodeRef::<leptos::html::Input>::new(),
        NodeRef::<leptos::html::Input>::new(),
    );
    let apply = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let value = |input: NodeRef<leptos::html::Input>| {
            input
                .get()
                .map(|i| i.value().trim().to_owned())
                .unwrap_or_default()
        };
        filter.set(Filter {
            kind: value(kind),
            user: value(user),
            ip: value(ip),
        });
    };
    view! {
        <Title text="Events · Console"/>
        <Card>
            <form on:submit=apply class="mb-4 grid gap-2 sm:grid-cols-[1fr_1fr_1fr_auto]" role="search">
                <label class="sr-only" for="filter-kind">"Type"</label>
                <input id="filter-kind" node_ref=kind placeholder="Type (e.g. login, lock_, rate_limited)" class=INPUT/>
                <label class="sr-only" for="filter-user">"User"</label>
                <input id="filter-user" node_ref=user placeholder="User" class=INPUT/>
                <label class="sr-only" for="filter-ip">"IP"</label>
                <input id="filter-ip" node_ref=ip placeholder="IP" class=INPUT/>
                <button type="submit" class=BUTTON>"Filter"</button>
            </form>
            <Transition fallback=|| view! { <p class="text-sm text-slate-500 dark:text-slate-400">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match initial.await {
                        Ok(list) => {
                            let newest_initial = list.events.first().map(|e| e.id.clone()).unwrap_or_default();
                            let initial_events = list.events;
                            let shown = move || {
                                let f = filter.get();
                                let mut events: Vec<EventView> = live
                                    .events
                                    .get()
                                    .into_iter()
                                    .take_while(|e| e.id != newest_initial)
                                    .filter(|e| f.matches(e))
                                    .collect();
                                events.extend(initial_events.iter().cloned());
                                events.truncate(300);
                                events
                            };
                            view! {
                                <Show when={let shown = shown.clone(); move || !shown().is_empty()}
                                    fallback=|| view! { <Empty text="Sign-ins, sign-outs, rotations, locks, rate limits and admin actions appear here as they happen."/> }>
                                    <ol class="divide-y divide-slate-100 text-sm dark:divide-slate-800" data-testid="events">
                                        <For each=shown.clone() key=|e| e.id.clone() let:event>
                                            <EventRow event/>
                                        </For>
                                    </ol>
                                </Show>
                            }.into_any()
                        }
                        Err(err) => view! { <ErrorNotice message=err.message/> }.into_any(),
                    }
                })}
            </Transition>
        </Card>
    }
}

fn tone(kind: &str) -> &'static str {
    if kind.contains("failed")
        || kind.contains("locked")
        || kind.contains("reuse")
        || kind.contains("rate_limited")
        || kind.contains("lost")
    {
        "bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-300"
    } else if kind.starts_with("admin")
        || kind.contains("revoked")
        || kind.contains("force")
        || kind.contains("disabled")
    {
        "bg-amber-100 text-amber-800 dark:bg-amber-950 dark:text-amber-300"
    } else {
        "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-300"
    }
}

/// One event (also on the user page).
#[component]
pub(super) fn EventRow(event: EventView) -> impl IntoView {
    let details = event
        .details
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    view! {
        <li class="flex flex-wrap items-baseline gap-x-3 gap-y-1 py-2" data-kind=event.kind.clone()>
            <span class="w-24 shrink-0 text-xs text-slate-500 dark:text-slate-400"><RelativeTime at_ms=event.at_ms/></span>
            <span class=format!("rounded px-1.5 py-0.5 font-mono text-xs {}", tone(&event.kind))>{event.kind.clone()}</span>
            {match (event.user_id.clone(), event.username.clone()) {
                (Some(user_id), name) => Some(view! { <UserLink user_id name=name.unwrap_or_default()/> }.into_any()),
                (None, Some(name)) => Some(view! { <span class="font-medium">{name}</span> }.into_any()),
                (None, None) => None,
            }}
            {event.ip.clone().map(|ip| view! { <code class="text-xs">{ip}</code> })}
            {event.session_id.clone().map(|s| view! { <span class="text-xs text-slate-500 dark:text-slate-400">"session " <ShortId id=s/></span> })}
            <span class="min-w-0 break-all text-xs text-slate-500 dark:text-slate-400">{details}</span>
            <span class="ml-auto text-xs text-slate-500 dark:text-slate-400">{event.instance.clone()}</span>
        </li>
    }
}
