//! The browser's half of WebAuthn: hands the server's options to
//! `navigator.credentials` and gives back the authenticator's answer as
//! JSON text (`PublicKeyCredential.toJSON()`), for the server to verify.
//!
//! Through `js_sys::Reflect` rather than typed `web-sys` bindings: three
//! calls do not justify the bindings' weight in the bundle, and the JSON
//! helpers (`parseCreationOptionsFromJSON`, `toJSON`) keep every binary
//! field in base64url, as the server sends and reads them.

use serde_json::value::RawValue;

/// Which ceremony: a new credential, or proving one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ceremony {
    Create,
    Get,
}

/// Runs the browser's side of a ceremony with the server's `options`
/// (`{"publicKey": …}`); the answer as JSON text, or what to tell the user.
#[cfg(feature = "hydrate")]
pub async fn run(ceremony: Ceremony, options: &RawValue) -> Result<String, String> {
    use js_sys::{Function, JSON, Object, Reflect};
    use wasm_bindgen::{JsCast, JsValue};

    let unsupported = || "This browser cannot use security keys or passkeys.".to_owned();
    let window = web_sys::window().ok_or_else(unsupported)?;
    let get = |target: &JsValue, name: &str| Reflect::get(target, &JsValue::from_str(name));
    let class = get(&window, "PublicKeyCredential").map_err(|_| unsupported())?;
    let (parse, call) = match ceremony {
        Ceremony::Create => ("parseCreationOptionsFromJSON", "create"),
        Ceremony::Get => ("parseRequestOptionsFromJSON", "get"),
    };
    let parse: Function = get(&class, parse)
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(unsupported)?;
    let public_key = JSON::parse(options.get())
        .and_then(|options| get(&options, "publicKey"))
        .and_then(|json| parse.call1(&class, &json))
        .map_err(|_| "The server's options are not valid.".to_owned())?;
    let request = Object::new();
    let _ = Reflect::set(&request, &JsValue::from_str("publicKey"), &public_key);
    let container = get(&window.navigator(), "credentials").map_err(|_| unsupported())?;
    let call: Function = get(&container, call)
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(unsupported)?;
    let promise: js_sys::Promise = call
        .call1(&container, &request)
        .ok()
        .and_then(|p| p.dyn_into().ok())
        .ok_or_else(unsupported)?;
    let credential = wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map_err(|err| {
            let name = get(&err, "name").ok().and_then(|n| n.as_string());
            match name.as_deref() {
                Some("NotAllowedError") | None => "Nothing was used: the request was cancelled, \
                     timed out, or no security key or passkey of yours answered."
                    .to_owned(),
                Some("InvalidStateError") => {
                    "This security key or passkey is registered already.".to_owned()
                }
                Some(other) => {
                    let message = get(&err, "message").ok().and_then(|m| m.as_string());
                    format!(
                        "The browser refused ({other}: {}).",
                        message.unwrap_or_default()
                    )
                }
            }
        })?;
    let to_json: Function = get(&credential, "toJSON")
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(unsupported)?;
    to_json
        .call0(&credential)
        .and_then(|json| JSON::stringify(&json))
        .ok()
        .and_then(|text| text.as_string())
        .ok_or_else(unsupported)
}

/// On the server there is no authenticator (ceremonies run in event
/// handlers, which only the browser runs).
#[cfg(not(feature = "hydrate"))]
pub async fn run(_ceremony: Ceremony, _options: &RawValue) -> Result<String, String> {
    Err("Security keys and passkeys need JavaScript.".to_owned())
}

/// The credential's JSON text as the JSON API takes it.
pub fn parse(text: String) -> Result<Box<RawValue>, String> {
    RawValue::from_string(text).map_err(|_| "The authenticator's answer is not JSON.".to_owned())
}
