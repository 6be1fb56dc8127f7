//! `POST /api/v1/admin/users/get`: one user's profile, sessions, revoked
//! tokens and last sign-in, over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod support;

use gatehouse::user::Role;
use serde_json::json;
use support::{app_on, expect_error, json, post_bearer, post_json_bearer};

gatehouse::both_topologies! {
    async fn an_admin_sees_one_user_whole(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("root", "admin password", &[Role::Admin]).await;
        app.user("uma", "long enough, really", &[Role::User]).await;
        let admin = app.token("root", "admin password").await;
        let kept = app.login("uma", "long enough, really").await;
        let ended = app.token("uma", "long enough, really").await;
        assert_eq!(app.send(post_bearer("/api/v1/auth/logout", &ended)).await.status(), 200);
        let user_id = json(app.send(post_bearer("/api/v1/auth/me", kept["access_token"].as_str().unwrap())).await)
            .await["user_id"]
            .as_str()
            .unwrap()
            .to_owned();

        let report = json(
            app.send(post_json_bearer("/api/v1/admin/users/get", &admin, &json!({"user_id": user_id})))
                .await,
        )
        .await;
        assert_eq!(report["user"]["username"], "uma");
        assert_eq!(report["user"]["roles"], json!(["user"]));
        let sessions = report["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 1, "{report}");
        assert_eq!(sessions[0]["session_id"], kept["session_id"]);
        assert_eq!(sessions[0]["username"], "uma");
        let revoked = report["blacklist"].as_array().unwrap();
        assert_eq!(revoked.len(), 1, "the signed-out session's token: {report}");
        assert_eq!(revoked[0]["user_id"], user_id.as_str());
        assert!(report["last_sign_in_ms"].as_u64().is_some(), "{report}");

        // Unknown ids are a 404; people who are not admins are refused.
        expect_error(
            app.send(post_json_bearer("/api/v1/admin/users/get", &admin, &json!({"user_id": "0123456789abcdef0123456789abcdef"})))
                .await,
            404,
            "not_found",
        )
        .await;
        expect_error(
            app.send(post_json_bearer(
                "/api/v1/admin/users/get",
                kept["access_token"].as_str().unwrap(),
                &json!({"user_id": user_id}),
            ))
            .await,
            403,
            "forbidden",
        )
        .await;
    }
}
