//! The frame every page lives in: header, navigation, content.
//!
//! The header knows whether someone is signed in (one cheap server
//! function, re-asked on every navigation) and shows only links to pages
//! that exist for them.

use gatehouse::api::auth::Identity;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_location, use_navigate};

use crate::api::auth::{Logout, current_session};
use crate::components::theme::ThemeToggle;
use crate::components::ui::BUTTON;

/// The signed-in person, shared with pages through context. `None` while
/// loading or when signed out.
#[derive(Clone, Copy)]
pub struct SessionContext(pub Resource<Result<Option<Identity>, crate::FnError>>);

/// Header with the product name and navigation, then the page.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    let location = use_location();
    let logout = ServerAction::<Logout>::new();
    let session = Resource::new_blocking(
        move || (location.pathname.get(), logout.version().get()),
        |_| current_session(),
    );
    provide_context(SessionContext(session));

    // After signing out (with JavaScript), go to the sign-in page.
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = logout.value().get() {
            navigate("/login", Default::default());
        }
    });

    view! {
        <a href="#content" class="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2 focus:text-slate-900">
            "Skip to content"
        </a>
        <header class="border-b border-slate-200 bg-white/80 backdrop-blur dark:border-slate-800 dark:bg-slate-900/80">
            <div class="mx-auto flex h-14 max-w-6xl items-center gap-2 px-4">
                <A href="/" attr:class="flex items-center gap-2 font-semibold tracking-tight">
                    <img src="/icon.svg" alt="" width="24" height="24" class="h-6 w-6"/>
                    <span class="hidden sm:inline">"Gatehouse"</span>
                </A>
                <nav aria-label="Main" class="ml-auto flex items-center gap-1 text-sm">
                    <NavLink href="/">"Status"</NavLink>
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            match session.await {
                                Ok(Some(identity)) => view! {
                                    {identity.roles.contains(&gatehouse::api::Role::Admin).then(|| view! {
                                        <NavLink href="/console" exact=false>"Console"</NavLink>
                                    })}
                                    <NavLink href="/account">"Account"</NavLink>
                                    <ActionForm action=logout attr:class="ml-1">
                                        <button type="submit" class=BUTTON title=format!("Signed in as {}", identity.username)>
                                            "Sign out"
                                        </button>
                                    </ActionForm>
                                }.into_any(),
                                _ => view! { <NavLink href="/login">"Sign in"</NavLink> }.into_any(),
                            }
                        })}
                    </Transition>
                    <ThemeToggle/>
                </nav>
            </div>
        </header>
        <main id="content" class="mx-auto max-w-6xl px-4 py-6">{children()}</main>
    }
}

/// A navigation link that marks the current page.
#[component]
fn NavLink(
    href: &'static str,
    #[prop(default = true)] exact: bool,
    children: Children,
) -> impl IntoView {
    view! {
        <A
            href=href
            exact=exact
            attr:class="rounded-md px-2 py-1.5 text-slate-600 sm:px-3 hover:bg-slate-100 hover:text-slate-900 aria-[current=page]:bg-slate-900 aria-[current=page]:text-white dark:text-slate-300 dark:hover:bg-slate-800 dark:hover:text-white dark:aria-[current=page]:bg-slate-100 dark:aria-[current=page]:text-slate-900"
        >
            {children()}
        </A>
    }
}
