//! Connections that replace themselves when they stop answering.
//!
//! redis-rs's `ConnectionManager` reconnects when its connection breaks
//! (reset, closed), and the cluster client when a node's does, but a
//! command that times out leaves the connection in place. If the server
//! went away without a reset (a partition, a host that died, a firewall or
//! NAT that forgot the flow), every later command on that connection times
//! out too, forever, although a new connection would work. So after
//! [`THRESHOLD`] timeouts in a row with no answer in between, a fresh
//! connection (for a Cluster: a fresh cluster connection, topology and
//! all) is opened in the background and new commands go there once it is
//! up; the old one goes away with its last command. A server that is
//! merely stalled (a long fork, a frozen process) gets a fresh connection
//! too, harmlessly: it answers on whichever connection once it wakes.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

use super::swap::{Current, Search};

/// Timeouts in a row that condemn a connection.
const THRESHOLD: u32 = 2;

/// How to open the connection a [`Healing`] keeps, and send a command on
/// it.
pub(super) trait Connect: Send + Sync + 'static {
    type Conn: ConnectionLike + Clone + Send + Sync + 'static;
    fn connect(&self) -> impl Future<Output = RedisResult<Self::Conn>> + Send;
    fn send<'a>(
        conn: &'a mut Self::Conn,
        cmd: &'a Cmd,
    ) -> impl Future<Output = RedisResult<Value>> + Send + 'a;
}

/// One server, through a `ConnectionManager` (connected lazily, see
/// `Store::connect`).
pub(super) struct Single {
    pub client: redis::Client,
    pub config: ConnectionManagerConfig,
}

impl Connect for Single {
    type Conn = ConnectionManager;
    async fn connect(&self) -> RedisResult<ConnectionManager> {
        ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())
    }

    // Not through `ConnectionLike`, which boxes every call.
    async fn send(conn: &mut ConnectionManager, cmd: &Cmd) -> RedisResult<Value> {
        conn.send_packed_command(cmd).await
    }
}

/// A Redis Cluster, through the cluster client.
pub(super) struct Cluster(pub ClusterClient);

impl Connect for Cluster {
    type Conn = ClusterConnection;
    async fn connect(&self) -> RedisResult<ClusterConnection> {
        self.0.get_async_connection().await
    }

    async fn send(conn: &mut ClusterConnection, cmd: &Cmd) -> RedisResult<Value> {
        conn.req_packed_command(cmd).await
    }
}

/// A healing connection. Clones share it.
pub(super) struct Healing<C: Connect> {
    inner: Arc<Inner<C>>,
}

impl<C: Connect> Clone for Healing<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner<C: Connect> {
    current: Current<C::Conn>,
    connector: C,
    timeouts: AtomicU32,
    /// The opening of a replacement.
    replacing: Search,
}

impl<C: Connect> Healing<C> {
    /// Opens the first connection.
    pub(super) async fn new(connector: C) -> RedisResult<Self> {
        let conn = connector.connect().await?;
        Ok(Self {
            inner: Arc::new(Inner {
                current: Current::new(conn),
                connector,
                timeouts: AtomicU32::new(0),
                replacing: Search::default(),
            }),
        })
    }

    fn current(&self) -> C::Conn {
        self.inner.current.read(Clone::clone)
    }

    /// A call given up before it timed out (a probe past its deadline)
    /// counts as a timeout: a connection nobody waits on long enough must
    /// still be replaced when it stops answering.
    pub(super) fn missed(&self) {
        if self.inner.timeouts.fetch_add(1, Ordering::Relaxed) + 1 >= THRESHOLD {
            self.replace();
        }
    }

    fn observe<T>(&self, result: &RedisResult<T>) {
        let inner = &self.inner;
        match result {
            // Read first: a busy server answers all the time, and a store
            // to a shared counter on every answer would bounce its cache
            // line between cores.
            Ok(_) => {
                if inner.timeouts.load(Ordering::Relaxed) != 0 {
                    inner.timeouts.store(0, Ordering::Relaxed);
                }
            }
            Err(err) if err.is_timeout() => {
                if inner.timeouts.fetch_add(1, Ordering::Relaxed) + 1 >= THRESHOLD {
                    self.replace();
                }
            }
            Err(_) => {}
        }
    }

    /// Opens a new connection in the background (one at a time) and
    /// switches to it once it is up.
    fn replace(&self) {
        let inner = Arc::clone(&self.inner);
        self.inner.replacing.start(async move {
            match inner.connector.connect().await {
                Ok(fresh) => {
                    *inner.current.write() = fresh;
                    inner.timeouts.store(0, Ordering::Relaxed);
                    tracing::warn!("Redis stopped answering on its connection; opened a new one");
                }
                Err(err) => tracing::warn!(error = %err, "cannot open a new Redis connection"),
            }
        });
    }
}

impl<C: Connect> Healing<C> {
    /// Sends `cmd` on the current connection (unboxed: the caller boxes
    /// the call once).
    pub(super) async fn send(&self, cmd: &Cmd) -> RedisResult<Value> {
        let mut conn = self.current();
        let result = C::send(&mut conn, cmd).await;
        self.observe(&result);
        result
    }
}

