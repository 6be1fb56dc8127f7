//! The admission decision table, on a real Redis (and a real Cluster
//! where the topology matters), without HTTP.

use std::time::Duration;

use super::super::tests::client;
use super::*;
use crate::store::Store;
use crate::testing::TestRedis;
use crate::testing::fixtures::{AuthFixture, signed_in};
use crate::token::TokenConfig;
use crate::user::Role;

async fn auth(store: &Store, policies: &[&str]) -> Auth {
    auth_with_tokens(store, policies, TokenConfig::default()).await
}

async fn auth_with_tokens(store: &Store, policies: &[&str], tokens: TokenConfig) -> Auth {
    AuthFixture {
        tokens,
        ..AuthFixture::default()
    }
    .with_policies(policies)
    .build(store)
    .await
}

fn now_secs() -> u64 {
    crate::duration::epoch_ms() / 1000
}

/// A `GET` of `path` carrying `token` from `source`.
fn facts<'a>(
    path: &'a str,
    client: &'a Client,
    token: Option<(&'a str, TokenSource)>,
) -> Facts<'a> {
    Facts {
        path,
        route: RouteClass::of(path),
        state_changing: false,
        client,
        credential: token.map(|(token, source)| Credential { token, source }),
        nonce: None,
        timestamp: None,
        now_secs: now_secs(),
    }
}

const ME: &str = "/api/v1/auth/me";

fn principal(admission: &Admission) -> &Principal {
    match &admission.caller {
        Caller::Principal(principal) => principal,
        other => panic!("expected a principal, got {other:?}"),
    }
}

#[tokio::test]
async fn probes_are_not_admitted_and_cost_no_redis() {
    assert!(!RouteClass::of("/health").is_admitted());
    assert!(!RouteClass::of("/pkg/app.wasm").is_admitted());
}

