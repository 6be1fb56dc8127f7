//! Refresh rotation, reuse detection and silent renewal over HTTP,
//! including two Gatehouse instances sharing one Redis.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod support;

use std::collections::HashSet;
use std::time::Duration;

use axum::body::Body;
use gatehouse::user::Role;
use http::{Request, header};
use serde_json::json;
use support::{app_on, expect_error, json, post_bearer, post_json, set_cookies};

gatehouse::both_topologies! {
    async fn a_hundred_refreshes_over_two_instances_rotate_once_and_all_succeed(backend) {
        let one = app_on(&backend, &["--instance-id", "gh-1"]).await;
        let two = app_on(&backend, &["--instance-id", "gh-2"]).await;
        one.user("tabs", "long enough, really", &[Role::User]).await;
        let login = one.login("tabs", "long enough, really").await;
        let body = json!({"refresh_token": login["refresh_token"]});

        let mut tasks = Vec::new();
        for i in 0..100 {
            let router = if i % 2 == 0 {
                one.router.clone()
            } else {
                two.router.clone()
            };
            let body = body.clone();
            tasks.push(tokio::spawn(async move {
                use tower::ServiceExt;
                let response = router
                    .oneshot(post_json("/api/v1/auth/refresh", &body))
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                json(response).await
            }));
        }
        let mut pairs = HashSet::new();
        for task in tasks {
            let pair = task.await.unwrap();
            let token = |name: &str| {
                pair[name]
                    .as_str()
                    .unwrap_or_else(|| panic!("no {name} in {pair}"))
                    .to_owned()
            };
            pairs.insert((token("access_token"), token("refresh_token")));
        }
        assert_eq!(pairs.len(), 1, "all 100 callers got the same pair");

        let session = one
            .state
            .auth
            .sessions()
            .get(
                &one.state
                    .auth
                    .tokens()
                    .verify_refresh(login["refresh_token"].as_str().unwrap())
                    .unwrap()
                    .sub,
                login["session_id"].as_str().unwrap(),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(session.generation, 1, "exactly one rotation");
        let (access, _) = pairs.into_iter().next().unwrap();
        let access = access.trim_matches('"');
        assert_eq!(
            two.send(post_bearer("/api/v1/auth/me", access))
                .await
                .status(),
            200
        );
    }
}

gatehouse::both_topologies! {
    async fn the_refresh_cookie_works_and_reuse_after_the_grace_window_ends_the_session(backend) {
        let app = app_on(&backend, &["--refresh-grace", "300ms"]).await;
        app.user("olga", "long enough, really", &[Role::User]).await;
        let login = app.login("olga", "long enough, really").await;
        let old_refresh = login["refresh_token"].as_str().unwrap();

        let request = Request::post("/api/v1/auth/refresh")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::COOKIE, format!("gh_refresh={old_refresh}"))
            .body(Body::from("{}"))
            .unwrap();
        let response = app.send(request).await;
        assert_eq!(response.status(), 200);
        let cookies = set_cookies(response.headers());
        assert!(cookies.iter().any(|c| c.starts_with("gh_access=")));
        assert!(
            cookies
                .iter()
                .any(|c| c.starts_with("gh_refresh=") && c.contains("Path=/api/v1/auth/refresh"))
        );
        let rotated = json(response).await;
        assert_eq!(rotated["token_type"], "Bearer");
        assert_eq!(rotated["session_id"], login["session_id"]);

        // A window must pass: the refresh grace window ends.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let message = expect_error(
            app.send(post_json(
                "/api/v1/auth/refresh",
                &json!({"refresh_token": old_refresh}),
            ))
            .await,
            401,
            "token_revoked",
        )
        .await;
        assert!(message.contains("already used"), "{message}");
        let new_access = rotated["access_token"].as_str().unwrap();
        expect_error(
            app.send(post_bearer("/api/v1/auth/me", new_access)).await,
            401,
            "token_revoked",
        )
        .await;
        expect_error(
            app.send(post_json("/api/v1/auth/refresh", &json!({})))
                .await,
            401,
            "unauthenticated",
        )
        .await;
    }
}

