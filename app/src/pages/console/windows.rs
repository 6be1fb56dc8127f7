//! `/console/windows`: every user's (and address's) request windows: how
//! full each policy is, when it resets, and for sliding logs a strip chart
//! of the requests in the window that slides as time passes. Reset
//! unblocks.

use gatehouse::api::Page;
use gatehouse::api::events::Kind;
use gatehouse::api::ratelimit::{ActiveWindow, Subject, SubjectRequest, Window};
use leptos::prelude::*;
use leptos_meta::Title;

use super::{Empty, UserLink};
use crate::api::ratelimit::{ResetWindows, active_windows, subject_windows};
use crate::components::time::{Clock, RelativeTime, now_ms};
use crate::components::ui::{BUTTON, Card, ErrorNotice, LOADING, hydrated, loading};
use crate::live::use_live;

/// Event kinds that change request windows.
pub(super) fn changes_windows(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::RateLimited | Kind::WindowsReset | Kind::LockoutReset
    )
}

#[component]
pub fn WindowsPage() -> impl IntoView {
    let changes = use_live().watch(changes_windows);
    let clock = expect_context::<Clock>().0;
    let every_five_seconds = Memo::new(move |_| clock.get() / 5_000);
    let reset = ServerAction::<ResetWindows>::new();
    let selected = RwSignal::new(None::<Subject>);
    let subjects = Resource::new(
        move || {
            (
                changes.get(),
                every_five_seconds.get(),
                reset.version().get(),
            )
        },
        |_| {
            active_windows(Page {
                offset: Some(0),
                limit: Some(100),
            })
        },
    );
    view! {
        <Title text="Request windows · Console"/>
        <div class="grid gap-6 lg:grid-cols-[18rem_1fr]">
            <Card title="Active">
                <Transition fallback=|| loading(LOADING)>
                    {move || Suspend::new(async move {
                        match subjects.await {
                            Ok(page) if page.subjects.is_empty() => view! {
                                <Empty text="Users, addresses and service keys with requests in a live window appear here."/>
                            }.into_any(),
                            Ok(page) => view! {
                                <ul class="space-y-1 text-sm" data-testid="window-subjects">
                                    {page.subjects.into_iter().map(|active| view! { <SubjectItem active selected/> }).collect_view()}
                                </ul>
                            }.into_any(),
                            Err(err) => view! { <ErrorNotice message=err.0.message/> }.into_any(),
                        }
                    })}
                </Transition>
            </Card>
            <div>
                {move || match selected.get() {
                    None => view! { <Empty text="Pick a subject to see its windows."/> }.into_any(),
                    Some(subject) => view! { <Windows subject reset changes/> }.into_any(),
                }}
            </div>
        </div>
    }
}

fn kind(subject: &Subject) -> &'static str {
    match subject {
        Subject::Ip { .. } => "address",
        Subject::User { .. } => "user",
        Subject::Session { .. } => "session",
        Subject::UserRoute { .. } => "user+route",
        Subject::IpUsername { .. } | Subject::Username { .. } => "sign-in",
        Subject::Key { .. } => "service key",
    }
}

#[component]
fn SubjectItem(active: ActiveWindow, selected: RwSignal<Option<Subject>>) -> impl IntoView {
    let subject = active.subject.clone();
    let is_selected = {
        let subject = subject.clone();
        move || selected.get().as_ref() == Some(&subject)
    };
    let pressed = is_selected.clone();
    view! {
        <li>
            <button type="button"
                class=move || format!(
                    "w-full rounded-md px-2 py-1.5 text-left hover:bg-slate-100 dark:hover:bg-slate-800 {}",
                    if is_selected() { "bg-slate-100 dark:bg-slate-800" } else { "" }
                )
                aria-pressed=move || pressed().to_string()
                on:click=move |_| selected.set(Some(subject.clone()))>
                <span class="mr-2 rounded bg-slate-200 px-1.5 py-0.5 text-xs dark:bg-slate-700">{kind(&active.subject)}</span>
                <span class="font-medium">{active.label.clone()}</span>
            </button>
        </li>
    }
}

