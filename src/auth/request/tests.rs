//! One round trip, lockouts and rotation limits, on a real Redis.

use std::time::Duration;

use super::super::tests::client;
use super::*;
use crate::auth::{AuthParts, Client, RotationConfig};
use crate::blacklist::Blacklist;
use crate::lock::Locks;
use crate::password::Hasher;
use crate::ratelimit::{Policy, default_policies, merge};
use crate::session::{SessionConfig, Sessions};
use crate::testing::TestRedis;
use crate::token::{Keyring, TokenConfig, Tokens};
use crate::user::{Role, Users};

async fn auth(redis: &TestRedis, policies: &[&str]) -> Auth {
    let store = redis.store().await;
    let overrides = policies.iter().map(|p| Policy::parse(p).unwrap()).collect();
    Auth::new(AuthParts {
        users: Users::new(store.clone(), Hasher::new(4).await.unwrap()),
        sessions: Sessions::new(store.clone(), SessionConfig::default()),
        tokens: Tokens::new(
            Keyring::from_secret(b"0123456789abcdef0123456789abcdef").unwrap(),
            TokenConfig::default(),
        ),
        locks: Locks::new(store.clone(), "test"),
        blacklist: Blacklist::new(store.clone()),
        limiter: Limiter::new(store.clone(), merge(default_policies(), overrides)),
        events: crate::events::Events::new(store.clone(), "test", 10_000),
        rotation: RotationConfig::default(),
        store,
    })
}

/// Top-level commands by name, from `INFO commandstats` (commands a
/// script runs are counted under their own names too, so this compares
/// script calls against everything else).
async fn command_calls(redis: &TestRedis) -> std::collections::HashMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut redis.store().await.conn())
        .await
        .unwrap();
    info.lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats.split(',').find_map(|s| s.strip_prefix("calls="))?;
            Some((name.to_owned(), calls.parse().ok()?))
        })
        .collect()
}

fn request<'a>() -> RequestInfo<'a> {
    RequestInfo {
        path: "/api/v1/auth/me",
        ip: "192.0.2.1",
        nonce: None,
    }
}

#[tokio::test]
async fn a_protected_request_costs_exactly_one_redis_command() {
    let redis = TestRedis::start().await;
    let auth = auth(&redis, &[]).await;
    auth.users()
        .create("olly", "long enough", &[Role::User])
        .await
        .unwrap();
    let login = auth.login("olly", "long enough", &client()).await.unwrap();
    // Warm up: the first call loads the script.
    auth.authenticate_limited(&login.access.token, &request())
        .await
        .unwrap();

    let before = command_calls(&redis).await;
    let (principal, decision) = auth
        .authenticate_limited(&login.access.token, &request())
        .await
        .unwrap();
    let after = command_calls(&redis).await;
    let delta = |name: &str| after.get(name).unwrap_or(&0) - before.get(name).unwrap_or(&0);
    assert_eq!(delta("evalsha"), 1, "one script call");
    assert_eq!(
        delta("eval") + delta("script|load"),
        0,
        "no script (re)loading"
    );
    // Everything else that moved ran inside that one script (plus the INFO
    // that measured `before`).
    assert_eq!(delta("info"), 1);
    assert_eq!(principal.session_id, login.session_id);
    assert!(decision.allowed());
    let names: Vec<&str> = decision
        .outcomes
        .iter()
        .map(|o| o.policy.as_str())
        .collect();
    assert_eq!(names, ["ip", "api-user", "api-burst"]);
}

