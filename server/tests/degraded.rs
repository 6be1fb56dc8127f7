//! Degraded mode over HTTP, with Redis frozen (`SIGSTOP`) on one server,
//! a Cluster and a Sentinel primary: forward-auth, `me` and a signed-in
//! user's pages are answered from the token (`X-Gatehouse-Degraded: 1`);
//! every token revoked before the freeze (signed out, roles changed,
//! disabled, password reset) is refused as before; everything else is a
//! fast 503; `/ready` says `degraded`; `--degraded-max` bounds it and `0`
//! turns it off.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod support;

use std::time::{Duration, Instant};

use axum::body::Body;
use gatehouse::testing::{TestCluster, TestRedis, TestSentinel, wait_for, wait_until};
use gatehouse::user::Role;
use http::{Request, header};
use support::{TestApp, app, build, expect_error, get, json, post_bearer, post_json};

/// The Redis timeout the tests configure; an answer before it ran out
/// came from degraded mode or the breaker, not from the timeout (how fast
/// is the freeze benchmark's measure).
const TIMEOUT: Duration = Duration::from_secs(2);
/// How long a test waits for a state before it gives up.
const PATIENCE: Duration = Duration::from_secs(10);

fn verify(token: &str) -> Request<Body> {
    Request::get("/api/v1/auth/verify")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

fn degraded(response: &http::Response<Body>) -> bool {
    response
        .headers()
        .get("x-gatehouse-degraded")
        .is_some_and(|v| v == "1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_frozen_redis_degrades_without_a_false_allow() {
    let redis = TestRedis::start().await;
    let app = app(&redis, &["--redis-timeout", "2s"]).await;
    degrades(&app, || redis.freeze(), || redis.thaw()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_cluster_degrades_without_a_false_allow() {
    let cluster = TestCluster::start().await;
    let nodes = cluster.urls().join(",");
    let app = build(
        &["--redis-cluster-nodes", &nodes],
        &["--redis-timeout", "2s"],
    )
    .await;
    degrades(&app, || cluster.freeze(), || cluster.thaw()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_sentinel_primary_degrades_without_a_false_allow() {
    let setup = TestSentinel::start().await;
    let flags = setup.flags();
    let target: Vec<&str> = flags.iter().map(String::as_str).collect();
    let app = build(&target, &["--redis-timeout", "2s"]).await;
    degrades(&app, || setup.freeze_primary(), || setup.thaw_primary()).await;
}

/// Revokes four users' tokens in four ways, freezes Redis at once (no
/// waiting for the mirror), then checks every answer of degraded mode,
/// and that normal service (no header) resumes after the thaw.
async fn degrades(app: &TestApp, freeze: impl Fn(), thaw: impl Fn()) {
    let auth = &app.state.auth;
    for name in ["ann", "bob", "cyd", "dee", "eve", "hal"] {
        app.user(name, "correct horse", &[Role::User]).await;
    }
    app.user("root", "admin password", &[Role::Admin]).await;
    let valid = app.token("ann", "correct horse").await;
    let admin = app.token("root", "admin password").await;
    let signed_out = app.token("bob", "correct horse").await;
    let roles_changed = app.token("cyd", "correct horse").await;
    let disabled = app.token("dee", "correct horse").await;
    let reset = app.token("eve", "correct horse").await;
    let id = |token: &str| auth.tokens().verify_access(token).unwrap().sub;
    assert_eq!(
        app.send(post_bearer("/api/v1/auth/logout", &signed_out))
            .await
            .status(),
        200
    );
    auth.users()
        .set_roles(&id(&roles_changed), &[Role::Admin])
        .await
        .unwrap();
    auth.set_disabled(&id(&disabled), true).await.unwrap();
    auth.reset_password(&id(&reset), "a new long password", true)
        .await
        .unwrap();
    // Signed in with a password to be changed: the token says so, and
    // degraded mode holds the session to changing it.
    let hal = auth.users().find("hal").await.unwrap().unwrap();
    auth.users()
        .set_must_change_password(&hal.id, true)
        .await
        .unwrap();
    let must_change = app.token("hal", "correct horse").await;

    freeze();
    let frozen = Instant::now();
    let first = app.send(post_bearer("/api/v1/auth/me", &valid)).await;
    assert!(frozen.elapsed() < TIMEOUT, "took {:?}", frozen.elapsed());
    assert_eq!(first.status(), 200, "me is answered from the token");
    assert!(degraded(&first));
    assert_eq!(json(first).await["username"], "ann");

    let started = Instant::now();
    let verified = app.send(verify(&valid)).await;
    assert!(started.elapsed() < TIMEOUT);
    assert_eq!(verified.status(), 200);
    assert!(degraded(&verified), "forward-auth passes the header on");
    assert_eq!(verified.headers()["x-gatehouse-username"], "ann");
    assert_eq!(verified.headers()["x-gatehouse-roles"], "user");

    // A signed-in user's page (the browser's cookie).
    let page = app
        .send(
            Request::get("/account")
                .header(header::COOKIE, format!("gh_access={valid}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(page.status(), 200);
    assert!(degraded(&page));

    for revoked in [&signed_out, &roles_changed, &disabled, &reset] {
        let refused = app.send(verify(revoked)).await;
        assert!(degraded(&refused));
        expect_error(refused, 401, "token_revoked").await;
        expect_error(
            app.send(post_bearer("/api/v1/auth/me", revoked)).await,
            401,
            "token_revoked",
        )
        .await;
    }

    // Everything else: a fast 503, the admin's token included (its roles
    // may be stale).
    for request in [
        post_bearer("/api/v1/admin/overview", &admin),
        post_json(
            "/api/v1/auth/login",
            &serde_json::json!({"username": "ann", "password": "correct horse"}),
        ),
        post_bearer("/api/v1/auth/logout-all", &valid),
    ] {
        let path = request.uri().path().to_owned();
        let started = Instant::now();
        let response = app.send(request).await;
        assert!(started.elapsed() < TIMEOUT, "{path}");
        assert!(!degraded(&response), "{path}");
        assert_eq!(response.headers()["retry-after"], "1", "{path}");
        expect_error(response, 503, "unavailable").await;
    }

    let held = app.send(verify(&must_change)).await;
    assert!(degraded(&held));
    expect_error(held, 403, "password_change_required").await;

    let ready = app.send(get("/ready")).await;
    assert_eq!(ready.status(), 200);
    assert_eq!(json(ready).await["status"], "degraded");

    thaw();
    // How soon is the freeze benchmark's measure (thaw → full service).
    wait_until("normal service after the thaw", PATIENCE, || async {
        let response = app.send(post_bearer("/api/v1/auth/me", &valid)).await;
        response.status() == 200 && !degraded(&response)
    })
    .await;
    for revoked in [&signed_out, &disabled, &reset] {
        let status = app.send(verify(revoked)).await.status();
        assert_eq!(status, 401, "still revoked with Redis back");
    }
    // The period's start and end, held while Redis was away, are written.
    let filter = gatehouse::events::Filter {
        kind: Some("degraded".into()),
        ..Default::default()
    };
    wait_until(
        "degraded_started and degraded_ended are written",
        PATIENCE,
        || async {
            auth.events().flush().await;
            let seen = auth.events().recent(&filter, 10, 1_000).await.unwrap();
            let kinds: Vec<&str> = seen.iter().map(|e| e.kind.name()).collect();
            kinds.contains(&"degraded_started") && kinds.contains(&"degraded_ended")
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn degraded_mode_ends_after_degraded_max_and_zero_turns_it_off() {
    let redis = TestRedis::start().await;
    let bounded = app(
        &redis,
        &["--redis-timeout", "2s", "--degraded-max", "1500ms"],
    )
    .await;
    let off = app(&redis, &["--redis-timeout", "2s", "--degraded-max", "0"]).await;
    bounded.user("fay", "correct horse", &[Role::User]).await;
    let token = bounded.token("fay", "correct horse").await;
    redis.freeze();
    let frozen = Instant::now();

    let answered = bounded.send(verify(&token)).await;
    assert_eq!(answered.status(), 200);
    assert!(degraded(&answered));
    let refused = off.send(verify(&token)).await;
    assert!(!degraded(&refused));
    expect_error(refused, 503, "unavailable").await;
    assert_eq!(off.send(get("/ready")).await.status(), 503);

    // Time must pass: --degraded-max (1.5 s) since the last contact.
    tokio::time::sleep(Duration::from_millis(1_600).saturating_sub(frozen.elapsed())).await;
    let late = bounded.send(verify(&token)).await;
    assert!(!degraded(&late), "past --degraded-max");
    expect_error(late, 503, "unavailable").await;
    assert_eq!(bounded.send(get("/ready")).await.status(), 503);
    redis.thaw();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_open_limits_are_counted_on_the_node_while_redis_is_away() {
    let redis = TestRedis::start().await;
    let policy = "name=verify,key=user,algorithm=gcra,limit=3,window=1m,burst=3,\
                  routes=/api/v1/auth/verify,fail=open";
    let app = app(&redis, &["--redis-timeout", "2s", "--rate-limit", policy]).await;
    app.user("gil", "correct horse", &[Role::User]).await;
    let token = app.token("gil", "correct horse").await;
    redis.freeze();
    // One instance alive: its share is the whole limit.
    for _ in 0..3 {
        let response = app.send(verify(&token)).await;
        assert_eq!(response.status(), 200);
        assert!(degraded(&response));
    }
    let limited = app.send(verify(&token)).await;
    assert!(degraded(&limited));
    assert!(limited.headers().contains_key("retry-after"));
    expect_error(limited, 429, "rate_limited").await;
    redis.thaw();
}

/// Signs `name` in and signs a second token of theirs out: (valid, revoked).
async fn valid_and_revoked(app: &TestApp, name: &str) -> (String, String) {
    app.user(name, "correct horse", &[Role::User]).await;
    let valid = app.token(name, "correct horse").await;
    let revoked = app.token(name, "correct horse").await;
    let out = app.send(post_bearer("/api/v1/auth/logout", &revoked)).await;
    assert_eq!(out.status(), 200);
    (valid, revoked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_of_the_open_connections_never_lets_a_revoked_token_through() {
    let redis = TestRedis::start().await;
    let port = redis.url().rsplit(':').next().unwrap().parse().unwrap();
    let proxy = gatehouse::testing::Blackhole::start(port).await;
    let url = format!("redis://127.0.0.1:{}", proxy.port);
    let app = build(&["--redis-url", &url], &["--redis-timeout", "2s"]).await;
    let (valid, revoked) = valid_and_revoked(&app, "ian").await;

    // Every open connection goes silent (no reset); new ones work, so
    // the store heals while degraded mode bridges the gap.
    proxy.cut();
    let cut = Instant::now();
    let mut degraded_answers = 0;
    while cut.elapsed() < Duration::from_secs(3) {
        let answered = app.send(verify(&valid)).await;
        assert_eq!(
            answered.status(),
            200,
            "a signed-in user keeps being answered"
        );
        degraded_answers += usize::from(degraded(&answered));
        let refused = app.send(verify(&revoked)).await;
        assert_eq!(
            refused.status(),
            401,
            "a revoked token is never let through"
        );
        // The scenario: three seconds of partition, sampled every 20 ms.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        degraded_answers > 0,
        "the partition was bridged by degraded mode"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_redis_degrades_and_a_restarted_one_takes_over_again() {
    let mut redis = TestRedis::start().await;
    let app = app(&redis, &["--redis-timeout", "2s"]).await;
    let (valid, revoked) = valid_and_revoked(&app, "jon").await;

    redis.stop().await;
    let answered = app.send(verify(&valid)).await;
    assert_eq!(answered.status(), 200);
    assert!(degraded(&answered));
    let refused = app.send(verify(&revoked)).await;
    assert!(degraded(&refused));
    expect_error(refused, 401, "token_revoked").await;

    redis.restart().await;
    let response = wait_for("Redis decides again", PATIENCE, || async {
        let response = app.send(verify(&valid)).await;
        (!degraded(&response)).then_some(response)
    })
    .await;
    // This test Redis keeps no data across a restart: the session is gone
    // with it.
    expect_error(response, 401, "token_revoked").await;
    assert_eq!(app.send(verify(&revoked)).await.status(), 401);
}
