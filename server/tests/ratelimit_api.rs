//! Rate limiting over HTTP: headers, 429s, lockouts, replay protection,
//! fail modes, the check service and the admin view.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod support;

use axum::body::Body;
use gatehouse::testing::TestRedis;
use gatehouse::user::Role;
use http::{Request, header};
use serde_json::json;
use support::{app, app_on, expect_error, get, json, post_bearer, post_json, post_json_bearer};

gatehouse::both_topologies! {
    async fn limited_responses_carry_ratelimit_headers(backend) {
        let app = app_on(&backend, &[]).await;
        let response = app.send(get("/api/v1/status")).await;
        assert_eq!(response.status(), 200);
        let policy = response.headers()["ratelimit-policy"].to_str().unwrap();
        let current = response.headers()["ratelimit"].to_str().unwrap();
        assert_eq!(policy, "\"ip\";q=3000;w=60");
        assert!(current.starts_with("\"ip\";r=2999;t="), "{current}");
    }
}

gatehouse::both_topologies! {
    async fn hammering_the_api_gets_429_with_retry_after_and_the_policy(backend) {
        let app = app_on(&backend,
            &[
                "--rate-limit",
                "name=api-user,key=user,algorithm=sliding-log,limit=3,window=1m,routes=/api/*",
            ],
        )
        .await;
        app.user("hammer", "long enough, really", &[Role::User]).await;
        let token = app.token("hammer", "long enough, really").await;
        for _ in 0..3 {
            assert_eq!(
                app.send(post_bearer("/api/v1/auth/me", &token))
                    .await
                    .status(),
                200
            );
        }
        let response = app.send(post_bearer("/api/v1/auth/me", &token)).await;
        let retry_after: u64 = response.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after));
        assert!(
            response.headers()["ratelimit"]
                .to_str()
                .unwrap()
                .contains("\"api-user\";r=0")
        );
        assert_eq!(response.status(), 429);
        let body = json(response).await;
        assert_eq!(body["error"], "rate_limited");
        assert_eq!(body["policy"], "api-user");
        assert!(body["retry_after_ms"].as_u64().unwrap() > 0);
    }
}

gatehouse::both_topologies! {
    async fn five_bad_passwords_lock_the_account_for_that_address(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("victim", "the right password", &[Role::User])
            .await;
        let attempt = |password: &str| {
            post_json(
                "/api/v1/auth/login",
                &json!({"username": "victim", "password": password}),
            )
        };
        for _ in 0..5 {
            expect_error(app.send(attempt("guess")).await, 401, "invalid_credentials").await;
        }
        let response = app.send(attempt("the right password")).await;
        assert!(response.headers().contains_key(header::RETRY_AFTER));
        let message = expect_error(response, 429, "login_locked").await;
        assert!(message.contains("Try again in"), "{message}");
    }
}

gatehouse::both_topologies! {
    async fn sign_in_attempts_per_address_are_limited(backend) {
        let app = app_on(&backend,
            &[
                "--rate-limit",
                "name=login-ip,key=ip,limit=3,window=1m,routes=/api/v1/auth/login,fail=closed",
            ],
        )
        .await;
        for i in 0..3 {
            let body = json!({"username": format!("nobody{i}"), "password": "x"});
            expect_error(
                app.send(post_json("/api/v1/auth/login", &body)).await,
                401,
                "invalid_credentials",
            )
            .await;
        }
        let body = json!({"username": "nobody", "password": "x"});
        let response = app.send(post_json("/api/v1/auth/login", &body)).await;
        assert_eq!(response.status(), 429);
        assert_eq!(json(response).await["policy"], "login-ip");
    }
}

/// A form post to the login page's target from the proxy at `peer`,
/// carrying `forwarding` headers.
fn form_sign_in_via(peer: &str, forwarding: &[(&str, &str)], username: &str) -> Request<Body> {
    let mut request = Request::post("/api/v1/ui/sign-in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (name, value) in forwarding {
        request = request.header(*name, *value);
    }
    request
        .extension(axum::extract::ConnectInfo(std::net::SocketAddr::new(
            peer.parse().unwrap(),
            40000,
        )))
        .body(Body::from(format!(
            "username={username}&password=wrong&next=%2Faccount"
        )))
        .unwrap()
}

