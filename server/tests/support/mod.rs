//! Shared helpers for the server's HTTP tests: the real router, in memory,
//! over a throwaway Redis.
#![allow(dead_code)] // each test binary uses a different subset

use axum::Router;
use axum::body::Body;
use clap::Parser;
use gatehouse::testing::TestRedis;
use gatehouse_server::config::Config;
use gatehouse_server::router::{self, Limits};
use http::{Request, Response};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A router wired exactly like `main` does, against `redis`.
pub async fn app(redis: &TestRedis, extra_args: &[&str]) -> Router {
    let mut args = vec!["gatehouse", "--redis-url"];
    let url = redis.url();
    args.push(&url);
    args.extend_from_slice(extra_args);
    let config = Config::try_parse_from(args).unwrap();
    let state = gatehouse_server::app_state(&config, redis.store().await);
    router::app(state, Limits::from(&config))
}

/// Sends one request through the router.
pub async fn send(app: &Router, request: Request<Body>) -> Response<Body> {
    app.clone().oneshot(request).await.unwrap()
}

pub fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

/// The whole body as text.
pub async fn text(response: Response<Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The whole body as JSON.
pub async fn json(response: Response<Body>) -> serde_json::Value {
    let text = text(response).await;
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
}
