//! `/login`: the sign-in form.
//!
//! The form posts to the `sign_in` server function, so it works before
//! the page has hydrated (and without JavaScript at all): the server then
//! redirects to `next` on success, or back here with the error in the URL.
//!
//! When sign-in is under attack the server answers `challenge_required`
//! with a proof-of-work challenge; the page then says "Checking your
//! browser…", solves it ([`crate::pow`]) and sends the form again with the
//! solution, without the person doing anything.
//!
//! For an account with a second factor the password step answers
//! `mfa_required`; the page then asks for a code ([`code::code_step`]),
//! also without JavaScript: the ticket waits in an HttpOnly cookie, never
//! in the URL.
//!
//! "Sign in with a passkey" signs in with no username or password: the
//! browser offers the passkeys it holds for this site ([`passkey`]).

mod code;
mod passkey;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;
use server_fn::ServerFn;
use server_fn::error::ServerFnUrlError;

#[cfg(feature = "hydrate")]
use crate::ApiError;
use crate::FnError;
use crate::api::auth::{SignIn, SignInCode, safe_next};
use crate::components::layout::SessionContext;
use crate::components::ui::{BUTTON_PRIMARY, Card, ErrorNotice, INPUT};
use code::code_step;
use gatehouse::api::auth::MfaMethod;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || safe_next(query.read().get("next").as_deref());
    let action = ServerAction::<SignIn>::new();
    let form = NodeRef::<leptos::html::Form>::new();
    let (challenge_id, challenge_solution) = (
        NodeRef::<leptos::html::Input>::new(),
        NodeRef::<leptos::html::Input>::new(),
    );
    let checking = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let Some(Err(FnError(ApiError {
            challenge: Some(challenge),
            ..
        }))) = action.value().get()
        else {
            return;
        };
        checking.set(true);
        leptos::task::spawn_local(async move {
            let solution = crate::pow::solve(&challenge.salt, challenge.difficulty).await;
            if let (Some(id), Some(answer), Some(form)) = (
                challenge_id.get_untracked(),
                challenge_solution.get_untracked(),
                form.get_untracked(),
            ) {
                id.set_value(&challenge.challenge_id);
                answer.set_value(&solution);
                let _ = form.request_submit();
            }
            checking.set(false);
        });
    });

    // The error of the last attempt: from the action (with JavaScript), or
    // from the URL the server redirected to (without). A challenge being
    // solved is not an error to show, nor is the second step being due.
    let url_error = move |of: &str| {
        let query = query.read();
        match (query.get("__path"), query.get("__err")) {
            (Some(path), Some(err)) if path == of => {
                Some(ServerFnUrlError::<FnError>::decode_err(&err))
            }
            _ => None,
        }
    };
    let failed = move || match action.value().get() {
        Some(Err(err)) => Some(err),
        _ => url_error(SignIn::PATH),
    };
    let error = move || {
        failed()
            .filter(|err| err.challenge.is_none() && err.mfa.is_none())
            .map(|err| err.0.message)
    };
    // The second step: due once the password was right for an account
    // with a factor (or a code was tried without JavaScript), and kept
    // while its codes are tried (its form is its own).
    let second_step = move || match failed().and_then(|err| err.0.mfa) {
        Some(mfa) => Some(mfa.methods),
        // Without JavaScript, the methods that work without it.
        None => url_error(SignInCode::PATH).map(|_| {
            MfaMethod::ALL
                .into_iter()
                .filter(|method| *method != MfaMethod::Webauthn)
                .collect()
        }),
    };
    let session = expect_context::<SessionContext>().0;

    view! {
        <Title text="Sign in"/>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                // Already signed in: nothing to do here.
                matches!(session.await, Ok(Some(_))).then(|| view! { <Redirect path=next()/> })
            })}
        </Transition>
        <div class="mx-auto max-w-sm py-6">
            <h1 class="mb-4 text-2xl font-semibold tracking-tight">"Sign in"</h1>
            <Show
                when=move || second_step().is_none()
                fallback=move || {
                    let methods = second_step().unwrap_or_default();
                    let tried = url_error(SignInCode::PATH).map(|err| err.0.message);
                    view! {
                        <Suspense fallback=|| ()>
                            {Suspend::new(code_step(methods, next(), tried))}
                        </Suspense>
                    }
                }
            >
            <Card>
                <ActionForm action node_ref=form>
                    <div class="space-y-4">
                        <input type="hidden" name="next" value=next/>
                        <input type="hidden" name="challenge_id" node_ref=challenge_id/>
                        <input type="hidden" name="challenge_solution" node_ref=challenge_solution/>
                        <div>
                            <label for="username" class="mb-1 block text-sm font-medium">"Username"</label>
                            <input
                                id="username"
                                name="username"
                                type="text"
                                autocomplete="username"
                                required
                                maxlength="256"
                                autofocus
                                class=INPUT
                            />
                        </div>
                        <div>
                            <label for="password" class="mb-1 block text-sm font-medium">"Password"</label>
                            <input
                                id="password"
                                name="password"
                                type="password"
                                autocomplete="current-password"
                                required
                                maxlength="1024"
                                class=INPUT
                            />
                        </div>
                        {move || error().map(|message| view! { <ErrorNotice message/> })}
                        {move || checking.get().then(|| view! {
                            <p role="status" class="text-sm text-slate-700 dark:text-slate-300" data-testid="checking">
                                "Checking your browser… (there have been many failed sign-ins lately; this takes a moment)"
                            </p>
                        })}
                        <button type="submit" class=format!("{BUTTON_PRIMARY} w-full") disabled=move || action.pending().get() || checking.get()>
                            {move || if action.pending().get() || checking.get() { "Signing in…" } else { "Sign in" }}
                        </button>
                    </div>
                </ActionForm>
                <passkey::PasskeySignIn next=Signal::derive(next)/>
            </Card>
            </Show>
        </div>
    }
}
