//! Rotation tests: concurrency across instances, reuse, grace, crashes.

use std::collections::HashSet;
use std::time::Duration;

use super::super::tests::{auth_with, client};
use super::*;
use crate::token::TokenConfig;
use crate::user::Role;

fn rotation(grace_ms: u64) -> RotationConfig {
    RotationConfig {
        grace: Duration::from_millis(grace_ms),
        ..RotationConfig::default()
    }
}

async fn generation(auth: &Auth, user_id: &str, session_id: &str) -> u64 {
    auth.sessions()
        .get(user_id, session_id)
        .await
        .unwrap()
        .unwrap()
        .generation
}

crate::both_topologies! {
/// 100 concurrent refreshes of one token, split over two instances
/// sharing one Redis: one rotation, 100 successes, one pair.
    async fn a_hundred_concurrent_refreshes_on_two_instances_rotate_once(backend) {
        let a = auth_with(
            &backend.store().await,
            TokenConfig::default(),
            rotation(10_000),
        )
        .await;
        let b = auth_with(
            &backend.store().await,
            TokenConfig::default(),
            rotation(10_000),
        )
        .await;
        a.users()
            .create("tab", "long enough, really", &[Role::User])
            .await
            .unwrap();
        let login = a.login("tab", "long enough, really", &client()).await.unwrap();
        let token = login.refresh.token.clone();

        let mut tasks = Vec::new();
        for i in 0..100 {
            let instance = if i % 2 == 0 { a.clone() } else { b.clone() };
            let token = token.clone();
            tasks.push(tokio::spawn(async move {
                instance.refresh(&token, &client()).await
            }));
        }
        let mut pairs = HashSet::new();
        let mut fresh = 0;
        for task in tasks {
            let rotated = task
                .await
                .unwrap()
                .expect("every concurrent refresh succeeds");
            pairs.insert((
                rotated.access_token.clone(),
                rotated.refresh_token.clone().unwrap(),
            ));
            fresh += usize::from(!rotated.coalesced);
        }
        assert_eq!(fresh, 1, "exactly one caller rotated");
        assert_eq!(pairs.len(), 1, "everyone got the same pair");
        assert_eq!(generation(&a, &login.user.id, &login.session_id).await, 1);
        let (access, refresh) = pairs.into_iter().next().unwrap();
        assert!(a.authenticate(&access).await.is_ok());
        assert!(
            b.refresh(&refresh, &client()).await.is_ok(),
            "the new refresh token works"
        );
        // The rotation lock counts no fencing tokens: nothing outlives it.
        assert_eq!(backend.scan("gh:*:fence:*").await, Vec::<String>::new());
    }
}

crate::both_topologies! {
    async fn reuse_after_the_grace_window_revokes_the_session(backend) {
        let auth = auth_with(&backend.store().await, TokenConfig::default(), rotation(300)).await;
        auth.users()
            .create("eve", "long enough, really", &[Role::User])
            .await
            .unwrap();
        let login = auth.login("eve", "long enough, really", &client()).await.unwrap();
        let rotated = auth.refresh(&login.refresh.token, &client()).await.unwrap();

        // Within the grace window, the old token gets the same pair.
        let again = auth.refresh(&login.refresh.token, &client()).await.unwrap();
        assert_eq!(again.access_token, rotated.access_token);
        assert!(again.coalesced);

        // A window must pass: the grace window ends.
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(matches!(
            auth.refresh(&login.refresh.token, &client()).await,
            Err(AuthError::RefreshReused)
        ));
        // All of the session's tokens are dead: the current access token is
        // blacklisted at once (not after a grace period).
        assert!(matches!(
            auth.authenticate(&rotated.access_token).await,
            Err(AuthError::TokenRevoked)
        ));
        assert!(matches!(
            auth.refresh(rotated.refresh_token.as_deref().unwrap(), &client())
                .await,
            Err(AuthError::SessionEnded)
        ));
        assert!(
            auth.sessions()
                .list(&login.user.id)
                .await
                .unwrap()
                .is_empty()
        );
        let reasons: Vec<String> = auth
            .blacklist()
            .list(0, 10)
            .await
            .unwrap()
            .entries
            .into_iter()
            .map(|e| e.reason)
            .collect();
        assert!(
            reasons.contains(&"reuse_detected".to_owned()),
            "{reasons:?}"
        );
    }
}

