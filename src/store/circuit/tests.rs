//! The breakers on real Redis processes: frozen with `SIGSTOP` (one server,
//! a Sentinel primary, one Cluster node), behind a proxy that answers late,
//! and the probes counted with `MONITOR`.

use std::time::{Duration, Instant};

use super::first_key;
use crate::Store;
use crate::store::StoreConfig;
use crate::testing::{Blackhole, TestCluster, TestRedis, TestSentinel, wait_until};

/// What a frozen target may cost a call: the breaker opens after two
/// missed probes (the second sent as soon as the first misses, 200 ms
/// each), well inside the 2 s response timeout; the slack is for a busy
/// machine.
const OPENS_WITHIN: Duration = Duration::from_millis(1_200);

/// Pings on `store` from 10 tasks at once; each result and how long it
/// took.
async fn pings(store: &Store) -> Vec<(bool, Duration)> {
    let calls = (0..10).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            (store.ping().await.is_ok(), started.elapsed())
        })
    });
    let mut results = Vec::new();
    for call in calls {
        results.push(call.await.unwrap());
    }
    results
}

/// Freezes, checks that waiting calls fail at once when the breaker opens
/// and later ones without waiting, thaws, and checks that service returns.
async fn opens_and_closes(store: &Store, freeze: impl Fn(), thaw: impl Fn()) {
    store.ping().await.unwrap();
    assert!(!store.tripped());
    freeze();
    // In flight when the target stops answering: the default timeout is
    // 2 s, the breaker gives up on them sooner.
    for (ok, took) in pings(store).await {
        assert!(!ok, "a frozen Redis answered");
        assert!(
            took < OPENS_WITHIN,
            "a call waited {took:?} on a frozen Redis"
        );
    }
    assert!(store.tripped(), "the breaker is open");
    for (ok, took) in pings(store).await {
        assert!(!ok);
        assert!(
            took < Duration::from_millis(50),
            "an open breaker made a call wait {took:?}"
        );
    }
    let err = store.ping().await.unwrap_err();
    assert!(err.is_circuit_open(), "{err}");
    thaw();
    // How soon service returns is the freeze benchmark's measure.
    wait_until(
        "service after the thaw",
        Duration::from_secs(10),
        || async { store.ping().await.is_ok() },
    )
    .await;
    assert!(!store.tripped());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_server_opens_its_breaker_and_service_returns_after_the_thaw() {
    let redis = TestRedis::start().await;
    let store = redis.store().await;
    opens_and_closes(&store, || redis.freeze(), || redis.thaw()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_sentinel_primary_opens_its_breaker_and_service_returns_after_the_thaw() {
    let setup = TestSentinel::start().await;
    let store = setup.store().await;
    opens_and_closes(&store, || setup.freeze_primary(), || setup.thaw_primary()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_cluster_node_fails_only_its_own_keys() {
    let cluster = TestCluster::start().await;
    let store = cluster.store().await;
    wait_until(
        "the probes learn the slot map",
        Duration::from_secs(10),
        || async { store.last_contact(Some("a")).is_some() },
    )
    .await;
    let keys: Vec<String> = (0..30).map(|i| format!("gh:{{k{i}}}:x")).collect();
    cluster.freeze_node(0);
    let started = Instant::now();
    let mut answered = 0;
    let mut refused = 0;
    let gets = keys.iter().map(|key| {
        let store = store.clone();
        let key = key.clone();
        async move {
            let got: Result<Option<String>, _> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut store.conn())
                .await;
            got.is_ok()
        }
    });
    for ok in futures_util::future::join_all(gets).await {
        if ok {
            answered += 1;
        } else {
            refused += 1;
        }
    }
    assert!(
        started.elapsed() < OPENS_WITHIN,
        "took {:?}",
        started.elapsed()
    );
    assert!(answered > 0, "keys on the running nodes failed too");
    assert!(refused > 0, "no key lived on the frozen node");
    assert!(store.tripped());
    // A PING (what /ready sends) could reach any node: it is refused at
    // once while a primary's breaker is open, not after the timeout.
    let pinged = Instant::now();
    let ping = store.ping().await;
    assert!(
        matches!(&ping, Err(err) if err.is_circuit_open()),
        "{ping:?}"
    );
    assert!(pinged.elapsed() < Duration::from_millis(50));
    cluster.thaw_node(0);
    // Half-open lets one call through; its success closes the breaker.
    wait_until(
        "the node's keys come back",
        Duration::from_secs(10),
        || async {
            let mut all = true;
            for key in &keys {
                let got: Result<Option<String>, _> = redis::cmd("GET")
                    .arg(key)
                    .query_async(&mut store.conn())
                    .await;
                all &= got.is_ok();
            }
            all
        },
    )
    .await;
    assert!(!store.tripped());
}

/// A Redis that answers every reply 300 to 700 ms late: the probes (200 ms
/// deadline) all miss, so the breaker opens once and stays open rather
/// than flapping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_answers_late_and_unevenly_does_not_make_the_breaker_flap() {
    let redis = TestRedis::start().await;
    let port: u16 = redis.url().rsplit(':').next().unwrap().parse().unwrap();
    let proxy = Blackhole::start(port).await;
    let store = Store::connect(&StoreConfig::single(format!(
        "redis://127.0.0.1:{}",
        proxy.port
    )))
    .await
    .unwrap();
    store.ping().await.unwrap();
    proxy.delay_replies(Duration::from_millis(300), Duration::from_millis(700));
    let mut transitions = 0;
    let mut tripped = store.tripped();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(12) {
        // Traffic too: a call let through when half-open could close it.
        let _ = store.ping().await;
        if store.tripped() != tripped {
            tripped = !tripped;
            transitions += 1;
        }
        // Calls at a steady pace while the breaker is watched.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(tripped, "the breaker is open");
    // At most 4 a minute is at most 1 in these 12 s: the opening.
    assert_eq!(transitions, 1, "the breaker flapped");
}

/// Four `PING`s a second per target, from the store itself.
#[tokio::test]
async fn each_target_is_probed_four_times_a_second() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let redis = TestRedis::start().await;
    let address = redis.url().trim_start_matches("redis://").to_owned();
    let mut monitor = tokio::net::TcpStream::connect(&address).await.unwrap();
    monitor.write_all(b"MONITOR\r\n").await.unwrap();
    let mut lines = tokio::io::BufReader::new(monitor).lines();
    assert_eq!(lines.next_line().await.unwrap().unwrap(), "+OK");
    let store = redis.store().await;
    let started = Instant::now();
    let mut pings = 0;
    // Two seconds of what Redis receives.
    while let Ok(Ok(Some(line))) = tokio::time::timeout(
        Duration::from_secs(2).saturating_sub(started.elapsed()),
        lines.next_line(),
    )
    .await
    {
        if line.to_lowercase().contains("\"ping\"") {
            pings += 1;
        }
    }
    drop(store);
    assert!((6..=10).contains(&pings), "{pings} probes in 2 s");
}

#[test]
fn a_call_goes_through_the_breaker_of_its_first_key() {
    let key = |cmd: &redis::Cmd| first_key(cmd).map(<[u8]>::to_vec);
    assert_eq!(
        key(redis::cmd("GET").arg("gh:{a}:x")),
        Some(b"gh:{a}:x".to_vec())
    );
    assert_eq!(
        key(redis::cmd("FCALL")
            .arg("admit")
            .arg(2)
            .arg("gh:{u}:s")
            .arg("k2")),
        Some(b"gh:{u}:s".to_vec())
    );
    assert_eq!(key(redis::cmd("FCALL").arg("f").arg(0)), None);
    assert_eq!(
        key(redis::cmd("XREAD")
            .arg("COUNT")
            .arg(10)
            .arg("BLOCK")
            .arg(1000)
            .arg("STREAMS")
            .arg("gh:{events}")
            .arg("0-0")),
        Some(b"gh:{events}".to_vec())
    );
    assert_eq!(key(redis::cmd("WAIT").arg(1).arg(100)), None);
}
