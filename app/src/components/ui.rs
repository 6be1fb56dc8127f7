//! Small shared pieces of UI: cards, notices, and the class lists for
//! buttons and inputs (Tailwind, so consistency comes from reuse).

use leptos::prelude::*;

/// A primary action.
pub const BUTTON_PRIMARY: &str = "inline-flex items-center justify-center rounded-md bg-sky-700 px-3 py-2 text-sm font-medium text-white hover:bg-sky-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 focus-visible:ring-offset-2 disabled:opacity-50 dark:focus-visible:ring-offset-slate-900";
/// A secondary action.
pub const BUTTON: &str = "inline-flex items-center justify-center rounded-md border border-slate-300 px-3 py-1.5 text-sm hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 disabled:opacity-50 dark:border-slate-700 dark:hover:bg-slate-800";
/// A destructive action.
pub const BUTTON_DANGER: &str = "inline-flex items-center justify-center rounded-md border border-red-300 px-3 py-1.5 text-sm text-red-700 hover:bg-red-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-red-500 disabled:opacity-50 dark:border-red-800 dark:text-red-400 dark:hover:bg-red-950";
/// A text input.
pub const INPUT: &str = "block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-sm shadow-sm focus:border-sky-500 focus:outline-none focus:ring-2 focus:ring-sky-500/40 dark:border-slate-700 dark:bg-slate-950";

/// A bordered panel with an optional heading.
#[component]
pub fn Card(#[prop(optional, into)] title: Option<String>, children: Children) -> impl IntoView {
    view! {
        <section class="rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900">
            {title.map(|title| view! { <h2 class="mb-3 text-lg font-medium">{title}</h2> })}
            {children()}
        </section>
    }
}

/// An error message, announced to screen readers.
#[component]
pub fn ErrorNotice(#[prop(into)] message: String) -> impl IntoView {
    view! {
        <p role="alert" class="rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-900 dark:bg-red-950 dark:text-red-300">
            {message}
        </p>
    }
}

/// What a section shows while its data is on the way: `label`, usually
/// [`LOADING`]. A plain function rather than a component: the fallback is
/// rendered with every page, and a component costs allocations there.
pub fn loading(label: &'static str) -> impl IntoView {
    view! { <p class="text-sm text-slate-500 dark:text-slate-400">{label}</p> }
}

/// What most sections say while loading.
pub const LOADING: &str = "Loading…";

/// False on the server and while hydrating, true once the page has
/// hydrated: for parts the browser draws (and fetches) itself, which must
/// not differ from the server's HTML before then.
pub fn hydrated() -> ReadSignal<bool> {
    let (hydrated, set) = signal(false);
    Effect::new(move |_| set.set(true));
    hydrated
}
