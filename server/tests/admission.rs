//! Admission through the real router, on one Redis and on a real Redis
//! Cluster: sign-in works on both, authorization is read fresh on every
//! request, probes cost no Redis, forward-auth never renews.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod support;

use gatehouse::testing::TestRedis;
use gatehouse::user::Role;
use http::Request;
use serde_json::json;
use support::{app, app_on, expect_error, get, json, post_bearer, post_json, post_json_bearer};

fn get_bearer(path: &str, token: &str) -> Request<axum::body::Body> {
    Request::get(path)
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap()
}

gatehouse::both_topologies! {
    async fn admin_routes_check_the_role_before_they_read_the_body(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("root", "correct horse", &[Role::Admin, Role::User]).await;
        app.user("dan", "battery staple", &[Role::User]).await;
        let (admin, user) = (
            app.token("root", "correct horse").await,
            app.token("dan", "battery staple").await,
        );
        let malformed = json!({"username": 7});
        let create = |token: &str| post_json_bearer("/api/v1/admin/users/create", token, &malformed);
        expect_error(app.send(create(&user)).await, 403, "forbidden").await;
        let anonymous = post_json("/api/v1/admin/users/create", &malformed);
        expect_error(app.send(anonymous).await, 401, "unauthenticated").await;
        expect_error(app.send(create("not-a-token")).await, 401, "token_invalid").await;
        let answered = app.send(create(&admin)).await;
        assert_eq!(answered.status(), 400, "an admin is told what is wrong with the body");
    }

    async fn admins_set_roles_and_end_lockouts_over_the_api(backend) {
        let app = app_on(
            &backend,
            &["--rate-limit", "name=login-lockout,key=ip+username,limit=2,window=1m,fail=closed"],
        )
        .await;
        app.user("root", "correct horse", &[Role::Admin, Role::User]).await;
        app.user("cara", "battery staple", &[Role::User]).await;
        let admin = app.token("root", "correct horse").await;
        let cara_token = app.token("cara", "battery staple").await;
        let cara = app.state.auth.users().find("cara").await.unwrap().unwrap();
        let root = app.state.auth.users().find("root").await.unwrap().unwrap();

        let set = |user_id: &str, roles: serde_json::Value| {
            post_json_bearer(
                "/api/v1/admin/users/set-roles",
                &admin,
                &json!({"user_id": user_id, "roles": roles}),
            )
        };
        assert_eq!(app.send(set(&cara.id, json!(["user", "service"]))).await.status(), 200);
        let me = json(app.send(post_bearer("/api/v1/auth/me", &cara_token)).await).await;
        assert_eq!(me["roles"], json!(["service", "user"]), "{me}");
        expect_error(app.send(set(&root.id, json!(["user"]))).await, 422, "validation_failed").await;
        let refused = app.send(set(&cara.id, json!(["emperor"]))).await;
        assert!(refused.status().is_client_error(), "{}", refused.status());

        // Two wrong passwords lock cara out from this address, even with
        // the right one; an admin ends the lockout.
        for _ in 0..2 {
            let wrong = app
                .send(post_json("/api/v1/auth/login", &json!({"username": "cara", "password": "wrong"})))
                .await;
            expect_error(wrong, 401, "invalid_credentials").await;
        }
        let login = json!({"username": "cara", "password": "battery staple"});
        expect_error(app.send(post_json("/api/v1/auth/login", &login)).await, 429, "login_locked").await;
        let reset = app
            .send(post_json_bearer(
                "/api/v1/admin/users/reset-lockout",
                &admin,
                &json!({"username": "CARA"}),
            ))
            .await;
        assert_eq!(reset.status(), 200);
        assert!(json(reset).await.as_u64().unwrap() >= 1);
        assert_eq!(app.send(post_json("/api/v1/auth/login", &login)).await.status(), 200);
    }

    async fn sign_in_works_and_a_demoted_admin_is_refused_at_once(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("root", "correct horse", &[Role::Admin, Role::User]).await;
        app.user("bob", "battery staple", &[Role::User]).await;
        let admin = app.token("root", "correct horse").await;
        let me = app.send(post_bearer("/api/v1/auth/me", &admin)).await;
        assert_eq!(me.status(), 200);
        let list = json!({"offset": 0, "limit": 10});
        let users = app
            .send(post_json_bearer("/api/v1/admin/users/list", &admin, &list))
            .await;
        assert_eq!(users.status(), 200);
        let root_id = json(users).await["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == "root")
            .unwrap()["user_id"]
            .as_str()
            .unwrap()
            .to_owned();

        // Demoted by another admin's hand (here, the core directly): the
        // same, unexpired token is refused on its very next admin call.
        app.state.auth.users().set_roles(&root_id, &[Role::User]).await.unwrap();
        let refused = app
            .send(post_json_bearer("/api/v1/admin/users/list", &admin, &list))
            .await;
        expect_error(refused, 403, "forbidden").await;
        let me = json(app.send(post_bearer("/api/v1/auth/me", &admin)).await).await;
        assert_eq!(me["roles"], json!(["user"]), "{me}");

        // Disabled: the next call is unauthenticated.
        let bob = app.token("bob", "battery staple").await;
        app.state.auth.set_disabled(&app.state.auth.users().find("bob").await.unwrap().unwrap().id, true)
            .await
            .unwrap();
        expect_error(app.send(post_bearer("/api/v1/auth/me", &bob)).await, 401, "token_revoked").await;
    }

    async fn forward_auth_answers_but_never_renews(backend) {
        // Every token is in its renewal window.
        let app = app_on(&backend, &["--renew-window", "1.0"]).await;
        app.user("carol", "correct horse", &[Role::User]).await;
        let token = app.token("carol", "correct horse").await;
        // A second into its life, the token is inside the (whole-life) window.
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        let verified = app.send(get_bearer("/api/v1/auth/verify", &token)).await;
        assert_eq!(verified.status(), 200);
        assert!(verified.headers().get("x-new-access-token").is_none());
        assert!(verified.headers().get("x-gatehouse-token-expires-in").is_some());
        let policy = verified.headers()["ratelimit-policy"].to_str().unwrap().to_owned();
        assert!(policy.starts_with("\"verify\"") && !policy.contains("api-user"), "{policy}");
        // An ordinary API call with the same token is renewed.
        let me = app.send(post_bearer("/api/v1/auth/me", &token)).await;
        assert_eq!(me.status(), 200);
        assert!(me.headers().get("x-new-access-token").is_some());
    }
}

#[tokio::test]
async fn probes_and_static_files_touch_no_redis() {
    let redis = TestRedis::start().await;
    let app = app(&redis, &[]).await;
    let before = gatehouse::testing::command_calls(&redis.store().await).await;
    for path in ["/health", "/health", "/favicon.ico", "/pkg/gatehouse.js"] {
        let response = app.send(get(path)).await;
        assert!(
            response.headers().get("ratelimit").is_none(),
            "{path} was rate limited"
        );
    }
    let after = gatehouse::testing::command_calls(&redis.store().await).await;
    // Only background work (the console's stream reader, heartbeats and
    // the gauges they refresh, the lock-release subscription, the
    // breaker's probes) may have run meanwhile; admission would show as a
    // script call.
    let moved: Vec<(&String, u64)> = after
        .iter()
        .map(|(name, calls)| (name, calls - before.get(name).unwrap_or(&0)))
        .filter(|(name, delta)| {
            *delta > 0
                && !matches!(
                    name.as_str(),
                    "info"
                        | "ping"
                        | "xread"
                        | "xrevrange"
                        | "hset"
                        | "hgetall"
                        | "hdel"
                        | "xlen"
                        | "zcard"
                        | "zremrangebyscore"
                        | "subscribe"
                )
        })
        .collect();
    assert!(
        moved.is_empty(),
        "probes and static files sent Redis commands: {moved:?}"
    );
}
