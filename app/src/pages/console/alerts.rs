//! `/console/alerts`: what needs an admin, open alerts first, each with a
//! link to the user or the events behind it and a button to acknowledge
//! it; this browser's notification setting; and the rules that raise
//! alerts, for every instance.

use gatehouse::api::alerts::{Alert, AlertId, AlertQuery, AlertState, Severity};
use gatehouse::api::events::Kind;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::Empty;
use super::alert_rules::AlertRulesCard;
use crate::api::alerts::{acknowledge_alert, list_alerts};
use crate::components::time::RelativeTime;
use crate::components::ui::{BUTTON, Card, ErrorNotice, INPUT, LOADING, loading};
use crate::desktop::{self, Permission};
use crate::live::use_live;

/// Kinds that change the list.
pub(super) fn changes_alerts(kind: Kind) -> bool {
    matches!(kind, Kind::AlertRaised | Kind::AlertAcknowledged)
}

#[component]
pub fn AlertsPage() -> impl IntoView {
    let changes = use_live().watch(changes_alerts);
    let acked = RwSignal::new(0u64);
    let alerts = Resource::new(
        move || (changes.get(), acked.get()),
        |_| {
            list_alerts(AlertQuery {
                state: None,
                limit: Some(200),
            })
        },
    );
    view! {
        <Title text="Alerts · Console"/>
        <div class="grid gap-6">
            <Card title="Alerts">
                <Transition fallback=|| loading(LOADING)>
                    {move || Suspend::new(async move {
                        match alerts.await {
                            Ok(list) if list.alerts.is_empty() => view! {
                                <Empty text="Nothing needs you. Refresh-token reuse, lockouts, sign-in challenges, an admin at a new address, rate-limit storms and Redis trouble raise alerts here."/>
                            }.into_any(),
                            Ok(list) => view! {
                                <ul class="divide-y divide-slate-100 dark:divide-slate-800" data-testid="alerts">
                                    {list.alerts.into_iter().map(|alert| view! { <AlertRow alert acked/> }).collect_view()}
                                </ul>
                            }.into_any(),
                            Err(err) => view! { <ErrorNotice message=err.0.message/> }.into_any(),
                        }
                    })}
                </Transition>
            </Card>
            <Card title="Desktop notifications">
                <NotificationSetting/>
            </Card>
            <Card title="Rules">
                <AlertRulesCard/>
            </Card>
        </div>
    }
}

/// Severity as a label whose colours pass contrast in both themes (and
/// never by colour alone: the word is there).
pub(super) fn severity_badge(severity: Severity) -> impl IntoView {
    let (text, classes) = match severity {
        Severity::Critical => (
            "Critical",
            "bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-200",
        ),
        Severity::Warning => (
            "Warning",
            "bg-amber-100 text-amber-900 dark:bg-amber-950 dark:text-amber-200",
        ),
        Severity::Info => (
            "Info",
            "bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-200",
        ),
    };
    view! { <span class=format!("rounded px-1.5 py-0.5 text-xs font-semibold {classes}")>{text}</span> }
}

#[component]
fn AlertRow(alert: Alert, acked: RwSignal<u64>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let open = alert.state == AlertState::Open;
    let alert_id = alert.alert_id.clone();
    let acknowledge = move |_| {
        let alert_id = alert_id.clone();
        leptos::task::spawn_local(async move {
            match acknowledge_alert(AlertId { alert_id }).await {
                Ok(_) => acked.update(|n| *n += 1),
                Err(err) => error.set(Some(err.0.message)),
            }
        });
    };
    let state = match (&alert.acknowledged_by, alert.acknowledged_at_ms) {
        (Some(by), Some(at_ms)) => view! {
            <span>"Acknowledged by " {by.clone()} " " <RelativeTime at_ms/></span>
        }
        .into_any(),
        _ => view! { <span class="font-medium">"Open"</span> }.into_any(),
    };
    view! {
        <li class="flex flex-wrap items-start gap-x-3 gap-y-1 py-3" data-alert=alert.alert_id.clone() data-state=if open { "open" } else { "acknowledged" } data-rule=alert.rule.as_str()>
            {severity_badge(alert.severity)}
            <div class="min-w-0 flex-1">
                <p class="text-sm">{alert.title.clone()}</p>
                <p class="text-xs text-slate-600 dark:text-slate-400">
                    <code>{alert.rule.as_str()}</code> " · " <code>{alert.subject.clone()}</code>
                    " · " {alert.count} {if alert.count == 1 { " time" } else { " times" }}
                    ", first " <RelativeTime at_ms=alert.first_at_ms/> ", latest " <RelativeTime at_ms=alert.last_at_ms/>
                    " · " {state}
                </p>
                {move || error.get().map(|message| view! { <ErrorNotice message/> })}
            </div>
            <A href=alert.link.clone() attr:class="text-sm font-medium text-sky-700 underline-offset-2 hover:underline dark:text-sky-400">
                "Open" <span class="sr-only">" what the alert is about"</span>
            </A>
            {open.then(|| view! {
                <button type="button" class=BUTTON on:click=acknowledge>
                    "Acknowledge" <span class="sr-only">": " {alert.title.clone()}</span>
                </button>
            })}
        </li>
    }
}

/// Which alerts notify in this browser, and asking for permission (only
/// here, when the admin chooses a level).
#[component]
fn NotificationSetting() -> impl IntoView {
    // What this browser says, once it runs (nothing on the server).
    let permission = RwSignal::new(None::<Permission>);
    let level = RwSignal::new(None::<Severity>);
    Effect::new(move |_| {
        permission.set(Some(desktop::permission()));
        level.set(desktop::level());
    });
    let choose = move |ev: leptos::ev::Event| {
        let chosen = Severity::parse(&event_target_value(&ev));
        desktop::set_level(chosen);
        level.set(chosen);
        if chosen.is_some() && permission.get_untracked() == Some(Permission::Ask) {
            leptos::task::spawn_local(async move {
                permission.set(Some(desktop::request_permission().await));
            });
        }
    };
    let option = move |value: &'static str, text: &'static str| {
        let selected = move || level.get().map_or("off", Severity::as_str) == value;
        view! { <option value=value selected=selected>{text}</option> }
    };
    view! {
        <div class="grid gap-2 text-sm sm:max-w-md">
            <label for="notify-level" class="font-medium">"Notify me of alerts"</label>
            <select id="notify-level" class=INPUT on:change=choose data-testid="notify-level">
                {option("off", "Never")}
                {option("critical", "Critical only")}
                {option("warning", "Warning and critical")}
                {option("info", "All alerts")}
            </select>
            <p class="text-slate-600 dark:text-slate-400" data-testid="notify-permission">
                {move || match permission.get() {
                    None => "",
                    Some(Permission::Granted) => "This browser may show notifications; they arrive while the console window is in the background.",
                    Some(Permission::Denied) => "This browser blocks Gatehouse's notifications: allow them in the site settings to be notified.",
                    Some(Permission::Ask) => "Choosing a level asks this browser for permission to notify.",
                    Some(Permission::Unsupported) => "This browser cannot show notifications.",
                }}
            </p>
        </div>
    }
}
