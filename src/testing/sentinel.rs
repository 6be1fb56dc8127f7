//! A private Redis Sentinel deployment for one test, shaped like a real
//! one: a primary, one replica and three sentinels (quorum two), every
//! process behind a password, so that failovers are decided by agreement
//! and Gatehouse authenticates to the sentinels and the data nodes alike.

use std::time::{Duration, Instant};

use super::send_signal;
use super::tls::{TestCertificates, free_port};
use crate::embedded::{EmbeddedOptions, RedisServer};
use crate::store::{Endpoint, Replication, Store, StoreConfig};

/// The data nodes' password (test-only).
const NODE_PASSWORD: &str = "node-secret";
/// The sentinels' password (test-only).
const SENTINEL_PASSWORD: &str = "sentinel-secret";

/// A primary, a replica and three sentinels monitoring them as `gh`.
pub struct TestSentinel {
    pub primary: RedisServer,
    pub replica: RedisServer,
    pub sentinels: Vec<RedisServer>,
    /// With TLS: the certificates, and each server's TLS port (Gatehouse
    /// uses only those; the plain ports serve the harness).
    tls: Option<Tls>,
    _dir: tempfile::TempDir,
}

struct Tls {
    certificates: TestCertificates,
    replica: u16,
    sentinels: Vec<u16>,
}

impl TestSentinel {
    /// The name the sentinels monitor the primary under.
    pub const MASTER: &'static str = "gh";

    /// Starts the five servers and waits until the replica is in sync and
    /// every sentinel knows the replica and the two other sentinels (so a
    /// crashed primary is failed over by agreement).
    pub async fn start() -> Self {
        Self::launch(false).await
    }

    /// The same, with every server (and Gatehouse) speaking TLS only,
    /// certificates signed by a private CA.
    pub async fn start_tls() -> Self {
        Self::launch(true).await
    }

    async fn launch(tls: bool) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("gh-sentinel-")
            .tempdir()
            .expect("create a temp dir for the test sentinels");
        let certificates = tls.then(|| TestCertificates::create(&dir.path().join("tls")));
        let tls_args = |port: Option<u16>| match (&certificates, port) {
            (Some(certificates), Some(port)) => certificates.server_args(port),
            _ => Vec::new(),
        };
        let ports = || tls.then(free_port);
        let (primary_tls, replica_tls) = (ports(), ports());
        let data_node = |name: &str, tls_port: Option<u16>| {
            let mut options = EmbeddedOptions::new(dir.path().join(name), false);
            options.password = Some(NODE_PASSWORD.to_owned());
            // A demoted primary must authenticate to the new one.
            options.extra_args = vec!["--masterauth".into(), NODE_PASSWORD.into()];
            options.extra_args.extend(tls_args(tls_port));
            options
        };
        let primary = RedisServer::start(&data_node("primary", primary_tls))
            .await
            .expect("start the primary");
        let mut replica_options = data_node("replica", replica_tls);
        replica_options.extra_args.extend([
            "--replicaof".into(),
            "127.0.0.1".into(),
            primary_tls.unwrap_or(primary.port()).to_string(),
        ]);
        let replica = RedisServer::start(&replica_options)
            .await
            .expect("start the replica");
        wait_for(
            &replica.url(),
            &["INFO", "replication"],
            "master_link_status:up",
        )
        .await;

