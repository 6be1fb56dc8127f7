//! The frame every page lives in: header, navigation, content, footer.

use leptos::prelude::*;
use leptos_router::components::A;

/// Header with the product name and navigation, then the page.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    view! {
        <a href="#content" class="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2 focus:text-slate-900">
            "Skip to content"
        </a>
        <header class="border-b border-slate-200 bg-white/80 backdrop-blur dark:border-slate-800 dark:bg-slate-900/80">
            <div class="mx-auto flex h-14 max-w-6xl items-center gap-4 px-4">
                <A href="/" attr:class="flex items-center gap-2 font-semibold tracking-tight">
                    <img src="/icon.svg" alt="" width="24" height="24" class="h-6 w-6"/>
                    <span>"Gatehouse"</span>
                </A>
                <nav aria-label="Main" class="ml-auto flex items-center gap-1 text-sm">
                    <NavLink href="/">"Status"</NavLink>
                </nav>
            </div>
        </header>
        <main id="content" class="mx-auto max-w-6xl px-4 py-6">{children()}</main>
    }
}

/// A navigation link that marks the current page.
#[component]
fn NavLink(href: &'static str, children: Children) -> impl IntoView {
    view! {
        <A
            href=href
            exact=true
            attr:class="rounded-md px-3 py-1.5 text-slate-600 hover:bg-slate-100 hover:text-slate-900 aria-[current=page]:bg-slate-900 aria-[current=page]:text-white dark:text-slate-300 dark:hover:bg-slate-800 dark:hover:text-white dark:aria-[current=page]:bg-slate-100 dark:aria-[current=page]:text-slate-900"
        >
            {children()}
        </A>
    }
}
