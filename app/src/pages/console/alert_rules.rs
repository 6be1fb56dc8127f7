//! The alert rules on the Alerts page: each rule's meaning, whether it is
//! on, and its threshold where it counts. A change applies to every
//! instance from its next match, is audited, and (like every admin
//! change) asks for the second factor again when it was proved too long
//! ago. Another admin's change shows here live.

use gatehouse::api::alerts::{AlertRule, SetAlertRuleRequest};
use gatehouse::api::events::Kind;
use leptos::prelude::*;

use super::alerts::severity_badge;
use crate::api::alerts::{SetAlertRule, list_alert_rules};
use crate::components::step_up::ActionError;
use crate::components::ui::{BUTTON, ErrorNotice, INPUT, LOADING, loading};
use crate::live::use_live;

#[component]
pub fn AlertRulesCard() -> impl IntoView {
    let changes = use_live().watch(|kind| kind == Kind::AlertRuleChanged);
    let save = ServerAction::<SetAlertRule>::new();
    let rules = Resource::new(
        move || (changes.get(), save.version().get()),
        |_| list_alert_rules(),
    );
    view! {
        <p class="mb-3 text-sm text-slate-600 dark:text-slate-400">
            "Rules apply to every instance from their next match. Turning one off hides what it watches for: the change is audited."
        </p>
        {move || save.value().get().and_then(Result::err).map(|err| view! { <ActionError err/> })}
        {move || save.value().get().and_then(Result::ok).map(|rule| view! {
            <p class="mb-2 text-sm text-emerald-700 dark:text-emerald-400" role="status">
                {format!("Saved: {} is {}.", rule.rule.as_str(), if rule.enabled { "on" } else { "off" })}
            </p>
        })}
        <Transition fallback=|| loading(LOADING)>
            {move || Suspend::new(async move {
                match rules.await {
                    Ok(list) => view! {
                        <ul class="divide-y divide-slate-100 dark:divide-slate-800" data-testid="alert-rules">
                            {list.rules.into_iter().map(|rule| view! { <RuleRow rule save/> }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(err) => view! { <ErrorNotice message=err.0.message/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn RuleRow(rule: AlertRule, save: ServerAction<SetAlertRule>) -> impl IntoView {
    let id = rule.rule;
    let name = id.as_str();
    let enabled = RwSignal::new(rule.enabled);
    let threshold = NodeRef::<leptos::html::Input>::new();
    let invalid = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let threshold = match threshold.get() {
            Some(input) => match input.value().trim().parse::<u64>() {
                Ok(n) if n >= 1 => Some(n),
                _ => {
                    invalid.set(true);
                    return;
                }
            },
            None => None,
        };
        invalid.set(false);
        save.dispatch(
            SetAlertRuleRequest {
                rule: id,
                enabled: enabled.get_untracked(),
                threshold,
            }
            .into(),
        );
    };
    let default = if rule.enabled_by_default {
        "on by default"
    } else {
        "off by default"
    };
    view! {
        <li class="py-3" data-rule=name>
            <form on:submit=submit novalidate class="grid gap-2 sm:grid-cols-[1fr_auto] sm:items-start">
                <div class="min-w-0">
                    <p class="flex flex-wrap items-center gap-2 text-sm">
                        {severity_badge(rule.severity)} <code class="font-medium">{name}</code>
                        <span class="text-xs text-slate-600 dark:text-slate-400">{default}</span>
                    </p>
                    <p class="mt-1 text-sm text-slate-700 dark:text-slate-300" id=format!("rule-{name}-about")>
                        {rule.description}
                    </p>
                </div>
                <div class="flex flex-wrap items-end gap-3">
                    <label class="flex items-center gap-2 text-sm">
                        <input type="checkbox" prop:checked=move || enabled.get()
                            on:change=move |ev| enabled.set(event_target_checked(&ev))
                            aria-describedby=format!("rule-{name}-about")/>
                        "On" <span class="sr-only">" for " {name}</span>
                    </label>
                    {rule.threshold.map(|value| view! {
                        <div class="w-36">
                            <label for=format!("rule-{name}-threshold") class="mb-1 block text-xs font-medium">"Refusals per minute"</label>
                            <input id=format!("rule-{name}-threshold") node_ref=threshold type="number" min="1" required
                                class=INPUT prop:value=value.to_string()
                                aria-invalid=move || invalid.get().then_some("true")/>
                        </div>
                    })}
                    <button type="submit" class=BUTTON disabled=move || save.pending().get()>
                        "Save" <span class="sr-only">" " {name}</span>
                    </button>
                </div>
            </form>
            {move || invalid.get().then(|| view! {
                <p class="mt-1 text-sm text-red-700 dark:text-red-400" role="alert">"The threshold is a whole number, at least 1."</p>
            })}
        </li>
    }
}
