//! Fencing tokens: a paused writer's stale token is refused, and tokens
//! strictly increase however many contend.

use super::*;

/// Kleppmann's scenario: A's lock expires while A is paused; B takes the
/// lock and writes; A wakes up and writes with its old token: rejected.
pub(super) async fn fencing_rejects_the_paused_writer(store: Store) {
    let locks = Locks::new(store, "i");
    let a = locks.acquire("storage", &options(200, 0)).await.unwrap();
    let a_token = a.fencing_token();
    tokio::time::sleep(Duration::from_millis(300)).await; // A pauses past its TTL.
    let b = locks.acquire("storage", &options(10_000, 0)).await.unwrap();
    assert!(b.fencing_token() > a_token);
    assert!(
        locks
            .fenced_write("file-42", b.fencing_token(), "written by B")
            .await
            .unwrap()
    );
    assert!(
        !locks
            .fenced_write("file-42", a_token, "written by A")
            .await
            .unwrap()
    );
    assert_eq!(
        locks.fenced_read("file-42").await.unwrap().as_deref(),
        Some("written by B")
    );
    b.release().await.unwrap();
}

#[tokio::test]
async fn fencing_tokens_reject_a_writer_that_paused_past_its_ttl() {
    let redis = TestRedis::start().await;
    fencing_rejects_the_paused_writer(redis.store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fencing_tokens_strictly_increase_under_contention() {
    let redis = TestRedis::start().await;
    let locks = Locks::new(redis.store().await, "i");
    let last = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let locks = locks.clone();
        let last = last.clone();
        tasks.push(tokio::spawn(async move {
            let guard = locks
                .acquire("sequence", &options(5_000, 30_000))
                .await
                .unwrap();
            let previous = last.swap(guard.fencing_token(), Ordering::SeqCst);
            assert!(
                guard.fencing_token() > previous,
                "{} after {previous}",
                guard.fencing_token()
            );
            guard.release().await.unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(last.load(Ordering::SeqCst), 50);
}