crate::both_topologies! {
    async fn the_api_limit_refuses_without_ending_the_session(backend) {
        let auth = auth(
            &backend.store().await,
            &["name=api-user,key=user,algorithm=sliding-log,limit=3,window=1m,routes=/api/*"],
        )
        .await;
        let login = signed_in(&auth, "pam", &[Role::User]).await;
        let client = client();
        let bearer = Some((login.access.token.as_str(), TokenSource::Bearer));
        let mut allowed = 0;
        for _ in 0..5 {
            let admission = auth.admit(&facts(ME, &client, bearer)).await;
            principal(&admission);
            allowed += u32::from(admission.refusal.is_none());
        }
        assert_eq!(allowed, 3);
        let admission = auth.admit(&facts(ME, &client, bearer)).await;
        let Some(Refusal::RateLimited(outcome)) = admission.refusal else {
            panic!("expected a rate limit, got {:?}", admission.refusal);
        };
        assert_eq!(&*outcome.policy, "api-user");
        assert!(outcome.retry_after_ms.is_some_and(|ms| ms > 0));
    }

    async fn a_demoted_admin_loses_admin_on_the_next_request(backend) {
        let auth = auth(&backend.store().await, &[]).await;
        let login = signed_in(&auth, "ada", &[Role::Admin, Role::User]).await;
        let client = client();
        let bearer = Some((login.access.token.as_str(), TokenSource::Bearer));
        let before = auth.admit(&facts(ME, &client, bearer)).await;
        assert!(principal(&before).has_role(Role::Admin));
        auth.users().set_roles(&login.user.id, &[Role::User]).await.unwrap();
        let after = auth.admit(&facts(ME, &client, bearer)).await;
        assert_eq!(principal(&after).roles, vec![Role::User], "the token still says admin");
    }

    async fn renewal_after_demotion_carries_only_the_new_roles(backend) {
        let auth = auth(&backend.store().await, &[]).await;
        let login = signed_in(&auth, "bea", &[Role::Admin, Role::User]).await;
        auth.users().set_roles(&login.user.id, &[Role::User]).await.unwrap();
        let client = client();
        // A moment before expiry: in the renewal window.
        let late = Facts {
            now_secs: login.access.claims.exp - 1,
            ..facts(ME, &client, Some((login.access.token.as_str(), TokenSource::Bearer)))
        };
        let admission = auth.admit(&late).await;
        let (rotated, source) = admission.renewal.expect("renewed in the window");
        assert_eq!(source, TokenSource::Bearer);
        assert_eq!(rotated.access.roles, vec!["user".to_owned()]);
        assert_eq!(rotated.principal.roles, vec![Role::User]);
        let renewed = auth.authenticate(&rotated.access_token).await.unwrap();
        assert_eq!(renewed.roles, vec![Role::User]);
    }

    async fn a_disabled_user_is_unauthenticated_at_once(backend) {
        let auth = auth(&backend.store().await, &[]).await;
        let login = signed_in(&auth, "cyd", &[Role::User]).await;
        // Only the flag, not the sweep of sessions: the script alone refuses.
        auth.users().set_disabled(&login.user.id, true).await.unwrap();
        let client = client();
        let bearer = Some((login.access.token.as_str(), TokenSource::Bearer));
        let admission = auth.admit(&facts(ME, &client, bearer)).await;
        assert!(
            matches!(admission.caller, Caller::Rejected(AuthError::SessionEnded)),
            "{:?}",
            admission.caller
        );
        auth.users().set_disabled(&login.user.id, false).await.unwrap();
        principal(&auth.admit(&facts(ME, &client, bearer)).await);
    }

    async fn forward_auth_never_renews_and_spends_only_its_own_policy(backend) {
        let auth = auth(&backend.store().await, &[]).await;
        let login = signed_in(&auth, "dee", &[Role::User]).await;
        let client = client();
        let late = Facts {
            now_secs: login.access.claims.exp - 1,
            ..facts(
                crate::route::VERIFY_PATH,
                &client,
                Some((login.access.token.as_str(), TokenSource::Bearer)),
            )
        };
        let admission = auth.admit(&late).await;
        principal(&admission);
        assert!(admission.renewal.is_none(), "forward-auth must not renew");
        assert_eq!(admission.expires_in_secs, Some(1));
        let names: Vec<&str> = admission.limits.outcomes.iter().map(|o| &*o.policy).collect();
        assert_eq!(names, ["verify"]);
        // And the ordinary API budget is untouched.
        let windows = auth
            .limiter()
            .windows(&crate::ratelimit::Subject::User { user_id: login.user.id.clone() })
            .await
            .unwrap();
        let api = windows.iter().find(|w| w.policy == "api-user").unwrap();
        assert_eq!(api.used, 0);
    }

    async fn a_replayed_nonce_is_refused(backend) {
        let auth = auth(
            &backend.store().await,
            &["name=writes,key=user,limit=100,routes=/api/v1/locks/*,replay=required"],
        )
        .await;
        let login = signed_in(&auth, "quin", &[Role::User]).await;
        let client = client();
        let timestamp = now_secs().to_string();
        let post = Facts {
            state_changing: true,
            nonce: Some("4f1c2f7e-9d3a-4c7b-8a52-0d6f5e1b2a3c"),
            timestamp: Some(&timestamp),
            ..facts(
                "/api/v1/locks/acquire",
                &client,
                Some((login.access.token.as_str(), TokenSource::Bearer)),
            )
        };
        assert!(auth.admit(&post).await.refusal.is_none());
        let nonce_ttl: i64 = redis::cmd("PTTL")
            .arg(crate::store::keys::replay_nonce(&login.user.id, post.nonce.unwrap()))
            .query_async(&mut backend.store().await.conn())
            .await
            .unwrap();
        assert!(
            nonce_ttl > 0 && nonce_ttl <= 600_000,
            "a nonce is remembered for twice the replay window, no longer: {nonce_ttl}"
        );
        assert!(matches!(auth.admit(&post).await.refusal, Some(Refusal::Replayed(_))));
        let bare = Facts { nonce: None, ..post };
        assert!(matches!(auth.admit(&bare).await.refusal, Some(Refusal::BadReplayHeaders(_))));
        let stale = Facts {
            nonce: Some("5f1c2f7e-9d3a-4c7b-8a52-0d6f5e1b2a3c"),
            timestamp: Some("1000"),
            ..post
        };
        assert!(matches!(auth.admit(&stale).await.refusal, Some(Refusal::Replayed(_))));
    }

    async fn an_expired_browser_token_is_renewed_from_its_live_session(backend) {
        let tokens = TokenConfig {
            access_ttl: Duration::from_secs(1),
            leeway: Duration::ZERO,
            ..TokenConfig::default()
        };
        let auth = auth_with_tokens(&backend.store().await, &[], tokens).await;
        let login = signed_in(&auth, "eve", &[Role::User]).await;
        // A TTL must pass: the access token expires.
        tokio::time::sleep(Duration::from_millis(2_100)).await;
        let client = client();
        let cookie = auth
            .admit(&facts("/account", &client, Some((login.access.token.as_str(), TokenSource::Cookie))))
            .await;
        assert_eq!(principal(&cookie).session_id, login.session_id);
        let (rotated, source) = cookie.renewal.expect("a browser's expired token is renewed");
        assert_eq!(source, TokenSource::Cookie);
        assert!(rotated.refresh_token.is_some(), "browsers get both cookies");
        // A program's expired token is just rejected: it refreshes itself.
        let bearer = auth
            .admit(&facts(ME, &client, Some((rotated.access_token.as_str(), TokenSource::Bearer))))
            .await;
        principal(&bearer);
        let old = auth
            .admit(&facts(ME, &client, Some((login.access.token.as_str(), TokenSource::Bearer))))
            .await;
        assert!(matches!(old.caller, Caller::Rejected(AuthError::Token(TokenError::Expired))));
        assert!(old.renewal.is_none() && !old.clear_cookies);
    }

    /// A pending password change holds for a renewed browser token too:
    /// the renewed caller is read from the session like any other.
    async fn a_pending_password_change_refuses_all_but_the_change_even_after_renewal(backend) {
        let tokens = TokenConfig {
            access_ttl: Duration::from_secs(1),
            leeway: Duration::ZERO,
            ..TokenConfig::default()
        };
        let auth = auth_with_tokens(&backend.store().await, &[], tokens).await;
        let user = auth.users().create("flo", "long enough, really", &[Role::User]).await.unwrap();
        auth.reset_password(&user.id, "reset by an admin", true).await.unwrap();
        let login = auth.login("flo", "reset by an admin", &client()).await.unwrap();
        let client = client();
        let bearer = Some((login.access.token.as_str(), TokenSource::Bearer));
        let refused = auth.admit(&facts("/api/v1/sessions/list", &client, bearer)).await;
        assert_eq!(refused.refusal, Some(Refusal::PasswordChangeRequired));
        let open = auth.admit(&facts(ME, &client, bearer)).await;
        assert!(open.refusal.is_none() && principal(&open).must_change_password);

        // A TTL must pass: the access token expires.
        tokio::time::sleep(Duration::from_millis(2_100)).await;
        let cookie = Some((login.access.token.as_str(), TokenSource::Cookie));
        let renewed = auth.admit(&facts("/console", &client, cookie)).await;
        assert!(renewed.renewal.is_some(), "the browser still gets its new tokens");
        assert_eq!(renewed.refusal, Some(Refusal::PasswordChangeRequired));
    }

    /// A role that requires a second factor: its users without one may
    /// only enrol one, until they do (read fresh from the session, and in
    /// the tokens for degraded mode).
    async fn a_required_second_factor_must_be_enrolled_before_anything_else(backend) {
        let auth = AuthFixture {
            mfa_required_roles: vec![Role::Admin],
            ..AuthFixture::default()
        }
        .build(&backend.store().await)
        .await;
        auth.users().create("ivy", "long enough, really", &[Role::Admin]).await.unwrap();
        auth.users().create("joe", "long enough, really", &[Role::User]).await.unwrap();
        let client = client();
        let free = auth.login("joe", "long enough, really", &client).await.unwrap();
        assert!(!free.access.claims.must_enroll_mfa, "not joe's role");
        let login = auth.login("ivy", "long enough, really", &client).await.unwrap();
        assert!(login.access.claims.must_enroll_mfa);
        let bearer = Some((login.access.token.as_str(), TokenSource::Bearer));
        let refused = auth.admit(&facts("/api/v1/admin/overview", &client, bearer)).await;
        assert_eq!(refused.refusal, Some(Refusal::MfaEnrollmentRequired));
        let open = auth.admit(&facts("/api/v1/auth/mfa/totp/enroll", &client, bearer)).await;
        assert!(open.refusal.is_none());
        let ivy = principal(&open).clone();
        assert!(ivy.must_enroll_mfa);

        let account = auth.account(&ivy);
        let enrolment = account.enroll_totp(None).await.unwrap();
        let secret = crate::mfa::totp::from_base32(&enrolment.secret).unwrap();
        let code = crate::mfa::totp::code_at(&secret, now_secs());
        account.confirm_totp(&enrolment.factor_id, &code).await.unwrap();
        let admitted = auth.admit(&facts("/api/v1/admin/overview", &client, bearer)).await;
        assert!(admitted.refusal.is_none(), "{:?}", admitted.refusal);
        assert!(!principal(&admitted).must_enroll_mfa);
        // With the factor, sign-in asks for it instead.
        assert!(matches!(
            auth.login("ivy", "long enough, really", &client).await,
            Err(AuthError::MfaRequired(_))
        ));
    }

    async fn dead_cookies_are_cleared_and_anonymous_requests_count_per_address(backend) {
        let auth = auth(&backend.store().await, &[]).await;
        let client = client();
        let garbage = auth
            .admit(&facts("/account", &client, Some(("not-a-token", TokenSource::Cookie))))
            .await;
        assert!(garbage.clear_cookies);
        assert!(matches!(garbage.caller, Caller::Rejected(AuthError::Token(TokenError::Invalid(_)))));
        let anonymous = auth.admit(&facts(ME, &client, None)).await;
        assert!(matches!(anonymous.caller, Caller::Anonymous));
        let names: Vec<&str> = anonymous.limits.outcomes.iter().map(|o| &*o.policy).collect();
        assert_eq!(names, ["ip"]);
    }

    async fn users_from_before_the_roles_key_get_it_on_their_first_request(backend) {
        let store = backend.store().await;
        let auth = auth(&store, &[]).await;
        let login = signed_in(&auth, "fay", &[Role::Admin, Role::User]).await;
        let _: () = redis::cmd("DEL")
            .arg(crate::store::keys::user_roles(&login.user.id))
            .query_async(&mut store.conn())
            .await
            .unwrap();
        let client = client();
        let bearer = Some((login.access.token.as_str(), TokenSource::Bearer));
        let admission = auth.admit(&facts(ME, &client, bearer)).await;
        assert_eq!(principal(&admission).roles, vec![Role::Admin, Role::User]);
        let copied: Option<String> = redis::cmd("GET")
            .arg(crate::store::keys::user_roles(&login.user.id))
            .query_async(&mut store.conn())
            .await
            .unwrap();
        assert_eq!(copied.as_deref(), Some("admin,user"));
    }
}

