//! Changing and resetting passwords through the JSON API: the password
//! policy, which sessions end, and a pending change that blocks everything
//! else until it is done.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod support;

use axum::body::Body;
use gatehouse::user::Role;
use http::{Request, StatusCode, header};
use serde_json::{Value, json};
use support::{TestApp, app_on, expect_error, get, json, post_bearer, post_json, post_json_bearer};

const PASSWORD: &str = "/api/v1/auth/password";
const SET_PASSWORD: &str = "/api/v1/admin/users/set-password";

async fn change(app: &TestApp, token: &str, current: &str, new: &str) -> http::Response<Body> {
    app.send(post_json_bearer(
        PASSWORD,
        token,
        &json!({"current_password": current, "new_password": new}),
    ))
    .await
}

async fn login_status(app: &TestApp, username: &str, password: &str) -> StatusCode {
    app.send(post_json(
        "/api/v1/auth/login",
        &json!({"username": username, "password": password}),
    ))
    .await
    .status()
}

async fn events(app: &TestApp, kind: &str) -> Vec<gatehouse::events::Event> {
    app.state.auth.events().flush().await;
    let filter = gatehouse::events::Filter {
        kind: Some(kind.to_owned()),
        ..Default::default()
    };
    app.state
        .auth
        .events()
        .recent(&filter, 10, 1000)
        .await
        .unwrap()
}

gatehouse::both_topologies! {
    async fn people_change_their_password_and_their_other_sessions_end(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("erin", "correct horse", &[Role::User]).await;
        let here = app.token("erin", "correct horse").await;
        let elsewhere = app.token("erin", "correct horse").await;

        expect_error(change(&app, &here, "wrong horse", "a new long password").await, 401, "invalid_credentials").await;
        // The policy: 12 to 1024 characters, not common, not the username.
        for weak in ["too short", "qwerty123456", "LeaveMeAlone", "Erin", &"x".repeat(1025)] {
            let message = expect_error(change(&app, &here, "correct horse", weak).await, 422, "validation_failed").await;
            assert!(message.starts_with("Invalid password"), "{message}");
        }
        let response = change(&app, &here, "correct horse", "a new long password").await;
        assert_eq!(response.status(), 200);
        assert_eq!(json(response).await["revoked_sessions"], 1);

        // This session stays; the other one ended with its token.
        assert_eq!(app.send(post_bearer("/api/v1/auth/me", &here)).await.status(), 200);
        expect_error(app.send(post_bearer("/api/v1/auth/me", &elsewhere)).await, 401, "token_revoked").await;
        assert_eq!(login_status(&app, "erin", "correct horse").await, 401);
        assert_eq!(login_status(&app, "erin", "a new long password").await, 200);
        let changed = events(&app, "password_changed").await;
        assert_eq!(changed.len(), 1);
        assert_eq!(
            changed[0].kind,
            gatehouse::events::EventKind::PasswordChanged(gatehouse::api::events::SessionsEnded {
                sessions_ended: 1
            })
        );
        assert_eq!(events(&app, "password_change_failed").await.len(), 1);
    }
}

gatehouse::both_topologies! {
    /// Checking the current password is a password guess: it spends the
    /// sign-in lockout, so a stolen session cannot guess at Argon2 speed.
    async fn guessing_the_current_password_is_locked_out_like_sign_in(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("gus", "correct horse", &[Role::User]).await;
        let token = app.token("gus", "correct horse").await;
        for _ in 0..5 {
            expect_error(change(&app, &token, "a guess", "a new long password").await, 401, "invalid_credentials").await;
        }
        expect_error(change(&app, &token, "correct horse", "a new long password").await, 429, "login_locked").await;
        expect_error(
            app.send(post_json("/api/v1/auth/login", &json!({"username": "gus", "password": "correct horse"}))).await,
            429,
            "login_locked",
        )
        .await;
    }
}

