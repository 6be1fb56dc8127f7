//! The OpenAPI 3.1 document of `/api/v1` (`GET /api/v1/openapi.json`) and
//! its readable rendering (`GET /docs/api`).
//!
//! Schemas come from the wire types themselves (`gatehouse::api`, derived
//! with utoipa under the core's `openapi` feature), so the document cannot
//! drift from what the handlers send. The operations are listed once, in
//! [`ENDPOINTS`]: method, path, who may call it, and which wire types it
//! takes and answers. A test fails when a registered route is missing
//! here, or this names a route that does not exist.

mod endpoints;
mod page;

use std::sync::LazyLock;

use axum::Json;
use axum::response::{IntoResponse, Response};
use gatehouse::api::{self, ApiError};
use http::{HeaderValue, header};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem, PathsBuilder};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ComponentsBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, Required, SecurityRequirement,
};
use utoipa::{PartialSchema, ToSchema};

pub use endpoints::ENDPOINTS;
pub use page::reference;

/// Where the document is served.
pub const PATH: &str = "/api/v1/openapi.json";
/// Where its rendering is served.
pub const PAGE: &str = "/docs/api";

/// An HTTP method of the API (it has only these two).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// Who may call an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// A signed-in caller (bearer token or the `gh_access` cookie).
    SignedIn,
    /// A caller with the `service` or `admin` role.
    Service,
    /// A caller with the `admin` role.
    Admin,
}

/// A JSON body: registers its schema (and those it refers to) and answers
/// a reference to it.
type Body = fn(&mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema>;

/// One operation of the API.
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    pub access: Access,
    pub request: Option<Body>,
    /// `None`: not a JSON answer (the event stream).
    pub response: Option<Body>,
}

/// A named wire type: its schema goes to the components, a `$ref` to it
/// in the operation.
fn named<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

/// A named wire type, or `null`.
fn optional<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    let named = named::<T>(schemas);
    let null = ObjectBuilder::new().schema_type(Type::Null).build();
    RefOr::T(Schema::OneOf(
        OneOfBuilder::new().item(null).item(named).build(),
    ))
}

/// A plain value (a count, a flag) as the whole body.
fn inline<T: PartialSchema>(_: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    T::schema()
}

/// The document, built once.
pub static DOCUMENT: LazyLock<OpenApi> = LazyLock::new(document);

fn document() -> OpenApi {
    let mut schemas = Vec::new();
    let error = named::<ApiError>(&mut schemas);
    // The event stream's entries, and the vocabulary's names.
    named::<api::events::Event>(&mut schemas);
    named::<api::events::Kind>(&mut schemas);
    let mut paths = PathsBuilder::new();
    for endpoint in ENDPOINTS {
        let mut operation = OperationBuilder::new()
            .summary(Some(endpoint.summary))
            .description(Some(access_text(endpoint.access)))
            .tag(tag(endpoint.path));
        if endpoint.access != Access::Public {
            operation = operation
                .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
                .security(SecurityRequirement::new("cookie", Vec::<String>::new()));
        }
        if let Some(request) = endpoint.request {
            operation = operation.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(request(&mut schemas)))
                            .build(),
                    )
                    .build(),
            ));
        }
        let ok = match endpoint.response {
            Some(response) => ResponseBuilder::new().description("Success.").content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(response(&mut schemas)))
                    .build(),
            ),
            None => ResponseBuilder::new()
                .description("A stream of events.")
                .content("text/event-stream", ContentBuilder::new().build()),
        };
        let failed = ResponseBuilder::new()
            .description(
                "An error: `error` is a stable code (the book's JSON API chapter gives each one's \
                 status), `message` says what to do.",
            )
            .content(
                "application/json",
                ContentBuilder::new().schema(Some(error.clone())).build(),
            );
        let operation = operation
            .response("200", ok.build())
            .response("default", failed.build());
        let method = match endpoint.method {
            Method::Get => HttpMethod::Get,
            Method::Post => HttpMethod::Post,
        };
        paths = paths.path(endpoint.path, PathItem::new(method, operation.build()));
    }
    let mut components = ComponentsBuilder::new()
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        )
        .security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("gh_access"))),
        );
    for (name, schema) in schemas {
        components = components.schema(name, schema);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Gatehouse")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Sign-in, tokens, sessions, locks and rate limits on Redis. Every endpoint \
                     answers errors as `{\"error\", \"message\"}`; the book's JSON API chapter has the codes.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components.build()))
        .build()
}

fn access_text(access: Access) -> &'static str {
    match access {
        Access::Public => "Open to anyone (rate limited per address).",
        Access::SignedIn => {
            "Needs a signed-in caller: `Authorization: Bearer <access token>` or the `gh_access` cookie."
        }
        Access::Service => "Needs the `service` or `admin` role.",
        Access::Admin => "Needs the `admin` role.",
    }
}

/// An operation's group: the path's first segment after `/api/v1/`.
fn tag(path: &str) -> &str {
    path.trim_start_matches("/api/v1/")
        .split('/')
        .next()
        .map_or("api", |first| first.trim_end_matches(".json"))
}

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> Response {
    let mut response = Json(&*DOCUMENT).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

#[cfg(test)]
mod tests;
