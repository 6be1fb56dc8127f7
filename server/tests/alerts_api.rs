//! Security alerts over HTTP: a refresh-token reuse raises an alert that
//! the live feed carries (`alert_raised`) and `/api/v1/admin/alerts/*`
//! lists, acknowledges and configures; failed sign-ins raise alerts about
//! the account, or the address when no account has the name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod support;

use std::time::Duration;

use gatehouse::testing::TestRedis;
use gatehouse::user::Role;
use serde_json::json;
use support::{
    app, expect_error, from_address, json, post_bearer, post_json, post_json_bearer, read_until,
    stream_request,
};

const PASSWORD: &str = "long enough, really";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reuse_raises_an_alert_that_admins_see_live_list_and_acknowledge() {
    let redis = TestRedis::start().await;
    let app = app(&redis, &["--refresh-grace", "100ms"]).await;
    app.user("root", PASSWORD, &[Role::Admin]).await;
    app.user("olga", PASSWORD, &[Role::User]).await;
    let admin = app.token("root", PASSWORD).await;
    let mut stream = app.send(stream_request(&admin, None)).await.into_body();

    let login = app.login("olga", PASSWORD).await;
    let refresh = login["refresh_token"].as_str().unwrap();
    let rotate = || post_json("/api/v1/auth/refresh", &json!({"refresh_token": refresh}));
    assert_eq!(app.send(rotate()).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    expect_error(app.send(rotate()).await, 401, "token_revoked").await;

    let seen = read_until(&mut stream, "event: alert_raised").await;
    assert!(seen.contains("refresh_reuse"), "{seen}");

    let listed = json(
        app.send(post_json_bearer(
            "/api/v1/admin/alerts/list",
            &admin,
            &json!({}),
        ))
        .await,
    )
    .await;
    assert_eq!(listed["open"], 1, "{listed}");
    let alert = &listed["alerts"][0];
    for field in [
        "alert_id",
        "rule",
        "severity",
        "title",
        "subject",
        "first_at_ms",
        "last_at_ms",
        "count",
        "state",
        "link",
    ] {
        assert!(!alert[field].is_null(), "{field} missing: {alert}");
    }
    assert_eq!(alert["rule"], "refresh_reuse");
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["state"], "open");
    let subject = alert["subject"].as_str().unwrap();
    assert!(subject.starts_with("user:"), "{subject}");
    assert_eq!(
        alert["link"].as_str().unwrap(),
        format!("/console/users/{}", &subject[5..])
    );
    assert!(alert.get("acknowledged_by").is_none());

    // Only admins.
    let user = app.token("olga", PASSWORD).await;
    expect_error(
        app.send(post_json_bearer(
            "/api/v1/admin/alerts/list",
            &user,
            &json!({}),
        ))
        .await,
        403,
        "forbidden",
    )
    .await;

    let ack =
        |id: &str| post_json_bearer("/api/v1/admin/alerts/ack", &admin, &json!({"alert_id": id}));
    expect_error(app.send(ack("0123abcd")).await, 404, "not_found").await;
    let acked = json(app.send(ack(alert["alert_id"].as_str().unwrap())).await).await;
    assert_eq!(acked["state"], "acknowledged");
    assert_eq!(acked["acknowledged_by"], "root");
    let open = json(
        app.send(post_json_bearer(
            "/api/v1/admin/alerts/list",
            &admin,
            &json!({"state": "open"}),
        ))
        .await,
    )
    .await;
    assert_eq!(open, json!({"alerts": [], "open": 0}));
    let acknowledged = json(
        app.send(post_json_bearer(
            "/api/v1/admin/alerts/list",
            &admin,
            &json!({"state": "acknowledged", "limit": 10}),
        ))
        .await,
    )
    .await;
    assert_eq!(acknowledged["alerts"][0]["alert_id"], alert["alert_id"]);
    let seen = read_until(&mut stream, "event: alert_acknowledged").await;
    assert!(seen.contains("\"by\":\"root\""), "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_are_listed_and_set_with_their_contract() {
    let redis = TestRedis::start().await;
    let app = app(&redis, &[]).await;
    app.user("root", PASSWORD, &[Role::Admin]).await;
    let admin = app.token("root", PASSWORD).await;
    let rules = json(
        app.send(post_bearer("/api/v1/admin/alerts/rules", &admin))
            .await,
    )
    .await;
    let names: Vec<&str> = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| rule["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "refresh_reuse",
            "challenge_on",
            "lockout",
            "admin_new_address",
            "rate_limit_storm",
            "redis_degraded",
            "disabled_token"
        ]
    );
    let storm = &rules["rules"][4];
    assert_eq!(storm["threshold"], 100);
    assert_eq!(storm["enabled"], true);
    assert_eq!(rules["rules"][6]["enabled"], false);
    assert_eq!(rules["rules"][6]["severity"], "info");

    let set =
        |body: serde_json::Value| post_json_bearer("/api/v1/admin/alerts/rules/set", &admin, &body);
    let changed = json(
        app.send(set(
            json!({"rule": "rate_limit_storm", "enabled": true, "threshold": 3}),
        ))
        .await,
    )
    .await;
    assert_eq!(changed["threshold"], 3);
    let message = expect_error(
        app.send(set(
            json!({"rule": "lockout", "enabled": true, "threshold": 3}),
        ))
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert!(message.contains("no threshold"), "{message}");
    expect_error(
        app.send(set(json!({"rule": "no_such_rule", "enabled": true})))
            .await,
        400,
        "invalid_request",
    )
    .await;
    let changed = json(
        app.send(set(json!({"rule": "disabled_token", "enabled": true})))
            .await,
    )
    .await;
    assert_eq!(changed["enabled"], true);

    let audit = json(
        app.send(post_json_bearer(
            "/api/v1/admin/events/recent",
            &admin,
            &json!({"kind": "alert_rule_changed", "audit": true}),
        ))
        .await,
    )
    .await;
    assert_eq!(audit["events"].as_array().map(Vec::len), Some(2), "{audit}");
}

/// Guessing: the challenge turning on for an account is an alert about
/// that account, and a lockout of a name no account has is an alert about
/// the address the guesses came from, each once however long it goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_raise_alerts_about_the_account_or_the_address() {
    let redis = TestRedis::start().await;
    let app = app(
        &redis,
        &[
            "--trusted-proxies",
            "127.0.0.0/8",
            "--rate-limit",
            "name=challenge-user,key=username,algorithm=sliding-log,limit=3,window=15m,fail=closed",
            "--rate-limit",
            "name=login-lockout,key=ip+username,algorithm=sliding-log,limit=2,window=15m,fail=closed",
        ],
    )
    .await;
    app.user("root", PASSWORD, &[Role::Admin]).await;
    app.user("kim", PASSWORD, &[Role::User]).await;
    let admin = app.token("root", PASSWORD).await;
    let sign_in = |username: &str, ip: &str| {
        from_address(
            post_json(
                "/api/v1/auth/login",
                &json!({"username": username, "password": "a guess"}),
            ),
            ip,
        )
    };
    // Three addresses guess kim's password, then everyone is challenged.
    for i in 0..3 {
        let guess = sign_in("kim", &format!("203.0.113.{i}"));
        expect_error(app.send(guess).await, 401, "invalid_credentials").await;
    }
    for _ in 0..2 {
        let guess = sign_in("kim", "203.0.113.9");
        expect_error(app.send(guess).await, 401, "challenge_required").await;
    }
    // One address guesses a name no account has until it is locked out.
    for _ in 0..2 {
        let guess = sign_in("ghost", "198.51.100.7");
        expect_error(app.send(guess).await, 401, "invalid_credentials").await;
    }
    for _ in 0..2 {
        let guess = sign_in("ghost", "198.51.100.7");
        expect_error(app.send(guess).await, 429, "login_locked").await;
    }
    app.state.auth.events().flush().await;

    let listed = json(
        app.send(post_json_bearer(
            "/api/v1/admin/alerts/list",
            &admin,
            &json!({"state": "open"}),
        ))
        .await,
    )
    .await;
    assert_eq!(listed["open"], 2, "{listed}");
    let alert = |rule: &str| {
        listed["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|alert| alert["rule"] == rule)
            .unwrap_or_else(|| panic!("no {rule} alert: {listed}"))
            .clone()
    };
    let kim = app.state.auth.users().find("kim").await.unwrap().unwrap();
    let challenged = alert("challenge_on");
    assert_eq!(challenged["severity"], "warning");
    assert_eq!(challenged["subject"], format!("user:{}", kim.id));
    assert_eq!(challenged["link"], format!("/console/users/{}", kim.id));
    assert!(
        challenged["title"]
            .as_str()
            .unwrap()
            .contains("203.0.113.9"),
        "{challenged}"
    );
    let locked = alert("lockout");
    assert_eq!(locked["subject"], "ip:198.51.100.7");
    assert_eq!(locked["link"], "/console/events?ip=198.51.100.7");
    // The badge's count agrees.
    let count = json(
        app.send(post_bearer("/api/v1/ui/alerts/open", &admin))
            .await,
    )
    .await;
    assert_eq!(count, 2);
}
