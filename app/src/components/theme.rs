//! Light, dark, or whatever the system says: the reader's choice.
//!
//! The choice lives in a plain cookie (`gh_theme`, a preference, not a
//! secret: readable by scripts, a year long). The server reads it when it
//! renders the page and writes it on `<html data-theme=…>`, so the first
//! paint already has the right colours: no flash, no inline script (the
//! content security policy allows none). The stylesheet's `dark:` variant
//! applies under `data-theme="dark"`, and under the system's dark scheme
//! unless `data-theme="light"`. The toggle changes the attribute and the
//! cookie in place.

use leptos::prelude::*;

/// The cookie that remembers the choice.
pub const THEME_COOKIE: &str = "gh_theme";

/// The reader's choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    System,
    Light,
    Dark,
}

impl Theme {
    const ALL: [Theme; 3] = [Theme::System, Theme::Light, Theme::Dark];

    fn name(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Theme::System => "System",
            Theme::Light => "Light",
            Theme::Dark => "Dark",
        }
    }

    fn parse(name: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|theme| theme.name() == name)
            .unwrap_or(Theme::System)
    }

    /// The value of `<html data-theme>`: none follows the system.
    pub fn attribute(self) -> Option<&'static str> {
        (self != Theme::System).then(|| self.name())
    }

    /// The choice the page was rendered with: on the server, the request's
    /// cookie; in the browser, what the server wrote on `<html>`.
    pub fn current() -> Self {
        #[cfg(feature = "ssr")]
        {
            with_context::<http::request::Parts, _>(|parts| {
                crate::cookies::cookie(&parts.headers, THEME_COOKIE)
            })
            .flatten()
            .map_or(Theme::System, |name| Theme::parse(&name))
        }
        #[cfg(not(feature = "ssr"))]
        {
            document()
                .document_element()
                .and_then(|html| html.get_attribute("data-theme"))
                .map_or(Theme::System, |name| Theme::parse(&name))
        }
    }
}

/// Applies `theme` to the page now and remembers it.
#[cfg(feature = "hydrate")]
fn apply(theme: Theme) {
    use wasm_bindgen::JsCast;
    let document = document();
    if let Some(html) = document.document_element() {
        let _ = match theme.attribute() {
            Some(name) => html.set_attribute("data-theme", name),
            None => html.remove_attribute("data-theme"),
        };
    }
    let secure = window()
        .location()
        .protocol()
        .is_ok_and(|protocol| protocol == "https:");
    if let Some(document) = document.dyn_ref::<web_sys::HtmlDocument>() {
        let _ = document.set_cookie(&format!(
            "{THEME_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax{}",
            theme.name(),
            if secure { "; Secure" } else { "" }
        ));
    }
}

/// The theme menu in the header.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let chosen = Theme::current();
    let on_change = move |event: leptos::ev::Event| {
        let theme = Theme::parse(&event_target_value(&event));
        #[cfg(feature = "hydrate")]
        apply(theme);
        #[cfg(not(feature = "hydrate"))]
        let _ = theme;
    };
    view! {
        <select
            aria-label="Theme"
            on:change=on_change
            class="ml-1 rounded-md border border-slate-300 bg-white px-1 py-1 text-sm text-slate-700 dark:border-slate-700 dark:bg-slate-900 dark:text-slate-200"
        >
            {Theme::ALL
                .into_iter()
                .map(|theme| {
                    view! {
                        <option value=theme.name() selected=theme == chosen>
                            {theme.label()}
                        </option>
                    }
                })
                .collect_view()}
        </select>
    }
}
