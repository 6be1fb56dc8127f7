//! Signing in with a second factor through the JSON API: the contract of
//! `mfa_required` and `POST /api/v1/auth/mfa/verify`, and the assurance
//! the session then reports (`me`, forward-auth).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod support;

use axum::body::Body;
use gatehouse::mfa::totp;
use gatehouse::user::Role;
use http::{Request, header};
use serde_json::json;
use support::{TestApp, app_on, expect_error, json, post_bearer, post_json, set_cookies};

fn now() -> u64 {
    gatehouse::duration::epoch_ms() / 1000
}

/// `kim`, with a confirmed TOTP factor: its secret.
async fn enrolled(app: &TestApp) -> Vec<u8> {
    app.user("kim", "correct horse battery", &[Role::User])
        .await;
    let auth = &app.state.auth;
    let user = auth.users().find("kim").await.unwrap().unwrap();
    let enrolment = auth
        .factors()
        .enroll_totp(&user.id, "kim", None)
        .await
        .unwrap();
    let secret = totp::from_base32(&enrolment.secret).unwrap();
    let code = totp::code_at(&secret, now() - totp::PERIOD);
    auth.factors()
        .confirm_totp(&user.id, &enrolment.factor_id, &code)
        .await
        .unwrap()
        .unwrap();
    secret
}

gatehouse::both_topologies! {
    async fn a_right_password_gets_a_ticket_and_a_code_gets_the_session(backend) {
        let app = app_on(&backend, &[]).await;
        let secret = enrolled(&app).await;
        let response = app
            .send(post_json("/api/v1/auth/login", &json!({"username": "kim", "password": "correct horse battery"})))
            .await;
        assert_eq!(response.status(), 401);
        assert!(set_cookies(response.headers()).is_empty(), "no cookie for a password alone");
        let body = json(response).await;
        assert_eq!(body["error"], "mfa_required");
        let mfa = &body["mfa"];
        assert_eq!(mfa["methods"], json!(["totp", "recovery_code"]));
        assert_eq!(mfa["expires_in_ms"], 300_000);
        assert!(body.get("access_token").is_none());
        let ticket = mfa["ticket"].as_str().unwrap();

        let wrong = totp::code_at(&secret, now() + 10 * totp::PERIOD);
        let verify = |code: &str| post_json("/api/v1/auth/mfa/verify", &json!({"ticket": ticket, "method": "totp", "code": code}));
        expect_error(app.send(verify(&wrong)).await, 401, "mfa_invalid").await;
        let response = app.send(verify(&totp::code_at(&secret, now()))).await;
        assert_eq!(response.status(), 200);
        let cookies = set_cookies(response.headers());
        assert!(cookies.iter().any(|c| c.contains("HttpOnly")), "{cookies:?}");
        let pair = json(response).await;
        let token = pair["access_token"].as_str().unwrap();

        let me = json(app.send(post_bearer("/api/v1/auth/me", token)).await).await;
        assert_eq!(me["aal"], 2);
        assert_eq!(me["amr"], json!(["pwd", "otp"]));
        assert!(me["auth_time"].as_u64().unwrap() >= now() - 5);
        let verified = app
            .send(
                Request::get("/api/v1/auth/verify")
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(verified.headers()["x-gatehouse-aal"], "2");

        // The ticket is spent; a bad body is a 4xx, never a 500.
        expect_error(app.send(verify(&totp::code_at(&secret, now() + totp::PERIOD))).await, 401, "mfa_invalid").await;
        let bad = post_json("/api/v1/auth/mfa/verify", &json!({"ticket": ticket, "method": "sms", "code": "1"}));
        assert_eq!(app.send(bad).await.status().as_u16() / 100, 4);
    }

    async fn a_password_only_session_reports_aal_1(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("lee", "correct horse battery", &[Role::User]).await;
        let token = app.token("lee", "correct horse battery").await;
        let me = json(app.send(post_bearer("/api/v1/auth/me", &token)).await).await;
        assert_eq!((me["aal"].clone(), me["amr"].clone()), (json!(1), json!(["pwd"])));
    }
}
