//! `/console/users/<user_id>`: one user, everything about them, in one
//! place: profile and admin actions, live sessions per device, second
//! factors, request windows drawn live, sign-in challenge state, revoked tokens and recent
//! events. Like every console page it refreshes from the live feed.

use gatehouse::api::console::EventQuery;
use gatehouse::api::events::Kind;
use gatehouse::api::mfa::FactorList;
use gatehouse::api::ratelimit::Subject;
use gatehouse::api::users::{UserId, UserReport};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use super::Empty;
use super::blacklist::BlacklistTable;
use super::events::EventRow;
use super::sessions::SessionTable;
use super::users::{RoleToggles, UserActions};
use super::windows::Windows;
use crate::api::admin::{
    ResetLockout, ResetUserMfa, SetUserDisabled, SetUserPassword, SetUserRoles,
};
use crate::api::console::{AdminLogoutAll, AdminRevokeSession, recent_events};
use crate::api::ratelimit::ResetWindows;
use crate::api::users::user_detail;
use crate::components::step_up::ActionError;
use crate::components::time::RelativeTime;
use crate::components::ui::{BUTTON, Card, ErrorNotice, LOADING, loading};
use crate::events::{Group, group};
use crate::live::use_live;

/// Event kinds that can change what this page shows (but its windows):
/// all but locks, refusals and Redis' breakers.
fn changes_the_user(kind: Kind) -> bool {
    !matches!(group(kind), Group::Locks | Group::RateLimits | Group::Redis)
}

#[component]
pub fn UserPage() -> impl IntoView {
    let params = use_params_map();
    let user_id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let live = use_live();
    let changes = live.watch(changes_the_user);
    let window_changes = live.watch(super::windows::changes_windows);
    let actions = Actions {
        revoke: ServerAction::new(),
        logout_all: ServerAction::new(),
        disable: ServerAction::new(),
        roles: ServerAction::new(),
        reset: ServerAction::new(),
        set_password: ServerAction::new(),
        reset_windows: ServerAction::new(),
        reset_mfa: ServerAction::new(),
    };
    let report = Resource::new(
        move || (user_id.get(), changes.get(), actions.versions()),
        |(user_id, _, _)| user_detail(UserId { user_id }),
    );
    let events = Resource::new(
        move || (user_id.get(), changes.get()),
        |(id, _)| {
            recent_events(EventQuery {
                user: Some(id),
                limit: Some(50),
                ..EventQuery::default()
            })
        },
    );
    view! {
        <p class="mb-4 text-sm">
            <A href="/console/users" attr:class="text-sky-700 underline-offset-2 hover:underline dark:text-sky-400">"← All users"</A>
        </p>
        {move || actions.error().map(|err| view! { <ActionError err/> })}
        <Transition fallback=|| loading(LOADING)>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(report) => view! { <Report report actions window_changes/> }.into_any(),
                    Err(err) => view! { <ErrorNotice message=err.0.message/> }.into_any(),
                }
            })}
        </Transition>
        <div class="mt-6">
            <Card title="Recent events">
                <Transition fallback=|| loading(LOADING)>
                    {move || Suspend::new(async move {
                        match events.await {
                            Ok(list) if list.events.is_empty() => view! { <Empty text="Nothing has happened to this user lately."/> }.into_any(),
                            Ok(list) => view! {
                                <ul class="divide-y divide-slate-100 text-sm dark:divide-slate-800" data-testid="user-events">
                                    {list.events.into_iter().map(|event| view! { <EventRow event/> }).collect_view()}
                                </ul>
                            }.into_any(),
                            Err(err) => view! { <ErrorNotice message=err.0.message/> }.into_any(),
                        }
                    })}
                </Transition>
            </Card>
        </div>
    }
}

/// The page's actions, shared by its parts.
#[derive(Clone, Copy)]
struct Actions {
    revoke: ServerAction<AdminRevokeSession>,
    logout_all: ServerAction<AdminLogoutAll>,
    disable: ServerAction<SetUserDisabled>,
    roles: ServerAction<SetUserRoles>,
    reset: ServerAction<ResetLockout>,
    set_password: ServerAction<SetUserPassword>,
    reset_windows: ServerAction<ResetWindows>,
    reset_mfa: ServerAction<ResetUserMfa>,
}

impl Actions {
    /// Moves when any action finishes, so the report reloads.
    fn versions(self) -> [usize; 8] {
        [
            self.revoke.version().get(),
            self.logout_all.version().get(),
            self.disable.version().get(),
            self.roles.version().get(),
            self.reset.version().get(),
            self.set_password.version().get(),
            self.reset_windows.version().get(),
            self.reset_mfa.version().get(),
        ]
    }

