//! The document against the routes that exist and the book's examples.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::*;

fn document() -> Value {
    serde_json::to_value(&*DOCUMENT).unwrap()
}

/// Every `/api/v1` route the server answers: the server functions (but
/// the browser's form targets under `/api/v1/ui/`) and the plain routes.
fn registered() -> BTreeSet<(String, String)> {
    // Builds the router once, which is also what registers the server
    // functions of the app crate.
    let _ = crate::router::PLAIN_API_ROUTES;
    let mut routes: BTreeSet<(String, String)> = leptos::server_fn::axum::server_fn_paths()
        .filter(|(path, _)| path.starts_with("/api/v1/") && !path.starts_with("/api/v1/ui/"))
        .map(|(path, method)| (method.as_str().to_owned(), path.to_owned()))
        .collect();
    for (method, path) in crate::router::PLAIN_API_ROUTES {
        routes.insert(((*method).to_owned(), (*path).to_owned()));
    }
    routes
}

fn documented() -> BTreeSet<(String, String)> {
    let document = document();
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.insert((method.to_uppercase(), path.clone()));
        }
    }
    routes
}

#[test]
fn the_document_names_exactly_the_routes_that_exist() {
    let registered = registered();
    let documented = documented();
    assert!(
        registered.len() > 30,
        "server functions were not registered: {registered:?}"
    );
    let missing: Vec<_> = registered.difference(&documented).collect();
    assert!(missing.is_empty(), "routes the document lacks: {missing:?}");
    let phantom: Vec<_> = documented.difference(&registered).collect();
    assert!(
        phantom.is_empty(),
        "documented routes that do not exist: {phantom:?}"
    );
}

#[test]
fn it_is_openapi_3_1_with_every_referenced_schema() {
    let document = document();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let text = document.to_string();
    for reference in text.split("\"$ref\":\"").skip(1) {
        let target = reference.split('"').next().unwrap();
        assert!(
            document.pointer(&target[1..]).is_some(),
            "{target} is referenced but not defined"
        );
    }
    // The event stream's entries are described too.
    assert!(document.pointer("/components/schemas/Event").is_some());
    assert!(document.pointer("/components/schemas/EventKind").is_some());
    let kinds = document.pointer("/components/schemas/Kind/enum").unwrap();
    let names: Vec<&str> = gatehouse::api::events::Kind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(kinds, &json!(names));
    // Each of EventKind's variants is tagged with the same name.
    let tagged = document.to_string();
    for name in names {
        assert!(tagged.contains(&format!("\"enum\":[\"{name}\"]")), "{name}");
    }
}

/// The request schema of `POST path`.
fn request_schema(document: &Value, path: &str) -> Value {
    document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"].clone()
}

#[test]
fn every_example_in_the_book_validates() {
    let document = document();
    let book = book();
    let readme = book.as_str();
    // `curl … $H/api/v1/<path> … -d '<json>'`, over continuation lines.
    let joined = readme.replace("\\\n", " ");
    let mut checked = 0;
    for line in joined
        .lines()
        .filter(|l| l.contains("curl ") && l.contains(" -d '"))
    {
        let Some(path) = api_path(line) else { continue };
        let body = line
            .split(" -d '")
            .nth(1)
            .and_then(|b| b.split('\'').next())
            .unwrap();
        let body: Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("book example for {path} is not JSON ({e}): {body}"));
        let schema = request_schema(&document, &path);
        assert!(
            !schema.is_null(),
            "the book posts a body to {path}, which takes none"
        );
        if let Err(why) = validate(&document, &schema, &body, true) {
            panic!("book example for {path} does not validate: {why}\n{body}");
        }
        checked += 1;
    }
    // `POST /api/v1/<path>` `{"field","field"}`: each named field exists.
    for (path, fields) in field_lists(readme) {
        let schema = request_schema(&document, &path);
        assert!(
            !schema.is_null(),
            "the book names body fields for {path}, which takes none"
        );
        let known = properties(&document, &schema);
        for field in fields {
            assert!(
                known.contains(&field),
                "the book names `{field}` for {path}: not in {known:?}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} examples found in the book");
}

#[test]
fn the_validator_refuses_what_the_schema_does_not_allow() {
    let document = document();
    let login = request_schema(&document, "/api/v1/auth/login");
    assert!(
        validate(
            &document,
            &login,
            &json!({"username": "a", "password": "b"}),
            true
        )
        .is_ok()
    );
    for (bad, because) in [
        (json!({"username": "a"}), "`password` is missing"),
        (json!({"username": "a", "password": 1}), "is not"),
        (
            json!({"username": "a", "password": "b", "pasword": "c"}),
            "`pasword` is not a field here",
        ),
        (json!(["a", "b"]), "is not"),
    ] {
        let err = validate(&document, &login, &bad, true).unwrap_err();
        assert!(err.contains(because), "{bad}: {err}");
    }
    let reset = request_schema(&document, "/api/v1/admin/ratelimit/reset");
    let ok = json!({"subject": {"kind": "user", "user_id": "u1"}});
    assert!(validate(&document, &reset, &ok, true).is_ok());
    let bad = json!({"subject": {"kind": "planet", "user_id": "u1"}});
    let err = validate(&document, &reset, &bad, true).unwrap_err();
    assert!(err.contains("oneOf"), "{err}");
}

fn api_path(line: &str) -> Option<String> {
    let start = line.find("/api/v1/")?;
    let path: String = line[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '.' | '_'))
        .collect();
    Some(path)
}

