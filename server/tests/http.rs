//! The server's plain routes, error shapes and middleware, through the real
//! router (no socket) over a real, throwaway Redis.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod support;

use std::time::Duration;

use axum::body::Body;
use gatehouse::testing::TestRedis;
use http::{Request, StatusCode, header};
use support::{TestApp, app, get, json, text};

#[tokio::test]
async fn health_answers_without_redis() {
    let mut redis = TestRedis::start().await;
    let app = app(&redis, &[]).await;
    redis.stop().await;
    let response = app.send(get("/health")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await["status"], "ok");
}

/// `/ready` answers 503 with a message that says `why`.
async fn assert_not_ready(app: &TestApp, why: &str) {
    let response = app.send(get("/ready")).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let message = json(response).await["message"].as_str().unwrap().to_owned();
    assert!(message.contains(why), "{message}");
}

#[tokio::test]
async fn ready_says_503_while_the_configured_admin_is_being_created() {
    let redis = TestRedis::start().await;
    let app = app(&redis, &[]).await;
    app.readiness.set_provisioning(true);
    assert_not_ready(&app, "creating its configured admin").await;
    app.readiness.set_provisioning(false);
    assert_eq!(app.send(get("/ready")).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn ready_says_503_from_the_moment_a_shutdown_begins() {
    let redis = TestRedis::start().await;
    let app = app(&redis, &[]).await;
    assert_eq!(app.send(get("/ready")).await.status(), StatusCode::OK);
    app.readiness.start_draining();
    assert_not_ready(&app, "shutting down").await;
    assert_eq!(
        app.send(get("/health")).await.status(),
        StatusCode::OK,
        "still alive"
    );
}

#[tokio::test]
async fn ready_follows_redis_down_and_back_up() {
    let mut redis = TestRedis::start().await;
    let app = app(&redis, &[]).await;

    let response = app.send(get("/ready")).await;
    assert_eq!(response.status(), StatusCode::OK);

    redis.stop().await;
    let response = app.send(get("/ready")).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = json(response).await;
    assert_eq!(body["error"], "unavailable");
    assert!(
        body["message"].as_str().unwrap().contains("Redis"),
        "{body}"
    );

    // The connection comes back by itself: no restart of Gatehouse.
    redis.restart().await;
    gatehouse::testing::wait_until("/ready says 200 again", Duration::from_secs(10), || async {
        app.send(get("/ready")).await.status() == StatusCode::OK
    })
    .await;
}

#[tokio::test]
async fn status_api_reports_redis() {
    let redis = TestRedis::start().await;
    let app = app(&redis, &["--instance-id", "test-instance"]).await;
    let response = app.send(get("/api/v1/status")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json(response).await;
    assert_eq!(body["instance_id"], "test-instance");
    assert_eq!(body["redis"]["reachable"], true);
    assert!(
        body["redis"]["version"]
            .as_str()
            .unwrap()
            .starts_with(char::is_numeric)
    );
}

#[tokio::test]
async fn home_page_is_rendered_on_the_server_with_a_nonce_csp() {
    let redis = TestRedis::start().await;
    let app = app(&redis, &["--instance-id", "ssr-instance"]).await;
    let response = app.send(get("/")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        response.headers()[header::X_CONTENT_TYPE_OPTIONS],
        "nosniff"
    );
    assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "DENY");
    let html = text(response).await;
    assert!(html.contains("Instance status"), "{html}");
    assert!(
        html.contains("ssr-instance"),
        "status was not rendered server-side"
    );
    assert!(html.contains("reachable"));
    // The hydration script carries the nonce the CSP allows.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("CSP has a nonce");
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "script without the CSP nonce"
    );
    assert!(!csp.contains("unsafe-inline"));
}

/// Tests (and any embedding program) build several routers in one process;
/// building one must not stall the pages another is serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_while_other_routers_are_built() {
    let redis = std::sync::Arc::new(TestRedis::start().await);
    let serving = app(&redis, &[]).await;
    let building = {
        let redis = redis.clone();
        tokio::spawn(async move {
            for _ in 0..15 {
                drop(app(&redis, &[]).await);
            }
        })
    };
    while !building.is_finished() {
        let page = tokio::time::timeout(Duration::from_secs(5), async {
            let response = serving.send(get("/")).await;
            assert_eq!(response.status(), StatusCode::OK);
            text(response).await
        })
        .await
        .expect("the page stalled while another router was built");
        assert!(page.contains("Instance status"));
    }
    building.await.unwrap();
}

#[tokio::test]
async fn unknown_page_is_a_404_page_and_unknown_api_is_json() {
    let redis = TestRedis::start().await;
    let app = app(&redis, &[]).await;
    let response = app.send(get("/no-such-page")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(text(response).await.contains("This page does not exist"));

    let response = app.send(get("/api/v1/no-such-endpoint")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(json(response).await["error"], "not_found");
}

#[tokio::test]
async fn oversized_bodies_get_a_json_413() {
    let redis = TestRedis::start().await;
    let app = app(&redis, &["--body-limit", "1024"]).await;
    let request = Request::post("/api/v1/status")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, "4096")
        .body(Body::from(vec![b'x'; 4096]))
        .unwrap();
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json(response).await["error"], "payload_too_large");
}

#[tokio::test]
async fn every_response_has_a_request_id() {
    let redis = TestRedis::start().await;
    let app = app(&redis, &[]).await;
    let response = app.send(get("/health")).await;
    assert!(response.headers().contains_key("x-request-id"));
}
