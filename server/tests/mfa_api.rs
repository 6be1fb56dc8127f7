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
use support::{
    TestApp, app_on, expect_error, json, post_bearer, post_json, post_json_bearer, set_cookies,
};

fn now() -> u64 {
    gatehouse::duration::epoch_ms() / 1000
}

/// `kim`, with a TOTP factor enrolled through the API: its secret, the
/// recovery codes, and the (password-only) token that enrolled it.
async fn enrolled(app: &TestApp) -> (Vec<u8>, Vec<String>, String) {
    app.user("kim", "correct horse battery", &[Role::User])
        .await;
    let token = app.token("kim", "correct horse battery").await;
    let enrolment = app
        .send(post_json_bearer(
            "/api/v1/auth/mfa/totp/enroll",
            &token,
            &json!({"label": "Phone"}),
        ))
        .await;
    assert_eq!(enrolment.status(), 200);
    let enrolment = json(enrolment).await;
    assert!(
        enrolment["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Gatehouse:kim?secret=")
    );
    let secret = totp::from_base32(enrolment["secret"].as_str().unwrap()).unwrap();
    let confirm = |code: String| {
        post_json_bearer(
            "/api/v1/auth/mfa/totp/confirm",
            &token,
            &json!({"factor_id": enrolment["factor_id"], "code": code}),
        )
    };
    let wrong = totp::code_at(&secret, now() + 10 * totp::PERIOD);
    expect_error(app.send(confirm(wrong)).await, 422, "validation_failed").await;
    // The previous step's code: the current one stays free for the test.
    let confirmed = app
        .send(confirm(totp::code_at(&secret, now() - totp::PERIOD)))
        .await;
    assert_eq!(confirmed.status(), 200);
    let codes: Vec<String> =
        serde_json::from_value(json(confirmed).await["recovery_codes"].clone()).unwrap();
    assert_eq!(codes.len(), 10);
    (secret, codes, token)
}

