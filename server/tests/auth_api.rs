//! The sign-in, session and forward-auth JSON API, end to end through the
//! real router over a real Redis.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod support;

use std::time::Duration;

use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse::testing::TestRedis;
use gatehouse::user::Role;
use http::{Request, header};
use serde_json::json;
use support::{
    app, app_on, expect_error, from_address, get, json, post_bearer, post_json, post_json_bearer,
    set_cookies,
};

gatehouse::both_topologies! {
    async fn login_returns_the_token_pair_and_sets_strict_cookies(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("alice", "correct horse", &[Role::User]).await;

        let response = app
            .send(post_json(
                "/api/v1/auth/login",
                &json!({"username": "alice", "password": "correct horse"}),
            ))
            .await;
        assert_eq!(response.status(), 200);
        let cookies = set_cookies(response.headers());
        let body = json(response).await;
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 900);
        assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);
        assert!(body["refresh_token"].as_str().is_some());
        assert_eq!(body["session_id"].as_str().unwrap().len(), 32);

        let access = cookies
            .iter()
            .find(|c| c.starts_with("gh_access="))
            .unwrap();
        let refresh = cookies
            .iter()
            .find(|c| c.starts_with("gh_refresh="))
            .unwrap();
        for cookie in [access, refresh] {
            assert!(
                cookie.contains("HttpOnly")
                    && cookie.contains("SameSite=Strict")
                    && cookie.contains("Secure"),
                "{cookie}"
            );
        }
        assert!(access.contains("Path=/;"));
        assert!(refresh.contains("Path=/api/v1/auth/refresh"));
    }
}

gatehouse::both_topologies! {
    async fn me_accepts_bearer_or_cookie_and_explains_every_rejection(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("bob", "correct horse", &[Role::User, Role::Admin])
            .await;
        let login = app.login("bob", "correct horse").await;
        let token = login["access_token"].as_str().unwrap();

        let response = app.send(post_bearer("/api/v1/auth/me", token)).await;
        assert_eq!(response.status(), 200);
        let me = json(response).await;
        assert_eq!(me["username"], "bob");
        assert_eq!(me["roles"], json!(["admin", "user"]));
        assert_eq!(me["session_id"], login["session_id"]);

        let with_cookie = Request::post("/api/v1/auth/me")
            .header(header::COOKIE, format!("gh_access={token}"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.send(with_cookie).await.status(), 200);

        let response = app
            .send(
                Request::post("/api/v1/auth/me")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
        expect_error(response, 401, "unauthenticated").await;

        expect_error(
            app.send(post_bearer("/api/v1/auth/me", "garbage")).await,
            401,
            "token_invalid",
        )
        .await;

        // Tampered payload (roles changed), original signature.
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["sub"] = json!("someone-else");
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            parts[2]
        );
        expect_error(
            app.send(post_bearer("/api/v1/auth/me", &tampered)).await,
            401,
            "token_invalid",
        )
        .await;

        // alg: none.
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let none = format!("{header}.{}.", parts[1]);
        expect_error(
            app.send(post_bearer("/api/v1/auth/me", &none)).await,
            401,
            "token_invalid",
        )
        .await;

        // A refresh token is not an access token.
        let refresh = login["refresh_token"].as_str().unwrap();
        expect_error(
            app.send(post_bearer("/api/v1/auth/me", refresh)).await,
            401,
            "token_invalid",
        )
        .await;
    }
}

gatehouse::both_topologies! {
    async fn wrong_password_and_unknown_user_get_the_same_answer(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("carol", "correct horse", &[Role::User]).await;
        let wrong = app
            .send(post_json(
                "/api/v1/auth/login",
                &json!({"username": "carol", "password": "nope nope"}),
            ))
            .await;
        let unknown = app
            .send(post_json(
                "/api/v1/auth/login",
                &json!({"username": "nobody", "password": "nope nope"}),
            ))
            .await;
        let wrong = expect_error(wrong, 401, "invalid_credentials").await;
        let unknown = expect_error(unknown, 401, "invalid_credentials").await;
        assert_eq!(wrong, unknown);
    }
}

gatehouse::both_topologies! {
    async fn bad_input_gets_a_clear_4xx_never_a_500(backend) {
        let app = app_on(&backend, &[]).await;
        let malformed = Request::post("/api/v1/auth/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{\"username\": "))
            .unwrap();
        expect_error(app.send(malformed).await, 400, "invalid_request").await;
        expect_error(
            app.send(post_json("/api/v1/auth/login", &json!({"username": "x"})))
                .await,
            400,
            "invalid_request",
        )
        .await;
        expect_error(
            app.send(post_json(
                "/api/v1/auth/login",
                &json!({"username": "", "password": "x"}),
            ))
            .await,
            400,
            "invalid_request",
        )
        .await;
        let long = "u".repeat(300);
        let message = expect_error(
            app.send(post_json(
                "/api/v1/auth/login",
                &json!({"username": long, "password": "x"}),
            ))
            .await,
            400,
            "invalid_request",
        )
        .await;
        assert!(message.contains("256"), "{message}");
        let garbage_cookie = Request::post("/api/v1/auth/me")
            .header(header::COOKIE, "gh_access=%%%; other")
            .body(Body::empty())
            .unwrap();
        let response = app.send(garbage_cookie).await;
        assert!(
            set_cookies(response.headers())
                .iter()
                .any(|c| c.starts_with("gh_access=;")),
            "a dead cookie is cleared"
        );
        expect_error(response, 401, "token_invalid").await;
    }
}