    /// The last action's error, if it failed.
    fn error(self) -> Option<crate::FnError> {
        [
            self.revoke.value().get().and_then(Result::err),
            self.logout_all.value().get().and_then(Result::err),
            self.disable.value().get().and_then(Result::err),
            self.roles.value().get().and_then(Result::err),
            self.reset.value().get().and_then(Result::err),
            self.set_password.value().get().and_then(Result::err),
            self.reset_windows.value().get().and_then(Result::err),
            self.reset_mfa.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next()
    }
}

#[component]
fn Report(report: UserReport, actions: Actions, window_changes: ReadSignal<u64>) -> impl IntoView {
    let UserReport {
        user,
        last_sign_in_ms,
        sessions,
        blacklist,
        mfa,
    } = report;
    let Actions {
        revoke,
        logout_all,
        disable,
        roles,
        reset,
        set_password,
        reset_windows,
        reset_mfa,
    } = actions;
    let (user_id, username) = (user.user_id.clone(), user.username.clone());
    let (everywhere, factors_of) = (user_id.clone(), user_id.clone());
    let status = match (user.disabled, user.must_change_password) {
        (true, _) => "Disabled: cannot sign in",
        (false, true) => "Active; must choose a new password at next sign-in",
        (false, false) => "Active",
    };
    let session_count = sessions.len();
    let title = format!("{username} · Console");
    let (id_text, roles_id) = (user_id.clone(), user_id.clone());
    let by_user = Subject::User { user_id };
    let by_name = Subject::Username {
        username: username.clone(),
    };
    let roles_now = user.roles.clone();
    let created_at_ms = user.created_at_ms;
    view! {
        <Title text=title/>
        <div class="space-y-6">
            <Card>
                <h2 class="text-xl font-semibold tracking-tight" data-testid="user-name">{username}</h2>
                <dl class="mt-3 grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[10rem_1fr]">
                    <dt class="text-slate-500 dark:text-slate-400">"User id"</dt>
                    <dd><code class="break-all text-xs">{id_text}</code></dd>
                    <dt class="text-slate-500 dark:text-slate-400">"Roles"</dt>
                    <dd><RoleToggles user_id=roles_id current=roles_now roles/></dd>
                    <dt class="text-slate-500 dark:text-slate-400">"Status"</dt>
                    <dd data-testid="user-status">{status}</dd>
                    <dt class="text-slate-500 dark:text-slate-400">"Created"</dt>
                    <dd><RelativeTime at_ms=created_at_ms/></dd>
                    <dt class="text-slate-500 dark:text-slate-400">"Last sign-in"</dt>
                    <dd>{match last_sign_in_ms {
                        Some(at_ms) => view! { <RelativeTime at_ms/> }.into_any(),
                        None => view! { <span>"none recorded"</span> }.into_any(),
                    }}</dd>
                </dl>
                <div class="mt-4 flex flex-wrap items-start gap-2">
                    <UserActions user disable reset set_password/>
                </div>
            </Card>
            <Card title=format!("Sessions ({session_count})")>
                {if sessions.is_empty() {
                    view! { <Empty text="No live session: the user is signed out everywhere."/> }.into_any()
                } else {
                    view! {
                        <SessionTable sessions revoke logout_all/>
                        <button type="button" class=format!("{BUTTON} mt-3")
                            on:click=move |_| { logout_all.dispatch(UserId { user_id: everywhere.clone() }.into()); }>
                            "Revoke all sessions"
                        </button>
                    }.into_any()
                }}
            </Card>
            <SecondFactors user_id=factors_of mfa reset=reset_mfa/>
            <div class="grid gap-6 *:min-w-0 lg:grid-cols-2">
                <Windows subject=by_user reset=reset_windows changes=window_changes title="Request windows"/>
                <Windows subject=by_name reset=reset_windows changes=window_changes title="Sign-in failures and challenge"/>
            </div>
            <Card title="Revoked tokens">
                {if blacklist.is_empty() {
                    view! { <Empty text="No revoked token of this user is still unexpired."/> }.into_any()
                } else {
                    view! { <BlacklistTable entries=blacklist/> }.into_any()
                }}
            </Card>
        </div>
    }
}

/// The user's second factors (never a secret), with Reset for a user who
/// lost them.
#[component]
fn SecondFactors(
    user_id: String,
    mfa: FactorList,
    reset: ServerAction<ResetUserMfa>,
) -> impl IntoView {
    let left = mfa.recovery_codes_left;
    let devices = mfa.remembered_devices.len();
    view! {
        <Card title="Second factors">
            {if mfa.factors.is_empty() {
                view! { <Empty text="No second factor: this user signs in with a password alone."/> }.into_any()
            } else {
                view! {
                    <ul class="divide-y divide-slate-100 text-sm dark:divide-slate-800" data-testid="user-factors">
                        {mfa.factors.into_iter().map(|factor| view! {
                            <li class="py-2">
                                <span class="font-medium">{factor.label}</span>
                                " · " {factor.kind.as_str()}
                                " · added " <RelativeTime at_ms=factor.created_at_ms/>
                                {match factor.last_used_at_ms {
                                    Some(at_ms) => view! { " · last used " <RelativeTime at_ms/> }.into_any(),
                                    None => view! { " · never used" }.into_any(),
                                }}
                                {factor.passkey.then_some(" · passkey")}
                                {factor.backup_eligible.then_some(" · can be backed up")}
                            </li>
                        }).collect_view()}
                    </ul>
                    <p class="mt-3 text-sm">{format!("Recovery codes left: {left} · remembered browsers: {devices}")}</p>
                    <button type="button" class=format!("{BUTTON} mt-3")
                        on:click=move |_| { reset.dispatch(UserId { user_id: user_id.clone() }.into()); }
                        disabled=move || reset.pending().get()>
                        "Reset second factors"
                    </button>
                    <p class="mt-2 text-xs text-slate-600 dark:text-slate-400">
                        "For a user who lost them: removes every factor and recovery code and signs the user out everywhere."
                    </p>
                }.into_any()
            }}
        </Card>
    }
}