gatehouse::both_topologies! {
    async fn an_admin_reset_ends_every_session_and_the_user_must_change_it_first(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("root", "admin password", &[Role::Admin, Role::User]).await;
        app.user("dave", "correct horse", &[Role::User]).await;
        let root = app.token("root", "admin password").await;
        let dave = app.login("dave", "correct horse").await;
        let dave_token = dave["access_token"].as_str().unwrap();
        assert_eq!(dave["must_change_password"], false);
        let dave_id = app.state.auth.users().find("dave").await.unwrap().unwrap().id;

        // Only admins, and only acceptable passwords.
        let body = json!({"user_id": dave_id, "password": "a fresh start 42"});
        expect_error(app.send(post_json_bearer(SET_PASSWORD, dave_token, &body)).await, 403, "forbidden").await;
        expect_error(
            app.send(post_json_bearer(SET_PASSWORD, &root, &json!({"user_id": dave_id, "password": "short"}))).await,
            422,
            "validation_failed",
        )
        .await;
        expect_error(
            app.send(post_json_bearer(SET_PASSWORD, &root, &json!({"user_id": "0".repeat(32), "password": "a fresh start 42"}))).await,
            404,
            "not_found",
        )
        .await;

        let response = app.send(post_json_bearer(SET_PASSWORD, &root, &body)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(json(response).await["revoked_sessions"], 1);
        expect_error(app.send(post_bearer("/api/v1/auth/me", dave_token)).await, 401, "token_revoked").await;
        let reset = events(&app, "password_reset").await;
        assert!(
            matches!(
                &reset[0].kind,
                gatehouse::events::EventKind::PasswordReset(reset) if reset.by == "root"
            ),
            "{:?}",
            reset[0].kind
        );

        // Signed in with the new password, Dave can do nothing else yet.
        let login = app.login("dave", "a fresh start 42").await;
        assert_eq!(login["must_change_password"], true);
        let token = login["access_token"].as_str().unwrap();
        let me: Value = json(app.send(post_bearer("/api/v1/auth/me", token)).await).await;
        assert_eq!(me["must_change_password"], true);
        let message = expect_error(app.send(post_bearer("/api/v1/sessions/list", token)).await, 403, "password_change_required").await;
        assert!(message.contains("/api/v1/auth/password"), "{message}");
        let verify = Request::get("/api/v1/auth/verify")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.send(verify).await.status(), 403);
        // A page sends the browser to the form instead.
        let page = Request::get("/console")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let response = app.send(page).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[header::LOCATION], "/account");

        // Choosing a new password lifts it, for this very session.
        expect_error(change(&app, token, "a fresh start 42", "a fresh start 42").await, 422, "validation_failed").await;
        let response = change(&app, token, "a fresh start 42", "my own choice, 2026").await;
        assert_eq!(response.status(), 200);
        assert_eq!(app.send(post_bearer("/api/v1/sessions/list", token)).await.status(), 200);
        let me: Value = json(app.send(post_bearer("/api/v1/auth/me", token)).await).await;
        assert_eq!(me["must_change_password"], false);
        let again = app.login("dave", "my own choice, 2026").await;
        assert_eq!(again["must_change_password"], false);
    }
}

gatehouse::both_topologies! {
    /// The generated first-run admin signs in with the logged password and
    /// must choose their own before anything else.
    async fn the_generated_first_run_admin_must_change_the_password(backend) {
        use clap::Parser;
        let app = app_on(&backend, &[]).await;
        let config = gatehouse_server::config::Config::try_parse_from(["gatehouse"]).unwrap();
        let bootstrap = gatehouse_server::startup::bootstrap_admin(
            &config,
            app.state.auth.clone(),
            &app.readiness,
        )
        .unwrap();
        assert!(app.readiness.is_provisioning(), "not ready before the admin exists");
        bootstrap.await.unwrap();
        assert!(!app.readiness.is_provisioning());
        assert_eq!(app.send(get("/ready")).await.status(), 200, "ready once it does");
        let admin = app.state.auth.users().find("admin").await.unwrap().unwrap();
        assert!(admin.must_change_password);
        assert!(admin.has_role(Role::Admin));
    }
}
