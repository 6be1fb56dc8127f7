//! The background chores of an instance, run with short intervals on a
//! real Redis: the heartbeat keeps the instance listed, and pruning drops
//! sessions that ended without a sign-out from the console's index.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failure

mod support;

use std::time::Duration;

use gatehouse::testing::TestRedis;
use gatehouse::upkeep::{self, Intervals};
use gatehouse::user::Role;
use support::app;

/// Polls `check` until it holds, for at most 10 s.
async fn eventually<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    gatehouse::testing::wait_until(what, Duration::from_secs(10), check).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_list_the_instance_and_pruning_drops_ended_sessions() {
    let redis = TestRedis::start().await;
    let app = app(&redis, &["--instance-id", "gh-upkeep"]).await;
    app.user("uma", "correct horse", &[Role::User]).await;
    app.login("uma", "correct horse").await;
    let auth = &app.state.auth;
    let (total, sessions) = auth.sessions().list_all(0, 10).await.unwrap();
    assert_eq!(total, 1);
    // The session ends behind Gatehouse's back (as an idle timeout does):
    // its key is gone, its index entry is not.
    let _: () = redis::cmd("DEL")
        .arg(gatehouse::store::keys::session(
            &sessions[0].user_id,
            &sessions[0].id,
        ))
        .query_async(&mut app.state.auth.store().conn())
        .await
        .unwrap();
    let counted = || async { auth.sessions().counts().await.unwrap().0 };
    assert_eq!(counted().await, 1, "the index still counts it");

    let chores = upkeep::start(
        &app.state.auth,
        gatehouse_server::startup::instance_info(&app.state.instance),
        Intervals {
            heartbeat: Duration::from_millis(50),
            prune: Duration::from_millis(50),
        },
    );
    let store = app.state.auth.store().clone();
    eventually("the instance is listed", || {
        let store = store.clone();
        async move {
            gatehouse::instances::list(&store)
                .await
                .unwrap()
                .iter()
                .any(|i| i.id == "gh-upkeep")
        }
    })
    .await;
    let seen = |store: gatehouse::Store| async move {
        gatehouse::instances::list(&store)
            .await
            .unwrap()
            .into_iter()
            .find(|i| i.id == "gh-upkeep")
            .unwrap()
            .last_seen_ms
    };
    let first = seen(store.clone()).await;
    eventually("the heartbeat moves on", || {
        let store = store.clone();
        async move { seen(store).await > first }
    })
    .await;
    eventually("the ended session leaves the index", || async {
        counted().await == 0
    })
    .await;
    drop(chores);
}

/// Pruning is needed once per round, not once per instance: the instances
/// take turns through the `gatehouse:upkeep` lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruning_runs_under_the_upkeep_lock() {
    let redis = TestRedis::start().await;
    let every = Intervals {
        heartbeat: Duration::from_secs(5),
        prune: Duration::from_millis(400),
    };
    // Two instances as operators run them, each with its own chores.
    let target = ["--redis-url", &redis.url()];
    let a = support::build_with(&target, &["--instance-id", "gh-a"], every).await;
    let b = support::build_with(&target, &["--instance-id", "gh-b"], every).await;
    let locks = a.state.auth.locks().clone();
    let holder = gatehouse::testing::wait_for(
        "an instance takes the upkeep lock",
        Duration::from_secs(10),
        || async {
            let held = locks.list().await.unwrap();
            let upkeep: Vec<_> = held
                .into_iter()
                .filter(|lock| lock.name == "gatehouse:upkeep")
                .collect();
            assert!(upkeep.len() <= 1, "one upkeep lock: {upkeep:?}");
            upkeep.into_iter().next().map(|lock| lock.instance)
        },
    )
    .await;
    assert!(["gh-a", "gh-b"].contains(&holder.as_str()), "{holder}");
    a.instance.stop().await;
    b.instance.stop().await;
}