gatehouse::both_topologies! {
    async fn logout_ends_the_session_and_its_tokens(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("dave", "correct horse", &[Role::User]).await;
        let token = app.token("dave", "correct horse").await;
        let other = app.token("dave", "correct horse").await;

        // A JSON client may send `{}`; a bare POST works too.
        let response = app
            .send(post_json_bearer("/api/v1/auth/logout", &token, &json!({})))
            .await;
        assert_eq!(response.status(), 200);
        assert!(
            set_cookies(response.headers())
                .iter()
                .any(|c| c.starts_with("gh_access=;") && c.contains("Max-Age=0"))
        );
        assert_eq!(json(response).await["revoked_sessions"], 1);
        expect_error(
            app.send(post_bearer("/api/v1/auth/me", &token)).await,
            401,
            "token_revoked",
        )
        .await;
        assert_eq!(
            app.send(post_bearer("/api/v1/auth/me", &other))
                .await
                .status(),
            200
        );

        let response = app
            .send(post_bearer("/api/v1/auth/logout-all", &other))
            .await;
        assert_eq!(json(response).await["revoked_sessions"], 1);
        expect_error(
            app.send(post_bearer("/api/v1/auth/me", &other)).await,
            401,
            "token_revoked",
        )
        .await;
    }
}

gatehouse::both_topologies! {
    async fn people_list_and_revoke_only_their_own_sessions(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("erin", "correct horse", &[Role::User]).await;
        app.user("frank", "correct horse", &[Role::User]).await;
        let first = app.login("erin", "correct horse").await;
        let second = app.login("erin", "correct horse").await;
        let frank = app.token("frank", "correct horse").await;
        let token = first["access_token"].as_str().unwrap();

        let list = json(app.send(post_bearer("/api/v1/sessions/list", token)).await).await;
        let sessions = list["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 2);
        let current = sessions.iter().find(|s| s["current"] == true).unwrap();
        assert_eq!(current["session_id"], first["session_id"]);
        assert_eq!(current["device"], "Unknown device");

        // Frank cannot end Erin's session.
        let body = json!({"session_id": second["session_id"]});
        expect_error(
            app.send(post_json_bearer("/api/v1/sessions/revoke", &frank, &body))
                .await,
            404,
            "not_found",
        )
        .await;
        let response = app
            .send(post_json_bearer("/api/v1/sessions/revoke", token, &body))
            .await;
        assert_eq!(json(response).await["revoked"], true);
        let second_token = second["access_token"].as_str().unwrap();
        expect_error(
            app.send(post_bearer("/api/v1/auth/me", second_token)).await,
            401,
            "token_revoked",
        )
        .await;
        let list = json(app.send(post_bearer("/api/v1/sessions/list", token)).await).await;
        assert_eq!(list["sessions"].as_array().unwrap().len(), 1);

        // Ending the current session is a revoke like any other: its
        // token is blacklisted and both endings are recorded as events.
        let body = json!({"session_id": first["session_id"]});
        let response = app
            .send(post_json_bearer("/api/v1/sessions/revoke", token, &body))
            .await;
        assert_eq!(json(response).await["revoked"], true);
        let blacklisted = app.state.auth.blacklist().list(0, 100).await.unwrap();
        for login in [&first, &second] {
            let sid = login["session_id"].as_str().unwrap();
            assert!(
                blacklisted.entries.iter().any(|e| e.session_id == sid),
                "the token of session {sid} is not blacklisted"
            );
        }
        app.state.auth.events().flush().await;
        let events = app
            .state
            .auth
            .events()
            .recent(&gatehouse::events::Filter::default(), 100, 1000)
            .await
            .unwrap();
        for login in [&first, &second] {
            let sid = login["session_id"].as_str();
            assert!(
                events
                    .iter()
                    .any(|e| e.kind.name() == "session_revoked" && e.session_id.as_deref() == sid),
                "no session_revoked event for {sid:?}"
            );
        }
    }
}

gatehouse::both_topologies! {
    async fn forward_auth_answers_with_identity_headers(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("grace", "correct horse", &[Role::User]).await;
        let login = app.login("grace", "correct horse").await;
        let token = login["access_token"].as_str().unwrap();

        let request = Request::get("/api/v1/auth/verify")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let response = app.send(request).await;
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(headers["x-gatehouse-username"], "grace");
        assert_eq!(headers["x-gatehouse-roles"], "user");
        assert_eq!(
            headers["x-gatehouse-session"],
            login["session_id"].as_str().unwrap()
        );
        assert_eq!(headers["x-gatehouse-user"].len(), 32);

        expect_error(
            app.send(get("/api/v1/auth/verify")).await,
            401,
            "unauthenticated",
        )
        .await;
        let request = Request::get("/api/v1/auth/verify")
            .header(header::COOKIE, "gh_access=nonsense")
            .body(Body::empty())
            .unwrap();
        expect_error(app.send(request).await, 401, "token_invalid").await;
    }
}

gatehouse::both_topologies! {
    async fn only_admins_create_users(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("root", "correct horse", &[Role::Admin]).await;
        app.user("henry", "correct horse", &[Role::User]).await;
        let admin = app.token("root", "correct horse").await;
        let user = app.token("henry", "correct horse").await;
        let new_user =
            json!({"username": "ivy", "password": "a good password", "roles": ["user", "service"]});

        expect_error(
            app.send(post_json_bearer(
                "/api/v1/admin/users/create",
                &user,
                &new_user,
            ))
            .await,
            403,
            "forbidden",
        )
        .await;
        expect_error(
            app.send(post_json("/api/v1/admin/users/create", &new_user))
                .await,
            401,
            "unauthenticated",
        )
        .await;

        let response = app
            .send(post_json_bearer(
                "/api/v1/admin/users/create",
                &admin,
                &new_user,
            ))
            .await;
        assert_eq!(response.status(), 200);
        let created = json(response).await;
        assert_eq!(created["username"], "ivy");
        assert_eq!(created["roles"], json!(["service", "user"]));
        app.login("ivy", "a good password").await;

        expect_error(
            app.send(post_json_bearer(
                "/api/v1/admin/users/create",
                &admin,
                &new_user,
            ))
            .await,
            409,
            "conflict",
        )
        .await;
        let bad_role = json!({"username": "jack", "password": "a good password", "roles": ["root"]});
        expect_error(
            app.send(post_json_bearer(
                "/api/v1/admin/users/create",
                &admin,
                &bad_role,
            ))
            .await,
            422,
            "validation_failed",
        )
        .await;
        let short = json!({"username": "jack", "password": "short", "roles": ["user"]});
        expect_error(
            app.send(post_json_bearer(
                "/api/v1/admin/users/create",
                &admin,
                &short,
            ))
            .await,
            422,
            "validation_failed",
        )
        .await;
    }
}

gatehouse::both_topologies! {
    async fn cross_origin_state_changes_are_refused(backend) {
        let app = app_on(&backend, &[]).await;
        let request = Request::post("/api/v1/auth/login")
            .header(header::HOST, "gatehouse.example")
            .header(header::ORIGIN, "https://evil.example")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"username":"a","password":"b"}"#))
            .unwrap();
        expect_error(app.send(request).await, 403, "cross_origin").await;

        let same = Request::post("/api/v1/auth/login")
            .header(header::HOST, "gatehouse.example")
            .header(header::ORIGIN, "https://gatehouse.example")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"username":"a","password":"b"}"#))
            .unwrap();
        expect_error(app.send(same).await, 401, "invalid_credentials").await;
    }
}

