//! The console's API and live event stream, over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod support;

use std::time::Duration;

use axum::body::Body;
use gatehouse::testing::wait_until;
use gatehouse::user::Role;
use http::{Request, header};
use serde_json::json;
use support::{
    app_on, expect_error, json, post_bearer, post_json_bearer, read_until, stream_request,
};

gatehouse::both_topologies! {
    async fn an_event_on_one_instance_reaches_a_console_on_another(backend) {
        let a = app_on(&backend, &["--instance-id", "gh-a"]).await;
        let b = app_on(&backend, &["--instance-id", "gh-b"]).await;
        a.user("root", "admin password", &[Role::Admin]).await;
        a.user("walt", "long enough, really", &[Role::User]).await;
        let admin = b.token("root", "admin password").await;
        wait_until("B's hub tails the stream", Duration::from_secs(10), || async {
            b.instance.hub().is_tailing()
        })
        .await;

        let response = b.send(stream_request(&admin, None)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/event-stream"
        );
        let mut body = response.into_body();
        a.login("walt", "long enough, really").await;
        // B's own sign-in may still be on its way through the hub: read
        // until A's session_created event.
        let from_a = |seen: &str| {
            seen.split("\n\n").any(|event| {
                event.contains("event: session_created") && event.contains("\"instance\":\"gh-a\"")
            })
        };
        let mut seen = String::new();
        while !from_a(&seen) {
            seen.push_str(&read_until(&mut body, "\n\n").await);
        }
        assert!(seen.contains("\"username\":\"walt\""));
        assert!(seen.contains("id: "), "each event carries its stream id");
    }
}

gatehouse::both_topologies! {
    async fn a_reconnecting_console_gets_what_it_missed(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("root", "admin password", &[Role::Admin]).await;
        app.user("xena", "long enough, really", &[Role::User]).await;
        let admin = app.token("root", "admin password").await;
        let events = app.state.auth.events();
        events.flush().await;
        let since = events.last_id().await.unwrap();
        let token = app.token("xena", "long enough, really").await;
        app.send(post_bearer("/api/v1/auth/logout", &token)).await;
        events.flush().await;

        let mut body = app
            .send(stream_request(&admin, Some(&since)))
            .await
            .into_body();
        let seen = read_until(&mut body, "event: logout").await;
        assert!(seen.contains("event: login_succeeded"), "{seen}");
        assert!(seen.contains("event: token_blacklisted"), "{seen}");
    }
}

gatehouse::both_topologies! {
    async fn the_stream_and_every_admin_function_refuse_non_admins(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("yuri", "long enough, really", &[Role::User]).await;
        let user = app.token("yuri", "long enough, really").await;
        expect_error(
            app.send(stream_request(&user, None)).await,
            403,
            "forbidden",
        )
        .await;
        let anonymous = Request::get("/api/v1/admin/events/stream")
            .body(Body::empty())
            .unwrap();
        expect_error(app.send(anonymous).await, 401, "unauthenticated").await;
        for (path, body) in [
            ("/api/v1/admin/overview", None),
            ("/api/v1/admin/sessions/list", Some(json!({}))),
            (
                "/api/v1/admin/sessions/revoke",
                Some(json!({"user_id": "a", "session_id": "b"})),
            ),
            (
                "/api/v1/admin/sessions/revoke-all",
                Some(json!({"user_id": "a"})),
            ),
            ("/api/v1/admin/events/recent", Some(json!({}))),
            ("/api/v1/admin/locks/demo", None),
            ("/api/v1/admin/locks/list", None),
            (
                "/api/v1/admin/locks/force-release",
                Some(json!({"name": "x"})),
            ),
            ("/api/v1/admin/users/list", Some(json!({}))),
            (
                "/api/v1/admin/users/create",
                Some(json!({"username": "abc", "password": "long enough, really", "roles": ["user"]})),
            ),
            (
                "/api/v1/admin/users/set-disabled",
                Some(json!({"user_id": "a", "disabled": true})),
            ),
            (
                "/api/v1/admin/users/set-roles",
                Some(json!({"user_id": "a", "roles": ["admin"]})),
            ),
            (
                "/api/v1/admin/users/reset-lockout",
                Some(json!({"username": "a"})),
            ),
            ("/api/v1/admin/blacklist/list", Some(json!({}))),
            ("/api/v1/admin/ratelimit/active", Some(json!({}))),
            (
                "/api/v1/admin/ratelimit/windows",
                Some(json!({"subject": {"kind": "ip", "ip": "1.2.3.4"}})),
            ),
            (
                "/api/v1/admin/ratelimit/reset",
                Some(json!({"subject": {"kind": "ip", "ip": "1.2.3.4"}})),
            ),
        ] {
            let request = match body {
                Some(body) => post_json_bearer(path, &user, &body),
                None => post_bearer(path, &user),
            };
            let response = app.send(request).await;
            assert_eq!(response.status(), 403, "{path}");
        }
    }
}

