//! The console's live feed: an `EventSource` on the admin event stream,
//! shared by every console page.
//!
//! Pages ask [`Live::watch`] for a counter that moves when events of the
//! kinds they show arrive (throttled, so a burst of events causes one
//! refetch), and key their resources on it. The Events page reads the
//! events themselves. [`Live::connected`] drives the connection indicator:
//! the browser's `EventSource` reconnects by itself (sending
//! `Last-Event-ID`), so the indicator goes grey when the stream drops and
//! green again when it is back. When the admin's session ends (signed
//! out, revoked, demoted, token expired), the server ends the stream with
//! `session_ended`: the feed stops reconnecting and [`Live::session_ended`]
//! tells the console to offer signing in again. On the server (and before
//! hydration) nothing connects: pages render their data directly.

use leptos::prelude::*;

use gatehouse::api::console::Event;
use gatehouse::api::events::Kind;

/// How many recent live events the feed keeps.
#[cfg(feature = "hydrate")]
const KEEP: usize = 500;

/// The live feed.
#[derive(Clone, Copy)]
pub struct Live {
    /// Whether the stream is open.
    pub connected: RwSignal<bool>,
    /// Events received since the page loaded, newest first.
    pub events: RwSignal<Vec<Event>>,
    /// The server ended the feed because the admin's session ended.
    pub session_ended: RwSignal<bool>,
}

impl Live {
    /// A counter that moves (at most every 300 ms) when an event of a kind
    /// that is `relevant` arrives. Pages name exactly the kinds that change
    /// what they show: a refetch re-renders rows, and a busy instance's
    /// unrelated events must not reset a half-done confirmation.
    pub fn watch(self, relevant: fn(Kind) -> bool) -> ReadSignal<u64> {
        let (changes, set_changes) = signal(0u64);
        let pending = StoredValue::new(false);
        let seen = StoredValue::new(String::new());
        Effect::new(move |_| {
            let events = self.events.read();
            let Some(newest) = events.first() else {
                return;
            };
            if seen.get_value() == newest.id {
                return;
            }
            let last_seen = seen.get_value();
            seen.set_value(newest.id.clone());
            let relevant = events
                .iter()
                .take_while(|e| e.id != last_seen)
                .any(|e| relevant(e.kind.kind()));
            if relevant && !pending.get_value() {
                pending.set_value(true);
                set_timeout(
                    move || {
                        pending.set_value(false);
                        set_changes.update(|n| *n += 1);
                    },
                    std::time::Duration::from_millis(300),
                );
            }
        });
        changes
    }
}

/// Opens the live feed for the console (in the browser) and provides it.
pub fn provide_live() -> Live {
    let live = Live::default();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| connect(live));
    provide_context(live);
    live
}

/// The feed provided by the console layout.
pub fn use_live() -> Live {
    use_context::<Live>().unwrap_or_default()
}

impl Default for Live {
    fn default() -> Self {
        Self {
            connected: RwSignal::new(false),
            events: RwSignal::new(Vec::new()),
            session_ended: RwSignal::new(false),
        }
    }
}

#[cfg(feature = "hydrate")]
fn connect(live: Live) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    let Ok(source) = web_sys::EventSource::new("/api/v1/admin/events/stream") else {
        return;
    };
    let on_open = Closure::<dyn FnMut()>::new(move || live.connected.set(true));
    let on_error = Closure::<dyn FnMut()>::new(move || live.connected.set(false));
    let on_event =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |message: web_sys::MessageEvent| {
            let Some(data) = message.data().as_string() else {
                return;
            };
            if let Ok(event) = serde_json::from_str::<Event>(&data) {
                live.connected.set(true);
                live.events.update(|events| {
                    events.insert(0, event);
                    events.truncate(KEEP);
                });
            }
        });
    let on_ended = {
        let source = send_wrapper::SendWrapper::new(source.clone());
        Closure::<dyn FnMut()>::new(move || {
            // No reconnecting into a 401: say so, and offer to sign in.
            source.close();
            live.connected.set(false);
            live.session_ended.set(true);
        })
    };
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    // SSE delivers named events only to listeners of that name: one for
    // every kind there is.
    for kind in gatehouse::api::events::Kind::ALL {
        let _ = source
            .add_event_listener_with_callback(kind.as_str(), on_event.as_ref().unchecked_ref());
    }
    let _ =
        source.add_event_listener_with_callback("session_ended", on_ended.as_ref().unchecked_ref());
    // The closures live as long as the stream; both end with the page.
    let closures = send_wrapper::SendWrapper::new((on_open, on_error, on_event, on_ended, source));
    on_cleanup(move || {
        let (_, _, _, _, source) = closures.take();
        source.close();
    });
}