/// A form post to the login page's target, from `ip` (via a proxy that
/// sets `X-Forwarded-For`).
fn form_sign_in(ip: &str, username: &str) -> Request<Body> {
    form_sign_in_via("192.0.2.1", &[("x-forwarded-for", ip)], username)
}

const LOGIN_IP_3: &str = "name=login-ip,key=ip,limit=3,window=1m,routes=/api/v1/auth/login|/api/v1/ui/sign-in,fail=closed";

gatehouse::both_topologies! {
    /// Behind trusted proxies, the client is the rightmost untrusted
    /// forwarding entry: whatever a client puts on the left of
    /// `X-Forwarded-For` (or `Forwarded`) does not give it a new budget, and
    /// an IPv6 client has one budget for its /64.
    async fn spoofed_forwarding_entries_do_not_escape_the_limits(backend) {
        let app = app_on(&backend, &["--trusted-proxies", "10.0.0.0/8,2001:db8:ffff::/48", "--rate-limit", LOGIN_IP_3]).await;
        for i in 0..3 {
            let spoofed = format!("1.2.3.{i}, 198.51.100.7, 10.0.0.9");
            let response = app.send(form_sign_in_via("10.0.0.2", &[("x-forwarded-for", &spoofed)], "nobody")).await;
            assert_ne!(response.status(), 429, "attempt {i} is within the limit");
        }
        let spoofed = "9.9.9.9, 198.51.100.7";
        let limited = app.send(form_sign_in_via("10.0.0.2", &[("x-forwarded-for", spoofed)], "nobody")).await;
        assert_eq!(limited.status(), 429, "a new leftmost entry is not a new client");
        // The same client through `Forwarded` (RFC 7239) is the same client.
        let forwarded = r#"for=9.9.9.8, for="198.51.100.7:1234";proto=https"#;
        let limited = app.send(form_sign_in_via("10.0.0.2", &[("forwarded", forwarded)], "nobody")).await;
        assert_eq!(limited.status(), 429);
        // An untrusted peer's headers are ignored: it is the client.
        let direct = app.send(form_sign_in_via("203.0.113.50", &[("x-forwarded-for", "198.51.100.7")], "nobody")).await;
        assert_ne!(direct.status(), 429);

        // IPv6: three addresses of one /64 spend one budget.
        for host in ["a", "b", "c"] {
            let client = format!("2001:db8:1:2::{host}");
            let response = app.send(form_sign_in_via("2001:db8:ffff::1", &[("x-forwarded-for", &client)], "nobody")).await;
            assert_ne!(response.status(), 429);
        }
        let same_network = app.send(form_sign_in_via("2001:db8:ffff::1", &[("x-forwarded-for", "2001:db8:1:2::d")], "nobody")).await;
        assert_eq!(same_network.status(), 429);
        let next_network = app.send(form_sign_in_via("2001:db8:ffff::1", &[("x-forwarded-for", "2001:db8:1:3::a")], "nobody")).await;
        assert_ne!(next_network.status(), 429);
    }
}

gatehouse::both_topologies! {
    async fn the_login_form_is_limited_per_address_too(backend) {
        let app = app_on(
            &backend,
            &["--trust-forwarded-for", "true", "--rate-limit", LOGIN_IP_3],
        )
        .await;
        for i in 0..3 {
            let response = app.send(form_sign_in("198.51.100.7", &format!("nobody{i}"))).await;
            assert_ne!(response.status(), 429, "attempt {i} is within the limit");
        }
        let limited = app.send(form_sign_in("198.51.100.7", "nobody")).await;
        assert_eq!(limited.status(), 429);
        assert_eq!(json(limited).await["policy"], "login-ip");
        // Another address is not held up by this one.
        let elsewhere = app.send(form_sign_in("203.0.113.9", "nobody")).await;
        assert_ne!(elsewhere.status(), 429);
    }
}