#[tokio::test]
async fn the_api_limit_refuses_without_ending_the_session() {
    let redis = TestRedis::start().await;
    let auth = auth(
        &redis,
        &["name=api-user,key=user,algorithm=sliding-log,limit=3,window=1m,routes=/api/*"],
    )
    .await;
    auth.users()
        .create("pam", "long enough", &[Role::User])
        .await
        .unwrap();
    let login = auth.login("pam", "long enough", &client()).await.unwrap();
    let mut allowed = 0;
    for _ in 0..5 {
        let (_, decision) = auth
            .authenticate_limited(&login.access.token, &request())
            .await
            .unwrap();
        allowed += u32::from(decision.allowed());
    }
    assert_eq!(allowed, 3);
    let (_, decision) = auth
        .authenticate_limited(&login.access.token, &request())
        .await
        .unwrap();
    assert_eq!(decision.rejection().unwrap().policy, "api-user");
}

#[tokio::test]
async fn a_replayed_nonce_is_refused() {
    let redis = TestRedis::start().await;
    let auth = auth(&redis, &[]).await;
    auth.users()
        .create("quin", "long enough", &[Role::User])
        .await
        .unwrap();
    let login = auth.login("quin", "long enough", &client()).await.unwrap();
    let with_nonce = RequestInfo {
        nonce: Some("4f1c2f7e-9d3a-4c7b-8a52-0d6f5e1b2a3c"),
        ..request()
    };
    let (_, first) = auth
        .authenticate_limited(&login.access.token, &with_nonce)
        .await
        .unwrap();
    assert!(first.allowed());
    let (_, again) = auth
        .authenticate_limited(&login.access.token, &with_nonce)
        .await
        .unwrap();
    assert!(again.replayed && !again.allowed());
}

#[tokio::test]
async fn five_failed_passwords_lock_the_pair_out_even_for_the_right_password() {
    let redis = TestRedis::start().await;
    let auth = auth(
        &redis,
        &["name=login-lockout,key=ip+username,limit=5,window=2s,fail=closed"],
    )
    .await;
    auth.users()
        .create("rob", "long enough", &[Role::User])
        .await
        .unwrap();

    // A success clears earlier failures.
    for _ in 0..4 {
        assert!(matches!(
            auth.login("rob", "wrong", &client()).await,
            Err(AuthError::InvalidCredentials)
        ));
    }
    auth.login("rob", "long enough", &client()).await.unwrap();
    for _ in 0..5 {
        assert!(matches!(
            auth.login("ROB", "wrong", &client()).await,
            Err(AuthError::InvalidCredentials)
        ));
    }
    let locked = auth
        .login("rob", "long enough", &client())
        .await
        .unwrap_err();
    let AuthError::LoginLocked { retry_after_ms } = locked else {
        panic!("expected a lockout, got {locked:?}");
    };
    assert!((1..=2_000).contains(&retry_after_ms), "{retry_after_ms}");
    // Another address is not locked out.
    let elsewhere = Client {
        ip: "203.0.113.99".into(),
        user_agent: String::new(),
    };
    auth.login("rob", "long enough", &elsewhere).await.unwrap();
    tokio::time::sleep(Duration::from_millis(retry_after_ms + 50)).await;
    auth.login("rob", "long enough", &client()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_real_rotations_count_against_the_refresh_limit() {
    let redis = TestRedis::start().await;
    let auth = auth(&redis, &["name=refresh,key=session,limit=2,window=1m"]).await;
    auth.users()
        .create("sue", "long enough", &[Role::User])
        .await
        .unwrap();
    let login = auth.login("sue", "long enough", &client()).await.unwrap();
    // 50 racing callers: one rotation, counted once.
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (auth, token) = (auth.clone(), login.refresh.token.clone());
        tasks.push(tokio::spawn(async move {
            auth.refresh(&token, &client()).await
        }));
    }
    let mut next = None;
    for task in tasks {
        next = Some(task.await.unwrap().unwrap().refresh_token.unwrap());
    }
    let second = auth.refresh(&next.unwrap(), &client()).await.unwrap();
    let third = auth
        .refresh(second.refresh_token.as_deref().unwrap(), &client())
        .await;
    let Err(AuthError::RateLimited(outcome)) = third else {
        panic!("expected the third rotation to be limited, got {third:?}");
    };
    assert_eq!(outcome.policy, "refresh");
}