gatehouse::both_topologies! {
    async fn a_cross_site_post_with_the_victim_s_cookie_changes_nothing(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("vic", "correct horse", &[Role::User]).await;
        let token = app.token("vic", "correct horse").await;
        let cookie = format!("gh_access={token}");
        // A browser marks a forged request cross-site even when it sends no
        // Origin; and one that does send Origin names the other site.
        let forged = [
            Request::post("/api/v1/auth/logout-all")
                .header(header::HOST, "gatehouse.example")
                .header("sec-fetch-site", "cross-site")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
            Request::post("/api/v1/auth/logout-all")
                .header(header::HOST, "gatehouse.example")
                .header(header::ORIGIN, "https://evil.example")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        ];
        for request in forged {
            expect_error(app.send(request).await, 403, "cross_origin").await;
        }
        // The session is untouched.
        let me = app.send(post_bearer("/api/v1/auth/me", &token)).await;
        assert_eq!(me.status(), 200);
        let same_site = Request::post("/api/v1/auth/me")
            .header(header::HOST, "gatehouse.example")
            .header("sec-fetch-site", "same-origin")
            .header(header::ORIGIN, "https://gatehouse.example")
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.send(same_site).await.status(), 200);
    }
}

gatehouse::both_topologies! {
    async fn expired_tokens_say_so(backend) {
        let app = app_on(&backend, &["--access-ttl", "1s", "--jwt-leeway", "0s"]).await;
        app.user("kim", "correct horse", &[Role::User]).await;
        let token = app.token("kim", "correct horse").await;
        // A TTL must pass: the access token expires.
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let message = expect_error(
            app.send(post_bearer("/api/v1/auth/me", &token)).await,
            401,
            "token_expired",
        )
        .await;
        assert!(message.contains("/api/v1/auth/refresh"), "{message}");
    }
}

