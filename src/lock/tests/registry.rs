//! The registry of held locks: exactly the held ones, with their details,
//! and none that expired.

use super::*;

/// Acquire three locks (one with a waiter), release one: the registry lists
/// exactly the two held, with their details.
pub(super) async fn registry_lists_exactly_the_held_locks(store: Store) {
    let locks = Locks::new(store, "instance-a");
    let mut labelled = options(10_000, 0);
    labelled.label = "refresh of session 1".into();
    let first = locks.acquire_lease("alpha", &labelled).await.unwrap();
    let second = locks
        .acquire_lease("beta", &options(10_000, 0))
        .await
        .unwrap();
    let third = locks
        .acquire_lease("gamma", &options(10_000, 0))
        .await
        .unwrap();
    let waiter = {
        let locks = locks.clone();
        tokio::spawn(async move { locks.acquire_lease("alpha", &options(10_000, 3_000)).await })
    };
    crate::testing::wait_until(
        "the waiter is registered",
        Duration::from_secs(10),
        || async {
            locks
                .list()
                .await
                .unwrap()
                .iter()
                .any(|l| l.name == "alpha" && l.waiters == 1)
        },
    )
    .await;
    locks.release("gamma", &third.owner).await.unwrap();

    let held = locks.list().await.unwrap();
    let names: Vec<&str> = held.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["alpha", "beta"]);
    let alpha = &held[0];
    assert_eq!(alpha.label, "refresh of session 1");
    assert_eq!(alpha.instance, "instance-a");
    assert_eq!(alpha.fencing_token, first.fencing_token);
    assert_eq!(alpha.hold_count, 1);
    assert_eq!(alpha.waiters, 1);
    assert_eq!(alpha.ttl_ms, 10_000);
    assert!(alpha.ttl_left_ms > 9_000 && alpha.ttl_left_ms <= 10_000);
    assert!(alpha.acquired_at_ms > 0);
    assert_eq!(held[1].waiters, 0);

    locks.release("alpha", &first.owner).await.unwrap();
    let handed_over = waiter.await.unwrap().unwrap();
    locks.release("alpha", &handed_over.owner).await.unwrap();
    locks.release("beta", &second.owner).await.unwrap();
    assert!(locks.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_registry_lists_exactly_the_held_locks() {
    let redis = TestRedis::start().await;
    registry_lists_exactly_the_held_locks(redis.store().await).await;
}

#[tokio::test]
async fn expired_locks_leave_the_registry() {
    let redis = TestRedis::start().await;
    let locks = Locks::new(redis.store().await, "i");
    locks
        .acquire_lease("brief", &options(100, 0))
        .await
        .unwrap();
    assert_eq!(locks.list().await.unwrap().len(), 1);
    // A TTL must pass: the lock's 100 ms.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(locks.list().await.unwrap().is_empty());
}
