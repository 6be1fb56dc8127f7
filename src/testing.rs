//! Throwaway Redis servers and clusters for tests (feature `test-util`).
//!
//! Every integration test in the workspace talks to a real `redis-server`
//! started here: a private process on a free loopback port (never 6379,
//! never the developer's own Redis) in a temporary directory, killed when
//! the helper is dropped. Tests that need Redis to disappear and come back
//! use [`TestRedis::stop`] and [`TestRedis::restart`], which keep the port.
#![allow(clippy::expect_used, clippy::panic)]

use crate::embedded::{EmbeddedOptions, RedisServer};
use crate::store::{Store, StoreConfig};

mod authenticator;
mod blackhole;
pub mod fixtures;
mod sentinel;
mod tls;
mod wait;
pub use authenticator::{SoftAuthenticator, raw};
pub use blackhole::Blackhole;
pub use sentinel::TestSentinel;
pub use tls::TestCertificates;
pub use wait::{wait_for, wait_until, wait_until_blocking};

/// A private Redis for one test.
pub struct TestRedis {
    server: Option<RedisServer>,
    port: u16,
    /// While the server is stopped, a socket bound to its port but not
    /// listening: connections are refused (Redis is down), and no other
    /// test's server can take the port before [`TestRedis::restart`].
    reserved: Option<socket2::Socket>,
    dir: tempfile::TempDir,
}

impl TestRedis {
    /// Starts a fresh, empty Redis. Panics (failing the test) when
    /// `redis-server` cannot be started.
    pub async fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("gh-redis-")
            .tempdir()
            .expect("create a temp dir for the test Redis");
        let server = RedisServer::start(&EmbeddedOptions::new(dir.path(), false))
            .await
            .expect("start a throwaway redis-server (is it installed?)");
        let port = server.port();
        Self {
            server: Some(server),
            port,
            reserved: None,
            dir,
        }
    }

    /// The running server's process id (benchmarks read its CPU time).
    pub fn pid(&self) -> Option<u32> {
        self.server.as_ref().map(RedisServer::pid)
    }

    /// The server's URL; stays the same across [`TestRedis::restart`].
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A [`Store`] connected to this server.
    pub async fn store(&self) -> Store {
        Store::connect(&StoreConfig::single(self.url()))
            .await
            .expect("connect to the test Redis")
    }

    /// Stops the server (simulating an outage). The port stays reserved
    /// for [`TestRedis::restart`], refusing connections meanwhile.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("stop the test Redis");
            self.reserved = Some(reserve(self.port));
        }
    }

    /// Freezes the server with `SIGSTOP`: it keeps every connection open
    /// but answers nothing, like a Redis in a long fork, a swap storm or
    /// behind a partition (the failure operators meet most).
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Lets a frozen server run again (`SIGCONT`).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self
            .server
            .as_ref()
            .expect("the test Redis is running")
            .pid();
        send_signal(pid, signal);
    }

    /// Starts the server again on the same port.
    pub async fn restart(&mut self) {
        self.stop().await;
        // Released just before the server binds it: a window of
        // microseconds instead of the whole outage.
        self.reserved = None;
        let mut options = EmbeddedOptions::new(self.dir.path(), false);
        options.port = Some(self.port);
        self.server = Some(
            RedisServer::start(&options)
                .await
                .expect("restart the test Redis on its old port"),
        );
    }
}

/// Binds `port` on loopback without listening. The server's last
/// connections may linger in TIME_WAIT, so the address is reused.
fn reserve(port: u16) -> socket2::Socket {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("create a socket");
    socket.set_reuse_address(true).expect("SO_REUSEADDR");
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    socket
        .bind(&address.into())
        .expect("reserve the stopped test Redis's port");
    socket
}

/// A private three-node Redis Cluster for one test (no replicas), made
/// with `redis-cli --cluster create`.
pub struct TestCluster {
    nodes: Vec<RedisServer>,
    _dir: tempfile::TempDir,
}

/// `kill -<signal> <pid>`.
pub(crate) fn send_signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(signal)
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal} {pid} failed");
}

impl TestCluster {
    /// Stops every node answering (`SIGSTOP`), connections left open.
    pub fn freeze(&self) {
        for node in &self.nodes {
            send_signal(node.pid(), "-STOP");
        }
    }

    /// Lets frozen nodes run again (`SIGCONT`).
    pub fn thaw(&self) {
        for node in &self.nodes {
            send_signal(node.pid(), "-CONT");
        }
    }

    /// Stops node `i` (of three) answering, the others left running.
    pub fn freeze_node(&self, i: usize) {
        send_signal(self.nodes[i].pid(), "-STOP");
    }

    /// Lets node `i` run again.
    pub fn thaw_node(&self, i: usize) {
        send_signal(self.nodes[i].pid(), "-CONT");
    }

    /// Starts three cluster-enabled servers, joins them into a cluster
    /// covering all slots, and waits until every node reports it healthy.
    pub async fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("gh-cluster-")
            .tempdir()
            .expect("create a temp dir for the test cluster");
        let mut nodes = Vec::new();
        for i in 0..3 {
            let mut options = EmbeddedOptions::new(dir.path().join(format!("node{i}")), false);
            options.extra_args = [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
            ]
            .map(String::from)
            .to_vec();
            nodes.push(
                RedisServer::start(&options)
                    .await
                    .expect("start a cluster-enabled redis-server"),
            );
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        let output = tokio::process::Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .await
            .expect("run redis-cli --cluster create (is redis-tools installed?)");
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let cluster = Self { nodes, _dir: dir };
        cluster.wait_healthy().await;
        cluster
    }

