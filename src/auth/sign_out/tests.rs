//! Sign-outs while Redis is frozen, on real processes: kept, refused at
//! once, replayed when Redis is back, and replayed by the next start after
//! a crash.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::testing::fixtures::{AuthFixture, PASSWORD, client};
use crate::testing::{TestRedis, wait_for, wait_until};
use crate::user::Role;

async fn instance(store: &crate::Store, journal: Option<&Path>, name: &'static str) -> Auth {
    AuthFixture {
        cheap_hashing: true,
        instance: name,
        signouts: journal.map(Path::to_owned),
        ..AuthFixture::default()
    }
    .build(store)
    .await
}

/// How long a test waits for a state before it gives up.
const PATIENCE: Duration = Duration::from_secs(10);

/// Waits for the store's breaker to open (Redis frozen).
async fn until_tripped(store: &crate::Store) {
    wait_until("the breaker opens", PATIENCE, || async { store.tripped() }).await;
}

/// Waits until `auth` refuses `token` as signed out (Redis answering).
async fn until_refused(auth: &Auth, token: &str) -> AuthError {
    wait_for("the sign-out reaches Redis", PATIENCE, || async {
        match auth.authenticate(token).await {
            Err(err @ (AuthError::SessionEnded | AuthError::TokenRevoked)) => Some(err),
            _ => None,
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_while_redis_is_frozen_is_kept_refused_at_once_and_replayed_for_every_instance()
{
    let redis = TestRedis::start().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join(crate::signouts::FILE);
    let store = redis.store().await;
    let here = instance(&store, Some(&journal), "gh-a").await;
    let elsewhere = instance(&redis.store().await, None, "gh-b").await;
    here.users()
        .create("ada", PASSWORD, &[Role::User])
        .await
        .unwrap();
    let login = here.login("ada", PASSWORD, &client()).await.unwrap();
    let token = login.access.token.as_str();
    elsewhere.authenticate(token).await.unwrap();

    redis.freeze();
    until_tripped(&store).await;
    // How fast it answers is the freeze benchmark's measure.
    assert_eq!(here.logout_unconfirmed(token).await.unwrap(), 1);
    assert!(
        journal.exists(),
        "the sign-out is on disk before it is answered"
    );
    // Refused here at once, Redis or not.
    assert!(matches!(
        here.authenticate(token).await,
        Err(AuthError::TokenRevoked)
    ));

    redis.thaw();
    // Replayed when Redis answers: the session ends for every instance.
    until_refused(&elsewhere, token).await;
    wait_until("the journal is emptied", PATIENCE, || async {
        !journal.exists()
    })
    .await;
    assert!(matches!(
        here.authenticate(token).await,
        Err(AuthError::SessionEnded | AuthError::TokenRevoked)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_left_by_a_crash_is_replayed_by_the_next_start() {
    let redis = TestRedis::start().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join(crate::signouts::FILE);
    let store = redis.store().await;
    let crashed = instance(&store, Some(&journal), "gh-a").await;
    let elsewhere = instance(&redis.store().await, None, "gh-b").await;
    crashed
        .users()
        .create("bob", PASSWORD, &[Role::User])
        .await
        .unwrap();
    let login = crashed.login("bob", PASSWORD, &client()).await.unwrap();
    let token = login.access.token.clone();

    redis.freeze();
    until_tripped(&store).await;
    crashed.logout_unconfirmed(&token).await.unwrap();
    // The process dies before Redis is back: nothing replays its journal.
    drop(crashed);
    drop(store);
    // A time must pass, not a state: the dead instance's replay task may be
    // inside a try it began before the drop, and it notices that no handle
    // is left at its next tick (every 500 ms). Past that, only the next
    // start can replay the journal.
    tokio::time::sleep(Duration::from_millis(600)).await;
    redis.thaw();
    wait_until("Redis answers again", PATIENCE, || async {
        match elsewhere.authenticate(&token).await {
            Ok(_) => true,
            Err(AuthError::Store(_)) => false,
            Err(err) => panic!("nobody replayed the journal, yet the session ended: {err:?}"),
        }
    })
    .await;

    // The next start replays what the journal kept.
    let _restarted = instance(&redis.store().await, Some(&journal), "gh-a").await;
    until_refused(&elsewhere, &token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_journal_a_sign_out_while_redis_is_frozen_is_refused() {
    let redis = TestRedis::start().await;
    let store = redis.store().await;
    let auth = instance(&store, None, "gh-a").await;
    auth.users()
        .create("cyd", PASSWORD, &[Role::User])
        .await
        .unwrap();
    let login = auth.login("cyd", PASSWORD, &client()).await.unwrap();
    redis.freeze();
    until_tripped(&store).await;
    let refused = auth.logout_unconfirmed(&login.access.token).await;
    redis.thaw();
    assert!(
        matches!(refused, Err(AuthError::Store(StoreError::Unavailable(_)))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_token_that_does_not_verify_signs_nobody_out() {
    let redis = TestRedis::start().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join(crate::signouts::FILE);
    let auth = instance(&redis.store().await, Some(&journal), "gh-a").await;
    let forged = auth
        .logout_unconfirmed("eyJhbGciOiJIUzI1NiJ9.e30.AAAA")
        .await;
    assert!(matches!(forged, Err(AuthError::Token(_))), "{forged:?}");
    assert!(!journal.exists());
}
