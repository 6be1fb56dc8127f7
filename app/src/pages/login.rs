//! `/login`: the sign-in form.
//!
//! The form posts to the `sign_in` server function, so it works before
//! the page has hydrated (and without JavaScript at all): the server then
//! redirects to `next` on success, or back here with the error in the URL.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;
use server_fn::ServerFn;
use server_fn::error::ServerFnUrlError;

use crate::ApiError;
use crate::api::auth::{SignIn, safe_next};
use crate::components::layout::SessionContext;
use crate::components::ui::{BUTTON_PRIMARY, Card, ErrorNotice, INPUT};

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || safe_next(query.read().get("next").as_deref());
    let action = ServerAction::<SignIn>::new();

    // The error of the last attempt: from the action (with JavaScript), or
    // from the URL the server redirected to (without).
    let error = move || {
        if let Some(Err(err)) = action.value().get() {
            return Some(err.message);
        }
        let query = query.read();
        match (query.get("__path"), query.get("__err")) {
            (Some(path), Some(err)) if path == SignIn::PATH => {
                Some(ServerFnUrlError::<ApiError>::decode_err(&err).message)
            }
            _ => None,
        }
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
            <Card>
                <ActionForm action>
                    <div class="space-y-4">
                        <input type="hidden" name="next" value=next/>
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
                                maxlength="256"
                                class=INPUT
                            />
                        </div>
                        {move || error().map(|message| view! { <ErrorNotice message/> })}
                        <button type="submit" class=format!("{BUTTON_PRIMARY} w-full") disabled=move || action.pending().get()>
                            {move || if action.pending().get() { "Signing in…" } else { "Sign in" }}
                        </button>
                    </div>
                </ActionForm>
            </Card>
        </div>
    }
}
