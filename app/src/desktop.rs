//! The console as a desktop app: the app badge (`navigator.setAppBadge`)
//! and native notifications shown through the service worker
//! (`registration.showNotification`), so that they arrive while the
//! window is in the background and a click opens the alert's page in the
//! app window (see `public/sw.js`).
//!
//! Which alerts notify is the admin's choice, kept in this browser
//! (`localStorage`): none until they pick a level, and permission is
//! asked only when they do, never on page load. A notification carries
//! its alert's id as its tag, and the ids already shown are remembered,
//! so one alert is never notified twice, however many console windows
//! are open. Through `js_sys::Reflect`, as in `webauthn`: a handful of
//! calls do not justify typed bindings in the bundle. Without a browser
//! (on the server) every function does nothing.

use gatehouse::api::alerts::Severity;
use gatehouse::api::events::AlertRaised;

/// Where the chosen level is kept.
#[cfg(feature = "hydrate")]
const LEVEL_KEY: &str = "gatehouse.notify";
/// Where the ids of alerts already notified are kept (the latest 200).
#[cfg(feature = "hydrate")]
const SHOWN_KEY: &str = "gatehouse.notified";

/// Whether this browser lets the console notify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    Granted,
    #[cfg_attr(
        not(feature = "hydrate"),
        allow(dead_code, reason = "only a browser says so")
    )]
    Denied,
    /// Not asked yet.
    Ask,
    Unsupported,
}

#[cfg(feature = "hydrate")]
mod js {
    use js_sys::{Function, Reflect};
    use wasm_bindgen::{JsCast, JsValue};

    pub fn get(target: &JsValue, name: &str) -> Option<JsValue> {
        Reflect::get(target, &JsValue::from_str(name))
            .ok()
            .filter(|value| !value.is_undefined() && !value.is_null())
    }

    /// Calls `target.name(args…)`; its result, if it did not throw.
    pub fn call(target: &JsValue, name: &str, args: &[JsValue]) -> Option<JsValue> {
        let method: Function = get(target, name)?.dyn_into().ok()?;
        let args: js_sys::Array = args.iter().collect();
        method.apply(target, &args).ok()
    }

    /// Awaits `value` if it is a promise.
    pub async fn settle(value: Option<JsValue>) -> Option<JsValue> {
        let promise: js_sys::Promise = value?.dyn_into().ok()?;
        wasm_bindgen_futures::JsFuture::from(promise).await.ok()
    }

    pub fn storage() -> Option<JsValue> {
        get(&web_sys::window()?.into(), "localStorage")
    }

    pub fn read(key: &str) -> Option<String> {
        call(&storage()?, "getItem", &[key.into()])?.as_string()
    }

    pub fn write(key: &str, value: &str) {
        if let Some(storage) = storage() {
            call(&storage, "setItem", &[key.into(), value.into()]);
        }
    }
}

/// Shows `count` open alerts on the app's icon (cleared at 0).
pub fn set_badge(count: u64) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let navigator: wasm_bindgen::JsValue = window.navigator().into();
        if count == 0 {
            js::call(&navigator, "clearAppBadge", &[]);
        } else {
            js::call(&navigator, "setAppBadge", &[(count as f64).into()]);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = count;
}

/// The level at or above which alerts notify, if the admin chose one.
pub fn level() -> Option<Severity> {
    #[cfg(feature = "hydrate")]
    return js::read(LEVEL_KEY).and_then(|name| Severity::parse(&name));
    #[cfg(not(feature = "hydrate"))]
    None
}

/// Keeps the admin's choice of level (`None`: no notifications).
pub fn set_level(level: Option<Severity>) {
    #[cfg(feature = "hydrate")]
    js::write(LEVEL_KEY, level.map_or("off", Severity::as_str));
    #[cfg(not(feature = "hydrate"))]
    let _ = level;
}

/// What the browser says about notifications.
pub fn permission() -> Permission {
    #[cfg(feature = "hydrate")]
    {
        let Some(class) = web_sys::window().and_then(|w| js::get(&w.into(), "Notification")) else {
            return Permission::Unsupported;
        };
        match js::get(&class, "permission")
            .and_then(|p| p.as_string())
            .as_deref()
        {
            Some("granted") => Permission::Granted,
            Some("denied") => Permission::Denied,
            _ => Permission::Ask,
        }
    }
    #[cfg(not(feature = "hydrate"))]
    Permission::Unsupported
}

/// Asks for permission (the browser's prompt); what the admin answered.
pub async fn request_permission() -> Permission {
    #[cfg(feature = "hydrate")]
    if let Some(class) = web_sys::window().and_then(|w| js::get(&w.into(), "Notification")) {
        js::settle(js::call(&class, "requestPermission", &[])).await;
    }
    permission()
}

/// Notifies `alert` if its severity is at or above the chosen level, the
/// browser allows it, and it was not notified before.
pub fn notify(alert: &AlertRaised) {
    let wanted =
        level().is_some_and(|level| alert.severity >= level) && permission() == Permission::Granted;
    #[cfg(feature = "hydrate")]
    if wanted {
        let shown = js::read(SHOWN_KEY).unwrap_or_default();
        if shown.split(' ').any(|id| id == alert.alert_id) {
            return;
        }
        let mut ids: Vec<&str> = shown.split(' ').filter(|id| !id.is_empty()).collect();
        ids.push(&alert.alert_id);
        let keep = ids.len().saturating_sub(200);
        js::write(SHOWN_KEY, &ids[keep..].join(" "));
        show(alert.clone());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (wanted, alert);
}

#[cfg(feature = "hydrate")]
fn show(alert: AlertRaised) {
    use js_sys::{Object, Reflect};
    use wasm_bindgen::JsValue;

    leptos::task::spawn_local(async move {
        let Some(window) = web_sys::window() else {
            return;
        };
        let Some(workers) = js::get(&window.navigator().into(), "serviceWorker") else {
            return;
        };
        let Some(registration) = js::settle(js::get(&workers, "ready")).await else {
            return;
        };
        let options = Object::new();
        let data = Object::new();
        let set = |target: &Object, name: &str, value: JsValue| {
            let _ = Reflect::set(target, &JsValue::from_str(name), &value);
        };
        set(&data, "url", alert.link.as_str().into());
        set(&options, "body", alert.title.as_str().into());
        set(&options, "tag", alert.alert_id.as_str().into());
        set(&options, "icon", "/icon-192.png".into());
        set(&options, "data", data.into());
        let severity = match alert.severity {
            Severity::Critical => "Critical alert",
            Severity::Warning => "Warning",
            Severity::Info => "Notice",
        };
        let title = format!("Gatehouse: {severity}");
        js::settle(js::call(
            &registration,
            "showNotification",
            &[title.into(), options.into()],
        ))
        .await;
    });
}
