//! `/account`: who I am, my sessions (one per device), revoke one, sign
//! out everywhere, my second factors, change my password. A user who must choose a new
//! password first (after an admin reset, or the generated first-run
//! admin) sees only that form: nothing else is open to them until then.
//! Likewise a user whose role requires a second factor and who has none
//! sees only the second-factor card.

mod factors;
mod password;

use gatehouse::api::auth::Identity;
use gatehouse::api::sessions::{SessionId, SessionView};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_navigate;

use crate::api::auth::{LogoutAll, with_refresh};
use crate::api::sessions::{RevokeSession, list_sessions};
use crate::components::layout::SessionContext;
use crate::components::time::RelativeTime;
use crate::components::ui::{BUTTON, BUTTON_DANGER, Card, ErrorNotice, LOADING, loading};
use factors::FactorsCard;
use password::ChangePasswordCard;

#[component]
pub fn AccountPage() -> impl IntoView {
    let session = expect_context::<SessionContext>().0;
    view! {
        <Title text="Account"/>
        <Transition fallback=|| loading(LOADING)>
            {move || Suspend::new(async move {
                match session.await {
                    Ok(Some(identity)) if identity.must_change_password => view! {
                        <h1 class="mb-4 text-2xl font-semibold tracking-tight">"Choose a new password"</h1>
                        <p class="mb-4 max-w-prose text-sm" role="status">
                            "Your password was set for you. Choose your own to continue; until then, nothing else is open to this account."
                        </p>
                        <ChangePasswordCard pending=true/>
                    }.into_any(),
                    Ok(Some(identity)) if identity.mfa_enrollment_required => view! {
                        <h1 class="mb-4 text-2xl font-semibold tracking-tight">"Add a second factor"</h1>
                        <p class="mb-4 max-w-prose text-sm" role="status">
                            "Your role requires a second factor. Add an authenticator app to continue; until then, nothing else is open to this account."
                        </p>
                        <FactorsCard required=true/>
                    }.into_any(),
                    Ok(Some(identity)) => view! { <Account identity/> }.into_any(),
                    Ok(None) => view! { <Redirect path="/login?next=/account"/> }.into_any(),
                    Err(err) => view! { <ErrorNotice message=err.0.message/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Account(identity: Identity) -> impl IntoView {
    let revoke = ServerAction::<RevokeSession>::new();
    let logout_all = ServerAction::<LogoutAll>::new();
    // Blocking, like the session check: the page works without JavaScript.
    let sessions = Resource::new_blocking(
        move || revoke.version().get(),
        |_| with_refresh(list_sessions),
    );

    // Ending this device's own session, or all of them, signs me out here.
    let navigate = use_navigate();
    let current = identity.session_id.clone();
    Effect::new(move |_| {
        let own_revoked = matches!(revoke.value().get(), Some(Ok(r)) if r.session_id == current);
        let all_revoked = matches!(logout_all.value().get(), Some(Ok(_)));
        if own_revoked || all_revoked {
            navigate("/login", Default::default());
        }
    });

    let roles = identity
        .roles
        .iter()
        .map(|role| role.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <h1 class="mb-4 text-2xl font-semibold tracking-tight">"Account"</h1>
        <div class="space-y-6">
            <Card title="Who I am">
                <dl class="grid grid-cols-1 gap-x-6 gap-y-2 text-sm sm:grid-cols-3">
                    <div><dt class="text-slate-500 dark:text-slate-400">"Username"</dt><dd class="font-medium" data-testid="username">{identity.username.clone()}</dd></div>
                    <div><dt class="text-slate-500 dark:text-slate-400">"Roles"</dt><dd class="font-medium">{roles}</dd></div>
                    <div><dt class="text-slate-500 dark:text-slate-400">"User id"</dt><dd class="break-all font-mono text-xs">{identity.user_id.clone()}</dd></div>
                </dl>
            </Card>
            <Card title="My sessions">
                <p class="mb-3 text-sm text-slate-600 dark:text-slate-400">
                    "Every device you signed in from. End any you do not recognise."
                </p>
                {move || revoke.value().get().and_then(Result::err).map(|err| view! { <ErrorNotice message=err.0.message/> })}
                <Transition fallback=|| loading("Loading sessions…")>
                    {move || Suspend::new(async move {
                        match sessions.await {
                            Ok(list) if list.sessions.is_empty() => view! {
                                <p class="text-sm text-slate-500 dark:text-slate-400">"No live sessions."</p>
                            }.into_any(),
                            Ok(list) => view! {
                                <ul class="divide-y divide-slate-100 dark:divide-slate-800" data-testid="sessions">
                                    {list.sessions.into_iter().map(|s| view! { <SessionRow session=s revoke/> }).collect_view()}
                                </ul>
                            }.into_any(),
                            Err(err) => view! { <ErrorNotice message=err.0.message/> }.into_any(),
                        }
                    })}
                </Transition>
                <div class="mt-4 border-t border-slate-100 pt-4 dark:border-slate-800">
                    <button
                        type="button"
                        class=BUTTON_DANGER
                        on:click=move |_| { logout_all.dispatch(LogoutAll {}); }
                        disabled=move || logout_all.pending().get()
                    >
                        "Sign out everywhere"
                    </button>
                </div>
            </Card>
            <FactorsCard/>
            <ChangePasswordCard/>
        </div>
    }
}

#[component]
fn SessionRow(session: SessionView, revoke: ServerAction<RevokeSession>) -> impl IntoView {
    let id = session.session_id.clone();
    let label = if session.current {
        "Sign out"
    } else {
        "Revoke"
    };
    view! {
        <li class="flex flex-wrap items-center gap-x-4 gap-y-1 py-3 text-sm" data-session-id=session.session_id.clone()>
            <div class="min-w-0 flex-1">
                <p class="font-medium">
                    {session.device.clone()}
                    {session.current.then(|| view! {
                        <span class="ml-2 rounded bg-emerald-100 px-1.5 py-0.5 text-xs font-medium text-emerald-800 dark:bg-emerald-900 dark:text-emerald-200">
                            "This device"
                        </span>
                    })}
                </p>
                <p class="text-slate-500 dark:text-slate-400">
                    {session.ip.clone()} " · signed in " <RelativeTime at_ms=session.created_at_ms/>
                    " · last seen " <RelativeTime at_ms=session.last_seen_at_ms/>
                    " · ends if idle " <RelativeTime at_ms=session.idle_expires_at_ms deadline=true/>
                </p>
            </div>
            <button
                type="button"
                class=BUTTON
                aria-label=format!("{label} {}", session.device)
                on:click=move |_| { revoke.dispatch(SessionId { session_id: id.clone() }.into()); }
            >
                {label}
            </button>
        </li>
    }
}
