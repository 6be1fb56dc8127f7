//! "Sign in with a passkey": no username, no password. The browser offers
//! the passkeys it holds for this site; the one the user unlocks (PIN or
//! biometrics) signs its account in at `aal` 2. It needs JavaScript (the
//! WebAuthn API), so it is a button, not a form.

use gatehouse::api::mfa::{PasskeyFinishRequest, PasskeyStartRequest};
use leptos::prelude::*;

use crate::api::webauthn::{passkey_finish, passkey_start};
use crate::components::ui::{BUTTON, ErrorNotice};
use crate::webauthn::{self, Ceremony};

/// Signs in with a passkey, then goes to `next` (whose page sends the user
/// on to the account page if something waits there). Fetched on the first
/// click (a chunk of its own with `--split`), not with every sign-in page.
#[leptos::lazy]
async fn sign_in(next: String) -> Result<(), String> {
    let ceremony = passkey_start(PasskeyStartRequest {})
        .await
        .map_err(|err| err.0.message)?;
    let credential = webauthn::run(Ceremony::Get, &ceremony.options).await?;
    passkey_finish(PasskeyFinishRequest {
        ceremony_id: ceremony.ceremony_id,
        credential: webauthn::parse(credential)?,
    })
    .await
    .map_err(|err| err.0.message)?;
    if let Some(window) = leptos::web_sys::window() {
        let _ = window.location().assign(&next);
    }
    Ok(())
}

#[component]
pub fn PasskeySignIn(next: Signal<String>) -> impl IntoView {
    let busy = RwSignal::new(false);
    let failed = RwSignal::new(None::<String>);
    let start = move |_| {
        busy.set(true);
        let next = next.get_untracked();
        leptos::task::spawn_local(async move {
            let outcome = sign_in(next).await;
            busy.set(false);
            failed.set(outcome.err());
        });
    };
    view! {
        <div class="mt-4 space-y-3 border-t border-slate-100 pt-4 dark:border-slate-800">
            <button type="button" class=format!("{BUTTON} w-full") disabled=move || busy.get() on:click=start>
                {move || if busy.get() { "Waiting for your passkey…" } else { "Sign in with a passkey" }}
            </button>
            {move || failed.get().map(|message| view! { <ErrorNotice message/> })}
        </div>
    }
}
