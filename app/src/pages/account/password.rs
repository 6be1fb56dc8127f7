//! The change-password form on `/account`.
//!
//! The rules are the server's (12 to 1024 characters, not a common
//! password, not the username); the form only checks that the two new
//! entries match, and shows the server's reason otherwise.

use gatehouse::api::auth::PasswordChange;
use leptos::prelude::*;

use crate::api::auth::ChangePassword;
use crate::components::layout::SessionContext;
use crate::components::step_up::ActionError;
use crate::components::ui::{BUTTON_PRIMARY, Card, ErrorNotice, INPUT};

/// `pending`: the user must change the password before anything else;
/// after the change the page reads who I am again, to show everything.
#[component]
pub fn ChangePasswordCard(#[prop(optional)] pending: bool) -> impl IntoView {
    let session = expect_context::<SessionContext>().0;
    let change = ServerAction::<ChangePassword>::new();
    let (current, new, repeat) = (
        NodeRef::<leptos::html::Input>::new(),
        NodeRef::<leptos::html::Input>::new(),
        NodeRef::<leptos::html::Input>::new(),
    );
    let mismatch = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (Some(current), Some(new), Some(repeat)) = (current.get(), new.get(), repeat.get())
        else {
            return;
        };
        mismatch.set(new.value() != repeat.value());
        if mismatch.get_untracked() {
            return;
        }
        change.dispatch(
            PasswordChange {
                current_password: current.value(),
                new_password: new.value(),
            }
            .into(),
        );
    };
    // After a change, forget what was typed; a lifted pending change opens
    // the rest of the page.
    Effect::new(move |_| {
        if let Some(Ok(_)) = change.value().get() {
            for input in [current, new, repeat] {
                if let Some(input) = input.get_untracked() {
                    input.set_value("");
                }
            }
            if pending {
                session.refetch();
            }
        }
    });
    view! {
        <Card title="Change password">
            <form on:submit=submit class="grid max-w-md gap-3" data-testid="change-password">
                <div>
                    <label for="current-password" class="mb-1 block text-sm font-medium">"Current password"</label>
                    <input id="current-password" node_ref=current type="password" required maxlength="1024"
                        autocomplete="current-password" class=INPUT/>
                </div>
                <div>
                    <label for="new-password" class="mb-1 block text-sm font-medium">"New password"</label>
                    <input id="new-password" node_ref=new type="password" required minlength="12" maxlength="1024"
                        autocomplete="new-password" aria-describedby="new-password-hint" class=INPUT/>
                    <p id="new-password-hint" class="mt-1 text-xs text-slate-600 dark:text-slate-400">
                        "At least 12 characters. A few unrelated words are easy to remember and hard to guess."
                    </p>
                </div>
                <div>
                    <label for="repeat-password" class="mb-1 block text-sm font-medium">"New password, again"</label>
                    <input id="repeat-password" node_ref=repeat type="password" required minlength="12" maxlength="1024"
                        autocomplete="new-password" class=INPUT/>
                </div>
                {move || mismatch.get().then(|| view! { <ErrorNotice message="The new passwords do not match."/> })}
                {move || change.value().get().and_then(Result::ok).map(|changed| view! {
                    <p role="status" class="text-sm text-emerald-700 dark:text-emerald-400">
                        {match changed.revoked_sessions {
                            0 => "Password changed.".to_owned(),
                            1 => "Password changed. Your one other session was signed out.".to_owned(),
                            n => format!("Password changed. Your {n} other sessions were signed out."),
                        }}
                    </p>
                })}
                <div>
                    <button type="submit" class=BUTTON_PRIMARY disabled=move || change.pending().get()>
                        "Change password"
                    </button>
                </div>
            </form>
            // Outside the form: the step-up prompt is a form of its own.
            <div class="mt-3 max-w-md">
                {move || change.value().get().and_then(Result::err).map(|err| view! { <ActionError err/> })}
            </div>
        </Card>
    }
}
