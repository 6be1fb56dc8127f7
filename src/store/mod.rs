//! The Redis connection and the key layout.
//!
//! A [`Store`] is a cheap `Clone` handle shared by every request. It talks to
//! one Redis server through a `ConnectionManager` (which reconnects in the
//! background after Redis restarts, and is replaced when it stops answering:
//! see `healing`), to the primary Redis Sentinel names (following
//! failovers, see `sentinel`), or to a Redis Cluster through the cluster
//! client (also replaced when it stops answering). All sit behind one
//! [`redis::aio::ConnectionLike`] so that scripts and commands are written
//! once. Session writes that must survive a failover wait for replicas
//! (see `durable`); `rediss://` URLs use the certificates of `tls`. The
//! request path's Lua runs as a function library (see `library`).
//!
//! Invariant: a call never waits longer than the configured timeouts. When
//! Redis is gone, callers get [`StoreError::Unavailable`] quickly instead of
//! hanging, which is what lets the server answer 503 rather than time out.

use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::{RedisError, Value};
use tokio::sync::broadcast;

use breaker::Phase;

pub mod breaker;
mod circuit;
mod config;
mod connection;
#[cfg(test)]
pub(crate) use connection::slots;
mod durable;
mod error;
mod healing;
pub mod keys;
mod library;
pub(crate) mod reply;
mod sentinel;
mod swap;
mod tls;

pub use circuit::BreakerChange;
pub use config::{Endpoint, StoreConfig, check_url, redact_url, sentinel_url};
use connection::{Connection, Link};
pub use durable::{DurableWrite, Replication};
pub use error::{StoreError, not_sent};
pub use library::Library;
pub use tls::Tls;

/// Every Gatehouse key starts with this, so Gatehouse can share a Redis
/// with other applications.
pub const PREFIX: &str = "gh";

/// A shared handle to Redis. Clone it freely: clones share one multiplexed
/// connection (or one cluster connection pool).
#[derive(Clone)]
pub struct Store {
    conn: Connection,
    /// A second connection for durable writes, when replicas must confirm
    /// them (`WAIT` holds its connection up while it waits).
    durable: Option<Connection>,
    replication: Replication,
    tls: Option<Tls>,
    endpoint: Endpoint,
    connect_timeout: Duration,
    response_timeout: Duration,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.conn.link {
            Link::Single(_) | Link::Dedicated(_) => "single",
            Link::Cluster(_) => "cluster",
            Link::Sentinel(_) => "sentinel",
        };
        f.debug_struct("Store").field("topology", &kind).finish()
    }
}

impl Store {
    /// Connects to Redis.
    ///
    /// A single server is connected lazily: this returns at once even when
    /// Redis is down, and the connection is made (and later remade) in the
    /// background, so a Gatehouse instance can start before its Redis and
    /// survive Redis restarts. A cluster needs its topology, and Sentinel
    /// must name the primary, so those must answer now.
    pub async fn connect(config: &StoreConfig) -> Result<Self, StoreError> {
        let conn = Self::open(config, config.response_timeout).await?;
        let durable = match (&config.endpoint, config.replication.replicas) {
            (_, 0) => None,
            (Endpoint::Cluster(_), _) => {
                tracing::warn!("waiting for replicas is not supported on a Redis Cluster: ignored");
                None
            }
            // `WAIT` answers after its own timeout at the latest. The same
            // targets as `conn`, so the same breakers, probed on `conn`: a
            // probe on this link would wait behind a blocked `WAIT`.
            _ => Some(Connection::sharing(
                Self::link(config, config.response_timeout + config.replication.timeout)
                    .await?
                    .0,
                &conn,
            )),
        };
        Ok(Self {
            conn,
            durable,
            replication: config.replication,
            tls: config.tls.clone(),
            endpoint: config.endpoint.clone(),
            connect_timeout: config.connect_timeout,
            response_timeout: config.response_timeout,
        })
    }

    /// A durable write (see [`DurableWrite`]): on its own connection and
    /// confirmed by replicas when the configuration asks for them.
    pub fn durable(&self) -> DurableWrite {
        match &self.durable {
            Some(conn) => DurableWrite {
                conn: conn.clone(),
                replication: self.replication,
            },
            None => DurableWrite {
                conn: self.conn.clone(),
                replication: Replication::NONE,
            },
        }
    }

    /// Opens one connection to the configured Redis, whose commands may
    /// take up to `response_timeout`, with breakers of its own.
    async fn open(
        config: &StoreConfig,
        response_timeout: Duration,
    ) -> Result<Connection, StoreError> {
        let (link, target) = Self::link(config, response_timeout).await?;
        let circuit = match target {
            Some(name) => circuit::Circuit::one(&name),
            None => circuit::Circuit::cluster(),
        };
        Ok(Connection::guarded(link, circuit))
    }

