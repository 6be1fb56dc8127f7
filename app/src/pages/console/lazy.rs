//! The console's pages as lazy routes.
//!
//! Built with `cargo leptos build --split`, each page's code is a separate
//! wasm chunk that the browser fetches when the page is first opened, so
//! the sign-in and account pages (what every user loads) do not carry the
//! console (what only admins use). Without `--split`, and on the server,
//! these are ordinary routes.
//!
//! The pages load their own data, so a route's `data()` holds nothing.

use leptos::prelude::*;
use leptos_router::{LazyRoute, lazy_route};

macro_rules! lazy_pages {
    ($($route:ident => $page:path),* $(,)?) => {$(
        #[doc = concat!("The lazy route of [`", stringify!($page), "`].")]
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page/> }.into_any()
            }
        }
    )*};
}

lazy_pages! {
    Overview => super::overview::OverviewPage,
    Sessions => super::sessions::SessionsPage,
    Users => super::users::UsersPage,
    User => super::user::UserPage,
    Locks => super::locks::LocksPage,
    Blacklist => super::blacklist::BlacklistPage,
    Windows => super::windows::WindowsPage,
    Events => super::events::EventsPage,
    Alerts => super::alerts::AlertsPage,
}
