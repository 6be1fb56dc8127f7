//! Shared helpers for the server's HTTP tests: the real router, in memory,
//! over a throwaway Redis.
#![allow(dead_code)] // each test binary uses a different subset

use std::time::Duration;

use axum::body::Body;
use clap::Parser;
use gatehouse::testing::{TestBackend, TestRedis};
use gatehouse::upkeep::Intervals;
use gatehouse::user::Role;
use gatehouse_app::state::AppState;
use gatehouse_server::config::Config;
use gatehouse_server::lifecycle::{Gatehouse, Options};
use gatehouse_server::router;
use http::{HeaderMap, Request, Response, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// An instance started exactly like `main` starts one (by the same
/// [`Gatehouse`]), with its router, state and readiness at hand.
pub struct TestApp {
    pub router: router::Gateway,
    pub state: AppState,
    /// What a shutdown and creating the configured admin set.
    pub readiness: gatehouse_server::health::Readiness,
    pub instance: Gatehouse,
}

/// A router against `redis`, with extra command-line arguments.
pub async fn app(redis: &TestRedis, extra_args: &[&str]) -> TestApp {
    let url = redis.url();
    build(&["--redis-url", &url], extra_args).await
}

/// A router against a Redis of either topology (a Cluster is configured
/// with `--redis-cluster-nodes`, as an operator would).
pub async fn app_on(backend: &TestBackend, extra_args: &[&str]) -> TestApp {
    let target = match backend {
        TestBackend::Single(redis) => vec!["--redis-url".to_owned(), redis.url()],
        TestBackend::Cluster(cluster) => {
            vec!["--redis-cluster-nodes".to_owned(), cluster.urls().join(",")]
        }
    };
    let target: Vec<&str> = target.iter().map(String::as_str).collect();
    build(&target, extra_args).await
}

/// The process's metrics recorder (one per test binary, installed before
/// the first core is built, as `main` does).
pub fn metrics() -> metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| gatehouse_server::prometheus::install().unwrap())
        .clone()
}

/// Starts an instance exactly as `main` does (so `--redis-timeout` and
/// the other Redis options apply). `target` says where Redis is
/// (`--redis-url …`, `--redis-sentinels …`).
pub async fn build(target: &[&str], extra_args: &[&str]) -> TestApp {
    build_with(target, extra_args, Intervals::default()).await
}

/// [`build`], with the instance's chores at `upkeep` intervals.
pub async fn build_with(target: &[&str], extra_args: &[&str], upkeep: Intervals) -> TestApp {
    let mut args = vec!["gatehouse", "--initial-admin", "false"];
    args.extend_from_slice(target);
    args.extend_from_slice(extra_args);
    let config = Config::try_parse_from(args).unwrap();
    let options = Options {
        metrics: metrics(),
        upkeep,
    };
    let instance = Gatehouse::start(&config, options).await.unwrap();
    TestApp {
        router: instance.router().clone(),
        state: instance.state().clone(),
        readiness: instance.readiness().clone(),
        instance,
    }
}

impl TestApp {
    /// Sends one request through the router.
    pub async fn send(&self, request: Request<Body>) -> Response<Body> {
        self.router.clone().oneshot(request).await.unwrap()
    }

    /// Creates a user directly in the core library.
    pub async fn user(&self, username: &str, password: &str, roles: &[Role]) {
        self.state
            .auth
            .users()
            .create(username, password, roles)
            .await
            .unwrap();
    }

    /// Signs in through the JSON API; returns the response body.
    pub async fn login(&self, username: &str, password: &str) -> Value {
        let response = self
            .send(post_json(
                "/api/v1/auth/login",
                &serde_json::json!({"username": username, "password": password}),
            ))
            .await;
        assert_eq!(response.status(), 200, "login of {username} failed");
        json(response).await
    }

    /// Signs in and returns the access token.
    pub async fn token(&self, username: &str, password: &str) -> String {
        self.login(username, password).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// `request` as forwarded by the local proxy (start the app with
/// `--trusted-proxies 127.0.0.0/8`) for `client`.
pub fn from_address(mut request: Request<Body>, client: &str) -> Request<Body> {
    request
        .headers_mut()
        .insert("x-forwarded-for", client.parse().unwrap());
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            40_000,
        ))));
    request
}

pub fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

pub fn post_json(path: &str, body: &Value) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// A bodiless POST with a bearer token.
pub fn post_bearer(path: &str, token: &str) -> Request<Body> {
    Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

/// A JSON POST with a bearer token.
pub fn post_json_bearer(path: &str, token: &str, body: &Value) -> Request<Body> {
    let mut request = post_json(path, body);
    request.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    request
}

/// The `Set-Cookie` values of a response.
pub fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The whole body as text.
pub async fn text(response: Response<Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The whole body as JSON.
pub async fn json(response: Response<Body>) -> Value {
    let text = text(response).await;
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
}

/// Asserts an error response's status and code; returns the message.
pub async fn expect_error(response: Response<Body>, status: u16, code: &str) -> String {
    assert_eq!(response.status(), status, "expected {status} {code}");
    let body = json(response).await;
    assert_eq!(body["error"], code, "{body}");
    body["message"].as_str().unwrap().to_owned()
}

/// A request for the console's live event stream.
pub fn stream_request(token: &str, last_event_id: Option<&str>) -> Request<Body> {
    let mut builder = Request::get("/api/v1/admin/events/stream")
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(id) = last_event_id {
        builder = builder.header("last-event-id", id);
    }
    builder.body(Body::empty()).unwrap()
}

/// Reads the SSE body until `needle` appears (or 10 s pass).
pub async fn read_until(body: &mut Body, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains(needle) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let frame = tokio::time::timeout(left, body.frame())
            .await
            .unwrap_or_else(|_| panic!("no `{needle}` in the stream; got:\n{seen}"))
            .expect("stream open")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    seen
}
