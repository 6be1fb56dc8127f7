//! `/console/users`: create users, disable and enable them, set roles,
//! set a password (ending the user's sessions, and by default making them
//! choose their own at the next sign-in), end sign-in lockouts.

use gatehouse::api::events::Kind;
use gatehouse::api::users::{NewUser, SetDisabled, SetPassword, SetRoles, UserView, Username};
use gatehouse::api::{Page, Role};
use leptos::prelude::*;
use leptos_meta::Title;

use super::{Empty, SCROLL, TABLE, TD, TH, UserLink};
use crate::api::admin::{
    CreateUser, ResetLockout, SetUserDisabled, SetUserPassword, SetUserRoles, list_users,
};
use crate::components::step_up::ActionError;
use crate::components::time::RelativeTime;
use crate::components::ui::{BUTTON, BUTTON_PRIMARY, Card, ErrorNotice, INPUT, LOADING, loading};
use crate::live::use_live;

#[component]
pub fn UsersPage() -> impl IntoView {
    let changes = use_live().watch(|kind| {
        matches!(
            kind,
            Kind::UserCreated
                | Kind::UserDisabled
                | Kind::UserEnabled
                | Kind::RolesChanged
                | Kind::LockoutReset
                | Kind::PasswordChanged
                | Kind::PasswordReset
        )
    });
    let create = ServerAction::<CreateUser>::new();
    let disable = ServerAction::<SetUserDisabled>::new();
    let roles = ServerAction::<SetUserRoles>::new();
    let reset = ServerAction::<ResetLockout>::new();
    let set_password = ServerAction::<SetUserPassword>::new();
    let users = Resource::new(
        move || {
            (
                changes.get(),
                create.version().get(),
                disable.version().get(),
                roles.version().get(),
                set_password.version().get(),
            )
        },
        |_| {
            list_users(Page {
                offset: Some(0),
                limit: Some(200),
            })
        },
    );
    let (username, password) = (
        NodeRef::<leptos::html::Input>::new(),
        NodeRef::<leptos::html::Input>::new(),
    );
    let chosen = RwSignal::new(vec![Role::User]);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let (Some(u), Some(p)) = (username.get(), password.get()) {
            create.dispatch(
                NewUser {
                    username: u.value(),
                    password: p.value(),
                    roles: names(&chosen.get()),
                }
                .into(),
            );
            p.set_value("");
        }
    };
    let errors = move || {
        [
            create.value().get().and_then(Result::err),
            disable.value().get().and_then(Result::err),
            roles.value().get().and_then(Result::err),
            reset.value().get().and_then(Result::err),
            set_password.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        // One step-up prompt is enough for any number of refused changes.
        .scan(false, |prompted, err| {
            let step_up = err.error == gatehouse::api::ErrorCode::StepUpRequired;
            let repeat = step_up && std::mem::replace(prompted, true);
            Some((!repeat).then_some(err))
        })
        .flatten()
        .collect::<Vec<_>>()
    };
    view! {
        <Title text="Users · Console"/>
        <div class="space-y-6">
            <Card title="Create a user">
                <form on:submit=submit class="grid gap-3 sm:grid-cols-[1fr_1fr_auto_auto] sm:items-end">
                    <div>
                        <label for="new-username" class="mb-1 block text-sm font-medium">"Username"</label>
                        <input id="new-username" node_ref=username required minlength="3" maxlength="64" class=INPUT autocomplete="off"/>
                    </div>
                    <div>
                        <label for="new-password" class="mb-1 block text-sm font-medium">"Password"</label>
                        <input id="new-password" node_ref=password type="password" required minlength="12" maxlength="1024" class=INPUT autocomplete="new-password"/>
                    </div>
                    <fieldset class="flex gap-3 text-sm">
                        <legend class="sr-only">"Roles"</legend>
                        {Role::ALL.into_iter().map(|role| view! {
                            <label class="flex items-center gap-1">
                                <input type="checkbox" prop:checked=move || chosen.get().contains(&role)
                                    on:change=move |_| chosen.update(|roles| {
                                        if let Some(i) = roles.iter().position(|r| *r == role) { roles.remove(i); } else { roles.push(role); }
                                    })/>
                                {role.as_str()}
                            </label>
                        }).collect_view()}
                    </fieldset>
                    <button type="submit" class=BUTTON_PRIMARY disabled=move || create.pending().get()>"Create"</button>
                </form>
                {move || create.value().get().and_then(Result::ok).map(|user| view! {
                    <p class="mt-2 text-sm text-emerald-700 dark:text-emerald-400" role="status">{format!("Created {}.", user.username)}</p>
                })}
            </Card>
            {move || errors().into_iter().map(|err| view! { <ActionError err/> }).collect_view()}
            {move || reset.value().get().and_then(Result::ok).map(|cleared| view! {
                <p class="text-sm" role="status">{format!("Lockout reset ({cleared} windows cleared).")}</p>
            })}
            {move || set_password.value().get().and_then(Result::ok).map(|changed| view! {
                <p class="text-sm" role="status">{format!("Password set; {} sessions ended.", changed.revoked_sessions)}</p>
            })}
            <Card title="Users">
                <Transition fallback=|| loading(LOADING)>
                    {move || Suspend::new(async move {
                        match users.await {
                            Ok(list) if list.users.is_empty() => view! { <Empty text="Users appear here once created."/> }.into_any(),
                            Ok(list) => view! {
                                <div class=SCROLL>
                                    <table class=TABLE>
                                        <thead><tr>
                                            <th class=TH>"User"</th><th class=TH>"Roles"</th><th class=TH>"Status"</th>
                                            <th class=TH>"Created"</th><th class=TH></th>
                                        </tr></thead>
                                        <tbody class="divide-y divide-slate-100 dark:divide-slate-800">
                                            {list.users.into_iter().map(|user| view! { <Row user disable roles reset set_password/> }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            }.into_any(),
                            Err(err) => view! { <ErrorNotice message=err.0.message/> }.into_any(),
                        }
                    })}
                </Transition>
            </Card>
        </div>
    }
}

#[component]
fn Row(
    user: UserView,
    disable: ServerAction<SetUserDisabled>,
    roles: ServerAction<SetUserRoles>,
    reset: ServerAction<ResetLockout>,
    set_password: ServerAction<SetUserPassword>,
) -> impl IntoView {
    let (user_id, username, current) = (
        user.user_id.clone(),
        user.username.clone(),
        user.roles.clone(),
    );
    let status = format!(
        "{}{}",
        if user.disabled { "disabled" } else { "active" },
        if user.must_change_password {
            " · must change password"
        } else {
            ""
        }
    );
    let created_at_ms = user.created_at_ms;
    let row_name = username.clone();
    view! {
        <tr data-username=row_name>
            <td class=TD><UserLink user_id=user_id.clone() name=username/></td>
            <td class=TD><RoleToggles user_id current roles/></td>
            <td class=TD>{status}</td>
            <td class=TD><RelativeTime at_ms=created_at_ms/></td>
            <td class=format!("{TD} whitespace-nowrap")>
                <UserActions user disable reset set_password/>
            </td>
        </tr>
    }
}

/// One button per role, pressed when the user has it (also on the user
/// page).
#[component]
pub(super) fn RoleToggles(
    user_id: String,
    current: Vec<Role>,
    roles: ServerAction<SetUserRoles>,
) -> impl IntoView {
    view! {
        <span class="flex flex-wrap gap-1">
            {Role::ALL.into_iter().map(|role| {
                let has = current.contains(&role);
                let (id, current) = (user_id.clone(), current.clone());
                view! {
                    <button type="button"
                        class=if has { "rounded-full bg-sky-700 px-2 py-0.5 text-xs text-white" } else { "rounded-full border border-slate-300 px-2 py-0.5 text-xs text-slate-500 dark:border-slate-700 dark:text-slate-400" }
                        aria-pressed=has.to_string()
                        title=if has { format!("Remove role {}", role.as_str()) } else { format!("Add role {}", role.as_str()) }
                        on:click=move |_| {
                            let mut next: Vec<Role> = current.iter().copied().filter(|r| *r != role).collect();
                            if !has { next.push(role); }
                            roles.dispatch(SetRoles { user_id: id.clone(), roles: names(&next) }.into());
                        }>
                        {role.as_str()}
                    </button>
                }
            }).collect_view()}
        </span>
    }
}

/// Enable or disable, end sign-in lockouts, set a password (also on the
/// user page).
#[component]
pub(super) fn UserActions(
    user: UserView,
    disable: ServerAction<SetUserDisabled>,
    reset: ServerAction<ResetLockout>,
    set_password: ServerAction<SetUserPassword>,
) -> impl IntoView {
    let UserView {
        user_id,
        username,
        disabled,
        ..
    } = user;
    let id = user_id.clone();
    let name = username.clone();
    view! {
        <button type="button" class=BUTTON
            on:click=move |_| { disable.dispatch(SetDisabled { user_id: id.clone(), disabled: !disabled }.into()); }>
            {if disabled { "Enable" } else { "Disable" }}
        </button>
        " "
        <button type="button" class=BUTTON
            on:click=move |_| { reset.dispatch(Username { username: name.clone() }.into()); }>
            "Reset lockout"
        </button>
        <SetPassword user_id username set_password/>
    }
}

/// "Set password" for one user: a disclosure with the new password and
/// whether the user must choose their own at the next sign-in.
#[component]
fn SetPassword(
    user_id: String,
    username: String,
    set_password: ServerAction<SetUserPassword>,
) -> impl IntoView {
    let password = NodeRef::<leptos::html::Input>::new();
    let must_change = RwSignal::new(true);
    let field = format!("set-password-{user_id}");
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Some(input) = password.get() {
            set_password.dispatch(
                SetPassword {
                    user_id: user_id.clone(),
                    password: input.value(),
                    must_change: Some(must_change.get_untracked()),
                }
                .into(),
            );
            input.set_value("");
        }
    };
    view! {
        <details class="mt-2">
            <summary class="cursor-pointer text-sm text-sky-700 underline-offset-2 hover:underline dark:text-sky-400">
                "Set password"
            </summary>
            <form on:submit=submit class="mt-2 grid gap-2">
                <label for=field.clone() class="text-sm font-medium">{format!("New password for {username}")}</label>
                <input id=field node_ref=password type="password" required minlength="12" maxlength="1024"
                    autocomplete="new-password" class=INPUT/>
                <label class="flex items-center gap-2 text-sm">
                    <input type="checkbox" prop:checked=move || must_change.get()
                        on:change=move |_| must_change.update(|on| *on = !*on)/>
                    "Must choose their own at next sign-in"
                </label>
                <button type="submit" class=BUTTON_PRIMARY disabled=move || set_password.pending().get()>
                    "Set password and end sessions"
                </button>
            </form>
        </details>
    }
}

/// Roles as the request bodies name them.
fn names(roles: &[Role]) -> Vec<String> {
    roles.iter().map(|role| role.as_str().to_owned()).collect()
}
