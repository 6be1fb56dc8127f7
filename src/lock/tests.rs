//! Lock tests against real Redis (and a real Redis Cluster): many tasks,
//! one lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::*;
use crate::testing::{TestCluster, TestRedis};

fn options(ttl_ms: u64, wait_ms: u64) -> LockOptions {
    LockOptions {
        ttl: Duration::from_millis(ttl_ms),
        wait: Duration::from_millis(wait_ms),
        label: "test".to_owned(),
        holder: None,
        watchdog: false,
        fencing: true,
    }
}

/// 200 tasks increment a counter with a non-atomic read-sleep-write under
/// the lock; without mutual exclusion, increments would be lost.
async fn mutual_exclusion(store: Store) {
    let locks = Locks::new(store.clone(), "test-instance");
    let counter = "gh:test:counter";
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let locks = locks.clone();
        let mut conn = store.conn();
        tasks.push(tokio::spawn(async move {
            let guard = locks
                .acquire("counter", &options(5_000, 60_000))
                .await
                .unwrap();
            let value: Option<u64> = redis::cmd("GET")
                .arg(counter)
                .query_async(&mut conn)
                .await
                .unwrap();
            tokio::task::yield_now().await;
            let _: () = redis::cmd("SET")
                .arg(counter)
                .arg(value.unwrap_or(0) + 1)
                .query_async(&mut conn)
                .await
                .unwrap();
            guard.release().await.unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let value: u64 = redis::cmd("GET")
        .arg(counter)
        .query_async(&mut store.conn())
        .await
        .unwrap();
    assert_eq!(value, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_tasks_never_overlap() {
    let redis = TestRedis::start().await;
    mutual_exclusion(redis.store().await).await;
}

#[tokio::test]
async fn only_the_owner_releases_or_extends() {
    let redis = TestRedis::start().await;
    let locks = Locks::new(redis.store().await, "i");
    let lease = locks
        .acquire_lease("door", &options(10_000, 0))
        .await
        .unwrap();
    assert_eq!(lease.owner.len(), 32, "128-bit owner token");
    assert!(matches!(
        locks.release("door", "not-the-owner").await,
        Err(LockError::NotHeld)
    ));
    assert!(matches!(
        locks
            .extend("door", "not-the-owner", Duration::from_secs(1))
            .await,
        Err(LockError::NotHeld)
    ));
    assert!(matches!(
        locks.acquire_lease("door", &options(10_000, 0)).await,
        Err(LockError::Busy)
    ));
    assert_eq!(
        locks
            .release("door", &lease.owner)
            .await
            .unwrap()
            .remaining_holds,
        0
    );
    assert!(matches!(
        locks.release("door", &lease.owner).await,
        Err(LockError::NotHeld)
    ));
}

#[tokio::test]
async fn a_late_release_never_deletes_the_next_holders_lock() {
    let redis = TestRedis::start().await;
    let locks = Locks::new(redis.store().await, "i");
    let first = locks.acquire_lease("door", &options(100, 0)).await.unwrap();
    // A TTL must pass: the first holder's 100 ms lease expires.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = locks
        .acquire_lease("door", &options(10_000, 0))
        .await
        .unwrap();
    assert!(second.fencing_token > first.fencing_token);
    assert!(matches!(
        locks.release("door", &first.owner).await,
        Err(LockError::NotHeld)
    ));
    assert!(matches!(
        locks.acquire_lease("door", &options(10_000, 0)).await,
        Err(LockError::Busy)
    ));
}

#[tokio::test]
async fn a_crashed_holders_lock_frees_after_its_ttl() {
    let redis = TestRedis::start().await;
    let locks = Locks::new(redis.store().await, "i");
    let crashed = locks.acquire("door", &options(300, 0)).await.unwrap();
    // A crash: no release, no watchdog.
    std::mem::forget(crashed);
    let started = Instant::now();
    let next = locks
        .acquire("door", &options(10_000, 5_000))
        .await
        .unwrap();
    let waited = started.elapsed();
    // Only a lower bound: nothing may get in before the TTL ends. How soon
    // after it a waiter gets in is the benchmark's business; the wait's own
    // 5 s bound fails the acquire if it never happens.
    assert!(
        waited >= Duration::from_millis(200),
        "got in after {waited:?}, before the TTL"
    );
    next.release().await.unwrap();
}

#[tokio::test]
async fn the_watchdog_keeps_a_live_holders_lock_and_stops_on_release() {
    let redis = TestRedis::start().await;
    let locks = Locks::new(redis.store().await, "i");
    let mut with_watchdog = options(300, 0);
    with_watchdog.watchdog = true;
    let guard = locks.acquire("door", &with_watchdog).await.unwrap();
    for _ in 0..10 {
        // Time must pass: three watchdog periods, each past the 300 ms TTL.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(matches!(
            locks.acquire_lease("door", &options(1_000, 0)).await,
            Err(LockError::Busy)
        ));
    }
    assert!(!guard.is_lost());
    guard.release().await.unwrap();
    // Released: free at once, and nothing extends the old hold any more.
    let lease = locks.acquire_lease("door", &options(200, 0)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(matches!(
        locks
            .extend("door", &lease.owner, Duration::from_secs(1))
            .await,
        Err(LockError::NotHeld)
    ));
}

#[tokio::test]
async fn a_force_released_holder_is_told_it_lost_the_lock() {
    let redis = TestRedis::start().await;
    let locks = Locks::new(redis.store().await, "i");
    let mut with_watchdog = options(300, 0);
    with_watchdog.watchdog = true;
    with_watchdog.label = "nightly job".into();
    let guard = locks.acquire("door", &with_watchdog).await.unwrap();
    let mut lost = guard.lost();
    let info = locks.force_release("door").await.unwrap().unwrap();
    assert_eq!(info.label, "nightly job");
    tokio::time::timeout(Duration::from_secs(2), lost.wait_for(|lost| *lost))
        .await
        .expect("the watchdog noticed within a TTL")
        .unwrap();
    assert!(guard.is_lost());
    assert!(locks.force_release("door").await.unwrap().is_none());
}

/// Waits (for state, not for a fixed time) until the process's release
/// listener has subscribed.
async fn release_listener_subscribed(store: &crate::Store) {
    let subscribed = || async {
        let (_, subscribers): (String, u64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(crate::store::keys::lock_released_channel())
            .query_async(&mut store.conn())
            .await
            .unwrap();
        subscribers > 0
    };
    crate::testing::wait_until(
        "the release listener subscribes",
        Duration::from_secs(30),
        subscribed,
    )
    .await;
}

// How fast a hand-over is, is the lock benchmark's business (docs/src/benchmarks.md); this
// checks what makes it fast: a release wakes waiters through pub/sub, not
// at their next poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_wakes_waiters_through_pub_sub() {
    let redis = TestRedis::start().await;
    let store = redis.store().await;
    let locks = Locks::new(store.clone(), "i");
    release_listener_subscribed(&store).await;
    for _ in 0..5 {
        let holder = locks
            .acquire_lease("baton", &options(10_000, 0))
            .await
            .unwrap();
        let mut releases = locks.releases();
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move {
                locks
                    .acquire_lease("baton", &options(10_000, 60_000))
                    .await
                    .unwrap()
            })
        };
        locks.release("baton", &holder.owner).await.unwrap();
        // Only the release message can end this wait before its 60 s.
        let started = Instant::now();
        releases.wait("baton", Duration::from_secs(60)).await;
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the release was not announced"
        );
        let lease = waiter.await.unwrap();
        locks.release("baton", &lease.owner).await.unwrap();
    }
}

#[tokio::test]
async fn the_same_holder_reenters_and_the_lock_frees_when_the_count_returns_to_zero() {
    let redis = TestRedis::start().await;
    let locks = Locks::new(redis.store().await, "i");
    let mut reentrant = options(10_000, 0);
    reentrant.holder = Some("worker-1".into());
    let outer = locks.acquire_lease("door", &reentrant).await.unwrap();
    let inner = locks.acquire_lease("door", &reentrant).await.unwrap();
    assert_eq!(inner.hold_count, 2);
    assert_eq!(inner.owner, outer.owner);
    assert_eq!(inner.fencing_token, outer.fencing_token);
    let mut other = reentrant.clone();
    other.holder = Some("worker-2".into());
    assert!(matches!(
        locks.acquire_lease("door", &other).await,
        Err(LockError::Busy)
    ));

    assert_eq!(
        locks
            .release("door", &inner.owner)
            .await
            .unwrap()
            .remaining_holds,
        1
    );
    assert!(matches!(
        locks.acquire_lease("door", &other).await,
        Err(LockError::Busy)
    ));
    assert_eq!(locks.list().await.unwrap()[0].hold_count, 1);
    assert_eq!(
        locks
            .release("door", &outer.owner)
            .await
            .unwrap()
            .remaining_holds,
        0
    );
    locks.acquire_lease("door", &other).await.unwrap();
}

#[tokio::test]
async fn bad_names_and_ttls_are_clear_errors() {
    let redis = TestRedis::start().await;
    let locks = Locks::new(redis.store().await, "i");
    for name in ["", "has space", "a{b}", &"x".repeat(201)] {
        assert!(matches!(
            locks.acquire_lease(name, &options(1_000, 0)).await,
            Err(LockError::InvalidName)
        ));
    }
    assert!(matches!(
        locks.acquire_lease("ok", &options(0, 0)).await,
        Err(LockError::InvalidTtl)
    ));
    assert!(matches!(
        locks
            .acquire_lease("ok", &options(25 * 3600 * 1000, 0))
            .await,
        Err(LockError::InvalidTtl)
    ));
    assert!(matches!(
        locks.acquire_lease("ok", &options(1_000, 301_000)).await,
        Err(LockError::InvalidWait)
    ));
}

#[tokio::test]
async fn redis_down_during_acquire_is_an_error_never_a_guard() {
    let mut redis = TestRedis::start().await;
    let locks = Locks::new(redis.store().await, "i");
    redis.stop().await;
    assert!(matches!(
        locks.acquire("door", &options(1_000, 100)).await,
        Err(LockError::Store(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_a_redis_cluster_locks_exclude_fence_and_register_the_same() {
    let cluster = TestCluster::start().await;
    let store = cluster.store().await;
    assert!(store.is_cluster());
    mutual_exclusion(store.clone()).await;
    fencing::fencing_rejects_the_paused_writer(store.clone()).await;
    registry::registry_lists_exactly_the_held_locks(store).await;
}

mod fencing;
mod registry;
