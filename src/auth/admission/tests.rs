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

/// A `MONITOR` connection: what clients (not scripts) send to Redis.
struct Monitor {
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::net::TcpStream>>,
    url: String,
}

impl Monitor {
    async fn start(url: &str) -> Self {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let address = url.trim_start_matches("redis://");
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.write_all(b"MONITOR\r\n").await.unwrap();
        let mut lines = tokio::io::BufReader::new(stream).lines();
        assert_eq!(lines.next_line().await.unwrap().unwrap(), "+OK");
        Self {
            lines,
            url: url.to_owned(),
        }
    }

    /// Lower-cased names of the commands clients sent since `start`, up to
    /// a marker this sends now (so nothing is cut off by timing).
    async fn client_commands(&mut self) -> Vec<String> {
        let marker = "gh-monitor-marker";
        let mut conn = redis::Client::open(self.url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let _: String = redis::cmd("ECHO")
            .arg(marker)
            .query_async(&mut conn)
            .await
            .unwrap();
        let mut commands = Vec::new();
        while let Some(line) = self.lines.next_line().await.unwrap() {
            if line.contains(marker) {
                return commands;
            }
            // `+<time> [<db> <client address>|lua] "<command>" ...`
            let Some((client, rest)) = line.split_once("] ") else {
                continue;
            };
            if client.ends_with("lua") {
                continue;
            }
            let name = rest.split('"').nth(1).unwrap_or_default().to_lowercase();
            commands.push(name);
        }
        panic!("MONITOR ended before the marker");
    }
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
async fn a_protected_request_costs_exactly_one_redis_command() {
    let redis = TestRedis::start().await;
    let auth = auth(&redis.store().await, &[]).await;
    let login = signed_in(&auth, "olly", &[Role::User]).await;
    let client = client();
    let bearer = Some((login.access.token.as_str(), TokenSource::Bearer));
    // Warm up: the first call loads the script.
    auth.admit(&facts(ME, &client, bearer)).await;

    let mut monitor = Monitor::start(&redis.url()).await;
    let before = crate::testing::command_calls(&redis.store().await).await;
    let admission = auth.admit(&facts(ME, &client, bearer)).await;
    let after = crate::testing::command_calls(&redis.store().await).await;
    // Every command a client sent (not a script), in order, from MONITOR:
    // the INFO before, the one script call, the INFO after; nothing else.
    let sent = monitor.client_commands().await;
    assert_eq!(sent, ["info", "evalsha", "info"], "commands sent: {sent:?}");
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
    assert_eq!(principal(&admission).session_id, login.session_id);
    assert!(admission.refusal.is_none() && admission.renewal.is_none());
    let names: Vec<&str> = admission
        .limits
        .outcomes
        .iter()
        .map(|o| o.policy.as_str())
        .collect();
    assert_eq!(names, ["ip", "api-user", "api-burst"]);
}

#[tokio::test]
async fn a_busy_subject_is_listed_at_most_once_a_second_not_read_per_request() {
    let redis = TestRedis::start().await;
    let store = redis.store().await;
    let auth = auth(&store, &[]).await;
    let login = signed_in(&auth, "liz", &[Role::User]).await;
    let client = client();
    let bearer = Some((login.access.token.as_str(), TokenSource::Bearer));
    auth.admit(&facts(ME, &client, bearer)).await;

    let before = crate::testing::command_calls(&store).await;
    let started = std::time::Instant::now();
    for _ in 0..50 {
        assert!(
            auth.admit(&facts(ME, &client, bearer))
                .await
                .refusal
                .is_none()
        );
    }
    let seconds = started.elapsed().as_secs();
    let after = crate::testing::command_calls(&store).await;
    let delta = |name: &str| after.get(name).unwrap_or(&0) - before.get(name).unwrap_or(&0);
    assert_eq!(delta("evalsha"), 50);
    assert_eq!(delta("zscore"), 0, "the index is not read per request");
    // Two subjects (the address and the user) re-listed, and the session's
    // idle timeout slid (in the user's session index), each at most once
    // per second: at most `seconds + 1` times each.
    assert!(
        delta("zadd") <= 3 * (seconds + 1),
        "{} index writes in {seconds} s",
        delta("zadd")
    );
    let (_, listed) = auth.limiter().active(0, 10).await.unwrap();
    assert_eq!(listed.len(), 2, "both subjects stay listed: {listed:?}");
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
        assert_eq!(outcome.policy, "api-user");
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
        let names: Vec<&str> = admission.limits.outcomes.iter().map(|o| o.policy.as_str()).collect();
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

        tokio::time::sleep(Duration::from_millis(2_100)).await;
        let cookie = Some((login.access.token.as_str(), TokenSource::Cookie));
        let renewed = auth.admit(&facts("/console", &client, cookie)).await;
        assert!(renewed.renewal.is_some(), "the browser still gets its new tokens");
        assert_eq!(renewed.refusal, Some(Refusal::PasswordChangeRequired));
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
        let names: Vec<&str> = anonymous.limits.outcomes.iter().map(|o| o.policy.as_str()).collect();
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
    assert_eq!(outcome.policy, "refresh");
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
