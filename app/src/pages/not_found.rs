//! The 404 page.

use leptos::prelude::*;
use leptos_meta::Title;

/// Shown for any path no route matches; answers with HTTP 404.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found"/>
        <section class="mx-auto max-w-md py-16 text-center">
            <p class="text-sm font-semibold text-slate-500 dark:text-slate-400">"404"</p>
            <h1 class="mt-2 text-2xl font-semibold">"This page does not exist"</h1>
            <p class="mt-2 text-slate-600 dark:text-slate-400">
                "Check the address, or go back to the "
                <a href="/" class="underline underline-offset-2">"status page"</a>
                "."
            </p>
        </section>
    }
}
