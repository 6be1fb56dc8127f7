//! `/metrics`: who may read it, and that every documented metric is there
//! with bounded labels (no user ids, addresses or tokens).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod support;

use axum::body::Body;
use gatehouse::observe;
use gatehouse::testing::TestRedis;
use gatehouse::user::Role;
use http::{Request, header};
use serde_json::json;
use support::{app, expect_error, post_bearer, post_json, post_json_bearer, stream_request, text};

fn get_bearer(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_exported_to_the_metrics_role_with_bounded_labels() {
    let redis = TestRedis::start().await;
    let app = app(
        &redis,
        &[
            "--redis-timeout",
            "300ms",
            "--rate-limit",
            "name=api-user,key=user,limit=3,window=1m,routes=/api/*",
        ],
    )
    .await;
    app.user("prom", "scraper password", &[Role::Metrics]).await;
    app.user("root", "admin password", &[Role::Admin]).await;
    app.user("uma", "correct horse", &[Role::User]).await;
    let scraper = app.token("prom", "scraper password").await;
    let admin = app.token("root", "admin password").await;
    let user = app.token("uma", "correct horse").await;

    // Some of everything: requests, a rate limit, a wrong password, a
    // lock, an open console stream.
    for _ in 0..5 {
        app.send(post_bearer("/api/v1/auth/me", &user)).await;
    }
    let wrong = json!({"username": "uma", "password": "not it"});
    expect_error(
        app.send(post_json("/api/v1/auth/login", &wrong)).await,
        401,
        "invalid_credentials",
    )
    .await;
    let lock = json!({"name": "metrics-demo", "global": true});
    assert_eq!(
        app.send(post_json_bearer("/api/v1/locks/acquire", &admin, &lock))
            .await
            .status(),
        200
    );
    let stream = app.send(stream_request(&admin, None)).await;
    app.state.auth.events().flush().await;
    // And a Redis that stops answering for a moment: degraded mode
    // answers who the caller is.
    redis.freeze();
    assert_eq!(
        app.send(post_bearer("/api/v1/auth/me", &admin))
            .await
            .status(),
        200
    );
    redis.thaw();

    // Who may read them.
    expect_error(
        app.send(Request::get("/metrics").body(Body::empty()).unwrap())
            .await,
        401,
        "unauthenticated",
    )
    .await;
    expect_error(
        app.send(get_bearer("/metrics", &user)).await,
        403,
        "forbidden",
    )
    .await;
    let response = app.send(get_bearer("/metrics", &scraper)).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let exposition = text(response).await;
    assert_eq!(app.send(get_bearer("/metrics", &admin)).await.status(), 200);

    for name in [
        observe::HTTP_REQUESTS,
        observe::HTTP_DURATION,
        observe::ADMISSION,
        observe::RATE_LIMIT,
        observe::EVENTS,
        observe::LOCK_WAIT,
        observe::REDIS_DURATION,
        observe::CONSOLE_STREAMS,
        observe::BUILD_INFO,
        observe::REDIS_ERRORS,
        observe::FAIL_OPEN,
        observe::EVENTS_DROPPED,
        observe::SESSIONS,
        observe::ACTIVE_USERS,
        observe::EVENT_STREAM_LENGTH,
        observe::DEGRADED_DECISIONS,
        observe::REVOCATION_MIRROR_LAG,
    ] {
        assert!(
            exposition.contains(name),
            "{name} is missing:\n{exposition}"
        );
    }
    for expected in [
        r#"gatehouse_admission_total{outcome="rate_limited"}"#,
        r#"gatehouse_rate_limit_decisions_total{policy="api-user",algorithm="sliding-log",result="limited"}"#,
        r#"gatehouse_events_total{kind="login_failed"}"#,
        r#"gatehouse_events_total{kind="lock_acquired"}"#,
        r#"gatehouse_console_streams 1"#,
        r#"status="429""#,
        r#"gatehouse_degraded_decisions_total{route_class="me",outcome="allowed"} 1"#,
    ] {
        assert!(
            exposition.contains(expected),
            "{expected} is missing:\n{exposition}"
        );
    }
    // No label carries a user id, a username, an address or a token.
    let uma = app.state.auth.users().find("uma").await.unwrap().unwrap();
    for secret in [
        uma.id.as_str(),
        "uma",
        "127.0.0.1",
        "unknown",
        user.as_str(),
    ] {
        assert!(
            !exposition.contains(&format!("\"{secret}\"")),
            "a label holds {secret}"
        );
    }
    drop(stream);

    // The dashboards and alerts in deploy/ use only metrics that exist.
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy");
    for file in [
        "grafana/gatehouse-dashboard.json",
        "prometheus/gatehouse-alerts.yml",
    ] {
        let text = std::fs::read_to_string(format!("{root}/{file}")).unwrap();
        let mut used: Vec<&str> = text
            .match_indices("gatehouse_")
            .map(|(at, _)| {
                let rest = &text[at..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                    .unwrap_or(rest.len());
                let name = &rest[..end];
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .unwrap_or(name)
            })
            // Prose such as `gatehouse_*` names no metric.
            .filter(|name| !name.ends_with('_'))
            .collect();
        used.sort_unstable();
        used.dedup();
        assert!(used.len() >= 8, "{file} uses only {used:?}");
        for name in used {
            let exported = exposition.lines().any(|line| {
                line.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(['{', ' ', '_']))
            });
            assert!(
                exported,
                "{file} uses {name}, which /metrics does not export"
            );
        }
    }
}
