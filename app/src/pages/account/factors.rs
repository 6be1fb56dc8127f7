//! The second-factor card on `/account`: the account's factors, adding an
//! authenticator app (QR code drawn by the server, and the secret for
//! typing in), registering a passkey or security key (the browser's
//! WebAuthn dialog), removing a factor, and new recovery codes.
//!
//! The card needs JavaScript (the server sends only its frame). Recovery
//! codes are shown exactly once, when the server makes them, so
//! they live only in this card's state until the user says they saved
//! them. Once the account has a factor every change needs a recent
//! sign-in with it: the server's `step_up_required` message says so.

use gatehouse::api::mfa::{
    DeviceId, FactorConfirmed, FactorId, FactorKind, FactorView, RememberedDevice,
    TotpConfirmRequest, WebauthnRegisterFinishRequest, WebauthnRegisterStartRequest,
};
use gatehouse::api::{ApiError, ErrorCode};
use leptos::prelude::*;

use crate::FnError;
use crate::api::auth::with_refresh;
use crate::api::mfa::{
    ConfirmTotp, EnrollTotpPage, ForgetDevice, NewRecoveryCodes, RemoveFactor, TotpEnrollPage,
    list_factors, register_webauthn_finish, register_webauthn_start,
};
use crate::components::layout::SessionContext;
use crate::components::step_up::ActionError;
use crate::components::time::RelativeTime;
use crate::components::ui::{
    BUTTON, BUTTON_DANGER, BUTTON_PRIMARY, Card, ErrorNotice, INPUT, hydrated, loading,
};
use crate::webauthn;

fn kind_label(factor: &FactorView) -> &'static str {
    match factor.kind {
        FactorKind::Totp => "Authenticator app",
        FactorKind::Webauthn if factor.passkey => "Passkey",
        FactorKind::Webauthn => "Security key",
    }
}

/// Registers a passkey or security key: the server's options, the
/// browser's dialog, the server's check. Fetched on the first click (a
/// chunk of its own with `--split`).
#[leptos::lazy]
async fn register_key() -> Result<FactorConfirmed, FnError> {
    let browser = |message: String| FnError(ApiError::new(ErrorCode::ValidationFailed, message));
    let ceremony =
        with_refresh(|| register_webauthn_start(WebauthnRegisterStartRequest { label: None }))
            .await?;
    let credential = webauthn::run(webauthn::Ceremony::Create, &ceremony.options)
        .await
        .and_then(webauthn::parse)
        .map_err(browser)?;
    register_webauthn_finish(WebauthnRegisterFinishRequest {
        ceremony_id: ceremony.ceremony_id,
        credential,
    })
    .await
}

/// `required`: the session may do nothing else until a factor is enrolled;
/// once the user has saved the recovery codes, the page reads who I am
/// again, to show everything.
///
/// The server sends only the card's frame: everything in it needs
/// JavaScript, and the account page's server rendering stays within its
/// allocation budget (see the benchmarks chapter).
#[component]
pub fn FactorsCard(#[prop(optional)] required: bool) -> impl IntoView {
    let hydrated = hydrated();
    view! {
        <Card title="Second factor">
            <p class="mb-3 text-sm text-slate-600 dark:text-slate-400">
                "With a second factor, a stolen password alone does not sign anyone in to your account."
            </p>
            {move || if hydrated.get() {
                view! { <Factors required/> }.into_any()
            } else {
                loading("Loading factors…").into_any()
            }}
        </Card>
    }
}

