//! The store on real Redis servers: single, Cluster, and URLs it refuses.

use super::*;
use crate::testing::TestRedis;

crate::both_topologies! {
    /// The status page's probe: on a Cluster, `INFO` answers per node.
    async fn the_server_info_names_the_version(backend) {
        let info = backend.store().await.server_info().await.unwrap();
        assert!(info.version.starts_with(|c: char| c.is_ascii_digit()), "{info:?}");
    }
}

#[test]
fn keys_are_prefixed_and_tagged() {
    assert_eq!(keys::session("42", "abc"), "gh:{u:42}:s:abc");
    assert_eq!(keys::user_sessions("42"), "gh:{u:42}:sessions");
    assert_eq!(keys::user("42"), "gh:{users}:u:42");
    assert!(keys::is_id("0a9f"));
    assert!(!keys::is_id("0A9F") && !keys::is_id("x}") && !keys::is_id(""));
    let name = "jobs/nightly";
    let shard = keys::lock_shard(name);
    assert!(shard < keys::LOCK_SHARDS);
    assert_eq!(
        keys::lock(name),
        format!("gh:{{l:{shard:02}}}:lock:jobs/nightly")
    );
    assert!(keys::lock_fence(name).starts_with(&format!("gh:{{l:{shard:02}}}")));
}

#[tokio::test]
async fn connects_and_pings_a_real_redis() {
    let redis = TestRedis::start().await;
    let store = redis.store().await;
    store.ping().await.unwrap();
    let info = store.server_info().await.unwrap();
    assert!(info.version.starts_with(char::is_numeric), "{info:?}");
    assert!(!store.is_cluster());
}

#[tokio::test]
async fn unreachable_redis_is_a_clear_unavailable_error() {
    // Port 1 on loopback: nothing listens there and the kernel refuses at once.
    let store = Store::connect(&StoreConfig::single("redis://127.0.0.1:1"))
        .await
        .unwrap();
    let err = store.ping().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().starts_with("Redis is unavailable"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_sentinel_the_store_follows_a_failover() {
    let setup = crate::testing::TestSentinel::start().await;
    let store = setup.store().await;
    let _: () = redis::cmd("SET")
        .arg("gh:test:before")
        .arg(1)
        .query_async(&mut store.conn())
        .await
        .unwrap();
    setup.fail_over().await;
    // The demoted primary dropped our connection (or answers READONLY):
    // at most the first command fails, and the store, having asked the
    // sentinel again, writes the next one to the new primary.
    let set_after = || async {
        redis::cmd("SET")
            .arg("gh:test:after")
            .arg(2)
            .query_async::<()>(&mut store.conn())
            .await
    };
    if let Err(err) = set_after().await {
        assert!(err.is_io_error() || err.is_connection_dropped(), "{err:?}");
        set_after().await.unwrap();
    }
    let mut new_primary = redis::Client::open(setup.replica.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let (before, after): (u32, u32) = redis::cmd("MGET")
        .arg("gh:test:before")
        .arg("gh:test:after")
        .query_async(&mut new_primary)
        .await
        .unwrap();
    assert_eq!((before, after), (1, 2));
    // Connections of their own go to the new primary too.
    store.subscribe("gh:test:channel").await.unwrap();
}

#[test]
fn a_redis_that_cannot_answer_now_is_unavailable_not_failed() {
    for (kind, text) in [
        (
            redis::ServerErrorKind::BusyLoading,
            "Redis is loading the dataset in memory",
        ),
        (
            redis::ServerErrorKind::MasterDown,
            "link with MASTER is down",
        ),
        (
            redis::ServerErrorKind::ReadOnly,
            "You can't write against a read only replica.",
        ),
    ] {
        let err = StoreError::from(RedisError::from((redis::ErrorKind::Server(kind), text)));
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }
    let mid_failover = StoreError::from(RedisError::from((
        redis::ErrorKind::MasterNameNotFoundBySentinel,
        "Master with given name not found in sentinel",
    )));
    assert!(
        matches!(mid_failover, StoreError::Unavailable(_)),
        "{mid_failover:?}"
    );
    let wrong_type = StoreError::from(RedisError::from((
        redis::ErrorKind::Server(redis::ServerErrorKind::ExecAbort),
        "not that",
    )));
    assert!(
        matches!(wrong_type, StoreError::Command(_)),
        "{wrong_type:?}"
    );
}

#[tokio::test]
async fn malformed_url_is_rejected_up_front() {
    let err = Store::connect(&StoreConfig::single("http://nope"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidUrl { .. }), "{err:?}");
}
