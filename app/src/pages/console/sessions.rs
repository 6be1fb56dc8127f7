//! `/console/sessions`: everyone's live sessions, searchable and paged;
//! revoke one, or sign a user out everywhere.

use gatehouse::api::events::Kind;
use gatehouse::api::sessions::{AdminSession, SessionQuery, UserSession};
use gatehouse::api::users::UserId;
use leptos::prelude::*;
use leptos_meta::Title;

use super::{Empty, SCROLL, ShortId, TABLE, TD, TH, UserLink};
use crate::api::console::{AdminLogoutAll, AdminRevokeSession, admin_sessions};
use crate::components::step_up::ActionError;
use crate::components::time::RelativeTime;
use crate::components::ui::{BUTTON, BUTTON_DANGER, Card, ErrorNotice, INPUT, LOADING, loading};
use crate::live::use_live;

const PAGE: u64 = 50;

#[component]
pub fn SessionsPage() -> impl IntoView {
    let changes = use_live().watch(|kind| {
        matches!(
            kind,
            Kind::SessionCreated
                | Kind::SessionRevoked
                | Kind::Logout
                | Kind::SignedOutEverywhere
                | Kind::RefreshRotated
                | Kind::UserDisabled
                | Kind::AdminSessionRevoked
                | Kind::AdminSignedOutEverywhere
        )
    });
    let query = RwSignal::new(String::new());
    let offset = RwSignal::new(0u64);
    let revoke = ServerAction::<AdminRevokeSession>::new();
    let logout_all = ServerAction::<AdminLogoutAll>::new();
    let sessions = Resource::new(
        move || {
            (
                changes.get(),
                query.get(),
                offset.get(),
                revoke.version().get(),
                logout_all.version().get(),
            )
        },
        |(_, query, offset, _, _)| {
            admin_sessions(SessionQuery {
                offset: Some(offset),
                limit: Some(PAGE),
                query: Some(query),
            })
        },
    );
    let input = NodeRef::<leptos::html::Input>::new();
    let search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Some(input) = input.get() {
            offset.set(0);
            query.set(input.value());
        }
    };
    view! {
        <Title text="Sessions · Console"/>
        <Card>
            <form on:submit=search class="mb-4 flex flex-wrap gap-2" role="search">
                <label for="session-search" class="sr-only">"Username"</label>
                <input id="session-search" node_ref=input type="search" placeholder="Username" class=format!("{INPUT} max-w-xs")/>
                <button type="submit" class=BUTTON>"Search"</button>
                {move || (!query.get().is_empty()).then(|| view! {
                    <button type="button" class=BUTTON on:click=move |_| query.set(String::new())>"Show all"</button>
                })}
            </form>
            {move || revoke.value().get().and_then(Result::err).map(|err| view! { <ActionError err/> })}
            <Transition fallback=|| loading(LOADING)>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Ok(page) if page.sessions.is_empty() => view! {
                            <Empty text="Live sessions appear here as people sign in."/>
                        }.into_any(),
                        Ok(page) => {
                            let total = page.total;
                            view! {
                                <SessionTable sessions=page.sessions revoke logout_all/>
                                <div class="mt-3 flex items-center justify-between gap-2 text-sm">
                                    <span class="text-slate-500 dark:text-slate-400">{format!("{total} live sessions")}</span>
                                    <span class="flex gap-2">
                                        <button type="button" class=BUTTON disabled=move || offset.get() == 0
                                            on:click=move |_| offset.update(|o| *o = o.saturating_sub(PAGE))>"Previous"</button>
                                        <button type="button" class=BUTTON disabled=move || { offset.get() + PAGE >= total }
                                            on:click=move |_| offset.update(|o| *o += PAGE)>"Next"</button>
                                    </span>
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

/// Sessions with their revoke buttons (also on the user page).
#[component]
pub(super) fn SessionTable(
    sessions: Vec<AdminSession>,
    revoke: ServerAction<AdminRevokeSession>,
    logout_all: ServerAction<AdminLogoutAll>,
) -> impl IntoView {
    view! {
        <div class=SCROLL>
            <table class=TABLE data-testid="sessions-table">
                <thead><tr>
                    <th class=TH>"User"</th><th class=TH>"Device"</th><th class=TH>"IP"</th>
                    <th class=TH>"Signed in"</th><th class=TH>"Last seen"</th>
                    <th class=TH>"Idle expiry"</th><th class=TH>"Absolute expiry"</th><th class=TH></th>
                </tr></thead>
                <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                    {sessions.into_iter().map(|s| view! { <Row session=s revoke logout_all/> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn Row(
    session: AdminSession,
    revoke: ServerAction<AdminRevokeSession>,
    logout_all: ServerAction<AdminLogoutAll>,
) -> impl IntoView {
    let (user_id, session_id) = (session.user_id.clone(), session.session_id.clone());
    let everywhere_user = session.user_id.clone();
    view! {
        <tr data-session-id=session.session_id.clone()>
            <td class=TD>
                <UserLink user_id=session.user_id.clone() name=session.username.clone()/>
                <div><ShortId id=session.session_id.clone()/></div>
            </td>
            <td class=TD>{session.device.clone()}</td>
            <td class=TD><code class="text-xs">{session.ip.clone()}</code></td>
            <td class=TD><RelativeTime at_ms=session.created_at_ms/></td>
            <td class=TD><RelativeTime at_ms=session.last_seen_at_ms/></td>
            <td class=TD><RelativeTime at_ms=session.idle_expires_at_ms deadline=true/></td>
            <td class=TD><RelativeTime at_ms=session.absolute_expires_at_ms deadline=true/></td>
            <td class=format!("{TD} whitespace-nowrap")>
                <button type="button" class=BUTTON_DANGER
                    aria-label=format!("Revoke session of {}", session.username)
                    on:click=move |_| { revoke.dispatch(UserSession { user_id: user_id.clone(), session_id: session_id.clone() }.into()); }>
                    "Revoke"
                </button>
                " "
                <button type="button" class=BUTTON
                    aria-label=format!("Sign {} out everywhere", session.username)
                    on:click=move |_| { logout_all.dispatch(UserId { user_id: everywhere_user.clone() }.into()); }>
                    "Everywhere"
                </button>
            </td>
        </tr>
    }
}