/// One subject's windows, drawn live, with a reset (also on the user
/// page).
#[component]
pub(super) fn Windows(
    subject: Subject,
    reset: ServerAction<ResetWindows>,
    changes: ReadSignal<u64>,
    /// The heading; by default the kind of subject, with a link to the
    /// user's page for a user.
    #[prop(optional, into)]
    title: Option<String>,
) -> impl IntoView {
    let user_page = match (&title, &subject) {
        (None, Subject::User { user_id }) => Some(user_id.clone()),
        _ => None,
    };
    let heading = title.unwrap_or_else(|| kind(&subject).to_owned());
    let clock = expect_context::<Clock>().0;
    let every_two_seconds = Memo::new(move |_| clock.get() / 2_000);
    // Fetched by the browser only, once the page is hydrated, and read
    // without a suspense boundary: on the user page this card sits inside
    // the report's boundary, and a boundary nested in an already resolved
    // one does not hydrate asynchronously (as the console's lazy pages
    // do). The server sends the placeholder; the windows redraw every two
    // seconds anyway.
    let hydrated = hydrated();
    let key = subject.clone();
    let report = LocalResource::new(move || {
        let subject = key.clone();
        changes.track();
        every_two_seconds.track();
        reset.version().track();
        subject_windows(SubjectRequest { subject })
    });
    let to_reset = subject.clone();
    view! {
        <Card>
            <div class="mb-4 flex items-center justify-between gap-2">
                <h2 class="text-lg font-medium">{heading}</h2>
                {user_page.map(|user_id| view! { <UserLink user_id name="User page".to_owned()/> })}
                <button type="button" class=BUTTON
                    on:click=move |_| { reset.dispatch(SubjectRequest { subject: to_reset.clone() }.into()); }>
                    "Reset (unblock)"
                </button>
            </div>
            {move || match hydrated.get().then(|| report.get()).flatten() {
                None => loading(LOADING).into_any(),
                Some(Ok(report)) if report.windows.is_empty() => view! {
                    <Empty text="No policy counts this kind of subject."/>
                }.into_any(),
                Some(Ok(report)) => view! {
                    <div class="space-y-5" data-testid="windows">
                        {report.windows.into_iter().map(|window| view! { <WindowBar window/> }).collect_view()}
                    </div>
                }.into_any(),
                Some(Err(err)) => view! { <ErrorNotice message=err.0.message/> }.into_any(),
            }}
        </Card>
    }
}

#[component]
fn WindowBar(window: Window) -> impl IntoView {
    let clock = expect_context::<Clock>().0;
    let share = if window.limit == 0 {
        0.0
    } else {
        (window.used as f64 / window.limit as f64).min(1.0)
    };
    let full = window.remaining == 0;
    // The server's clock placed the requests; shift them onto ours.
    let skew = now_ms() as i64 - window.now_ms as i64;
    let span = window.window_ms.max(1) as f64;
    let requests: Vec<u64> = window
        .requests_ms
        .iter()
        .map(|t| (*t as i64 + skew).max(0) as u64)
        .collect();
    let resets_at = now_ms() + window.reset_ms;
    let count = requests.len();
    view! {
        <section data-policy=window.policy.clone()>
            <div class="mb-1 flex flex-wrap justify-between gap-2 text-sm">
                <span><span class="font-medium">{window.policy.clone()}</span>
                    <span class="ml-2 text-xs text-slate-500 dark:text-slate-400">{window.algorithm.as_str()}</span></span>
                <span class="tabular-nums" data-testid="window-usage">{format!("{} / {}", window.used, window.limit)}</span>
            </div>
            <svg viewBox="0 0 100 4" preserveAspectRatio="none" class="h-2 w-full rounded bg-slate-200 dark:bg-slate-800" role="img"
                aria-label=format!("{} of {} used", window.used, window.limit)>
                <rect x="0" y="0" height="4" width=share * 100.0 class=if full { "fill-red-500" } else { "fill-sky-500" }></rect>
            </svg>
            <p class="mt-1 text-xs text-slate-500 dark:text-slate-400">"resets " <RelativeTime at_ms=resets_at deadline=true/></p>
            {(!requests.is_empty()).then(|| view! {
                <svg viewBox="0 0 100 10" preserveAspectRatio="none" class="mt-2 h-6 w-full rounded border border-slate-200 dark:border-slate-800"
                    role="img" aria-label=format!("{count} requests in the window")>
                    {requests.into_iter().map(|at| view! {
                        <rect y="1" width="0.6" height="8" class="fill-sky-600"
                            x=move || (((at as f64) - (clock.get() as f64 - span)) / span * 100.0).clamp(-1.0, 100.0)></rect>
                    }).collect_view()}
                </svg>
                <div class="flex justify-between text-xs text-slate-500 dark:text-slate-400"><span>"window start"</span><span>"now"</span></div>
            })}
        </section>
    }
}