    async fn wait_healthy(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        for node in &self.nodes {
            let client = redis::Client::open(node.url()).expect("node URL");
            loop {
                let mut conn = client
                    .get_multiplexed_async_connection()
                    .await
                    .expect("connect to a cluster node");
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query_async(&mut conn)
                    .await
                    .expect("CLUSTER INFO");
                if info.contains("cluster_state:ok") {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "cluster not healthy: {info}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }

    /// Makes node `i` announce `ports[i]` to the cluster and its clients
    /// (`cluster-announce-port`: a proxy in front of it), and waits until
    /// every node's view of the cluster shows only those ports.
    pub async fn announce(&self, ports: &[u16]) {
        for (node, port) in self.nodes.iter().zip(ports) {
            let mut conn = redis::Client::open(node.url())
                .expect("node URL")
                .get_multiplexed_async_connection()
                .await
                .expect("connect to a cluster node");
            let () = redis::cmd("CONFIG")
                .arg("SET")
                .arg("cluster-announce-port")
                .arg(port)
                .query_async(&mut conn)
                .await
                .expect("CONFIG SET cluster-announce-port");
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        for node in &self.nodes {
            let mut conn = redis::Client::open(node.url())
                .expect("node URL")
                .get_multiplexed_async_connection()
                .await
                .expect("connect to a cluster node");
            loop {
                let view: String = redis::cmd("CLUSTER")
                    .arg("NODES")
                    .query_async(&mut conn)
                    .await
                    .expect("CLUSTER NODES");
                let announced = view
                    .lines()
                    .all(|line| ports.iter().any(|port| line.contains(&format!(":{port}@"))));
                if announced {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the announced ports never spread: {view}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }

    /// The nodes' URLs.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// A [`Store`] connected to the cluster.
    pub async fn store(&self) -> Store {
        Store::connect(&StoreConfig::cluster(self.urls()))
            .await
            .expect("connect to the test cluster")
    }
}

/// Calls per command name since the server started, from `INFO
/// commandstats`. Commands a script runs count under their own names
/// too, so tests compare script calls against everything else.
pub async fn command_calls(store: &Store) -> std::collections::HashMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut store.conn())
        .await
        .expect("INFO commandstats");
    info.lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats.split(',').find_map(|s| s.strip_prefix("calls="))?;
            Some((name.to_owned(), calls.parse().ok()?))
        })
        .collect()
}

/// Which Redis deployment a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topology {
    /// One `redis-server`.
    Single,
    /// A three-node Redis Cluster.
    Cluster,
}

/// A private Redis of either topology, so that one test body runs on both
/// (see [`both_topologies!`](crate::both_topologies)).
pub enum TestBackend {
    Single(TestRedis),
    Cluster(TestCluster),
}

impl TestBackend {
    /// Starts a fresh, empty Redis of `topology`.
    pub async fn start(topology: Topology) -> Self {
        match topology {
            Topology::Single => TestBackend::Single(TestRedis::start().await),
            Topology::Cluster => TestBackend::Cluster(TestCluster::start().await),
        }
    }

    /// A [`Store`] connected to it.
    pub async fn store(&self) -> Store {
        match self {
            TestBackend::Single(redis) => redis.store().await,
            TestBackend::Cluster(cluster) => cluster.store().await,
        }
    }

    /// Every key matching `pattern`, from every node (`SCAN` on a Cluster
    /// client visits only one node).
    pub async fn scan(&self, pattern: &str) -> Vec<String> {
        let urls = match self {
            TestBackend::Single(redis) => vec![redis.url()],
            TestBackend::Cluster(cluster) => cluster.urls(),
        };
        let mut found = Vec::new();
        for url in urls {
            let mut conn = redis::Client::open(url)
                .expect("node URL")
                .get_multiplexed_async_connection()
                .await
                .expect("connect to a node");
            let mut cursor = 0u64;
            loop {
                let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut conn)
                    .await
                    .expect("SCAN");
                found.extend(batch);
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        found
    }

    /// Which topology this is.
    pub fn topology(&self) -> Topology {
        match self {
            TestBackend::Single(_) => Topology::Single,
            TestBackend::Cluster(_) => Topology::Cluster,
        }
    }
}

/// Runs each test body twice, as `<name>::single` on one Redis and as
/// `<name>::cluster` on a real local Redis Cluster. The body receives the
/// [`TestBackend`] under the given name.
///
/// ```text
/// both_topologies! {
///     async fn sign_in_works(backend) { let store = backend.store().await; ... }
/// }
/// ```
#[macro_export]
macro_rules! both_topologies {
    ($($(#[$meta:meta])* async fn $name:ident($backend:ident) $body:block)*) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($backend: $crate::testing::TestBackend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn single() {
                body($crate::testing::TestBackend::start($crate::testing::Topology::Single).await)
                    .await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn cluster() {
                body($crate::testing::TestBackend::start($crate::testing::Topology::Cluster).await)
                    .await;
            }
        }
    )*};
}
