//! The HTTP lock service and the admin lock registry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod support;

use gatehouse::user::Role;
use serde_json::json;
use support::{app_on, expect_error, json, post_bearer, post_json_bearer};

gatehouse::both_topologies! {
    async fn services_acquire_extend_and_release_namespaced_locks(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("billing", "service password", &[Role::Service])
            .await;
        app.user("reports", "service password", &[Role::Service])
            .await;
        let billing = app.token("billing", "service password").await;
        let reports = app.token("reports", "service password").await;

        let response = app
            .send(post_json_bearer(
                "/api/v1/locks/acquire",
                &billing,
                &json!({"name": "invoices", "ttl_ms": 5000, "wait_ms": 0, "label": "monthly run"}),
            ))
            .await;
        assert_eq!(response.status(), 200);
        let lease = json(response).await;
        assert_eq!(lease["name"], "billing/invoices");
        assert_eq!(lease["expires_in_ms"], 5000);
        let owner = lease["owner"].as_str().unwrap().to_owned();
        let first_token = lease["fencing_token"].as_u64().unwrap();

        // Busy for the same caller; another service's "invoices" is another lock.
        expect_error(
            app.send(post_json_bearer(
                "/api/v1/locks/acquire",
                &billing,
                &json!({"name": "invoices", "wait_ms": 100}),
            ))
            .await,
            409,
            "lock_busy",
        )
        .await;
        let other = app
            .send(post_json_bearer(
                "/api/v1/locks/acquire",
                &reports,
                &json!({"name": "invoices"}),
            ))
            .await;
        assert_eq!(json(other).await["name"], "reports/invoices");

        expect_error(
            app.send(post_json_bearer(
                "/api/v1/locks/release",
                &billing,
                &json!({"name": "invoices", "owner": "wrong-owner"}),
            ))
            .await,
            409,
            "lock_not_held",
        )
        .await;
        let extended = app
            .send(post_json_bearer(
                "/api/v1/locks/extend",
                &billing,
                &json!({"name": "invoices", "owner": owner, "ttl_ms": 20000}),
            ))
            .await;
        let extended = json(extended).await;
        assert_eq!(extended["expires_in_ms"], 20000);
        assert_eq!(extended["fencing_token"], first_token);

        let released = app
            .send(post_json_bearer(
                "/api/v1/locks/release",
                &billing,
                &json!({"name": "invoices", "owner": owner}),
            ))
            .await;
        assert_eq!(
            json(released).await,
            json!({"name": "billing/invoices", "released": true, "remaining_holds": 0})
        );
        let again = app
            .send(post_json_bearer(
                "/api/v1/locks/acquire",
                &billing,
                &json!({"name": "invoices"}),
            ))
            .await;
        assert!(json(again).await["fencing_token"].as_u64().unwrap() > first_token);
    }
}

gatehouse::both_topologies! {
    async fn the_lock_service_checks_roles_and_input(backend) {
        let app = app_on(&backend, &[]).await;
        app.user("plain", "user password", &[Role::User]).await;
        app.user("svc", "service password", &[Role::Service]).await;
        let plain = app.token("plain", "user password").await;
        let svc = app.token("svc", "service password").await;

        expect_error(
            app.send(post_json_bearer(
                "/api/v1/locks/acquire",
                &plain,
                &json!({"name": "x"}),
            ))
            .await,
            403,
            "forbidden",
        )
        .await;
        expect_error(
            app.send(post_json_bearer(
                "/api/v1/locks/acquire",
                &svc,
                &json!({"name": "x", "global": true}),
            ))
            .await,
            403,
            "forbidden",
        )
        .await;
        for body in [
            json!({"name": "x", "ttl_ms": 0}),
            json!({"name": "x", "ttl_ms": 100_000_000_000u64}),
            json!({"name": "x", "wait_ms": 60_000}),
            json!({"name": "has space"}),
        ] {
            expect_error(
                app.send(post_json_bearer("/api/v1/locks/acquire", &svc, &body))
                    .await,
                422,
                "validation_failed",
            )
            .await;
        }
        // Gatehouse's own locks (a session's refresh lock) are out of reach,
        // even of an admin's global names.
        app.user("root", "admin password", &[Role::Admin]).await;
        let root = app.token("root", "admin password").await;
        let login = app.login("svc", "service password").await;
        let internal = format!("gatehouse:refresh/{}", login["session_id"].as_str().unwrap());
        for (token, global) in [(&root, true), (&svc, false)] {
            expect_error(
                app.send(post_json_bearer(
                    "/api/v1/locks/acquire",
                    token,
                    &json!({"name": internal, "global": global}),
                ))
                .await,
                422,
                "validation_failed",
            )
            .await;
        }
        expect_error(
            app.send(post_json_bearer(
                "/api/v1/locks/acquire",
                &svc,
                &json!({"ttl_ms": 10}),
            ))
            .await,
            400,
            "invalid_request",
        )
        .await;
    }
}

gatehouse::both_topologies! {
    async fn admins_see_every_holder_and_can_force_release(backend) {
        let app = app_on(&backend, &["--instance-id", "gh-test-1"]).await;
        app.user("root", "admin password", &[Role::Admin]).await;
        app.user("svc", "service password", &[Role::Service]).await;
        let admin = app.token("root", "admin password").await;
        let svc = app.token("svc", "service password").await;

        app.send(post_json_bearer(
            "/api/v1/locks/acquire",
            &svc,
            &json!({"name": "deploy", "label": "deploy v2"}),
        ))
        .await;
        app.send(post_json_bearer(
            "/api/v1/locks/acquire",
            &admin,
            &json!({"name": "maintenance", "global": true}),
        ))
        .await;

        expect_error(
            app.send(post_bearer("/api/v1/admin/locks/list", &svc))
                .await,
            403,
            "forbidden",
        )
        .await;
        let list = json(
            app.send(post_bearer("/api/v1/admin/locks/list", &admin))
                .await,
        )
        .await;
        let locks = list["locks"].as_array().unwrap();
        assert_eq!(locks.len(), 2);
        assert_eq!(locks[0]["name"], "maintenance");
        assert_eq!(locks[1]["name"], "svc/deploy");
        assert_eq!(locks[1]["label"], "deploy v2");
        assert_eq!(locks[1]["instance"], "gh-test-1");
        assert_eq!(locks[1]["hold_count"], 1);
        assert!(
            locks[1].get("owner").is_none(),
            "owner tokens are never listed"
        );

        let forced = app
            .send(post_json_bearer(
                "/api/v1/admin/locks/force-release",
                &admin,
                &json!({"name": "svc/deploy"}),
            ))
            .await;
        let forced = json(forced).await;
        assert_eq!(forced["released"], true);
        assert_eq!(forced["holder"]["label"], "deploy v2");
        let list = json(
            app.send(post_bearer("/api/v1/admin/locks/list", &admin))
                .await,
        )
        .await;
        assert_eq!(list["locks"].as_array().unwrap().len(), 1);
    }
}
