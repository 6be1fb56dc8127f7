//! Signing in, out and everywhere, on a real Redis: what the core promises
//! whatever the transport.

use super::*;
use crate::testing::TestRedis;
use crate::testing::fixtures::AuthFixture;
pub(super) use crate::testing::fixtures::client;
use crate::token::TokenConfig;

pub(super) async fn auth_with(
    store: &Store,
    tokens: TokenConfig,
    rotation: RotationConfig,
) -> Auth {
    AuthFixture {
        tokens,
        rotation,
        ..AuthFixture::default()
    }
    .build(store)
    .await
}

async fn auth(redis: &TestRedis) -> Auth {
    auth_with(
        &redis.store().await,
        TokenConfig::default(),
        RotationConfig::default(),
    )
    .await
}

crate::both_topologies! {
    async fn login_authenticate_logout(backend) {
        let auth = auth_with(
            &backend.store().await,
            TokenConfig::default(),
            RotationConfig::default(),
        )
        .await;
        let user = auth
            .users()
            .create("grace", "grace hopper 1906", &[Role::User])
            .await
            .unwrap();
        let login = auth.login("GRACE", "grace hopper 1906", &client()).await.unwrap();
        assert_eq!(login.user.id, user.id);
        let principal = auth.authenticate(&login.access.token).await.unwrap();
        assert_eq!(principal.session_id, login.session_id);
        assert_eq!(principal.username, "grace");
        assert_eq!(principal.roles, vec![Role::User]);
        let sessions = auth.sessions().list(&user.id).await.unwrap();
        assert_eq!(sessions[0].device, "curl");

        // The console's cross-user views, whose keys live in other slots.
        let second = auth.users().create("hedy", "hedy lamarr 1914", &[Role::User]).await.unwrap();
        auth.login("hedy", "hedy lamarr 1914", &client()).await.unwrap();
        let (total, all) = auth.sessions().list_all(0, 10).await.unwrap();
        assert_eq!(total, 2);
        let mut owners: Vec<&str> = all.iter().map(|s| s.user_id.as_str()).collect();
        owners.sort_unstable();
        let mut expected = vec![user.id.as_str(), second.id.as_str()];
        expected.sort_unstable();
        assert_eq!(owners, expected);
        assert_eq!(auth.sessions().counts().await.unwrap(), (2, 2));
        let names = auth.users().usernames(&[&user.id, &second.id]).await.unwrap();
        assert_eq!(names.len(), 2);

        auth.logout(&principal).await.unwrap();
        assert!(matches!(
            auth.authenticate(&login.access.token).await,
            Err(AuthError::TokenRevoked)
        ));
        let listed = auth.blacklist().list(0, 10).await.unwrap();
        assert_eq!(listed.entries.len(), 1);
        assert_eq!(listed.entries[0].jti, login.access.claims.jti);
        assert_eq!(listed.entries[0].reason, "logout");
        assert_eq!(auth.sessions().prune_index(0, 100).await.unwrap().1, 0);
        let (left, _) = auth.sessions().list_all(0, 10).await.unwrap();
        assert_eq!(left, 1, "only hedy's session is left");

        // Events (a stream plus per-minute counters in other slots).
        auth.events().flush().await;
        let recent = auth
            .events()
            .recent(&crate::events::Filter::default(), 100, 1_000)
            .await
            .unwrap();
        let kinds: Vec<&str> = recent.iter().map(|e| e.kind.name()).collect();
        assert!(kinds.contains(&"login_succeeded") && kinds.contains(&"logout"), "{kinds:?}");
        let series = auth.events().series(2).await.unwrap();
        let logins: u64 = series.iter().map(|(_, counts)| counts.iter().sum::<u64>()).sum();
        assert!(logins >= 2, "per-minute counters were written: {series:?}");
    }
}

#[tokio::test]
async fn unknown_user_and_wrong_password_fail_alike_with_the_same_argon2_work() {
    let redis = TestRedis::start().await;
    let auth = auth(&redis).await;
    auth.users()
        .create("ada", "lovelace-1815", &[Role::User])
        .await
        .unwrap();
    let hasher = auth.users().hasher().clone();

    let before = hasher.verifications();
    let unknown = auth
        .login("nobody", "lovelace-1815", &client())
        .await
        .unwrap_err();
    assert_eq!(
        hasher.verifications(),
        before + 1,
        "unknown user ran one Argon2 verification"
    );
    let wrong = auth
        .login("ada", "wrong-password", &client())
        .await
        .unwrap_err();
    assert_eq!(
        hasher.verifications(),
        before + 2,
        "wrong password ran one Argon2 verification"
    );
    assert!(matches!(unknown, AuthError::InvalidCredentials));
    assert!(matches!(wrong, AuthError::InvalidCredentials));
    assert_eq!(unknown.to_string(), wrong.to_string());
}