    /// A link to the configured Redis, and the name of its one target
    /// (`None`: a Cluster, whose targets are learnt from it).
    async fn link(
        config: &StoreConfig,
        response_timeout: Duration,
    ) -> Result<(Link, Option<String>), StoreError> {
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(response_timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        Ok(match &config.endpoint {
            Endpoint::Single(url) => {
                let client = tls::client(url, config.tls.as_ref()).map_err(|source| {
                    StoreError::InvalidUrl {
                        url: url.clone(),
                        source,
                    }
                })?;
                let name = client.get_connection_info().addr().to_string();
                (
                    Link::Single(
                        healing::Healing::new(healing::Single {
                            client,
                            config: manager_config,
                        })
                        .await?,
                    ),
                    Some(name),
                )
            }
            Endpoint::Cluster(nodes) => {
                let client = cluster_client(
                    nodes,
                    config.connect_timeout,
                    response_timeout,
                    config.tls.as_ref(),
                )
                .map_err(|source| StoreError::InvalidUrl {
                    url: nodes.join(","),
                    source,
                })?;
                (
                    Link::Cluster(healing::Healing::new(healing::Cluster(client)).await?),
                    None,
                )
            }
            Endpoint::Sentinel {
                sentinels,
                master,
                node,
            } => {
                // Each URL checked on its own, so a mistake names the one.
                for url in sentinels.iter().chain(node) {
                    check_url(url)?;
                }
                let sentinel = sentinel::Sentinel::connect(
                    sentinels,
                    master,
                    node.as_deref(),
                    config.tls.clone(),
                    manager_config,
                    config.connect_timeout,
                )
                .await?;
                (
                    Link::Sentinel(sentinel::SentinelConnection(sentinel)),
                    Some(format!("sentinel:{master}")),
                )
            }
        })
    }

    /// A client for a node that takes connections of their own: the
    /// server, the current Sentinel primary, or a Cluster's first seed
    /// (pub/sub messages reach every node of a Cluster).
    async fn node_client(&self) -> Result<redis::Client, StoreError> {
        Ok(match (&self.endpoint, &self.conn.link) {
            (_, Link::Sentinel(sentinel)) => sentinel.0.primary().await?,
            (Endpoint::Single(url), _) => tls::client(url, self.tls.as_ref())?,
            (Endpoint::Cluster(nodes), _) => tls::client(
                nodes.first().map(String::as_str).unwrap_or_default(),
                self.tls.as_ref(),
            )?,
            (Endpoint::Sentinel { .. }, _) => {
                return Err(StoreError::Command(RedisError::from((
                    redis::ErrorKind::Client,
                    "a Sentinel endpoint without a Sentinel connection",
                ))));
            }
        })
    }

    /// A connection of its own for blocking reads (`XREAD BLOCK`) that
    /// must not hold up the shared connection. Its commands may wait for
    /// `block` (the longest block its caller asks for) plus the usual
    /// response timeout, and no longer: a Redis that stops answering (a
    /// long fork, a frozen process, a partition) fails the read in bounded
    /// time, so the caller reconnects instead of waiting forever.
    pub async fn dedicated(
        &self,
        block: Duration,
    ) -> Result<impl ConnectionLike + Send + use<>, StoreError> {
        let response_timeout = block + self.response_timeout;
        if let Endpoint::Cluster(nodes) = &self.endpoint {
            let client = cluster_client(
                nodes,
                self.connect_timeout,
                response_timeout,
                self.tls.as_ref(),
            )?;
            // Blocking reads on a Cluster: a cluster connection of their
            // own, through the store's breakers (probed on the store's
            // connection: a probe here would wait behind a blocked read).
            return Ok(Connection::sharing(
                Link::Cluster(healing::Healing::new(healing::Cluster(client)).await?),
                &self.conn,
            ));
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(response_timeout));
        let client = self.node_client().await?;
        Ok(Connection::dedicated(
            client
                .get_multiplexed_async_connection_with_config(&config)
                .await?,
        ))
    }

    /// A new pub/sub connection of its own (not shared with commands),
    /// subscribed to `channel`. Connecting and subscribing are bounded by
    /// the connect and response timeouts, so a frozen Redis cannot hold a
    /// listener up; once subscribed, a silent Redis only means no messages.
    pub async fn subscribe(&self, channel: &str) -> Result<redis::aio::PubSub, StoreError> {
        let timed_out = |what: &'static str| {
            StoreError::Unavailable(RedisError::from((redis::ErrorKind::Io, what)))
        };
        let client = self.node_client().await?;
        let mut pubsub = tokio::time::timeout(self.connect_timeout, client.get_async_pubsub())
            .await
            .map_err(|_| timed_out("timed out connecting for pub/sub"))??;
        tokio::time::timeout(self.response_timeout, pubsub.subscribe(channel))
            .await
            .map_err(|_| timed_out("timed out subscribing"))??;
        Ok(pubsub)
    }

    /// Whether a circuit breaker of this store is open or half-open: some
    /// Redis target is taken to be gone, and calls to it fail at once.
    pub fn tripped(&self) -> bool {
        self.conn
            .circuit()
            .is_some_and(|circuit| circuit.any(|phase| phase != Phase::Closed))
    }

    /// Every change of this store's circuit breakers from now on (none
    /// on a store without breakers). A receiver that falls more than 64
    /// changes behind loses the oldest.
    pub fn breaker_changes(&self) -> Option<broadcast::Receiver<BreakerChange>> {
        self.conn.circuit().map(circuit::Circuit::changes)
    }