/// With degraded mode off (degraded.rs tests it on).
#[tokio::test]
async fn redis_down_means_503_never_an_accidental_allow() {
    let mut redis = TestRedis::start().await;
    let app = app(&redis, &["--degraded-max", "0"]).await;
    app.user("leo", "correct horse", &[Role::User]).await;
    let token = app.token("leo", "correct horse").await;
    redis.stop().await;
    expect_error(
        app.send(post_bearer("/api/v1/auth/me", &token)).await,
        503,
        "unavailable",
    )
    .await;
    let request = Request::get("/api/v1/auth/verify")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    expect_error(app.send(request).await, 503, "unavailable").await;
    expect_error(
        app.send(post_json(
            "/api/v1/auth/login",
            &json!({"username": "leo", "password": "correct horse"}),
        ))
        .await,
        503,
        "unavailable",
    )
    .await;
}

gatehouse::both_topologies! {
    async fn jwks_is_empty_for_hs256_and_lists_public_keys_otherwise(backend) {
        let app = app_on(&backend, &[]).await;
        assert_eq!(
            json(app.send(get("/.well-known/jwks.json")).await).await,
            json!({"keys": []})
        );

        let key = format!(
            "{}/../src/token/testdata/ed25519.pem",
            env!("CARGO_MANIFEST_DIR")
        );
        let app = support::app_on(&backend, &["--jwt-key-file", &key]).await;
        let jwks = json(app.send(get("/.well-known/jwks.json")).await).await;
        assert_eq!(jwks["keys"][0]["kty"], "OKP");
        assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
    }
}

gatehouse::both_topologies! {
    /// The challenge contract for non-browser clients: after too many
    /// failures, sign-in answers 401 `challenge_required` with a challenge
    /// (before any password work); a solved one signs in; challenges can
    /// also be asked for ahead.
    async fn sign_in_under_attack_needs_a_solved_challenge(backend) {
        let app = app_on(&backend, &[
            "--trusted-proxies", "127.0.0.0/8",
            "--challenge-difficulty", "10",
            "--rate-limit", "name=challenge-user,key=username,algorithm=sliding-log,limit=3,window=15m,fail=closed",
        ]).await;
        app.user("kim", "correct horse", &[Role::User]).await;
        for i in 0..3 {
            let request = post_json("/api/v1/auth/login", &json!({"username": "kim", "password": "guess"}));
            let request = from_address(request, &format!("203.0.113.{i}"));
            expect_error(app.send(request).await, 401, "invalid_credentials").await;
        }
        let response = app
            .send(post_json("/api/v1/auth/login", &json!({"username": "kim", "password": "correct horse"})))
            .await;
        assert_eq!(response.status(), 401);
        let body = json(response).await;
        assert_eq!(body["error"], "challenge_required");
        let challenge = &body["challenge"];
        assert_eq!(challenge["algorithm"], "sha256-leading-zero-bits");
        assert_eq!(challenge["difficulty"], 10);
        assert_eq!(challenge["expires_in_ms"], 120_000);
        let solution = gatehouse::auth::challenge::solve(challenge["salt"].as_str().unwrap(), 10);
        let signed_in = app
            .send(post_json("/api/v1/auth/login", &json!({
                "username": "kim", "password": "correct horse",
                "challenge_id": challenge["challenge_id"], "challenge_solution": solution,
            })))
            .await;
        assert_eq!(signed_in.status(), 200);

        // Asked for ahead, bound to the username.
        let asked = app.send(post_json("/api/v1/auth/challenge", &json!({"username": "kim"}))).await;
        assert_eq!(asked.status(), 200);
        let asked = json(asked).await;
        let solution = gatehouse::auth::challenge::solve(asked["salt"].as_str().unwrap(), 10);
        let signed_in = app
            .send(post_json("/api/v1/auth/login", &json!({
                "username": "kim", "password": "correct horse",
                "challenge_id": asked["challenge_id"], "challenge_solution": solution,
            })))
            .await;
        assert_eq!(signed_in.status(), 200);
        expect_error(
            app.send(post_json("/api/v1/auth/challenge", &json!({"username": ""}))).await,
            400,
            "invalid_request",
        )
        .await;
    }
}