impl Healing<Cluster> {
    /// Sends `cmd` where `routing` says (a probe to one node).
    pub(super) async fn route(
        &self,
        cmd: Cmd,
        routing: redis::cluster_routing::RoutingInfo,
    ) -> RedisResult<Value> {
        let mut conn = self.current();
        let result = conn.route_command(cmd, routing).await;
        self.observe(&result);
        result
    }
}

impl<C: Connect> ConnectionLike for Healing<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(self.send(cmd))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let mut conn = self.current();
        Box::pin(async move {
            let result = conn.req_packed_commands(pipeline, offset, count).await;
            self.observe(&result);
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.current().get_db()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::store::{Store, StoreConfig, StoreError};
    use crate::testing::{Blackhole, TestCluster, TestRedis};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_half_open_connection_is_replaced() {
        let redis = TestRedis::start().await;
        let port: u16 = redis.url().rsplit(':').next().unwrap().parse().unwrap();
        let proxy = Blackhole::start(port).await;
        let store = Store::connect(&StoreConfig {
            response_timeout: Duration::from_millis(300),
            ..StoreConfig::single(format!("redis://127.0.0.1:{}", proxy.port))
        })
        .await
        .unwrap();
        store.ping().await.unwrap();

        proxy.cut();
        recovers(|| store.ping()).await;
    }

    /// Retries `attempt` after a cut: it must fail at least once (the cut
    /// connection cannot answer), then succeed again before the test gives
    /// up (how soon is the freeze benchmark's measure).
    async fn recovers<T, Fut>(attempt: impl Fn() -> Fut)
    where
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let cut = attempt().await.map(|_| ());
        assert!(
            matches!(cut, Err(StoreError::Unavailable(_))),
            "a cut connection cannot have answered: {cut:?}"
        );
        crate::testing::wait_until(
            "an answer on a new connection (dead ones are not kept)",
            Duration::from_secs(10),
            || async { attempt().await.is_ok() },
        )
        .await;
    }

    /// The same on a Cluster: every node behind a proxy that it announces,
    /// all proxies cut at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_half_open_cluster_connection_is_replaced() {
        let cluster = TestCluster::start().await;
        let mut proxies = Vec::new();
        for url in cluster.urls() {
            let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
            proxies.push(Blackhole::start(port).await);
        }
        let ports: Vec<u16> = proxies.iter().map(|proxy| proxy.port).collect();
        cluster.announce(&ports).await;
        let store = Store::connect(&StoreConfig {
            response_timeout: Duration::from_millis(300),
            ..StoreConfig::cluster(
                ports
                    .iter()
                    .map(|port| format!("redis://127.0.0.1:{port}"))
                    .collect(),
            )
        })
        .await
        .unwrap();
        // Keys on every node.
        let write_all = || async {
            for i in 0..30 {
                let () = redis::cmd("SET")
                    .arg(format!("gh:test:{i}"))
                    .arg(i)
                    .query_async(&mut store.conn())
                    .await?;
            }
            Ok::<(), StoreError>(())
        };
        write_all().await.unwrap();

        for proxy in &proxies {
            proxy.cut();
        }
        recovers(write_all).await;
    }

    /// A node that briefly does not serve a key's slot (what a failover or
    /// a resharding looks like to a client: `CLUSTERDOWN`, `TRYAGAIN`) is
    /// asked again within the response budget, not after the cluster
    /// client's default first wait of at least 1.28 s, which used up that
    /// budget and turned every such answer into a timeout.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_briefly_unserved_cluster_slot_is_retried_within_the_budget() {
        let cluster = TestCluster::start().await;
        let store = Store::connect(&StoreConfig {
            response_timeout: Duration::from_secs(1),
            ..StoreConfig::cluster(cluster.urls())
        })
        .await
        .unwrap();
        let key = "gh:test:unserved";
        let () = redis::cmd("SET")
            .arg(key)
            .arg("kept")
            .query_async(&mut store.conn())
            .await
            .unwrap();

        // The key's slot, and the node that serves it.
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query_async(&mut store.conn())
            .await
            .unwrap();
        let mut owner = None;
        for url in cluster.urls() {
            let mut node = redis::Client::open(url)
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap();
            let keys: u64 = redis::cmd("CLUSTER")
                .arg("COUNTKEYSINSLOT")
                .arg(slot)
                .query_async(&mut node)
                .await
                .unwrap();
            if keys == 1 {
                owner = Some(node);
            }
        }
        let mut owner = owner.expect("one node holds the key");
        let () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("cluster-require-full-coverage")
            .arg("no")
            .query_async(&mut owner)
            .await
            .unwrap();
        let () = redis::cmd("CLUSTER")
            .arg("DELSLOTS")
            .arg(slot)
            .query_async(&mut owner)
            .await
            .unwrap();
        let back = tokio::spawn({
            let mut owner = owner.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let () = redis::cmd("CLUSTER")
                    .arg("ADDSLOTS")
                    .arg(slot)
                    .query_async(&mut owner)
                    .await
                    .unwrap();
            }
        });

        let value: Option<String> = redis::cmd("GET")
            .arg(key)
            .query_async(&mut store.conn())
            .await
            .expect("answered once the slot is served again, within the 1 s budget");
        assert_eq!(value.as_deref(), Some("kept"));
        back.await.unwrap();
    }
}
