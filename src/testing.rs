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

/// A private Redis for one test.
pub struct TestRedis {
    server: Option<RedisServer>,
    port: u16,
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
            dir,
        }
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

    /// Stops the server (simulating an outage); the port stays reserved
    /// for [`TestRedis::restart`] by convention only.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("stop the test Redis");
        }
    }

    /// Starts the server again on the same port.
    pub async fn restart(&mut self) {
        self.stop().await;
        let mut options = EmbeddedOptions::new(self.dir.path(), false);
        options.port = Some(self.port);
        self.server = Some(
            RedisServer::start(&options)
                .await
                .expect("restart the test Redis on its old port"),
        );
    }
}

/// A private three-node Redis Cluster for one test (no replicas), made
/// with `redis-cli --cluster create`.
pub struct TestCluster {
    nodes: Vec<RedisServer>,
    _dir: tempfile::TempDir,
}

impl TestCluster {
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