gatehouse::both_topologies! {
    async fn admins_see_counts_sessions_users_and_events(backend) {
        let app = app_on(&backend, &["--instance-id", "gh-console"]).await;
        app.user("root", "admin password", &[Role::Admin, Role::User])
            .await;
        app.user("zoe", "long enough, really", &[Role::User]).await;
        let admin = app.token("root", "admin password").await;
        let zoe = app.login("zoe", "long enough, really").await;
        gatehouse::instances::heartbeat(
            app.state.auth.store(),
            &gatehouse::instances::InstanceInfo {
                id: "gh-console".into(),
                version: "0.1.0".into(),
                started_at_ms: 1,
                last_seen_ms: 0,
                mode: gatehouse::api::console::InstanceMode::Degraded,
                degraded_since_ms: Some(1_000),
            },
        )
        .await
        .unwrap();
        app.state.auth.events().flush().await;

        let overview = json(
            app.send(post_bearer("/api/v1/admin/overview", &admin))
                .await,
        )
        .await;
        assert_eq!(overview["active_sessions"], 2);
        assert_eq!(overview["active_users"], 2);
        let series = overview["series"].as_array().unwrap();
        assert_eq!(series.len(), 30);
        // The two sign-ins fall in the last minute, or straddle the last two
        // when a minute began between them.
        let logins: u64 = series[28..]
            .iter()
            .map(|minute| minute["logins"].as_u64().unwrap())
            .sum();
        assert_eq!(logins, 2, "{series:?}");
        assert_eq!(overview["instances"][0]["id"], "gh-console");
        assert_eq!(overview["instances"][0]["mode"], "degraded");
        assert_eq!(overview["instances"][0]["degraded_since_ms"], 1_000);

        let page = json(
            app.send(post_json_bearer(
                "/api/v1/admin/sessions/list",
                &admin,
                &json!({"limit": 10}),
            ))
            .await,
        )
        .await;
        assert_eq!(page["total"], 2);
        assert_eq!(page["sessions"][0]["username"], "zoe", "newest first");
        let found = json(
            app.send(post_json_bearer(
                "/api/v1/admin/sessions/list",
                &admin,
                &json!({"query": "ZOE"}),
            ))
            .await,
        )
        .await;
        assert_eq!(found["sessions"].as_array().unwrap().len(), 1);

        let user_id = found["sessions"][0]["user_id"].as_str().unwrap();
        let revoked = app
            .send(post_json_bearer(
                "/api/v1/admin/sessions/revoke",
                &admin,
                &json!({"user_id": user_id, "session_id": zoe["session_id"]}),
            ))
            .await;
        assert_eq!(revoked.status(), 200);
        expect_error(
            app.send(post_bearer(
                "/api/v1/auth/me",
                zoe["access_token"].as_str().unwrap(),
            ))
            .await,
            401,
            "token_revoked",
        )
        .await;

        let users = json(
            app.send(post_json_bearer(
                "/api/v1/admin/users/list",
                &admin,
                &json!({}),
            ))
            .await,
        )
        .await;
        assert_eq!(users["total"], 2);
        app.send(post_json_bearer(
            "/api/v1/admin/users/set-disabled",
            &admin,
            &json!({"user_id": user_id, "disabled": true}),
        ))
        .await;
        expect_error(
            app.send(support::post_json(
                "/api/v1/auth/login",
                &json!({"username": "zoe", "password": "long enough, really"}),
            ))
            .await,
            403,
            "account_disabled",
        )
        .await;

        app.state.auth.events().flush().await;
        let events = json(
            app.send(post_json_bearer(
                "/api/v1/admin/events/recent",
                &admin,
                &json!({"kind": "admin_"}),
            ))
            .await,
        )
        .await;
        let kinds: Vec<&str> = events["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["admin_session_revoked"]);
        assert_eq!(events["events"][0]["details"]["by"], "root");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_too_slow_to_keep_up_is_made_to_resume_and_loses_nothing() {
    let redis = gatehouse::testing::TestRedis::start().await;
    let app = support::app(&redis, &[]).await;
    app.user("root", "admin password", &[Role::Admin]).await;
    let admin = app.token("root", "admin password").await;
    let events = app.state.auth.events();
    events.flush().await;
    let before = events.last_id().await.unwrap();
    let mut body = app.send(stream_request(&admin, None)).await.into_body();
    // Not read while 6 000 events go by: more than the hub keeps for one
    // subscriber (4 096).
    for i in 0..6_000 {
        events.emit(gatehouse::events::Event::new(
            gatehouse::events::EventKind::LockAcquired(gatehouse::api::events::LockAcquired {
                lock: "lagging".to_owned(),
                fencing_token: i,
            }),
        ));
    }
    events.flush().await;
    let hub = app.instance.hub();
    wait_until(
        "the hub reads all 6 000",
        Duration::from_secs(20),
        || async { hub.events_read() >= 6_000 },
    )
    .await;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, http_body_util::BodyExt::frame(&mut body))
            .await
            .expect("a lagging stream must end, not go on with a gap")
        {
            Some(frame) => {
                if let Ok(data) = frame.unwrap().into_data() {
                    seen.push_str(&String::from_utf8_lossy(&data));
                }
            }
            None => break,
        }
    }
    // It resumes from the last event it got, page by page, and nothing is
    // missing.
    let ids = |text: &str| -> Option<String> {
        text.lines()
            .rev()
            .find_map(|line| line.strip_prefix("id: "))
            .map(str::to_owned)
    };
    let mut last = ids(&seen).unwrap_or(before);
    let mut rest = String::new();
    while !rest.contains("\"fencing_token\":\"5999\"") {
        let mut resumed = app
            .send(stream_request(&admin, Some(&last)))
            .await
            .into_body();
        let mut page = String::new();
        while let Some(frame) = tokio::time::timeout(
            Duration::from_secs(10),
            http_body_util::BodyExt::frame(&mut resumed),
        )
        .await
        .expect("a backlog page ends, or brings the last event")
        {
            if let Ok(data) = frame.unwrap().into_data() {
                page.push_str(&String::from_utf8_lossy(&data));
            }
            if page.contains("\"fencing_token\":\"5999\"") {
                break;
            }
        }
        assert!(
            page.contains("retry: 250") || page.contains("\"fencing_token\":\"5999\""),
            "{page}"
        );
        last = ids(&page).expect("a page brings events");
        rest.push_str(&page);
    }
    let numbers = |text: &str| -> Vec<u64> {
        text.split("\"fencing_token\":\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next()?.parse().ok())
            .collect()
    };
    let mut all = numbers(&seen);
    all.extend(numbers(&rest));
    assert_eq!(
        all,
        (0..6_000).collect::<Vec<u64>>(),
        "every event, once, in order"
    );
}

/// Reads the stream until it says the session ended (within the re-check
/// interval and a margin), then expects it to close.
async fn expect_session_ended(body: &mut Body) {
    use http_body_util::BodyExt;
    let started = tokio::time::Instant::now();
    let seen = read_until(body, "event: session_ended").await;
    assert!(
        started.elapsed() <= Duration::from_secs(6),
        "the stream outlived its session by {:?}",
        started.elapsed()
    );
    assert!(seen.contains("Sign in again"), "{seen}");
    let end = tokio::time::timeout(Duration::from_secs(2), body.frame()).await;
    assert!(
        matches!(end, Ok(None)),
        "the stream stays open after ending"
    );
}

gatehouse::both_topologies! {
    /// A console's stream ends within 5 s once its admin signs out, is
    /// revoked by another admin, is demoted or is disabled.
    async fn the_live_stream_ends_with_its_session(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("root", "admin password", &[Role::Admin]).await;
        app.user("zoe", "admin password", &[Role::Admin]).await;
        let root = app.token("root", "admin password").await;
        let zoe_id = app.state.auth.users().find("zoe").await.unwrap().unwrap().id;

        let token = app.token("zoe", "admin password").await;
        let mut body = app.send(stream_request(&token, None)).await.into_body();
        app.send(post_bearer("/api/v1/auth/logout", &token)).await;
        expect_session_ended(&mut body).await;

        let login = app.login("zoe", "admin password").await;
        let token = login["access_token"].as_str().unwrap();
        let mut body = app.send(stream_request(token, None)).await.into_body();
        let revoke = json!({"user_id": zoe_id, "session_id": login["session_id"]});
        let response = app.send(post_json_bearer("/api/v1/admin/sessions/revoke", &root, &revoke)).await;
        assert_eq!(response.status(), 200);
        expect_session_ended(&mut body).await;

        let token = app.token("zoe", "admin password").await;
        let mut body = app.send(stream_request(&token, None)).await.into_body();
        let demote = json!({"user_id": zoe_id, "roles": ["user"]});
        let response = app.send(post_json_bearer("/api/v1/admin/users/set-roles", &root, &demote)).await;
        assert_eq!(response.status(), 200);
        expect_session_ended(&mut body).await;
    }
}

gatehouse::both_topologies! {
    async fn the_live_stream_ends_when_its_token_expires(backend) {
        let app = app_on(&backend, &["--access-ttl", "2s", "--jwt-leeway", "0s"]).await;
        app.user("root", "admin password", &[Role::Admin]).await;
        let token = app.token("root", "admin password").await;
        let mut body = app.send(stream_request(&token, None)).await.into_body();
        expect_session_ended(&mut body).await;
    }
}