#[component]
fn Factors(required: bool) -> impl IntoView {
    let session = expect_context::<SessionContext>().0;
    let enroll = ServerAction::<EnrollTotpPage>::new();
    let confirm = ServerAction::<ConfirmTotp>::new();
    let remove = ServerAction::<RemoveFactor>::new();
    let renew = ServerAction::<NewRecoveryCodes>::new();
    let forget = ServerAction::<ForgetDevice>::new();
    // The enrolment being confirmed, and the codes to show once.
    let pending = RwSignal::new(None::<TotpEnrollPage>);
    let codes = RwSignal::new(None::<Vec<String>>);
    // Not an action: the ceremony is fetched on the first click (see
    // `register_key`), and these few signals are all the page keeps. A
    // registration sets `codes` (to none after the first factor), which
    // lists the factors again.
    let registering = RwSignal::new(false);
    let register_failed = RwSignal::new(None::<FnError>);
    let register = move |_| {
        registering.set(true);
        leptos::task::spawn_local(async move {
            match register_key().await {
                Ok(confirmed) => {
                    register_failed.set(None);
                    codes.set(confirmed.recovery_codes);
                }
                Err(err) => register_failed.set(Some(err)),
            }
            registering.set(false);
        });
    };
    let factors = LocalResource::new(move || {
        confirm.version().track();
        codes.track();
        remove.version().track();
        renew.version().track();
        forget.version().track();
        with_refresh(list_factors)
    });
    Effect::new(move |_| {
        if let Some(Ok(page)) = enroll.value().get() {
            pending.set(Some(page));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(confirmed)) = confirm.value().get() {
            pending.set(None);
            codes.set(confirmed.recovery_codes);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(renewed)) = renew.value().get() {
            codes.set(Some(renewed.recovery_codes));
        }
    });
    let failure = move || {
        [
            enroll.value().get().and_then(Result::err),
            register_failed.get(),
            remove.value().get().and_then(Result::err),
            renew.value().get().and_then(Result::err),
            forget.value().get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .next()
    };

    view! {
            {move || failure().map(|err| view! { <ActionError err/> })}
            <Transition fallback=|| loading("Loading factors…")>
                {move || Suspend::new(async move {
                    match factors.await {
                        Ok(list) => {
                            let left = list.recovery_codes_left;
                            let any = !list.factors.is_empty();
                            let devices = list.remembered_devices;
                            view! {
                                {(!devices.is_empty()).then(|| view! { <Remembered devices forget/> })}
                                {if any {
                                    view! {
                                        <ul class="divide-y divide-slate-100 dark:divide-slate-800" data-testid="factors">
                                            {list.factors.into_iter().map(|factor| view! { <FactorRow factor remove/> }).collect_view()}
                                        </ul>
                                        <div class="mt-3 flex flex-wrap items-center gap-3 text-sm">
                                            <span data-testid="recovery-codes-left">{format!("Recovery codes left: {left}")}</span>
                                            <button type="button" class=BUTTON
                                                on:click=move |_| { renew.dispatch(NewRecoveryCodes {}); }
                                                disabled=move || renew.pending().get()>
                                                "New recovery codes"
                                            </button>
                                        </div>
                                    }.into_any()
                                } else {
                                    view! {
                                        <p class="text-sm text-slate-500 dark:text-slate-400">"No second factor yet."</p>
                                    }.into_any()
                                }}
                            }.into_any()
                        }
                        Err(err) => view! { <ErrorNotice message=err.0.message/> }.into_any(),
                    }
                })}
            </Transition>
            {move || codes.get().map(|list| view! { <RecoveryCodesShown list codes on_saved=move || if required { session.refetch() }/> })}
            {move || match pending.get() {
                Some(page) => view! { <Confirm page confirm/> }.into_any(),
                None => view! {
                    <div class="mt-4 flex flex-wrap gap-3 border-t border-slate-100 pt-4 dark:border-slate-800">
                        <button type="button" class=BUTTON
                            on:click=move |_| { enroll.dispatch(EnrollTotpPage {}); }
                            disabled=move || enroll.pending().get()>
                            "Add an authenticator app"
                        </button>
                        <button type="button" class=BUTTON on:click=register disabled=move || registering.get()>
                            {move || if registering.get() { "Waiting for your key…" } else { "Register a passkey or security key" }}
                        </button>
                    </div>
                }.into_any(),
            }}
    }
}

/// Browsers that skip the second factor, each with Forget.
#[component]
fn Remembered(devices: Vec<RememberedDevice>, forget: ServerAction<ForgetDevice>) -> impl IntoView {
    view! {
        <h3 class="mt-2 text-sm font-medium">"Remembered browsers"</h3>
        <p class="text-xs text-slate-600 dark:text-slate-400">"These skip the second factor when you sign in with your password."</p>
        <ul class="mb-3 divide-y divide-slate-100 dark:divide-slate-800" data-testid="remembered-devices">
            {devices.into_iter().map(|device| {
                let id = device.device_id.clone();
                let name = format!("Forget {}", device.label);
                view! {
                    <li class="flex flex-wrap items-center gap-x-4 gap-y-1 py-2 text-sm">
                        <div class="min-w-0 flex-1">
                            <p class="font-medium">{device.label.clone()}</p>
                            <p class="text-slate-500 dark:text-slate-400">
                                "remembered " <RelativeTime at_ms=device.created_at_ms/>
                                " · until " <RelativeTime at_ms=device.expires_at_ms deadline=true/>
                            </p>
                        </div>
                        <button type="button" class=BUTTON aria-label=name
                            on:click=move |_| { forget.dispatch(DeviceId { device_id: id.clone() }.into()); }>
                            "Forget"
                        </button>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

#[component]
fn FactorRow(factor: FactorView, remove: ServerAction<RemoveFactor>) -> impl IntoView {
    let id = factor.factor_id.clone();
    let name = format!("Remove {}", factor.label);
    view! {
        <li class="flex flex-wrap items-center gap-x-4 gap-y-1 py-3 text-sm" data-factor-id=factor.factor_id.clone()>
            <div class="min-w-0 flex-1">
                <p class="font-medium">{factor.label.clone()}</p>
                <p class="text-slate-500 dark:text-slate-400">
                    {kind_label(&factor)} {factor.backup_eligible.then_some(" (can sync)")}
                    " · added " <RelativeTime at_ms=factor.created_at_ms/>
                    {match factor.last_used_at_ms {
                        Some(at_ms) => view! { " · last used " <RelativeTime at_ms/> }.into_any(),
                        None => view! { " · never used" }.into_any(),
                    }}
                </p>
            </div>
            <button type="button" class=BUTTON_DANGER aria-label=name
                on:click=move |_| { remove.dispatch(FactorId { factor_id: id.clone() }.into()); }>
                "Remove"
            </button>
        </li>
    }
}

/// The new authenticator's QR code and secret, and the code that proves
/// the app has it.
#[component]
fn Confirm(page: TotpEnrollPage, confirm: ServerAction<ConfirmTotp>) -> impl IntoView {
    let code = NodeRef::<leptos::html::Input>::new();
    let factor_id = page.enrollment.factor_id.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(input) = code.get() else { return };
        confirm.dispatch(
            TotpConfirmRequest {
                factor_id: factor_id.clone(),
                code: input.value(),
            }
            .into(),
        );
    };
    view! {
        <div class="mt-4 space-y-3 border-t border-slate-100 pt-4 dark:border-slate-800" data-testid="totp-enrolment">
            <p class="text-sm">
                "Scan this code with your authenticator app, or type the secret into it. Then enter the code the app shows."
            </p>
            <div class="h-48 w-48 [&>svg]:h-full [&>svg]:w-full" role="img"
                aria-label="QR code to add Gatehouse to an authenticator app"
                inner_html=page.qr_svg></div>
            <p class="text-sm">"Secret: " <code class="break-all font-mono" data-testid="totp-secret">{page.enrollment.secret.clone()}</code></p>
            <form on:submit=submit class="flex flex-wrap items-end gap-3">
                <div>
                    <label for="totp-code" class="mb-1 block text-sm font-medium">"Code from the app"</label>
                    <input id="totp-code" type="text" inputmode="numeric" autocomplete="one-time-code"
                        required maxlength="8" node_ref=code class=INPUT/>
                </div>
                <button type="submit" class=BUTTON_PRIMARY disabled=move || confirm.pending().get()>"Confirm"</button>
            </form>
            {move || confirm.value().get().and_then(Result::err).map(|err| view! { <ErrorNotice message=err.0.message/> })}
        </div>
    }
}

/// Recovery codes, shown once.
#[component]
fn RecoveryCodesShown(
    list: Vec<String>,
    codes: RwSignal<Option<Vec<String>>>,
    on_saved: impl Fn() + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <div class="mt-4 space-y-3 rounded-md border border-amber-300 p-4 dark:border-amber-700" role="status">
            <p class="text-sm font-medium">
                "Save these recovery codes somewhere safe. Each signs you in once if you lose your authenticator; they are not shown again."
            </p>
            <ul class="grid grid-cols-2 gap-1 font-mono text-sm" data-testid="recovery-codes">
                {list.into_iter().map(|code| view! { <li>{code}</li> }).collect_view()}
            </ul>
            <button type="button" class=BUTTON on:click=move |_| { codes.set(None); on_saved(); }>"I saved them"</button>
        </div>
    }
}
