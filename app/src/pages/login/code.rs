//! The login form's second step: a code of the account's authenticator
//! app, or one of its recovery codes.
//!
//! The ticket of the password step waits in an HttpOnly cookie that only
//! this step's endpoints receive, so the code form needs no JavaScript:
//! the choice of method is a set of radio buttons, not a script toggling
//! fields, and "Start over" is a plain form back to the password step. A
//! security key or passkey needs the browser's WebAuthn API, so that
//! choice is a button that runs the ceremony and then goes on.

use gatehouse::api::auth::MfaMethod;
use leptos::prelude::*;

use crate::api::auth::SignInCode;
use crate::api::webauthn::{sign_in_key, sign_in_key_start};
use crate::components::step_up::method_label;
use crate::components::ui::{BUTTON, BUTTON_PRIMARY, Card, ErrorNotice, INPUT};
use crate::webauthn::{self, Ceremony};

/// The step, fetched when first needed (a chunk of its own with `--split`):
/// most sign-ins have no second factor. `tried`: the error of a code sent
/// without JavaScript.
#[leptos::lazy]
pub fn code_step(methods: Vec<MfaMethod>, next: String, tried: Option<String>) -> AnyView {
    view! { <CodeStep methods next tried/> }.into_any()
}

#[component]
fn CodeStep(
    /// The methods the account has (at least one).
    methods: Vec<MfaMethod>,
    next: String,
    tried: Option<String>,
) -> impl IntoView {
    let action = ServerAction::<SignInCode>::new();
    let error = move || match action.value().get() {
        Some(Err(err)) => Some(err.0.message),
        _ => tried.clone(),
    };
    let first = methods.first().copied().unwrap_or(MfaMethod::Totp);
    let chosen = RwSignal::new(first);
    let restart_next = next.clone();
    let remember = NodeRef::<leptos::html::Input>::new();
    let key_next = next.clone();
    let use_key = Action::new_local(move |(): &()| {
        let next = key_next.clone();
        let remember_device = remember
            .get_untracked()
            .is_some_and(|input| input.checked());
        async move {
            let ceremony = sign_in_key_start().await.map_err(|err| err.0.message)?;
            let credential = webauthn::run(Ceremony::Get, &ceremony.options).await?;
            let destination = sign_in_key(
                ceremony.ceremony_id,
                credential,
                Some(next),
                remember_device,
            )
            .await
            .map_err(|err| err.0.message)?;
            if let Some(window) = leptos::web_sys::window() {
                let _ = window.location().assign(&destination);
            }
            Ok::<(), String>(())
        }
    });
    let key_error = move || use_key.value().get().and_then(Result::err);
    let by_key = move || chosen.get() == MfaMethod::Webauthn;
    view! {
        <Card>
            <p class="mb-4 text-sm" id="code-help">
                "Your password was right. Now prove it is you with your second factor."
            </p>
            <ActionForm action>
                <div class="space-y-4">
                    <input type="hidden" name="next" value=next/>
                    <fieldset class="space-y-2">
                        <legend class="mb-1 text-sm font-medium">"Second factor"</legend>
                        {methods.into_iter().map(|method| {
                            let id = format!("method-{}", method.as_str());
                            view! {
                                <div class="flex items-center gap-2 text-sm">
                                    <input
                                        type="radio"
                                        name="method"
                                        id=id.clone()
                                        value=method.as_str()
                                        checked=method == first
                                        on:change=move |_| chosen.set(method)
                                        class="h-4 w-4 accent-sky-700"
                                    />
                                    <label for=id>{method_label(method)}</label>
                                </div>
                            }
                        }).collect_view()}
                    </fieldset>
                    <Show when=move || !by_key()>
                        <div>
                            <label for="code" class="mb-1 block text-sm font-medium">
                                {move || match chosen.get() {
                                    MfaMethod::RecoveryCode => "Recovery code",
                                    _ => "Code",
                                }}
                            </label>
                            <input
                                id="code"
                                name="code"
                                type="text"
                                autocomplete="one-time-code"
                                aria-describedby="code-help"
                                inputmode=move || match chosen.get() {
                                    MfaMethod::RecoveryCode => "text",
                                    _ => "numeric",
                                }
                                required
                                maxlength="64"
                                autofocus
                                class=INPUT
                            />
                        </div>
                    </Show>
                    <div class="flex items-center gap-2 text-sm">
                        <input type="checkbox" id="remember-device" name="remember_device" value="true"
                            node_ref=remember class="h-4 w-4 accent-sky-700"/>
                        <label for="remember-device">"Remember this browser for 30 days"</label>
                    </div>
                    {move || error().map(|message| view! { <ErrorNotice message/> })}
                    {move || key_error().map(|message| view! { <ErrorNotice message/> })}
                    <Show
                        when=by_key
                        fallback=move || view! {
                            <button type="submit" class=format!("{BUTTON_PRIMARY} w-full") disabled=move || action.pending().get()>
                                {move || if action.pending().get() { "Checking…" } else { "Continue" }}
                            </button>
                        }
                    >
                        <button type="button" class=format!("{BUTTON_PRIMARY} w-full")
                            disabled=move || use_key.pending().get()
                            on:click=move |_| { use_key.dispatch(()); }>
                            {move || if use_key.pending().get() { "Waiting for your key…" } else { "Use my security key or passkey" }}
                        </button>
                    </Show>
                </div>
            </ActionForm>
            // A plain form: a full page load clears both steps' state.
            <form method="get" action="/login" class="mt-4 border-t border-slate-100 pt-4 dark:border-slate-800">
                <input type="hidden" name="next" value=restart_next/>
                <button type="submit" class=BUTTON>"Start over"</button>
            </form>
        </Card>
    }
}
