//! Limits where they matter most: Redis down, failed passwords, and the
//! per-session refresh limit.

use super::*;

#[tokio::test]
async fn redis_down_refuses_where_a_policy_fails_closed_and_never_allows_a_token() {
    let mut redis = TestRedis::start().await;
    let auth = auth(
        &redis.store().await,
        &["name=strict,key=ip,limit=100,routes=/api/v1/strict/*,fail=closed"],
    )
    .await;
    let login = signed_in(&auth, "gus", &[Role::User]).await;
    redis.stop().await;
    let client = client();
    let bearer = Some((login.access.token.as_str(), TokenSource::Bearer));
    let open = auth.admit(&facts(ME, &client, bearer)).await;
    assert!(
        open.refusal.is_none(),
        "fail-open policies let it through..."
    );
    assert!(
        matches!(open.caller, Caller::Rejected(AuthError::Store(_))),
        "...but never as an authenticated caller: {:?}",
        open.caller
    );
    let closed = auth
        .admit(&facts("/api/v1/strict/x", &client, bearer))
        .await;
    assert_eq!(closed.refusal, Some(Refusal::Unavailable));
    let anonymous = auth.admit(&facts("/api/v1/strict/x", &client, None)).await;
    assert_eq!(anonymous.refusal, Some(Refusal::Unavailable));
}

#[tokio::test]
async fn five_failed_passwords_lock_the_pair_out_even_for_the_right_password() {
    let redis = TestRedis::start().await;
    let auth = auth(
        &redis.store().await,
        &["name=login-lockout,key=ip+username,limit=5,window=2s,fail=closed"],
    )
    .await;
    auth.users()
        .create("rob", "long enough, really", &[Role::User])
        .await
        .unwrap();

    // A success clears earlier failures.
    for _ in 0..4 {
        assert!(matches!(
            auth.login("rob", "wrong", &client()).await,
            Err(AuthError::InvalidCredentials)
        ));
    }
    auth.login("rob", "long enough, really", &client())
        .await
        .unwrap();
    for _ in 0..5 {
        assert!(matches!(
            auth.login("ROB", "wrong", &client()).await,
            Err(AuthError::InvalidCredentials)
        ));
    }
    let locked = auth
        .login("rob", "long enough, really", &client())
        .await
        .unwrap_err();
    let AuthError::LoginLocked { retry_after_ms } = locked else {
        panic!("expected a lockout, got {locked:?}");
    };
    assert!((1..=2_000).contains(&retry_after_ms), "{retry_after_ms}");
    // Another address is not locked out.
    let elsewhere = Client {
        ip: "203.0.113.99".into(),
        limit_key: "203.0.113.99".into(),
        user_agent: String::new(),
    };
    auth.login("rob", "long enough, really", &elsewhere)
        .await
        .unwrap();
    // A window must pass: the lockout's retry time.
    tokio::time::sleep(Duration::from_millis(retry_after_ms + 50)).await;
    auth.login("rob", "long enough, really", &client())
        .await
        .unwrap();
}

#[tokio::test]
async fn the_refresh_limit_fails_open_or_closed_as_configured() {
    for fail in ["open", "closed"] {
        let redis = TestRedis::start().await;
        let store = redis.store().await;
        let spec = format!("name=refresh,key=session,limit=30,window=1m,fail={fail}");
        let auth = auth(&store, &[&spec]).await;
        let login = signed_in(&auth, "rex", &[Role::User]).await;
        // A key of the wrong type breaks the limiter's script while the
        // rest of Redis (session, lock, rotation) keeps working.
        let window = crate::ratelimit::Subject::Session {
            user_id: login.user.id.clone(),
            session_id: login.session_id.clone(),
        }
        .key("refresh");
        let _: () = redis::cmd("SET")
            .arg(&window)
            .arg("not a window")
            .query_async(&mut store.conn())
            .await
            .unwrap();
        let refreshed = auth.refresh(&login.refresh.token, &client()).await;
        match fail {
            "open" => assert!(refreshed.is_ok(), "fail-open refreshes: {refreshed:?}"),
            _ => assert!(
                matches!(refreshed, Err(AuthError::Store(_))),
                "fail-closed refuses: {refreshed:?}"
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_real_rotations_count_against_the_refresh_limit() {
    let redis = TestRedis::start().await;
    let auth = auth(
        &redis.store().await,
        &["name=refresh,key=session,limit=2,window=1m"],
    )
    .await;
    auth.users()
        .create("sue", "long enough, really", &[Role::User])
        .await
        .unwrap();
    let login = auth
        .login("sue", "long enough, really", &client())
        .await
        .unwrap();
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
    assert_eq!(&*outcome.policy, "refresh");
}

crate::both_topologies! {
    async fn concurrent_wrong_passwords_reach_verification_at_most_the_limit(backend) {
        let store = backend.store().await;
        let policy = ["name=login-lockout,key=ip+username,limit=5,window=15m,fail=closed"];
        // Two instances sharing Redis, each with its own hasher.
        let (a, b) = (auth(&store, &policy).await, auth(&store, &policy).await);
        a.users().create("target", "the right password", &[Role::User]).await.unwrap();
        for (round, attempts) in [(0, 40), (1, 200)] {
            if round > 0 {
                a.limiter().reset_lockouts("target").await.unwrap();
            }
            let before = a.users().hasher().verifications() + b.users().hasher().verifications();
            let mut tasks = Vec::new();
            for i in 0..attempts {
                let auth = if i % 2 == 0 { a.clone() } else { b.clone() };
                tasks.push(tokio::spawn(async move {
                    auth.login("target", &format!("wrong {i}"), &client()).await
                }));
            }
            let mut locked = 0;
            for task in tasks {
                match task.await.unwrap() {
                    Err(AuthError::InvalidCredentials) => {}
                    Err(AuthError::LoginLocked { .. }) => locked += 1,
                    other => panic!("unexpected {other:?}"),
                }
            }
            let verified =
                a.users().hasher().verifications() + b.users().hasher().verifications() - before;
            assert!(verified <= 5, "{verified} of {attempts} guesses reached Argon2");
            assert_eq!(verified + locked, attempts);
        }
    }
}
