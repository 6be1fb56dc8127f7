//! `/console/events`: the security event feed, live, with filters: the
//! kind filter lists every kind, grouped and labelled by the vocabulary
//! (`crate::events`), so it offers exactly the kinds there are. A link
//! may open it filtered (`?kind=…&user=…&ip=…`).

use gatehouse::api::console::{Event, EventQuery};
use leptos::prelude::*;
use leptos_meta::Title;

use super::{Empty, ShortId, UserLink};
use crate::api::console::recent_events;
use crate::components::time::RelativeTime;
use crate::components::ui::{BUTTON, Card, ErrorNotice, INPUT, LOADING, loading};
use crate::events::{Group, details, label, tone};
use crate::live::use_live;

#[derive(Clone, Debug, Default, PartialEq)]
struct Filter {
    /// A kind's wire name, or empty for all.
    kind: String,
    user: String,
    ip: String,
}

impl Filter {
    fn matches(&self, e: &Event) -> bool {
        (self.kind.is_empty() || e.kind.name() == self.kind)
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
    // Links (an alert's, for one) may open the feed filtered:
    // `?kind=…&user=…&ip=…`.
    let query = leptos_router::hooks::use_query_map().get_untracked();
    let start = Filter {
        kind: query.get("kind").unwrap_or_default(),
        user: query.get("user").unwrap_or_default(),
        ip: query.get("ip").unwrap_or_default(),
    };
    let filter = RwSignal::new(start.clone());
    let initial = Resource::new(
        move || filter.get(),
        |f| {
            recent_events(EventQuery {
                kind: Some(f.kind),
                user: Some(f.user),
                ip: Some(f.ip),
                limit: Some(200),
                audit: None,
            })
        },
    );
    let (kind, user, ip) = (
        NodeRef::<leptos::html::Select>::new(),
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
            kind: kind.get().map(|k| k.value()).unwrap_or_default(),
            user: value(user),
            ip: value(ip),
        });
    };
    view! {
        <Title text="Events · Console"/>
        <Card>
            <form on:submit=apply class="mb-4 grid gap-2 sm:grid-cols-[1fr_1fr_1fr_auto]" role="search">
                <label class="sr-only" for="filter-kind">"Type"</label>
                <select id="filter-kind" node_ref=kind class=INPUT prop:value=start.kind.clone()>
                    <option value="">"All types"</option>
                    {Group::ALL.iter().map(|group| view! {
                        <optgroup label=group.label()>
                            {group.kinds().map(|kind| view! {
                                <option value=kind.as_str() selected=kind.as_str() == start.kind>{label(kind)}</option>
                            }).collect_view()}
                        </optgroup>
                    }).collect_view()}
                </select>
                <label class="sr-only" for="filter-user">"User"</label>
                <input id="filter-user" node_ref=user placeholder="User" class=INPUT value=start.user.clone()/>
                <label class="sr-only" for="filter-ip">"IP"</label>
                <input id="filter-ip" node_ref=ip placeholder="IP" class=INPUT value=start.ip.clone()/>
                <button type="submit" class=BUTTON>"Filter"</button>
            </form>
            <Transition fallback=|| loading(LOADING)>
                {move || Suspend::new(async move {
                    match initial.await {
                        Ok(list) => {
                            let newest_initial = list.events.first().map(|e| e.id.clone()).unwrap_or_default();
                            let initial_events = list.events;
                            let shown = move || {
                                let f = filter.get();
                                let mut events: Vec<Event> = live
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
                        Err(err) => view! { <ErrorNotice message=err.0.message/> }.into_any(),
                    }
                })}
            </Transition>
        </Card>
    }
}

/// One event (also on the user page).
#[component]
pub(super) fn EventRow(event: Event) -> impl IntoView {
    let kind = event.kind.kind();
    let details = details(&event.kind);
    view! {
        <li class="flex flex-wrap items-baseline gap-x-3 gap-y-1 py-2" data-kind=kind.as_str()>
            <span class="w-24 shrink-0 text-xs text-slate-500 dark:text-slate-400"><RelativeTime at_ms=event.at_ms/></span>
            <span class=format!("rounded px-1.5 py-0.5 text-xs {}", tone(kind).classes()) title=kind.as_str()>{label(kind)}</span>
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