/// Signs in with the password and `code`: the access token (aal 2).
async fn sign_in_with(app: &TestApp, method: &str, code: &str) -> String {
    let response = app
        .send(post_json(
            "/api/v1/auth/login",
            &json!({"username": "kim", "password": "correct horse battery"}),
        ))
        .await;
    let ticket = json(response).await["mfa"]["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app
        .send(post_json(
            "/api/v1/auth/mfa/verify",
            &json!({"ticket": ticket, "method": method, "code": code}),
        ))
        .await;
    assert_eq!(response.status(), 200);
    json(response).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

gatehouse::both_topologies! {
    async fn a_right_password_gets_a_ticket_and_a_code_gets_the_session(backend) {
        let app = app_on(&backend, &[]).await;
        let (secret, _, _) = enrolled(&app).await;
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

    async fn changing_factors_needs_a_recent_second_factor(backend) {
        let app = app_on(&backend, &[]).await;
        let (secret, codes, password_only) = enrolled(&app).await;
        let factors = json(app.send(post_bearer("/api/v1/auth/mfa/factors", &password_only)).await).await;
        assert_eq!(factors["recovery_codes_left"], 10);
        let factor = &factors["factors"][0];
        assert_eq!((factor["kind"].clone(), factor["label"].clone()), (json!("totp"), json!("Phone")));
        assert_eq!((factor["passkey"].clone(), factor["backup_eligible"].clone()), (json!(false), json!(false)));
        let factor_id = factor["factor_id"].as_str().unwrap().to_owned();

        // The session that enrolled it proved no second factor.
        let remove = |token: &str| post_json_bearer("/api/v1/auth/mfa/factors/remove", token, &json!({"factor_id": factor_id}));
        expect_error(app.send(remove(&password_only)).await, 403, "step_up_required").await;
        expect_error(app.send(post_bearer("/api/v1/auth/mfa/recovery-codes", &password_only)).await, 403, "step_up_required").await;
        let more = post_json_bearer("/api/v1/auth/mfa/totp/enroll", &password_only, &json!({}));
        expect_error(app.send(more).await, 403, "step_up_required").await;

        // A recovery code proves it too; new codes kill the old ones.
        let strong = sign_in_with(&app, "recovery_code", &codes[0]).await;
        let renewed = app.send(post_bearer("/api/v1/auth/mfa/recovery-codes", &strong)).await;
        assert_eq!(renewed.status(), 200);
        assert_eq!(json(renewed).await["recovery_codes"].as_array().unwrap().len(), 10);
        let strong = sign_in_with(&app, "totp", &totp::code_at(&secret, now())).await;
        let removed = app.send(remove(&strong)).await;
        assert_eq!(removed.status(), 200);
        expect_error(app.send(remove(&strong)).await, 404, "not_found").await;
        // No factor left: a password signs in again.
        let login = app
            .send(post_json("/api/v1/auth/login", &json!({"username": "kim", "password": "correct horse battery"})))
            .await;
        assert_eq!(login.status(), 200);
        assert_eq!(json(app.send(post_bearer("/api/v1/auth/mfa/factors", &strong)).await).await["recovery_codes_left"], 0);
    }

    async fn an_admin_reset_removes_the_factors_and_ends_the_sessions(backend) {
        let app = app_on(&backend, &[]).await;
        let (_, _, kim_token) = enrolled(&app).await;
        let kim = json(app.send(post_bearer("/api/v1/auth/me", &kim_token)).await).await;
        let reset = |token: &str, user_id: &serde_json::Value| {
            post_json_bearer("/api/v1/admin/users/reset-mfa", token, &json!({"user_id": user_id}))
        };
        expect_error(app.send(reset(&kim_token, &kim["user_id"])).await, 403, "forbidden").await;
        app.user("root", "correct horse battery", &[Role::Admin]).await;
        let admin = app.token("root", "correct horse battery").await;
        let report = json(app.send(post_json_bearer("/api/v1/admin/users/get", &admin, &json!({"user_id": kim["user_id"]}))).await).await;
        assert_eq!(report["mfa"]["factors"][0]["label"], "Phone");
        assert_eq!(report["mfa"]["recovery_codes_left"], 10);

        let response = app.send(reset(&admin, &kim["user_id"])).await;
        assert_eq!(response.status(), 200);
        assert_eq!(json(response).await, json!({"factors_removed": 1, "revoked_sessions": 1}));
        expect_error(app.send(post_bearer("/api/v1/auth/me", &kim_token)).await, 401, "token_revoked").await;
        let login = app
            .send(post_json("/api/v1/auth/login", &json!({"username": "kim", "password": "correct horse battery"})))
            .await;
        assert_eq!(login.status(), 200, "the password alone signs in again");
        expect_error(app.send(reset(&admin, &json!("no-such-user"))).await, 404, "not_found").await;
    }

    async fn a_step_up_renews_the_sessions_second_factor_in_place(backend) {
        let app = app_on(&backend, &[]).await;
        let (secret, _, password_only) = enrolled(&app).await;
        let change = |token: &str| {
            post_json_bearer(
                "/api/v1/auth/password",
                token,
                &json!({"current_password": "correct horse battery", "new_password": "an even better passphrase"}),
            )
        };
        let message = expect_error(app.send(change(&password_only)).await, 403, "step_up_required").await;
        assert!(message.contains("/api/v1/auth/mfa/step-up"), "{message}");
        let before = json(app.send(post_bearer("/api/v1/auth/me", &password_only)).await).await;

        let step = app.send(post_json_bearer("/api/v1/auth/mfa/step-up", &password_only, &json!({}))).await;
        assert_eq!(step.status(), 200);
        let step = json(step).await;
        assert_eq!(step["expires_in_ms"], 300_000);
        let verify = |ticket: &serde_json::Value, token: Option<&str>| {
            let body = json!({"ticket": ticket, "method": "totp", "code": totp::code_at(&secret, now())});
            match token {
                Some(token) => post_json_bearer("/api/v1/auth/mfa/verify", token, &body),
                None => post_json("/api/v1/auth/mfa/verify", &body),
            }
        };
        // Not without the session's own token.
        expect_error(app.send(verify(&step["ticket"], None)).await, 401, "mfa_invalid").await;
        let raised = app.send(verify(&step["ticket"], Some(&password_only))).await;
        assert_eq!(raised.status(), 200);
        let pair = json(raised).await;
        let token = pair["access_token"].as_str().unwrap();
        assert!(pair["refresh_token"].as_str().is_some());
        let after = json(app.send(post_bearer("/api/v1/auth/me", token)).await).await;
        assert_eq!(after["session_id"], before["session_id"], "the same session");
        assert_eq!((after["aal"].clone(), after["amr"].clone()), (json!(2), json!(["pwd", "otp"])));
        assert_eq!(app.send(change(token)).await.status(), 200);

        // Without a factor there is nothing to step up with.
        app.user("lee", "correct horse battery", &[Role::User]).await;
        let lee = app.token("lee", "correct horse battery").await;
        expect_error(app.send(post_json_bearer("/api/v1/auth/mfa/step-up", &lee, &json!({}))).await, 422, "validation_failed").await;
    }

    async fn a_role_that_requires_a_second_factor_may_only_enrol_until_it_has_one(backend) {
        let app = app_on(&backend, &["--mfa-required-roles", "admin"]).await;
        app.user("root", "correct horse battery", &[Role::Admin]).await;
        let token = app.token("root", "correct horse battery").await;
        let me = json(app.send(post_bearer("/api/v1/auth/me", &token)).await).await;
        assert_eq!(me["mfa_enrollment_required"], true);
        let message = expect_error(
            app.send(post_json_bearer("/api/v1/admin/users/list", &token, &json!({}))).await,
            403,
            "mfa_enrollment_required",
        )
        .await;
        assert!(message.contains("/api/v1/auth/mfa/totp/enroll"), "{message}");
        // Pages lead to the account page.
        let page = app
            .send(Request::get("/console").header(header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty()).unwrap())
            .await;
        assert_eq!(page.status().as_u16() / 100, 3);
        assert_eq!(page.headers()[header::LOCATION], "/account");

        let enrolment = json(app.send(post_json_bearer("/api/v1/auth/mfa/totp/enroll", &token, &json!({}))).await).await;
        let secret = totp::from_base32(enrolment["secret"].as_str().unwrap()).unwrap();
        let confirmed = app
            .send(post_json_bearer(
                "/api/v1/auth/mfa/totp/confirm",
                &token,
                &json!({"factor_id": enrolment["factor_id"], "code": totp::code_at(&secret, now())}),
            ))
            .await;
        assert_eq!(confirmed.status(), 200);
        let listed = app.send(post_json_bearer("/api/v1/admin/users/list", &token, &json!({}))).await;
        assert_eq!(listed.status(), 200, "enrolled: the session may do everything");
    }

    async fn a_remembered_browser_signs_in_with_the_password_until_forgotten(backend) {
        let app = app_on(&backend, &[]).await;
        let (secret, _, _) = enrolled(&app).await;
        let password = json!({"username": "kim", "password": "correct horse battery"});
        let login = json(app.send(post_json("/api/v1/auth/login", &password)).await).await;
        let verified = app
            .send(post_json(
                "/api/v1/auth/mfa/verify",
                &json!({"ticket": login["mfa"]["ticket"], "method": "totp", "code": totp::code_at(&secret, now()), "remember_device": true}),
            ))
            .await;
        assert_eq!(verified.status(), 200);
        let cookie = set_cookies(verified.headers())
            .into_iter()
            .find(|c| c.starts_with("gh_device="))
            .expect("the browser is remembered");
        assert!(cookie.contains("HttpOnly") && cookie.contains("Path=/api/v1/") && cookie.contains("Max-Age=2592000"), "{cookie}");
        let device = cookie.split(';').next().unwrap().to_owned();
        let token = json(verified).await["access_token"].as_str().unwrap().to_owned();

        let remembered = || {
            Request::post("/api/v1/auth/login")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::COOKIE, &device)
                .body(Body::from(password.to_string()))
                .unwrap()
        };
        let skipped = app.send(remembered()).await;
        assert_eq!(skipped.status(), 200);
        let listed = json(app.send(post_bearer("/api/v1/auth/mfa/factors", &token)).await).await;
        let device_id = listed["remembered_devices"][0]["device_id"].clone();
        assert!(device_id.is_string(), "{listed}");
        let forgotten = app
            .send(post_json_bearer("/api/v1/auth/mfa/devices/forget", &token, &json!({"device_id": device_id})))
            .await;
        assert_eq!(forgotten.status(), 200);
        expect_error(app.send(remembered()).await, 401, "mfa_required").await;
        let again = app
            .send(post_json_bearer("/api/v1/auth/mfa/devices/forget", &token, &json!({"device_id": device_id})))
            .await;
        expect_error(again, 404, "not_found").await;
        // Both in the audit trail.
        let kinds = gatehouse::testing::wait_for("the audit events", std::time::Duration::from_secs(5), || async {
            let events = app
                .state
                .auth
                .events()
                .recent_in(gatehouse::events::Stream::Audit, &gatehouse::events::Filter::default(), 100, 1_000)
                .await
                .ok()?;
            let kinds: Vec<&str> = events.iter().map(|e| e.kind.kind().as_str()).collect();
            (kinds.contains(&"device_remembered") && kinds.contains(&"device_forgotten")).then_some(kinds.len())
        })
        .await;
        assert!(kinds >= 2);
    }
}