crate::both_topologies! {
    async fn a_just_rotated_access_token_works_within_the_grace_period_only(backend) {
        let auth = auth_with(
            &backend.store().await,
            TokenConfig::default(),
            rotation(2_000),
        )
        .await;
        auth.users()
            .create("ivan", "long enough, really", &[Role::User])
            .await
            .unwrap();
        let login = auth.login("ivan", "long enough, really", &client()).await.unwrap();
        auth.refresh(&login.refresh.token, &client()).await.unwrap();
        assert!(
            auth.authenticate(&login.access.token).await.is_ok(),
            "in flight: still accepted"
        );
        // A TTL must pass: the old access token expires.
        tokio::time::sleep(Duration::from_millis(2_100)).await;
        assert!(matches!(
            auth.authenticate(&login.access.token).await,
            Err(AuthError::TokenRevoked)
        ));
    }
}

crate::both_topologies! {
    async fn blacklist_entries_expire_with_their_tokens(backend) {
        let tokens = TokenConfig {
            access_ttl: Duration::from_secs(1),
            leeway: Duration::ZERO,
            ..TokenConfig::default()
        };
        let auth = auth_with(&backend.store().await, tokens, rotation(0)).await;
        auth.users()
            .create("judy", "long enough, really", &[Role::User])
            .await
            .unwrap();
        let login = auth.login("judy", "long enough, really", &client()).await.unwrap();
        let principal = auth.authenticate(&login.access.token).await.unwrap();
        auth.logout(&principal).await.unwrap();
        assert_eq!(auth.blacklist().list(0, 10).await.unwrap().entries.len(), 1);
        // A TTL must pass: the revoked token's blacklist entry expires with it.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let page = auth.blacklist().list(0, 10).await.unwrap();
        assert!(page.entries.is_empty() && page.total == 0, "{page:?}");
    }
}

crate::both_topologies! {
    async fn a_crashed_rotation_lock_holder_does_not_lose_the_session(backend) {
        let config = RotationConfig {
            lock_ttl: Duration::from_millis(500),
            lock_wait: Duration::from_secs(5),
            ..RotationConfig::default()
        };
        let auth = auth_with(&backend.store().await, TokenConfig::default(), config).await;
        auth.users()
            .create("kate", "long enough, really", &[Role::User])
            .await
            .unwrap();
        let login = auth.login("kate", "long enough, really", &client()).await.unwrap();
        // Another instance took the rotation lock and died holding it.
        let crashed = auth
            .locks()
            .acquire_lease(
                &super::lock_name(&login.session_id),
                &auth.lock_options(&login.session_id),
            )
            .await
            .unwrap();
        assert_eq!(crashed.ttl, Duration::from_millis(500));
        assert!(!crashed.owner.is_empty());
        let started = tokio::time::Instant::now();
        let rotated = auth.refresh(&login.refresh.token, &client()).await.unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "waited for the lock's TTL"
        );
        assert!(!rotated.coalesced);
        assert_eq!(
            generation(&auth, &login.user.id, &login.session_id).await,
            1
        );
    }
}

crate::both_topologies! {
    async fn concurrent_silent_renewals_renew_once(backend) {
        let auth = auth_with(
            &backend.store().await,
            TokenConfig::default(),
            rotation(10_000),
        )
        .await;
        auth.users()
            .create("liam", "long enough, really", &[Role::User])
            .await
            .unwrap();
        let login = auth.login("liam", "long enough, really", &client()).await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let auth = auth.clone();
            let token = login.access.token.clone();
            tasks.push(tokio::spawn(async move {
                auth.renew_access(&token, &[Role::User]).await
            }));
        }
        let mut tokens = HashSet::new();
        let mut fresh = 0;
        for task in tasks {
            let renewed = task
                .await
                .unwrap()
                .unwrap()
                .expect("the current token renews");
            assert!(
                renewed.refresh_token.is_none(),
                "renewal keeps the refresh token"
            );
            fresh += usize::from(!renewed.coalesced);
            tokens.insert(renewed.access_token);
        }
        assert_eq!((fresh, tokens.len()), (1, 1));
        let new_token = tokens.into_iter().next().unwrap();
        assert!(auth.authenticate(&new_token).await.is_ok());
        assert_eq!(
            generation(&auth, &login.user.id, &login.session_id).await,
            0
        );
        // The refresh token from sign-in still works after a renewal.
        auth.refresh(&login.refresh.token, &client()).await.unwrap();
    }
}