gatehouse::both_topologies! {
    async fn api_clients_get_a_new_access_token_in_headers_near_expiry(backend) {
        // A 10 s token with a 95 % renewal window: renewed after half a second.
        let app = app_on(&backend, &["--access-ttl", "10s", "--renew-window", "0.95"]).await;
        app.user("pat", "long enough, really", &[Role::User]).await;
        let login = app.login("pat", "long enough, really").await;
        let token = login["access_token"].as_str().unwrap();
        // Time must pass: half a second into the token's life, it is in the renewal window.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let response = app.send(post_bearer("/api/v1/auth/me", token)).await;
        assert_eq!(response.status(), 200);
        let new_token = response.headers()["x-new-access-token"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(response.headers()["x-new-expires-in"], "10");
        assert_ne!(new_token, token);
        assert_eq!(
            app.send(post_bearer("/api/v1/auth/me", &new_token))
                .await
                .status(),
            200
        );
        // The refresh token from sign-in is untouched by an API renewal.
        let refreshed = app
            .send(post_json(
                "/api/v1/auth/refresh",
                &json!({"refresh_token": login["refresh_token"]}),
            ))
            .await;
        assert_eq!(refreshed.status(), 200);
    }
}

gatehouse::both_topologies! {
    async fn a_browser_with_an_expired_access_cookie_is_renewed_not_signed_out(backend) {
        let app = app_on(&backend, &["--access-ttl", "1s", "--jwt-leeway", "0s"]).await;
        app.user("quinn", "long enough, really", &[Role::User]).await;
        let login = app.login("quinn", "long enough, really").await;
        let token = login["access_token"].as_str().unwrap();
        // A TTL must pass: the access token expires.
        tokio::time::sleep(Duration::from_millis(2_100)).await;

        // A program presenting the expired token is told to refresh.
        expect_error(
            app.send(post_bearer("/api/v1/auth/me", token)).await,
            401,
            "token_expired",
        )
        .await;

        // A browser presenting it as its cookie stays signed in.
        let request = Request::post("/api/v1/auth/me")
            .header(header::COOKIE, format!("gh_access={token}"))
            .body(Body::empty())
            .unwrap();
        let response = app.send(request).await;
        assert_eq!(response.status(), 200);
        let cookies = set_cookies(response.headers());
        assert!(
            cookies
                .iter()
                .any(|c| c.starts_with("gh_access=") && !c.starts_with("gh_access=;"))
        );
        assert!(cookies.iter().any(|c| c.starts_with("gh_refresh=")));
    }
}

gatehouse::both_topologies! {
    async fn admins_list_the_blacklist(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("root", "admin password", &[Role::Admin]).await;
        app.user("rita", "long enough, really", &[Role::User]).await;
        let admin = app.token("root", "admin password").await;
        let login = app.login("rita", "long enough, really").await;
        let token = login["access_token"].as_str().unwrap();
        app.send(post_bearer("/api/v1/auth/logout", token)).await;

        let rita = app.token("rita", "long enough, really").await;
        let mut request = post_json("/api/v1/admin/blacklist/list", &json!({}));
        request.headers_mut().insert(
            header::AUTHORIZATION,
            format!("Bearer {rita}").parse().unwrap(),
        );
        expect_error(app.send(request).await, 403, "forbidden").await;
        let mut request = post_json("/api/v1/admin/blacklist/list", &json!({}));
        request.headers_mut().insert(
            header::AUTHORIZATION,
            format!("Bearer {admin}").parse().unwrap(),
        );
        let page = json(app.send(request).await).await;
        assert_eq!(page["total"], 1);
        let entry = &page["entries"][0];
        assert_eq!(entry["reason"], "logout");
        assert_eq!(entry["session_id"], login["session_id"]);
        assert!(entry["expires_at_ms"].as_u64().unwrap() > entry["revoked_at_ms"].as_u64().unwrap());
    }
}