mod cost;
mod limits;

/// A bearer token renewed on the way keeps its session's pending password
/// change: the renewed caller is still asked to change it.
#[tokio::test]
async fn a_renewed_caller_keeps_a_pending_password_change() {
    let redis = TestRedis::start().await;
    let auth = AuthFixture {
        tokens: TokenConfig {
            access_ttl: Duration::from_secs(3),
            leeway: Duration::ZERO,
            ..TokenConfig::default()
        },
        rotation: crate::auth::RotationConfig {
            renew_window: 0.9,
            ..crate::auth::RotationConfig::default()
        },
        cheap_hashing: true,
        ..AuthFixture::default()
    }
    .build(&redis.store().await)
    .await;
    let user = auth
        .users()
        .create("gus", "long enough, really", &[Role::User])
        .await
        .unwrap();
    auth.reset_password(&user.id, "reset by an admin", true)
        .await
        .unwrap();
    let login = auth
        .login("gus", "reset by an admin", &client())
        .await
        .unwrap();
    // Time must pass: a second, for the token's age to count.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let client = client();
    let bearer = Some((login.access.token.as_str(), TokenSource::Bearer));
    let open = auth.admit(&facts(ME, &client, bearer)).await;
    assert!(open.renewal.is_some(), "near its end, the token is renewed");
    assert!(open.refusal.is_none());
    assert!(
        principal(&open).must_change_password,
        "the renewed caller must still change the password"
    );
}
