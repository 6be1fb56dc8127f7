//! What a failed action shows, including the one failure a user can fix
//! on the spot: `step_up_required` (a change that needs a recent proof of
//! the second factor). Instead of "sign out and in again", the page asks
//! for a code right there, proves it for this session
//! (`/api/v1/auth/mfa/step-up`, then `/mfa/verify`: the session's cookies
//! are replaced by tokens at `aal` 2), and the user repeats the action.

use gatehouse::api::auth::{MfaMethod, MfaVerify, StepUpRequest};
use gatehouse::api::mfa::{WebauthnFinishRequest, WebauthnStartRequest};
use gatehouse::api::{ApiError, ErrorCode};
use leptos::prelude::*;

use crate::FnError;
use crate::api::auth::{step_up, verify_mfa, with_refresh};
use crate::api::webauthn::{webauthn_finish, webauthn_start};
use crate::components::ui::{BUTTON_PRIMARY, ErrorNotice, INPUT};

/// How a method is offered, where the user chooses one.
pub fn method_label(method: MfaMethod) -> &'static str {
    match method {
        MfaMethod::Totp => "Code from my authenticator app",
        MfaMethod::RecoveryCode => "Use a recovery code",
        MfaMethod::Webauthn => "Use a passkey or security key",
    }
}

/// The error of a failed action: a step-up prompt for `step_up_required`,
/// else the message. The prompt's code is fetched when first needed (a
/// chunk of its own with `--split`), not with every page.
#[component]
pub fn ActionError(err: FnError) -> impl IntoView {
    if err.error == ErrorCode::StepUpRequired {
        view! {
            <Suspense fallback=|| ()>
                {Suspend::new(step_up_prompt())}
            </Suspense>
        }
        .into_any()
    } else {
        view! { <ErrorNotice message=err.0.message/> }.into_any()
    }
}

#[leptos::lazy]
fn step_up_prompt() -> AnyView {
    view! { <StepUpPrompt/> }.into_any()
}

/// Proves a step-up `ticket` with the user's security key or passkey.
async fn prove_key(ticket: String) -> Result<(), FnError> {
    let browser = |message: String| FnError(ApiError::new(ErrorCode::MfaInvalid, message));
    let ceremony = webauthn_start(WebauthnStartRequest {
        ticket: ticket.clone(),
    })
    .await?;
    let credential = crate::webauthn::run(crate::webauthn::Ceremony::Get, &ceremony.options)
        .await
        .and_then(crate::webauthn::parse)
        .map_err(browser)?;
    webauthn_finish(WebauthnFinishRequest {
        ticket,
        ceremony_id: ceremony.ceremony_id,
        credential,
        remember_device: false,
    })
    .await
    .map(|_| ())
}

#[component]
fn StepUpPrompt() -> impl IntoView {
    let method = RwSignal::new(MfaMethod::Totp);
    let code = NodeRef::<leptos::html::Input>::new();
    let prove = Action::new_local(|(method, code): &(MfaMethod, String)| {
        let (method, code) = (*method, code.clone());
        async move {
            let ticket = with_refresh(|| step_up(StepUpRequest {})).await?.ticket;
            if method == MfaMethod::Webauthn {
                return prove_key(ticket).await;
            }
            verify_mfa(MfaVerify {
                ticket,
                method,
                code,
                remember_device: false,
            })
            .await
            .map(|_| ())
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let typed = code.get().map(|input| input.value()).unwrap_or_default();
        prove.dispatch((method.get_untracked(), typed));
    };
    let done = move || matches!(prove.value().get(), Some(Ok(())));
    view! {
        <section class="space-y-3 rounded-md border border-amber-300 p-3 text-sm dark:border-amber-700" aria-labelledby="step-up-title" data-testid="step-up">
            <h3 id="step-up-title" class="font-medium">"Confirm it is you"</h3>
            <Show
                when=move || !done()
                fallback=|| view! {
                    <p role="status">"Confirmed for the next few minutes. Now do it again."</p>
                }
            >
                <p role="status">"This change needs a recent proof of your second factor."</p>
                <form on:submit=submit class="space-y-3">
                    <fieldset class="flex flex-wrap gap-x-4 gap-y-1">
                        <legend class="sr-only">"Second factor"</legend>
                        {MfaMethod::ALL.into_iter().map(|choice| {
                            let id = format!("step-up-{}", choice.as_str());
                            view! {
                                <div class="flex items-center gap-2">
                                    <input type="radio" name="step-up-method" id=id.clone()
                                        checked=choice == MfaMethod::Totp
                                        on:change=move |_| method.set(choice)
                                        class="h-4 w-4 accent-sky-700"/>
                                    <label for=id>{method_label(choice)}</label>
                                </div>
                            }
                        }).collect_view()}
                    </fieldset>
                    <div class="flex flex-wrap items-end gap-3">
                        <Show when=move || method.get() != MfaMethod::Webauthn>
                            <div>
                                <label for="step-up-code" class="mb-1 block font-medium">"Code"</label>
                                <input id="step-up-code" type="text" autocomplete="one-time-code" required
                                    maxlength="64" node_ref=code class=INPUT/>
                            </div>
                        </Show>
                        <button type="submit" class=BUTTON_PRIMARY disabled=move || prove.pending().get()>"Confirm"</button>
                    </div>
                </form>
                {move || prove.value().get().and_then(Result::err).map(|err| view! { <ErrorNotice message=err.0.message/> })}
            </Show>
        </section>
    }
}