/// Every chapter of the book (`docs/src`), one after the other.
fn book() -> String {
    fn collect(dir: &std::path::Path, text: &mut String) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("read docs/src")
            .map(|e| e.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                collect(&path, text);
            } else if path.extension().is_some_and(|e| e == "md") {
                text.push_str(&std::fs::read_to_string(&path).expect("read a chapter"));
                text.push('\n');
            }
        }
    }
    let mut text = String::new();
    collect(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/src"),
        &mut text,
    );
    text
}

/// Book prose like `POST /api/v1/locks/release` `{"name","owner"}`.
fn field_lists(readme: &str) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    for piece in readme.split("`/api/v1/").skip(1) {
        let Some((path, rest)) = piece.split_once('`') else {
            continue;
        };
        let Some(list) = rest.strip_prefix(" `{\"") else {
            continue;
        };
        let Some((list, _)) = list.split_once("}`") else {
            continue;
        };
        let fields = list
            .split(',')
            .map(|f| f.trim_matches('"').to_owned())
            .collect();
        found.push((format!("/api/v1/{path}"), fields));
    }
    found
}

fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => document.pointer(&reference[1..]).unwrap_or(&Value::Null),
        None => schema,
    }
}

/// The properties an object schema knows (through `allOf`).
fn properties(document: &Value, schema: &Value) -> BTreeSet<String> {
    let schema = resolve(document, schema);
    let mut known: BTreeSet<String> = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        known.extend(properties(document, part));
    }
    known
}

/// JSON Schema validation, for the keywords the document uses. `closed`:
/// properties the schema does not name are an error (a typo in an example).
fn validate(document: &Value, schema: &Value, value: &Value, closed: bool) -> Result<(), String> {
    let schema = resolve(document, schema);
    if let Some(options) = schema["oneOf"].as_array() {
        let passing = options
            .iter()
            .filter(|option| validate(document, option, value, closed).is_ok())
            .count();
        if passing != 1 {
            return Err(format!("{value} matches {passing} of oneOf, not exactly 1"));
        }
    }
    if let Some(options) = schema["anyOf"].as_array()
        && !options
            .iter()
            .any(|o| validate(document, o, value, closed).is_ok())
    {
        return Err(format!("{value} matches none of anyOf"));
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        validate(document, part, value, false)?;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        return Err(format!("{value} is not one of {allowed:?}"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(kind) => vec![kind.as_str()],
        Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let is = |kind: &str| match kind {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        _ => true,
    };
    if !types.is_empty() && !types.iter().any(|kind| is(kind)) {
        return Err(format!("{value} is not {types:?}"));
    }
    if let (Some(minimum), Some(number)) = (schema["minimum"].as_f64(), value.as_f64())
        && number < minimum
    {
        return Err(format!("{value} is below {minimum}"));
    }
    if let Value::Object(object) = value {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                return Err(format!("`{name}` is missing"));
            }
        }
        let known = properties(document, schema);
        for (name, field) in object {
            match schema["properties"].get(name) {
                Some(property) => validate(document, property, field, true)?,
                None if closed && !known.is_empty() && !known.contains(name) => {
                    return Err(format!("`{name}` is not a field here (fields: {known:?})"));
                }
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(item)) = (value, schema.get("items")) {
        for element in items {
            validate(document, item, element, true)?;
        }
    }
    Ok(())
}
