//! `GET /docs/api`: the OpenAPI document as a page people can read.
//!
//! Rendered on the server from the document itself (no script, so the
//! strict CSP of non-page responses holds): each operation with who may
//! call it and links to its body types, then every type as a table of its
//! fields with the descriptions the wire types' doc comments give.

use std::fmt::Write;
use std::sync::LazyLock;

use axum::response::{Html, IntoResponse, Response};
use http::{HeaderValue, header};
use serde_json::Value;

use super::{DOCUMENT, ENDPOINTS, Method, PATH, access_text};

const PAGE_CLASS: &str = "mx-auto max-w-4xl px-4 py-8 text-slate-900 dark:text-slate-100";
const H2: &str = "mt-10 mb-3 text-xl font-semibold";
const CARD: &str = "my-4 rounded-lg border border-slate-200 p-4 dark:border-slate-700";
const CODE: &str = "font-mono text-sm";
const LINK: &str = "text-sky-700 underline dark:text-sky-400";
const TABLE: &str = "mt-2 w-full text-left text-sm";

static HTML: LazyLock<String> = LazyLock::new(render);

/// `GET /docs/api`.
pub async fn reference() -> Response {
    let mut response = Html(HTML.as_str()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

fn render() -> String {
    let document = serde_json::to_value(&*DOCUMENT).unwrap_or_default();
    let schemas = &document["components"]["schemas"];
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Gatehouse API reference</title>\
         <link rel=\"stylesheet\" href=\"/pkg/gatehouse.css\"></head>\
         <body class=\"bg-white dark:bg-slate-950\"><main class=\"{PAGE_CLASS}\">\
         <h1 class=\"text-2xl font-bold\">Gatehouse API reference</h1>\
         <p class=\"mt-2\">Version {version}. Generated from the wire types; the same document \
         as JSON (OpenAPI 3.1) is <a class=\"{LINK}\" href=\"{PATH}\"><code>{PATH}</code></a>. \
         Every request and answer is JSON; errors are <a class=\"{LINK}\" href=\"#type-ApiError\">\
         <code>ApiError</code></a>.</p>\
         <h2 class=\"{H2}\">Endpoints</h2>",
        version = escape(document["info"]["version"].as_str().unwrap_or_default()),
    );
    for endpoint in ENDPOINTS {
        let method = match endpoint.method {
            Method::Get => "GET",
            Method::Post => "POST",
        };
        let operation = &document["paths"][endpoint.path][method.to_lowercase()];
        let _ = write!(
            out,
            "<section class=\"{CARD}\" id=\"{id}\"><h3 class=\"{CODE} font-semibold\">{method} {path}</h3>\
             <p class=\"mt-1\">{summary}</p><p class=\"mt-1 text-sm text-slate-600 dark:text-slate-300\">{access}</p>",
            id = anchor(endpoint.path),
            path = escape(endpoint.path),
            summary = inline_code(endpoint.summary),
            access = inline_code(access_text(endpoint.access)),
        );
        let body = &operation["requestBody"]["content"]["application/json"]["schema"];
        if !body.is_null() {
            let _ = write!(
                out,
                "<p class=\"mt-2 text-sm\">Body: {}</p>",
                type_text(body)
            );
        }
        let answer = &operation["responses"]["200"]["content"]["application/json"]["schema"];
        let answer = if answer.is_null() {
            "Server-Sent Events".to_owned()
        } else {
            type_text(answer)
        };
        let _ = write!(
            out,
            "<p class=\"mt-1 text-sm\">Answer: {answer}</p></section>"
        );
    }
    let _ = write!(out, "<h2 class=\"{H2}\">Types</h2>");
    if let Value::Object(schemas) = schemas {
        for (name, schema) in schemas {
            render_type(&mut out, name, schema);
        }
    }
    out.push_str("</main></body></html>");
    out
}

fn render_type(out: &mut String, name: &str, schema: &Value) {
    let _ = write!(
        out,
        "<section class=\"{CARD}\" id=\"type-{name}\"><h3 class=\"{CODE} font-semibold\">{name}</h3>",
        name = escape(name),
    );
    if let Some(text) = schema["description"].as_str() {
        let _ = write!(out, "<p class=\"mt-1\">{}</p>", inline_code(text));
    }
    let mut variants = Vec::new();
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(list) = schema[key].as_array() {
            variants.extend(list.iter());
        }
    }
    fields(out, schema);
    if let Some(values) = schema["enum"].as_array() {
        let names: Vec<String> = values
            .iter()
            .map(|v| format!("<code>{}</code>", escape(&v.to_string())))
            .collect();
        let _ = write!(
            out,
            "<p class=\"mt-1 text-sm\">One of {}.</p>",
            names.join(", ")
        );
    }
    if !variants.is_empty() {
        out.push_str("<p class=\"mt-2 text-sm\">Made of:</p>");
        for variant in variants {
            if variant.get("properties").is_some() {
                fields(out, variant);
            } else {
                let _ = write!(out, "<p class=\"text-sm\">{}</p>", type_text(variant));
            }
        }
    }
    out.push_str("</section>");
}

/// A table of an object schema's fields.
fn fields(out: &mut String, schema: &Value) {
    let Some(properties) = schema["properties"].as_object() else {
        return;
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let _ = write!(
        out,
        "<table class=\"{TABLE}\"><thead><tr><th scope=\"col\">Field</th><th scope=\"col\">Type</th>\
         <th scope=\"col\">About</th></tr></thead><tbody>"
    );
    for (field, property) in properties {
        let optional = if required.contains(&field.as_str()) {
            ""
        } else {
            " (optional)"
        };
        let _ = write!(
            out,
            "<tr class=\"border-t border-slate-200 dark:border-slate-700\"><td class=\"{CODE} pr-3\">{field}</td>\
             <td class=\"pr-3\">{ty}{optional}</td><td>{about}</td></tr>",
            field = escape(field),
            ty = type_text(property),
            about = inline_code(property["description"].as_str().unwrap_or_default()),
        );
    }
    out.push_str("</tbody></table>");
}

/// A schema's type in a few words, with links to named types.
fn type_text(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!(
            "<a class=\"{LINK}\" href=\"#type-{name}\"><code>{name}</code></a>",
            name = escape(name)
        );
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(list) = schema[key].as_array() {
            let parts: Vec<String> = list.iter().map(type_text).collect();
            return parts.join(" or ");
        }
    }
    let kinds: Vec<&str> = match &schema["type"] {
        Value::String(kind) => vec![kind.as_str()],
        Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let words: Vec<String> = kinds
        .iter()
        .map(|kind| match *kind {
            "array" => format!("list of {}", type_text(&schema["items"])),
            other => other.to_owned(),
        })
        .collect();
    if words.is_empty() {
        "any JSON".to_owned()
    } else {
        words.join(" or ")
    }
}

fn anchor(path: &str) -> String {
    path.trim_start_matches('/').replace(['/', '.'], "-")
}

/// Text with `code` spans, escaped.
fn inline_code(text: &str) -> String {
    escape(text)
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_owned()
            }
        })
        .collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
