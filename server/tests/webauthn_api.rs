//! Security keys and passkeys through the JSON API, answered by a
//! software authenticator that signs real assertions: registering one
//! (`/api/v1/auth/mfa/webauthn/register/*`), proving it after the
//! password (`/api/v1/auth/mfa/webauthn/*`), signing in with a passkey
//! alone (`/api/v1/auth/passkey/*`), and what `me` and the factor list
//! then say.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod support;

use gatehouse::testing::SoftAuthenticator;
use gatehouse::user::Role;
use serde_json::{Value, json};
use support::{
    TestApp, app_on, expect_error, json, post_bearer, post_json, post_json_bearer, set_cookies,
};

const PASSWORD: &str = "correct horse battery";

/// Registers `authenticator`'s key for `kim` (her first factor).
async fn register(app: &TestApp, authenticator: &mut SoftAuthenticator) -> Value {
    app.user("kim", PASSWORD, &[Role::User]).await;
    let token = app.token("kim", PASSWORD).await;
    let started = app
        .send(post_json_bearer(
            "/api/v1/auth/mfa/webauthn/register/start",
            &token,
            &json!({}),
        ))
        .await;
    assert_eq!(started.status(), 200);
    let started = json(started).await;
    let options = &started["options"];
    assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
    assert_eq!(options["publicKey"]["user"]["name"], "kim");
    let finish = |credential: Value| {
        post_json_bearer(
            "/api/v1/auth/mfa/webauthn/register/finish",
            &token,
            &json!({"ceremony_id": started["ceremony_id"], "credential": credential}),
        )
    };
    let answer = authenticator.create(options);
    let confirmed = app.send(finish(answer.clone())).await;
    assert_eq!(confirmed.status(), 200);
    let confirmed = json(confirmed).await;
    assert_eq!(
        confirmed["recovery_codes"].as_array().map(Vec::len),
        Some(10)
    );
    // Now that the account has a factor, this password-only session may
    // add no other (nor replay this one).
    expect_error(app.send(finish(answer)).await, 403, "step_up_required").await;
    let listed = json(
        app.send(post_bearer("/api/v1/auth/mfa/factors", &token))
            .await,
    )
    .await;
    let factor = &listed["factors"][0];
    assert_eq!(factor["kind"], "webauthn");
    assert_eq!(factor["factor_id"], confirmed["factor_id"]);
    assert_eq!(factor["backup_eligible"], false);
    factor.clone()
}

gatehouse::both_topologies! {
    async fn a_passkey_signs_in_without_a_password(backend) {
        let app = app_on(&backend, &[]).await;
        let mut passkey = SoftAuthenticator::passkey();
        let factor = register(&app, &mut passkey).await;
        assert_eq!(factor["passkey"], true);
        assert_eq!(factor["label"], "Passkey");

        let started = json(app.send(post_json("/api/v1/auth/passkey/start", &json!({}))).await).await;
        assert!(started["options"]["publicKey"]["allowCredentials"].as_array().is_none_or(Vec::is_empty));
        let finish = |credential: Value| {
            post_json("/api/v1/auth/passkey/finish", &json!({"ceremony_id": started["ceremony_id"], "credential": credential}))
        };
        let answer = passkey.get(&started["options"]);
        let response = app.send(finish(answer.clone())).await;
        assert_eq!(response.status(), 200);
        assert!(set_cookies(response.headers()).iter().any(|c| c.starts_with("gh_access=")));
        let pair = json(response).await;
        let me = json(app.send(post_bearer("/api/v1/auth/me", pair["access_token"].as_str().unwrap())).await).await;
        assert_eq!(me["username"], "kim");
        assert_eq!(me["aal"], 2);
        assert_eq!(me["amr"], json!(["hwk", "user"]));
        expect_error(app.send(finish(answer)).await, 401, "mfa_invalid").await;

        // Without user verification, no one.
        passkey.verifies_user = false;
        let started = json(app.send(post_json("/api/v1/auth/passkey/start", &json!({}))).await).await;
        let answer = passkey.get(&started["options"]);
        let response = app
            .send(post_json("/api/v1/auth/passkey/finish", &json!({"ceremony_id": started["ceremony_id"], "credential": answer})))
            .await;
        assert!(set_cookies(response.headers()).is_empty());
        expect_error(response, 401, "mfa_invalid").await;
    }

    async fn a_security_key_proves_the_second_factor(backend) {
        let app = app_on(&backend, &[]).await;
        let mut key = SoftAuthenticator::security_key();
        let factor = register(&app, &mut key).await;
        assert_eq!(factor["passkey"], false);

        let login = app
            .send(post_json("/api/v1/auth/login", &json!({"username": "kim", "password": PASSWORD})))
            .await;
        assert!(set_cookies(login.headers()).is_empty(), "no cookie for a password alone");
        let body = json(login).await;
        assert_eq!(body["error"], "mfa_required");
        assert_eq!(body["mfa"]["methods"], json!(["webauthn", "recovery_code"]));
        let ticket = body["mfa"]["ticket"].clone();
        expect_error(
            app.send(post_json("/api/v1/auth/mfa/webauthn/start", &json!({"ticket": "0".repeat(32)}))).await,
            401,
            "mfa_invalid",
        )
        .await;
        let started = json(app.send(post_json("/api/v1/auth/mfa/webauthn/start", &json!({"ticket": ticket}))).await).await;
        let allowed = started["options"]["publicKey"]["allowCredentials"].as_array().unwrap();
        assert_eq!(allowed.len(), 1);
        let answer = key.get(&started["options"]);
        let response = app
            .send(post_json(
                "/api/v1/auth/mfa/webauthn/finish",
                &json!({"ticket": ticket, "ceremony_id": started["ceremony_id"], "credential": answer}),
            ))
            .await;
        assert_eq!(response.status(), 200);
        let pair = json(response).await;
        let me = json(app.send(post_bearer("/api/v1/auth/me", pair["access_token"].as_str().unwrap())).await).await;
        assert_eq!(me["aal"], 2);
        assert_eq!(me["amr"], json!(["pwd", "hwk"]));
        // `/mfa/verify` takes codes, not keys.
        let body = json(app.send(post_json("/api/v1/auth/login", &json!({"username": "kim", "password": PASSWORD}))).await).await;
        expect_error(
            app.send(post_json(
                "/api/v1/auth/mfa/verify",
                &json!({"ticket": body["mfa"]["ticket"], "method": "webauthn", "code": "x"}),
            ))
            .await,
            401,
            "mfa_invalid",
        )
        .await;
    }
}
