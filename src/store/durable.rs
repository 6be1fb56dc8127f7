//! Writes that must survive a failover.
//!
//! Redis replicates asynchronously: a primary that crashes right after
//! acknowledging a write can take the write with it, and the replica
//! promoted in its place never saw it. For most of Gatehouse's state that
//! is harmless (a last-seen time, one request counted less). For sessions
//! it is not: a lost sign-in logs its user out, and a lost revocation
//! brings a revoked session back. So session creation and revocation are
//! followed by `WAIT n timeout`, which returns once `n` replicas hold the
//! write or the timeout has passed.
//!
//! `WAIT` covers the writes made on its own connection, so it must follow
//! the write there; and it holds that connection while it waits, so that
//! connection is a second one kept for these writes, not the one every
//! request shares. A short count (a replica down or lagging) does not undo
//! the write, which did happen on the primary: it is logged and counted
//! (`gatehouse_redis_wait_short_total`) so an operator sees the risk.

use std::time::Duration;

use redis::aio::ConnectionLike;

use super::Connection;

/// How many replicas must confirm a durable write, and for how long to
/// wait for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replication {
    /// Replicas to wait for; 0 waits for none.
    pub replicas: u32,
    /// Longest wait for them.
    pub timeout: Duration,
}

impl Replication {
    /// Waits for nothing (a lone server, or a Cluster).
    pub const NONE: Self = Self {
        replicas: 0,
        timeout: Duration::from_millis(200),
    };
}

/// One durable write: send it through [`DurableWrite::conn`], then call
/// [`DurableWrite::confirm`].
pub struct DurableWrite {
    pub(super) conn: Connection,
    pub(super) replication: Replication,
}

impl DurableWrite {
    /// The connection to send the write on.
    pub fn conn(&mut self) -> &mut (impl ConnectionLike + Send) {
        &mut self.conn
    }

    /// Waits until the configured number of replicas hold the writes sent
    /// through [`DurableWrite::conn`] (at most the configured timeout).
    /// `what` names the write in the warning a short count logs.
    pub async fn confirm(mut self, what: &'static str) {
        let Replication { replicas, timeout } = self.replication;
        if replicas == 0 {
            return;
        }
        let acked: redis::RedisResult<u32> = redis::cmd("WAIT")
            .arg(replicas)
            .arg(crate::duration::millis(timeout).max(1))
            .query_async(&mut self.conn)
            .await;
        let short = match acked {
            Ok(acked) if acked >= replicas => return,
            Ok(acked) => format!("{acked} of {replicas} replicas confirmed it within {timeout:?}"),
            Err(err) => format!("WAIT failed: {err}"),
        };
        metrics::counter!(crate::observe::REDIS_WAIT_SHORT, "write" => what).increment(1);
        tracing::warn!(
            write = what,
            "{short}; the write is on the primary but a failover now could lose it \
             (check the replicas, or lower --redis-wait-replicas if there are fewer)"
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::{Duration, Instant};

    use super::Replication;
    use crate::testing::TestSentinel;

    async fn set_durably(store: &crate::store::Store, key: &str) {
        let mut write = store.durable();
        let () = redis::cmd("SET")
            .arg(key)
            .arg("yes")
            .query_async(write.conn())
            .await
            .unwrap();
        write.confirm("test").await;
    }

    async fn on_replica(setup: &TestSentinel, key: &str) -> Option<String> {
        let mut replica = redis::Client::open(setup.replica.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        redis::cmd("GET")
            .arg(key)
            .query_async(&mut replica)
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_durable_write_returns_only_once_the_replica_holds_it() {
        // Fails without the `WAIT`: the write would return at once.
        let setup = TestSentinel::start().await;
        let store = setup
            .store_with(Replication {
                replicas: 1,
                timeout: Duration::from_secs(10),
            })
            .await;
        setup.freeze_replica();
        let writer = tokio::spawn({
            let store = store.clone();
            async move { set_durably(&store, "gh:test:durable").await }
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        let early = writer.is_finished();
        setup.thaw_replica();
        assert!(
            !early,
            "the write returned while its replica could not have it"
        );
        tokio::time::timeout(Duration::from_secs(5), writer)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            on_replica(&setup, "gh:test:durable").await.as_deref(),
            Some("yes")
        );
        // The connection every request shares was never held up.
        let started = Instant::now();
        store.ping().await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_short_count_is_reported_and_the_write_stands() {
        let setup = TestSentinel::start().await;
        let store = setup
            .store_with(Replication {
                replicas: 1,
                timeout: Duration::from_millis(100),
            })
            .await;
        setup.freeze_replica();
        let started = Instant::now();
        set_durably(&store, "gh:test:short").await;
        let took = started.elapsed();
        setup.thaw_replica();
        assert!(
            took >= Duration::from_millis(100) && took < Duration::from_secs(2),
            "waited {took:?}"
        );
        let value: Option<String> = redis::cmd("GET")
            .arg("gh:test:short")
            .query_async(&mut store.conn())
            .await
            .unwrap();
        assert_eq!(value.as_deref(), Some("yes"));
    }
}