    /// When the Redis target holding `key` (without a key: every target)
    /// last answered a call or a probe; `None` if it never has.
    pub fn last_contact(&self, key: Option<&str>) -> Option<Instant> {
        self.conn
            .circuit()
            .and_then(|circuit| circuit.last_contact(key.map(str::as_bytes)))
    }

    /// Whether this store talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.conn.link, Link::Cluster(_))
    }

    /// A connection handle for one operation. Cheap: it shares the
    /// underlying multiplexed connection.
    pub fn conn(&self) -> impl ConnectionLike + Send + Clone + use<> {
        self.conn.clone()
    }

    /// Sends PING and checks the answer.
    pub async fn ping(&self) -> Result<(), StoreError> {
        // A Cluster's PING goes to any node: with one primary frozen it
        // could wait the whole timeout, or be answered by a healthy one.
        // (Half-open is not refused: on one server this PING may be the
        // trial call that closes the breaker.)
        if self
            .conn
            .circuit()
            .is_some_and(|circuit| circuit.any(|phase| phase == Phase::Open))
        {
            return Err(StoreError::Unavailable(error::circuit_open()));
        }
        let pong: String = redis::cmd("PING").query_async(&mut self.conn()).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Command(RedisError::from((
                redis::ErrorKind::Parse,
                "unexpected PING answer",
                pong,
            ))))
        }
    }

    /// One `INFO server` round trip: the server's version and how long the
    /// round trip took.
    pub async fn server_info(&self) -> Result<ServerInfo, StoreError> {
        let started = Instant::now();
        let reply: Value = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut self.conn())
            .await?;
        let round_trip = started.elapsed();
        let unexpected = |err: redis::ParsingError| StoreError::Command(RedisError::from(err));
        let info: String = match reply {
            // A Cluster asks every node and answers node → text; the nodes
            // of one Cluster run one version.
            Value::Map(nodes) => match nodes.into_iter().next() {
                Some((_, text)) => redis::from_redis_value(text).map_err(unexpected)?,
                None => String::new(),
            },
            other => redis::from_redis_value(other).map_err(unexpected)?,
        };
        let version = info
            .lines()
            .find_map(|line| line.strip_prefix("redis_version:"))
            .unwrap_or("unknown")
            .trim()
            .to_owned();
        Ok(ServerInfo {
            version,
            round_trip,
        })
    }
}

impl Store {
    /// One page of a sorted-set index scored by expiry time, for the
    /// console: drops expired members, then returns the number of live ones
    /// and `limit` (at most 500) members from `offset`, latest expiry
    /// first, with their scores.
    pub async fn live_index_page(
        &self,
        index: &str,
        offset: u64,
        limit: u64,
    ) -> Result<(u64, Vec<(String, u64)>), StoreError> {
        let (total, members): (u64, Vec<(String, f64)>) = redis::pipe()
            .cmd("ZREMRANGEBYSCORE")
            .arg(index)
            .arg("-inf")
            .arg(crate::duration::epoch_ms())
            .ignore()
            .cmd("ZCARD")
            .arg(index)
            .cmd("ZRANGE")
            .arg(index)
            .arg(offset)
            .arg(offset + limit.clamp(1, 500) - 1)
            .arg("REV")
            .arg("WITHSCORES")
            .query_async(&mut self.conn())
            .await?;
        Ok((
            total,
            members
                .into_iter()
                .map(|(m, score)| (m, score as u64))
                .collect(),
        ))
    }
}

/// A Cluster client for `nodes`, with `tls`'s certificates when the nodes'
/// URLs ask for TLS.
fn cluster_client(
    nodes: &[String],
    connect_timeout: Duration,
    response_timeout: Duration,
    tls: Option<&Tls>,
) -> redis::RedisResult<ClusterClient> {
    // The client retries a command that a node answers with CLUSTERDOWN,
    // TRYAGAIN, MASTERDOWN or LOADING (a failover or resharding in
    // progress), after a wait that by default is at least 1.28 s: with the
    // usual 2 s budget, which covers the retries, one such answer was a
    // timeout. Short, growing waits (up to 40, 80, 160 … ms, at most a
    // quarter of the budget) retry within it instead.
    let max_wait = crate::duration::millis(response_timeout / 4);
    let mut builder = ClusterClient::builder(nodes.iter().map(String::as_str))
        .connection_timeout(connect_timeout)
        .response_timeout(response_timeout)
        .min_retry_wait(10)
        .max_retry_wait(max_wait.max(20))
        .retry_wait_formula(20, 2);
    if let Some(tls) = tls.filter(|_| nodes.iter().all(|url| url.starts_with("rediss://"))) {
        builder = builder.certs(tls.certificates());
    }
    builder.build()
}

/// What [`Store::server_info`] found.
#[derive(Clone, Debug)]
pub struct ServerInfo {
    /// `redis_version` from `INFO server`.
    pub version: String,
    /// How long the probe took.
    pub round_trip: Duration,
}

#[cfg(test)]
mod tests;