fn replay_request(token: &str, nonce: Option<&str>, timestamp: Option<u64>) -> Request<Body> {
    let mut builder = Request::post("/api/v1/locks/acquire")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(nonce) = nonce {
        builder = builder.header("x-request-nonce", nonce);
    }
    if let Some(timestamp) = timestamp {
        builder = builder.header("x-request-timestamp", timestamp.to_string());
    }
    builder.body(Body::from(r#"{"name":"replayed"}"#)).unwrap()
}

gatehouse::both_topologies! {
    async fn replayed_requests_are_refused_where_a_policy_requires_nonces(backend) {
        let app = app_on(&backend,
            &[
                "--rate-limit",
                "name=locks,key=user,limit=100,window=1m,routes=/api/v1/locks/*,replay=true",
            ],
        )
        .await;
        app.user("svc", "service password", &[Role::Service]).await;
        let token = app.token("svc", "service password").await;
        let now = gatehouse::duration::epoch_ms() / 1000;
        let nonce = "0b3a9a64-2a3c-4d51-9d61-3a2f5b9f7c10";

        expect_error(
            app.send(replay_request(&token, None, None)).await,
            400,
            "invalid_request",
        )
        .await;
        assert_eq!(
            app.send(replay_request(&token, Some(nonce), Some(now)))
                .await
                .status(),
            200
        );
        expect_error(
            app.send(replay_request(&token, Some(nonce), Some(now)))
                .await,
            409,
            "replayed_request",
        )
        .await;
        let fresh = "7d0c3f7e-5b7a-4e8e-9a2b-1c4d5e6f7a8b";
        expect_error(
            app.send(replay_request(&token, Some(fresh), Some(now - 600)))
                .await,
            409,
            "replayed_request",
        )
        .await;
    }
}

#[tokio::test]
async fn with_redis_down_fail_open_policies_allow_and_fail_closed_ones_refuse() {
    let mut redis = TestRedis::start().await;
    let app = app(&redis, &[]).await;
    redis.stop().await;
    // Only the fail-open per-IP policy guards /api/v1/status.
    let response = app.send(get("/api/v1/status")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json(response).await["redis"]["reachable"], false);
    // Sign-in is guarded by a fail-closed policy.
    let body = json!({"username": "anyone", "password": "x"});
    expect_error(
        app.send(post_json("/api/v1/auth/login", &body)).await,
        503,
        "unavailable",
    )
    .await;
}

gatehouse::both_topologies! {
    async fn services_ask_before_expensive_work(backend) {
        let app = app_on(&backend,
            &["--rate-limit", "name=exports,key=key,limit=3,window=1m"],
        )
        .await;
        app.user("svc", "service password", &[Role::Service]).await;
        app.user("plain", "user password", &[Role::User]).await;
        let svc = app.token("svc", "service password").await;
        let plain = app.token("plain", "user password").await;

        let ask = |cost: u64| json!({"policy": "exports", "key": "customer-9", "cost": cost});
        let answer = json(
            app.send(post_json_bearer("/api/v1/ratelimit/check", &svc, &ask(2)))
                .await,
        )
        .await;
        assert_eq!(
            answer,
            json!({"allowed": true, "limit": 3, "remaining": 1, "reset_ms": 60000, "retry_after_ms": 0})
        );
        let answer = json(
            app.send(post_json_bearer("/api/v1/ratelimit/check", &svc, &ask(2)))
                .await,
        )
        .await;
        assert_eq!(answer["allowed"], false);
        assert!(answer["retry_after_ms"].as_u64().unwrap() > 0);
        expect_error(
            app.send(post_json_bearer(
                "/api/v1/ratelimit/check",
                &svc,
                &json!({"policy": "nope", "key": "k"}),
            ))
            .await,
            422,
            "validation_failed",
        )
        .await;
        expect_error(
            app.send(post_json_bearer("/api/v1/ratelimit/check", &plain, &ask(1)))
                .await,
            403,
            "forbidden",
        )
        .await;
    }
}

gatehouse::both_topologies! {
    async fn admins_see_and_reset_a_users_request_window(backend) {
        let app = app_on(&backend,
            &[
                "--rate-limit",
                "name=api-user,key=user,algorithm=sliding-log,limit=5,window=1m,routes=/api/*",
                // A slow GCRA rate, so its window (six minutes a request)
                // cannot drain away before the reset below, however busy
                // the machine.
                "--rate-limit",
                "name=api-burst,key=user,algorithm=gcra,limit=10,window=1h,burst=100,routes=/api/*",
            ],
        )
        .await;
        app.user("root", "admin password", &[Role::Admin]).await;
        app.user("busy", "long enough, really", &[Role::User]).await;
        let busy = app.login("busy", "long enough, really").await;
        let busy_token = busy["access_token"].as_str().unwrap();
        for _ in 0..6 {
            app.send(post_bearer("/api/v1/auth/me", busy_token)).await;
        }
        let admin = app.token("root", "admin password").await;
        let active = json(
            app.send(post_json_bearer(
                "/api/v1/admin/ratelimit/active",
                &admin,
                &json!({}),
            ))
            .await,
        )
        .await;
        let user_id = app
            .state
            .auth
            .tokens()
            .verify_access(busy_token)
            .unwrap()
            .sub;
        let subject = json!({"kind": "user", "user_id": user_id});
        assert!(
            active["subjects"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["subject"] == subject),
            "{active}"
        );

        let report = json(
            app.send(post_json_bearer(
                "/api/v1/admin/ratelimit/windows",
                &admin,
                &json!({"subject": subject}),
            ))
            .await,
        )
        .await;
        let window = report["windows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["policy"] == "api-user")
            .unwrap();
        assert_eq!(window["algorithm"], "sliding-log");
        assert_eq!(window["used"], 5);
        assert_eq!(window["requests_ms"].as_array().unwrap().len(), 5);

        expect_error(
            app.send(post_bearer("/api/v1/auth/me", busy_token)).await,
            429,
            "rate_limited",
        )
        .await;
        let reset = json(
            app.send(post_json_bearer(
                "/api/v1/admin/ratelimit/reset",
                &admin,
                &json!({"subject": subject}),
            ))
            .await,
        )
        .await;
        assert_eq!(reset["windows_cleared"], 2, "api-user and api-burst");
        assert_eq!(
            app.send(post_bearer("/api/v1/auth/me", busy_token))
                .await
                .status(),
            200
        );
    }
}

gatehouse::both_topologies! {
    /// A flood of refused requests is one event per subject and window, so
    /// it cannot trim real security events out of the stream; the audit
    /// stream keeps those anyway.
    async fn a_flood_of_refusals_is_one_event_and_audit_events_survive(backend) {
        let app = app_on(&backend, &["--trust-forwarded-for", "true", "--rate-limit", LOGIN_IP_3, "--event-stream-max-len", "50"]).await;
        app.user("root", "admin password", &[Role::Admin]).await;
        let admin = app.token("root", "admin password").await;
        for i in 0..300 {
            app.send(form_sign_in("198.51.100.66", &format!("nobody{i}"))).await;
        }
        let events = app.state.auth.events();
        events.flush().await;
        let limited = gatehouse::events::Filter {
            kind: Some("rate_limited".to_owned()),
            ip: Some("198.51.100.66".to_owned()),
            ..Default::default()
        };
        let recorded = events.recent(&limited, 100, 10_000).await.unwrap();
        assert_eq!(recorded.len(), 1, "297 refusals, one event so far");
        assert!(
            matches!(
                &recorded[0].kind,
                gatehouse::events::EventKind::RateLimited(limited)
                    if limited.policy.as_deref() == Some("login-ip")
            ),
            "{:?}",
            recorded[0].kind
        );

        // 300 requests did not trim the admin's sign-in out of a stream
        // capped at 50 events; and the audit stream has it too.
        let audit = app
            .send(post_json_bearer("/api/v1/admin/events/recent", &admin, &json!({"audit": true, "kind": "login_succeeded"})))
            .await;
        assert_eq!(audit.status(), 200);
        let audit = json(audit).await;
        let kinds: Vec<&str> = audit["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["login_succeeded"]);
        let all = json(app.send(post_json_bearer("/api/v1/admin/events/recent", &admin, &json!({"kind": "login_succeeded"}))).await).await;
        assert_eq!(all["events"].as_array().unwrap().len(), 1, "{all}");
    }
}
