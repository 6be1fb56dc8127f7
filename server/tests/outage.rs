//! A Redis that stops answering (frozen with `SIGSTOP`, connections left
//! open), with degraded mode off (`--degraded-max 0`; see degraded.rs for
//! it on): the circuit breaker opens within about 650 ms (two missed
//! probes), failing the requests already waiting instead of letting them
//! wait the 2 s Redis timeout; once it is open every request is a 503
//! with `Retry-After` within milliseconds; none hangs, no revoked token is
//! accepted, and service resumes by itself within two seconds of Redis
//! answering again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod support;

use std::time::{Duration, Instant};

use gatehouse::testing::{TestCluster, TestRedis, TestSentinel, wait_until};
use gatehouse::user::Role;
use support::{
    TestApp, app, build, expect_error, json, post_bearer, read_until, set_cookies, stream_request,
};

/// The Redis timeout, as by default: long, so that the breaker is what
/// makes the answers fast. A request answered before it ran out was
/// answered by the breaker, not by the timeout; how fast (the worst wait
/// while it opens, the latency once open, the time back to service) is
/// the freeze benchmark's measure, not a bound these tests assert.
const TIMEOUT: Duration = Duration::from_secs(2);
/// How long a test waits for a state before it gives up.
const PATIENCE: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_redis_is_a_fast_503_and_service_resumes_without_a_restart() {
    let redis = TestRedis::start().await;
    let app = app(&redis, &["--redis-timeout", "2s", "--degraded-max", "0"]).await;
    frozen_is_a_fast_503(&app, || redis.freeze(), || redis.thaw()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_cluster_is_a_fast_503_and_service_resumes_without_a_restart() {
    let cluster = TestCluster::start().await;
    let nodes = cluster.urls().join(",");
    let app = build(
        &["--redis-cluster-nodes", &nodes],
        &["--redis-timeout", "2s", "--degraded-max", "0"],
    )
    .await;
    frozen_is_a_fast_503(&app, || cluster.freeze(), || cluster.thaw()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_sentinel_primary_is_a_fast_503_and_service_resumes_without_a_restart() {
    let setup = TestSentinel::start().await;
    let flags = setup.flags();
    let target: Vec<&str> = flags.iter().map(String::as_str).collect();
    let app = build(&target, &["--redis-timeout", "2s", "--degraded-max", "0"]).await;
    frozen_is_a_fast_503(&app, || setup.freeze_primary(), || setup.thaw_primary()).await;
}

/// Freezes Redis under 20 concurrent protected requests (half with a
/// revoked token): every one is a 503 within the timeout and a second;
/// after the thaw, service resumes within 2 s and the revoked token stays
/// revoked.
async fn frozen_is_a_fast_503(app: &TestApp, freeze: impl Fn(), thaw: impl Fn()) {
    app.user("ann", "correct horse", &[Role::User]).await;
    let valid = app.token("ann", "correct horse").await;
    let revoked = app.token("ann", "correct horse").await;
    let out = app.send(post_bearer("/api/v1/auth/logout", &revoked)).await;
    assert_eq!(out.status(), 200);
    assert_eq!(
        app.send(post_bearer("/api/v1/auth/me", &valid))
            .await
            .status(),
        200
    );

    freeze();
    let mut requests = Vec::new();
    for i in 0..20 {
        let token = if i % 2 == 0 { &valid } else { &revoked };
        let (router, request) = (app.router.clone(), post_bearer("/api/v1/auth/me", token));
        requests.push(tokio::spawn(async move {
            let started = Instant::now();
            let response = tower::ServiceExt::oneshot(router, request).await.unwrap();
            (response.status().as_u16(), started.elapsed())
        }));
    }
    for request in requests {
        let (status, took) = tokio::time::timeout(TIMEOUT + Duration::from_secs(3), request)
            .await
            .expect("a request hung on the frozen Redis")
            .unwrap();
        assert_eq!(
            status, 503,
            "with Redis frozen, every protected request is a 503"
        );
        assert!(
            took < TIMEOUT,
            "answered after {took:?}: the breaker should have failed it when it opened"
        );
    }
    // Open now: no request waits on Redis.
    for token in [&valid, &revoked] {
        let started = Instant::now();
        let response = app.send(post_bearer("/api/v1/auth/me", token)).await;
        let took = started.elapsed();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
        assert!(took < TIMEOUT, "an open breaker answered after {took:?}");
    }
    // The scenario: frozen a while longer, the breaker open, before it
    // comes back.
    tokio::time::sleep(Duration::from_millis(700)).await;

    thaw();
    wait_until("service after the thaw", PATIENCE, || async {
        let status = app
            .send(post_bearer("/api/v1/auth/me", &valid))
            .await
            .status();
        assert!(status == 200 || status == 503, "{status}");
        status == 200
    })
    .await;
    let status = app
        .send(post_bearer("/api/v1/auth/me", &revoked))
        .await
        .status();
    assert_eq!(status, 401, "the revoked token stays revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_console_gets_what_happened_while_redis_was_frozen() {
    let redis = TestRedis::start().await;
    let app = app(&redis, &["--redis-timeout", "2s"]).await;
    console_resumes(&app, || redis.freeze(), || redis.thaw()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_console_gets_what_happened_while_the_cluster_was_frozen() {
    let cluster = TestCluster::start().await;
    let nodes = cluster.urls().join(",");
    let app = build(
        &["--redis-cluster-nodes", &nodes],
        &["--redis-timeout", "2s"],
    )
    .await;
    console_resumes(&app, || cluster.freeze(), || cluster.thaw()).await;
}

/// An event emitted while Redis is frozen reaches a console that was
/// open all along, once Redis answers again.
async fn console_resumes(app: &TestApp, freeze: impl Fn(), thaw: impl Fn()) {
    app.user("root", "admin password", &[Role::Admin]).await;
    let admin = app.token("root", "admin password").await;
    let mut body = app.send(stream_request(&admin, None)).await.into_body();
    freeze();
    app.state.auth.events().emit(gatehouse::events::Event::new(
        gatehouse::events::EventKind::LockForceReleased(
            gatehouse::api::events::LockForceReleased {
                lock: "during-the-freeze".to_owned(),
                holder: "outage test".to_owned(),
            },
        ),
    ));
    // Longer than the stream reader's bounded wait (5 s block + 0.5 s), so
    // it fails, reconnects and reads on from the last event it had.
    tokio::time::sleep(Duration::from_millis(6_500)).await;
    thaw();
    let seen = read_until(&mut body, "during-the-freeze").await;
    assert!(seen.contains("event: lock_force_released"), "{seen}");
}

/// A sign-out while Redis is frozen is answered as usual (200, cookies
/// cleared) instead of a 503; the token is refused at once on this
/// instance, and on another one once Redis is back (the sign-out journal
/// in `--data-dir` is replayed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_while_redis_is_frozen_is_answered_and_holds_on_every_instance() {
    let redis = TestRedis::start().await;
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let here = app(&redis, &["--redis-timeout", "2s", "--data-dir", dir]).await;
    let elsewhere = app(&redis, &["--redis-timeout", "2s"]).await;
    here.user("dora", "correct horse", &[Role::User]).await;
    let token = here.token("dora", "correct horse").await;

    redis.freeze();
    // Degraded mode (on by default) answers `me` from the token.
    wait_until("Redis looks frozen", PATIENCE, || async {
        here.send(post_bearer("/api/v1/auth/me", &token))
            .await
            .headers()
            .contains_key("x-gatehouse-degraded")
    })
    .await;
    let asked = Instant::now();
    let out = here.send(post_bearer("/api/v1/auth/logout", &token)).await;
    assert!(asked.elapsed() < TIMEOUT, "took {:?}", asked.elapsed());
    assert_eq!(out.status(), 200);
    assert!(
        set_cookies(out.headers())
            .iter()
            .any(|c| c.starts_with("gh_access=;") && c.contains("Max-Age=0"))
    );
    assert_eq!(json(out).await["revoked_sessions"], 1);
    assert!(data.path().join(gatehouse::signouts::FILE).exists());
    expect_error(
        here.send(post_bearer("/api/v1/auth/me", &token)).await,
        401,
        "token_revoked",
    )
    .await;

    redis.thaw();
    wait_until("the other instance refuses the token", PATIENCE, || async {
        elsewhere
            .send(post_bearer("/api/v1/auth/me", &token))
            .await
            .status()
            == 401
    })
    .await;
}