#[tokio::test]
async fn a_failed_sign_in_for_no_such_user_never_records_what_was_typed() {
    let redis = TestRedis::start().await;
    let auth = auth(&redis).await;
    auth.users()
        .create("erin", "long enough, really", &[Role::User])
        .await
        .unwrap();
    // A password typed into the username field, and a wrong password.
    let typed = "hunter2-my-secret";
    auth.login(typed, "whatever", &client()).await.unwrap_err();
    auth.login("erin", "not it", &client()).await.unwrap_err();
    auth.events().flush().await;
    let failed = auth
        .events()
        .recent(
            &crate::events::Filter {
                kind: Some("login_failed".into()),
                ..Default::default()
            },
            10,
            100,
        )
        .await
        .unwrap();
    assert_eq!(failed.len(), 2);
    let stored = serde_json::to_string(&failed).unwrap();
    assert!(
        !stored.contains(typed),
        "the typed username was stored: {stored}"
    );
    use crate::api::events::{EventKind, LoginFailed, LoginFailure};
    let reasons: Vec<&EventKind> = failed.iter().map(|e| &e.kind).collect();
    assert_eq!(
        reasons,
        [
            &EventKind::LoginFailed(LoginFailed {
                reason: LoginFailure::InvalidCredentials
            }),
            &EventKind::LoginFailed(LoginFailed {
                reason: LoginFailure::UnknownUser
            }),
        ]
    );
    assert_eq!(failed[0].username.as_deref(), Some("erin"));
}

#[tokio::test]
async fn disabled_users_learn_it_only_with_the_right_password() {
    let redis = TestRedis::start().await;
    let auth = auth(&redis).await;
    let user = auth
        .users()
        .create("mallory", "long enough, really", &[Role::User])
        .await
        .unwrap();
    let login = auth
        .login("mallory", "long enough, really", &client())
        .await
        .unwrap();
    let ended = auth.set_disabled(&user.id, true).await.unwrap();
    assert_eq!(ended.len(), 1, "disabling ends existing sessions");
    assert!(matches!(
        auth.authenticate(&login.access.token).await,
        Err(AuthError::TokenRevoked)
    ));
    assert!(matches!(
        auth.login("mallory", "wrong", &client()).await,
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        auth.login("mallory", "long enough, really", &client())
            .await,
        Err(AuthError::AccountDisabled)
    ));
    auth.set_disabled(&user.id, false).await.unwrap();
    auth.login("mallory", "long enough, really", &client())
        .await
        .unwrap();
}

#[tokio::test]
async fn empty_and_oversized_input_is_rejected_without_hashing() {
    let redis = TestRedis::start().await;
    let auth = auth(&redis).await;
    let before = auth.users().hasher().verifications();
    for (username, password) in [
        ("", "x"),
        ("  ", "x"),
        ("a", ""),
        (&"u".repeat(257) as &str, "x"),
        // Longer than any acceptable password (1024 four-byte characters).
        ("a", &"p".repeat(4097)),
    ] {
        assert!(matches!(
            auth.login(username, password, &client()).await,
            Err(AuthError::InvalidInput(_))
        ));
    }
    assert_eq!(auth.users().hasher().verifications(), before);
}

#[tokio::test]
async fn refresh_tokens_do_not_authenticate_requests() {
    let redis = TestRedis::start().await;
    let auth = auth(&redis).await;
    auth.users()
        .create("ken", "long enough, really", &[Role::User])
        .await
        .unwrap();
    let login = auth
        .login("ken", "long enough, really", &client())
        .await
        .unwrap();
    assert!(matches!(
        auth.authenticate(&login.refresh.token).await,
        Err(AuthError::Token(TokenError::Invalid(_)))
    ));
}

#[tokio::test]
async fn ensure_user_creates_once_and_never_overwrites() {
    let redis = TestRedis::start().await;
    let auth = auth(&redis).await;
    assert!(
        auth.ensure_user("root", "first password", &[Role::Admin])
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        auth.ensure_user("root", "second password", &[Role::User])
            .await
            .unwrap()
            .is_none()
    );
    auth.login("root", "first password", &client())
        .await
        .unwrap();
}

#[tokio::test]
async fn redis_down_is_an_error_never_an_allow() {
    let mut redis = TestRedis::start().await;
    let auth = auth(&redis).await;
    auth.users()
        .create("linus", "long enough, really", &[Role::User])
        .await
        .unwrap();
    let login = auth
        .login("linus", "long enough, really", &client())
        .await
        .unwrap();
    redis.stop().await;
    assert!(matches!(
        auth.authenticate(&login.access.token).await,
        Err(AuthError::Store(_))
    ));
}

mod every_script;