        let mut sentinels = Vec::new();
        let mut sentinel_tls = Vec::new();
        for i in 0..3 {
            let tls_port = ports();
            sentinel_tls.extend(tls_port);
            let sentinel_dir = dir.path().join(format!("sentinel-{i}"));
            std::fs::create_dir_all(&sentinel_dir).expect("sentinel dir");
            let config = sentinel_dir.join("sentinel.conf");
            std::fs::write(
                &config,
                format!(
                    "sentinel monitor {m} 127.0.0.1 {p} 2\nsentinel auth-pass {m} {NODE_PASSWORD}\n\
                     sentinel down-after-milliseconds {m} 1000\nsentinel failover-timeout {m} 5000\n\
                     sentinel parallel-syncs {m} 1\nsentinel sentinel-pass {SENTINEL_PASSWORD}\n",
                    m = Self::MASTER,
                    p = primary_tls.unwrap_or(primary.port())
                ),
            )
            .expect("write sentinel.conf");
            let mut options = EmbeddedOptions::new(&sentinel_dir, false);
            options.config_file = Some(config);
            options.password = Some(SENTINEL_PASSWORD.to_owned());
            options.extra_args = vec!["--sentinel".into()];
            options.extra_args.extend(tls_args(tls_port));
            sentinels.push(
                RedisServer::start(&options)
                    .await
                    .expect("start a sentinel"),
            );
        }
        let tls = certificates.map(|certificates| Tls {
            certificates,
            replica: replica_tls.unwrap_or_default(),
            sentinels: sentinel_tls,
        });
        let setup = Self {
            primary,
            replica,
            sentinels,
            tls,
            _dir: dir,
        };
        setup.wait_until_sentinels_agree().await;
        setup
    }

    async fn wait_until_sentinels_agree(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for sentinel in &self.sentinels {
            let mut conn = connect(&sentinel.url()).await;
            loop {
                let master: std::collections::HashMap<String, String> = redis::cmd("SENTINEL")
                    .arg("MASTER")
                    .arg(Self::MASTER)
                    .query_async(&mut conn)
                    .await
                    .expect("SENTINEL MASTER");
                let known = |field: &str| master.get(field).map(String::as_str);
                if known("num-slaves") == Some("1") && known("num-other-sentinels") == Some("2") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the sentinels never found each other and the replica: {master:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// The sentinels' URLs for Gatehouse (with their password).
    pub fn sentinel_urls(&self) -> Vec<String> {
        match &self.tls {
            Some(tls) => tls
                .sentinels
                .iter()
                .map(|port| format!("rediss://:{SENTINEL_PASSWORD}@127.0.0.1:{port}"))
                .collect(),
            None => self.sentinels.iter().map(RedisServer::url).collect(),
        }
    }

    /// The data nodes' credentials, as `--redis-sentinel-node-url` takes them.
    pub fn node_url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://:{NODE_PASSWORD}@primary/0")
    }

    /// The CA certificate that signed the servers' certificates (TLS only).
    pub fn ca_file(&self) -> Option<&std::path::Path> {
        self.tls.as_ref().map(|tls| tls.certificates.ca.as_path())
    }

    /// The flags that point a Gatehouse server at this deployment.
    pub fn flags(&self) -> Vec<String> {
        let mut flags = vec![
            "--redis-sentinels".into(),
            self.sentinel_urls().join(","),
            "--redis-sentinel-master".into(),
            Self::MASTER.into(),
            "--redis-sentinel-node-url".into(),
            self.node_url(),
        ];
        if let Some(ca) = self.ca_file() {
            flags.extend(["--redis-tls-ca-file".into(), ca.display().to_string()]);
        }
        flags
    }

    /// Stops the primary answering (`SIGSTOP`), connections left open.
    /// Thaw it before the sentinels' down-after (1 s) to avoid a failover.
    pub fn freeze_primary(&self) {
        send_signal(self.primary.pid(), "-STOP");
    }

    /// Lets the frozen primary run again (`SIGCONT`).
    pub fn thaw_primary(&self) {
        send_signal(self.primary.pid(), "-CONT");
    }

    /// Stops the replica answering (`SIGSTOP`): writes stop replicating.
    pub fn freeze_replica(&self) {
        send_signal(self.replica.pid(), "-STOP");
    }

    /// Lets the frozen replica run again (`SIGCONT`).
    pub fn thaw_replica(&self) {
        send_signal(self.replica.pid(), "-CONT");
    }

    /// A [`Store`] that finds the primary through the sentinels and
    /// confirms durable writes with `replication`.
    pub async fn store_with(&self, replication: Replication) -> Store {
        Store::connect(&StoreConfig {
            endpoint: Endpoint::Sentinel {
                sentinels: self.sentinel_urls(),
                master: Self::MASTER.to_owned(),
                node: Some(self.node_url()),
            },
            replication,
            tls: self.ca_file().map(|ca| crate::store::Tls {
                ca: Some(std::fs::read(ca).expect("read the test CA")),
                client: None,
            }),
            ..StoreConfig::single("")
        })
        .await
        .expect("connect through the sentinels")
    }

    /// A [`Store`] that finds the primary through the sentinels and waits
    /// for the replica after durable writes, as the server does.
    pub async fn store(&self) -> Store {
        self.store_with(Replication {
            replicas: 1,
            ..Replication::NONE
        })
        .await
    }

    /// Asks a sentinel to promote the replica (`SENTINEL FAILOVER`), and
    /// waits until the old primary follows it. Returns when the replica
    /// was seen promoted.
    pub async fn fail_over(&self) -> Instant {
        let mut conn = connect(&self.sentinels[0].url()).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        // A sentinel only promotes a replica it has recently heard from;
        // until its first INFO round it answers NOGOODSLAVE.
        loop {
            let answer: redis::RedisResult<()> = redis::cmd("SENTINEL")
                .arg("FAILOVER")
                .arg(Self::MASTER)
                .query_async(&mut conn)
                .await;
            match answer {
                Ok(()) => break,
                Err(err)
                    if err.to_string().contains("NOGOODSLAVE") && Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(err) => panic!("SENTINEL FAILOVER: {err}"),
            }
        }
        let promoted = self.wait_for_promotion().await;
        // The failover is over once the old primary follows the new one;
        // until then it still accepts writes that the resync will discard.
        wait_for(&self.primary.url(), &["INFO", "replication"], "role:slave").await;
        promoted
    }

    /// Kills the primary (`SIGKILL`: no goodbye, unreplicated writes lost)
    /// and waits until the sentinels agree it is down and promote the
    /// replica. Returns when the replica was seen promoted.
    pub async fn kill_primary(&self) -> Instant {
        send_signal(self.primary.pid(), "-KILL");
        self.wait_for_promotion().await
    }

    /// Waits until every sentinel names the replica and it says it is the
    /// primary.
    async fn wait_for_promotion(&self) -> Instant {
        let deadline = Instant::now() + Duration::from_secs(30);
        for sentinel in &self.sentinels {
            let mut conn = connect(&sentinel.url()).await;
            loop {
                let (_, port): (String, u16) = redis::cmd("SENTINEL")
                    .arg("GET-MASTER-ADDR-BY-NAME")
                    .arg(Self::MASTER)
                    .query_async(&mut conn)
                    .await
                    .expect("SENTINEL GET-MASTER-ADDR-BY-NAME");
                let replica = self
                    .tls
                    .as_ref()
                    .map_or(self.replica.port(), |tls| tls.replica);
                if port == replica {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the sentinels never promoted the replica"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        wait_for(&self.replica.url(), &["INFO", "replication"], "role:master").await;
        Instant::now()
    }
}

async fn connect(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("URL")
        .get_multiplexed_async_connection()
        .await
        .expect("connect")
}

/// Polls `command` on `url` until its (text) answer contains `needle`.
async fn wait_for(url: &str, command: &[&str], needle: &str) {
    let client = redis::Client::open(url).expect("URL");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
            let ready = redis::cmd(command[0])
                .arg(&command[1..])
                .query_async::<String>(&mut conn)
                .await
                .is_ok_and(|text| text.contains(needle));
            if ready {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{url}: `{}` never showed `{needle}`",
            command.join(" ")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