crate::both_topologies! {
    async fn only_the_current_access_token_renews_and_expired_ones_only_when_allowed(backend) {
        let tokens = TokenConfig {
            access_ttl: Duration::from_secs(1),
            leeway: Duration::ZERO,
            ..TokenConfig::default()
        };
        let auth = auth_with(&backend.store().await, tokens, rotation(200)).await;
        auth.users()
            .create("mia", "long enough, really", &[Role::User])
            .await
            .unwrap();
        let login = auth.login("mia", "long enough, really", &client()).await.unwrap();
        // A TTL must pass: the access token expires.
        tokio::time::sleep(Duration::from_millis(2_100)).await;
        assert!(matches!(
            auth.renew_session(&login.access.token, false, &client())
                .await,
            Err(AuthError::Token(_))
        ));
        let renewed = auth
            .renew_session(&login.access.token, true, &client())
            .await
            .unwrap()
            .unwrap();
        assert!(
            renewed.refresh_token.is_some(),
            "a browser renewal rotates both tokens"
        );
        assert!(auth.authenticate(&renewed.access_token).await.is_ok());
        assert_eq!(
            generation(&auth, &login.user.id, &login.session_id).await,
            1
        );
        // A window must pass: the renewal's grace window ends.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            auth.renew_session(&login.access.token, true, &client())
                .await
                .unwrap()
                .is_none(),
            "a replaced token cannot renew again"
        );
    }
}

crate::both_topologies! {
    async fn the_renewal_window_is_the_last_fifth_of_a_tokens_life(backend) {
        let auth = auth_with(
            &backend.store().await,
            TokenConfig::default(),
            RotationConfig::default(),
        )
        .await;
        let principal = Principal {
            user_id: String::new(),
            username: String::new(),
            session_id: String::new(),
            roles: vec![],
            token_id: String::new(),
            token_issued_at: 1_000,
            token_expires_at: 1_900,
            must_change_password: false,
            must_enroll_mfa: false,
            assurance: crate::token::Assurance::password(1_000),
        };
        assert!(!auth.wants_renewal(&principal, 1_700));
        assert!(auth.wants_renewal(&principal, 1_730));
    }
}

crate::both_topologies! {
/// A browser renews (cookie) while another tab refreshes with the refresh
/// cookie it sent before the renewal's answer arrived: both get the same
/// pair, and nothing is mistaken for reuse.
    async fn a_renewal_and_a_refresh_racing_on_one_session_agree(backend) {
        let auth = auth_with(
            &backend.store().await,
            TokenConfig::default(),
            rotation(10_000),
        )
        .await;
        auth.users()
            .create("nina", "long enough, really", &[Role::User])
            .await
            .unwrap();
        let login = auth.login("nina", "long enough, really", &client()).await.unwrap();
        let (tab_a, tab_b) = (client(), client());
        let (renewed, refreshed) = tokio::join!(
            auth.renew_session(&login.access.token, false, &tab_a),
            auth.refresh(&login.refresh.token, &tab_b)
        );
        let (renewed, refreshed) = (renewed.unwrap().unwrap(), refreshed.unwrap());
        assert_eq!(renewed.access_token, refreshed.access_token);
        assert_eq!(renewed.refresh_token, refreshed.refresh_token);
        assert_eq!(
            generation(&auth, &login.user.id, &login.session_id).await,
            1
        );
    }
}

/// A caller that looked for a stored result just before the first rotation
/// stored it, and got the lock just after it was released, is served that
/// result without counting against the per-session rotation limit.
#[tokio::test]
async fn a_caller_that_gets_the_lock_after_the_rotation_is_coalesced_and_not_counted() {
    let redis = crate::testing::TestRedis::start().await;
    let auth = auth_with(
        &redis.store().await,
        TokenConfig::default(),
        rotation(10_000),
    )
    .await;
    auth.users()
        .create("late", "long enough, really", &[Role::User])
        .await
        .unwrap();
    let login = auth
        .login("late", "long enough, really", &client())
        .await
        .unwrap();
    let first = auth.refresh(&login.refresh.token, &client()).await.unwrap();
    assert!(!first.coalesced);

    // What such a caller runs once it holds the lock.
    let claims = auth.tokens().verify_refresh(&login.refresh.token).unwrap();
    let late = auth
        .rotate(&Presented::Refresh(&claims), &client())
        .await
        .unwrap()
        .unwrap();
    assert!(late.coalesced);
    assert_eq!(late.refresh_token, first.refresh_token);

    let subject = crate::ratelimit::Subject::Session {
        user_id: login.user.id.clone(),
        session_id: login.session_id.clone(),
    };
    let windows = auth.limiter().windows(&subject).await.unwrap();
    let refresh = windows.iter().find(|w| w.policy == "refresh").unwrap();
    assert_eq!(refresh.used, 1, "only the real rotation counts");
}
