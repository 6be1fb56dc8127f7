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
//! (see `durable`); `rediss://` URLs use the certificates of `tls`.
//!
//! Invariant: a call never waits longer than the configured timeouts. When
//! Redis is gone, callers get [`StoreError::Unavailable`] quickly instead of
//! hanging, which is what lets the server answer 503 rather than time out.

use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_routing::Slot;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Value};

mod durable;
mod healing;
mod sentinel;
mod tls;

pub use durable::{DurableWrite, Replication};
pub use tls::Tls;

/// Every Gatehouse key starts with this, so Gatehouse can share a Redis
/// with other applications.
pub const PREFIX: &str = "gh";

/// How to reach Redis.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Where Redis is: one `redis://` (or `redis+unix://`) URL, several
    /// for a Cluster, or the sentinels that name the primary.
    pub endpoint: Endpoint,
    /// Longest wait for a TCP connection to Redis.
    pub connect_timeout: Duration,
    /// Longest wait for the answer to one command.
    pub response_timeout: Duration,
    /// Replicas that must confirm a durable write (see [`DurableWrite`]).
    /// Ignored on a Cluster, whose client picks the node per key.
    pub replication: Replication,
    /// Certificates for `rediss://` URLs (`None`: the system's roots).
    pub tls: Option<Tls>,
}

/// The Redis deployment Gatehouse talks to.
#[derive(Clone, Debug)]
pub enum Endpoint {
    /// One server (or a primary behind a proxy).
    Single(String),
    /// The seed nodes of a Redis Cluster.
    Cluster(Vec<String>),
    /// A primary chosen by Redis Sentinel.
    Sentinel {
        /// Sentinel URLs (`redis://host:26379`).
        sentinels: Vec<String>,
        /// The name the sentinels monitor the primary under.
        master: String,
        /// A `redis://[user:password@]any/db` URL whose credentials and
        /// database apply to the data nodes (the host part is ignored).
        node: Option<String>,
    },
}

impl StoreConfig {
    /// A single Redis server at `url` with the default timeouts.
    pub fn single(url: impl Into<String>) -> Self {
        Self {
            endpoint: Endpoint::Single(url.into()),
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(2),
            replication: Replication::NONE,
            tls: None,
        }
    }

    /// A Redis Cluster reached through `nodes`, with the default timeouts.
    pub fn cluster(nodes: Vec<String>) -> Self {
        Self {
            endpoint: Endpoint::Cluster(nodes),
            ..Self::single(String::new())
        }
    }
}

/// What can go wrong talking to Redis.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL could not be parsed; this is a configuration mistake.
    #[error("invalid Redis URL {url:?}: {source}")]
    InvalidUrl {
        url: String,
        #[source]
        source: RedisError,
    },
    /// Redis did not answer: it is down, unreachable or too slow.
    #[error("Redis is unavailable: {0}")]
    Unavailable(#[source] RedisError),
    /// Redis answered with an error or with data we did not expect.
    #[error("Redis command failed: {0}")]
    Command(#[source] RedisError),
}

impl From<RedisError> for StoreError {
    fn from(err: RedisError) -> Self {
        // A Redis that is loading its data, failing over, or whose Cluster
        // is reconfiguring cannot answer *now*: that is unavailability (a
        // 503 the client may retry), not a failed command (a 500).
        // So is a Sentinel deployment whose sentinels name no reachable
        // primary (mid-failover).
        let busy = matches!(
            err.kind(),
            redis::ErrorKind::Server(
                redis::ServerErrorKind::BusyLoading
                    | redis::ServerErrorKind::TryAgain
                    | redis::ServerErrorKind::ClusterDown
                    | redis::ServerErrorKind::MasterDown
                    | redis::ServerErrorKind::ReadOnly
            ) | redis::ErrorKind::MasterNameNotFoundBySentinel
        );
        if busy
            || err.is_io_error()
            || err.is_timeout()
            || err.is_connection_dropped()
            || err.is_connection_refusal()
            || err.is_unrecoverable_error()
        {
            StoreError::Unavailable(err)
        } else {
            StoreError::Command(err)
        }
    }
}

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

#[derive(Clone)]
enum Connection {
    Single(healing::Healing<healing::Single>),
    Cluster(healing::Healing<healing::Cluster>),
    /// A connection of its own, for blocking reads.
    Dedicated(redis::aio::MultiplexedConnection),
    Sentinel(sentinel::SentinelConnection),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.conn {
            Connection::Single(_) | Connection::Dedicated(_) => "single",
            Connection::Cluster(_) => "cluster",
            Connection::Sentinel(_) => "sentinel",
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
            // `WAIT` answers after its own timeout at the latest.
            _ => Some(
                Self::open(config, config.response_timeout + config.replication.timeout).await?,
            ),
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
    /// take up to `response_timeout`.
    async fn open(
        config: &StoreConfig,
        response_timeout: Duration,
    ) -> Result<Connection, StoreError> {
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
                Connection::Single(
                    healing::Healing::new(healing::Single {
                        client,
                        config: manager_config,
                    })
                    .await?,
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
                Connection::Cluster(healing::Healing::new(healing::Cluster(client)).await?)
            }
            Endpoint::Sentinel {
                sentinels,
                master,
                node,
            } => {
                let sentinel = sentinel::Sentinel::connect(
                    sentinels,
                    master,
                    node.as_deref(),
                    config.tls.clone(),
                    manager_config,
                    config.connect_timeout,
                )
                .await
                .map_err(|source| match source.kind() {
                    redis::ErrorKind::InvalidClientConfig => StoreError::InvalidUrl {
                        url: "(sentinel or data node URL)".to_owned(),
                        source,
                    },
                    _ => StoreError::from(source),
                })?;
                Connection::Sentinel(sentinel::SentinelConnection(sentinel))
            }
        })
    }

    /// A client for a node that takes connections of their own: the
    /// server, the current Sentinel primary, or a Cluster's first seed
    /// (pub/sub messages reach every node of a Cluster).
    async fn node_client(&self) -> Result<redis::Client, StoreError> {
        Ok(match (&self.endpoint, &self.conn) {
            (_, Connection::Sentinel(sentinel)) => sentinel.0.primary().await?,
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
            return Ok(Connection::Cluster(
                healing::Healing::new(healing::Cluster(client)).await?,
            ));
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(response_timeout));
        let client = self.node_client().await?;
        Ok(Connection::Dedicated(
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

    /// Whether this store talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.conn, Connection::Cluster(_))
    }

    /// A connection handle for one operation. Cheap: it shares the
    /// underlying multiplexed connection.
    pub fn conn(&self) -> impl ConnectionLike + Send + Clone + use<> {
        self.conn.clone()
    }

    /// Sends PING and checks the answer.
    pub async fn ping(&self) -> Result<(), StoreError> {
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
    let max_wait = u64::try_from(response_timeout.as_millis() / 4).unwrap_or(u64::MAX);
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

/// Awaits a command, recording its latency (and error, if any) under
/// `command`.
async fn timed<T>(command: &'static str, sent: RedisFuture<'_, T>) -> redis::RedisResult<T> {
    let started = Instant::now();
    let result = sent.await;
    metrics::histogram!(crate::observe::REDIS_DURATION, "command" => command)
        .record(started.elapsed().as_secs_f64());
    if let Err(err) = &result {
        let kind = if err.is_timeout() {
            "timeout"
        } else if err.is_io_error() || err.is_connection_dropped() {
            "connection"
        } else {
            "other"
        };
        metrics::counter!(crate::observe::REDIS_ERRORS, "command" => command, "kind" => kind)
            .increment(1);
    }
    result
}

/// The command's name as a metrics label (a fixed set; scripts are all
/// `EVALSHA`).
fn command_name(cmd: &Cmd) -> &'static str {
    const KNOWN: [&str; 31] = [
        "EVALSHA",
        "EVAL",
        "SCRIPT",
        "GET",
        "SET",
        "DEL",
        "EXISTS",
        "HGET",
        "HSET",
        "HDEL",
        "HGETALL",
        "HMGET",
        "ZADD",
        "ZREM",
        "ZRANGE",
        "ZREMRANGEBYSCORE",
        "ZCARD",
        "ZSCAN",
        "XADD",
        "XRANGE",
        "XREVRANGE",
        "XREAD",
        "XLEN",
        "INCR",
        "PUBLISH",
        "PING",
        "INFO",
        "MGET",
        "SCAN",
        "PEXPIRE",
        "WAIT",
    ];
    let Some(redis::Arg::Simple(name)) = cmd.args_iter().next() else {
        return "other";
    };
    KNOWN
        .into_iter()
        .find(|known| known.as_bytes().eq_ignore_ascii_case(name))
        .unwrap_or("other")
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let sent = match self {
            Connection::Single(c) => c.req_packed_command(cmd),
            Connection::Cluster(c) => c.req_packed_command(cmd),
            // Blocking reads wait on purpose: not a latency.
            Connection::Dedicated(c) => return c.req_packed_command(cmd),
            Connection::Sentinel(c) => c.req_packed_command(cmd),
        };
        Box::pin(timed(command_name(cmd), sent))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let sent = match self {
            Connection::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(c) if !pipeline.is_transaction() => {
                split_by_slot(c.clone(), pipeline, offset, count)
            }
            Connection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Connection::Dedicated(c) => return c.req_packed_commands(pipeline, offset, count),
            Connection::Sentinel(c) => c.req_packed_commands(pipeline, offset, count),
        };
        Box::pin(timed("pipeline", sent))
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(c) => c.get_db(),
            Connection::Cluster(c) => c.get_db(),
            Connection::Dedicated(c) => c.get_db(),
            Connection::Sentinel(c) => c.get_db(),
        }
    }
}

/// Sends a plain (non-`MULTI`) pipeline to a Cluster one slot at a time.
///
/// A Cluster node refuses a pipeline whose keys live in different slots,
/// and the cluster client refuses to send one. A plain pipeline is not
/// atomic anyway (it only saves round trips), so its commands are grouped
/// by slot, each group goes to its node as a pipeline of its own, all
/// groups concurrently, and the replies are put back in command order.
/// Callers write one pipeline and it works on both topologies; what must
/// be atomic is a script or `MULTI`, whose keys share a hash tag.
fn split_by_slot<'a>(
    conn: impl ConnectionLike + Clone + Send + 'a,
    pipeline: &'a Pipeline,
    offset: usize,
    count: usize,
) -> RedisFuture<'a, Vec<Value>> {
    Box::pin(async move {
        let slots: Vec<Option<Slot>> = pipeline.cmd_iter().map(first_key_slot).collect();
        if slots.windows(2).all(|pair| pair[0] == pair[1]) {
            let mut conn = conn;
            return conn.req_packed_commands(pipeline, offset, count).await;
        }
        let mut groups: Vec<(Option<Slot>, Pipeline, Vec<usize>)> = Vec::new();
        for (position, (cmd, slot)) in pipeline.cmd_iter().zip(slots).enumerate() {
            let group = match groups.iter_mut().position(|(s, _, _)| *s == slot) {
                Some(i) => &mut groups[i],
                None => {
                    groups.push((slot, redis::pipe(), Vec::new()));
                    let last = groups.len() - 1;
                    &mut groups[last]
                }
            };
            group.1.add_command(cmd.clone());
            group.2.push(position);
        }
        let sent = groups.iter().map(|(_, group, _)| {
            let mut conn = conn.clone();
            async move { conn.req_packed_commands(group, 0, group.len()).await }
        });
        let replies = futures_util::future::try_join_all(sent).await?;
        let mut ordered: Vec<Option<Value>> = vec![None; pipeline.len()];
        for ((_, _, positions), values) in groups.iter().zip(replies) {
            for (&position, value) in positions.iter().zip(values) {
                ordered[position] = Some(value);
            }
        }
        ordered
            .into_iter()
            .skip(offset)
            .take(count)
            .map(|value| {
                value.ok_or_else(|| {
                    RedisError::from((
                        redis::ErrorKind::Client,
                        "a Cluster pipeline reply is missing",
                    ))
                })
            })
            .collect()
    })
}

/// The slot of a command's first key (the first argument for every
/// command Gatehouse pipelines), or `None` for a keyless command.
fn first_key_slot(cmd: &Cmd) -> Option<Slot> {
    match cmd.args_iter().nth(1)? {
        redis::Arg::Simple(key) => Some(Slot::for_key(key)),
        _ => None,
    }
}

/// Every Redis key Gatehouse uses. Nothing else builds key names.
///
/// Hash tags (the part in braces) decide the Cluster slot: all keys of one
/// user share `{u:<user id>}`, so the session scripts can touch a user's
/// sessions, index and markers atomically; user records and the username
/// index share `{users}`, so creating a user and claiming its name is one
/// script. Ids embedded here are hex strings produced by [`crate::random`]
/// or checked by [`is_id`] first, so they cannot break out of the layout.
pub mod keys {
    use super::PREFIX;

    /// Whether `id` is a well-formed Gatehouse id (lower-case hex).
    pub fn is_id(id: &str) -> bool {
        !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    }

    /// A user's record (hash).
    pub fn user(user_id: &str) -> String {
        format!("{PREFIX}:{{users}}:u:{user_id}")
    }

    /// Lower-cased username to user id (hash).
    pub fn usernames() -> String {
        format!("{PREFIX}:{{users}}:names")
    }

    /// All user ids by creation time (sorted set), for paging.
    pub fn user_index() -> String {
        format!("{PREFIX}:{{users}}:index")
    }

    /// The user's roles, comma-separated, in the user's own slot so that
    /// admission reads them in the same script as the session: a role
    /// change applies to the very next request. The user record keeps a
    /// copy for display.
    pub fn user_roles(user_id: &str) -> String {
        format!("{PREFIX}:{{u:{user_id}}}:roles")
    }

    /// The user's password generation (how many times the password was
    /// set), in the user's slot, where session creation checks it: a
    /// sign-in that verified an older password opens no session.
    pub fn user_password_generation(user_id: &str) -> String {
        format!("{PREFIX}:{{u:{user_id}}}:pwgen")
    }

    /// Present while the user is disabled; checked when sessions are made.
    pub fn user_disabled(user_id: &str) -> String {
        format!("{PREFIX}:{{u:{user_id}}}:disabled")
    }

    /// One session (hash), expiring with the session.
    pub fn session(user_id: &str, session_id: &str) -> String {
        format!("{}{session_id}", session_prefix(user_id))
    }

    /// The common prefix of a user's session keys, for scripts that walk
    /// the user's session index.
    pub fn session_prefix(user_id: &str) -> String {
        format!("{PREFIX}:{{u:{user_id}}}:s:")
    }

    /// A user's live sessions: session id scored by expiry time (sorted set).
    pub fn user_sessions(user_id: &str) -> String {
        format!("{PREFIX}:{{u:{user_id}}}:sessions")
    }

    /// A revoked access token (hash, expiring with the token), in its
    /// user's slot so request validation checks it in the same script as
    /// the session.
    pub fn blacklisted(user_id: &str, jti: &str) -> String {
        format!("{}{jti}", blacklist_prefix(user_id))
    }

    /// The prefix of a user's blacklist entries.
    pub fn blacklist_prefix(user_id: &str) -> String {
        format!("{PREFIX}:{{u:{user_id}}}:bl:")
    }

    /// All blacklist entries, `<user id>:<jti>` scored by expiry (sorted
    /// set), for the admin view. Advisory: pruned as entries expire.
    pub fn blacklist_index() -> String {
        format!("{PREFIX}:blacklist")
    }

    /// The token pair a rotation produced, kept for the grace window under
    /// the id of the token it replaced, so concurrent callers get the same.
    pub fn rotation_result(user_id: &str, replaced_jti: &str) -> String {
        format!("{}{replaced_jti}", rotation_result_prefix(user_id))
    }

    /// The prefix of a user's rotation results.
    pub fn rotation_result_prefix(user_id: &str) -> String {
        format!("{PREFIX}:{{u:{user_id}}}:rot:")
    }

    /// A rate-limit window: `<tag>` places it with its subject (a user's
    /// windows in the user's slot), `<policy>` names the policy and
    /// `<extra>` (possibly empty) narrows it (a session, a route).
    pub fn rate_limit(tag: &str, policy: &str, extra: &str) -> String {
        if extra.is_empty() {
            format!("{PREFIX}:{{{tag}}}:rl:{policy}")
        } else {
            format!("{PREFIX}:{{{tag}}}:rl:{policy}:{extra}")
        }
    }

    /// Subjects with live rate-limit windows (sorted set scored by when
    /// their longest window ends), for the console.
    pub fn rate_limit_index() -> String {
        format!("{PREFIX}:rl:index")
    }

    /// A replay-protection nonce already seen from this user.
    pub fn replay_nonce(user_id: &str, nonce: &str) -> String {
        format!("{PREFIX}:{{u:{user_id}}}:nonce:{nonce}")
    }

    /// The security event stream.
    pub fn events() -> String {
        format!("{PREFIX}:events")
    }

    /// A sign-in challenge (expires with its TTL; taken when redeemed).
    pub fn challenge(id: &str) -> String {
        format!("{PREFIX}:ch:{id}")
    }

    /// The audit stream: the security events no flood may evict.
    pub fn audit() -> String {
        format!("{PREFIX}:audit")
    }

    /// How many events of `kind` happened in the minute starting at
    /// `minute` (Unix minutes), for the console's time series.
    pub fn event_count(kind: &str, minute: u64) -> String {
        format!("{PREFIX}:stats:{kind}:{minute}")
    }

    /// Live Gatehouse instances and their last heartbeat (hash).
    pub fn instances() -> String {
        format!("{PREFIX}:instances")
    }

    /// All live sessions, `<user id>:<session id>` scored by absolute
    /// expiry (sorted set), for the console. Advisory: pruned lazily.
    pub fn all_sessions() -> String {
        format!("{PREFIX}:sessions:all")
    }

    /// Users with sessions, scored by their latest session's absolute
    /// expiry (sorted set), for the console. Advisory.
    pub fn active_users() -> String {
        format!("{PREFIX}:sessions:users")
    }

    /// Locks live in [`LOCK_SHARDS`] hash-tag shards: a lock's keys and its
    /// shard's registry share a slot, so acquiring a lock and listing it
    /// in the registry is one script, while locks still spread over a
    /// Cluster's nodes.
    pub const LOCK_SHARDS: u16 = 16;

    /// The shard of a lock name (FNV-1a, stable across instances).
    pub fn lock_shard(name: &str) -> u16 {
        let hash = name.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
            (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
        });
        (hash % u32::from(LOCK_SHARDS)) as u16
    }

    /// The lock itself (hash, expiring with the lock).
    pub fn lock(name: &str) -> String {
        format!("{}{name}", lock_prefix(lock_shard(name)))
    }

    /// The prefix of all lock keys in a shard.
    pub fn lock_prefix(shard: u16) -> String {
        format!("{PREFIX}:{{l:{shard:02}}}:lock:")
    }

    /// The fencing counter of a lock (never expires: tokens only grow).
    pub fn lock_fence(name: &str) -> String {
        format!("{PREFIX}:{{l:{:02}}}:fence:{name}", lock_shard(name))
    }

    /// Callers waiting for a lock (sorted set scored by their deadline).
    pub fn lock_waiters(name: &str) -> String {
        format!("{}{name}", lock_waiters_prefix(lock_shard(name)))
    }

    /// The prefix of all waiter sets in a shard.
    pub fn lock_waiters_prefix(shard: u16) -> String {
        format!("{PREFIX}:{{l:{shard:02}}}:waiters:")
    }

    /// A shard's registry of held locks (sorted set: name scored by expiry).
    pub fn lock_index(shard: u16) -> String {
        format!("{PREFIX}:{{l:{shard:02}}}:index")
    }

    /// The pub/sub channel announcing released locks.
    pub fn lock_released_channel() -> String {
        format!("{PREFIX}:locks:released")
    }

    /// A resource protected by fencing tokens: its value...
    pub fn fenced_value(resource: &str) -> String {
        format!("{PREFIX}:{{r:{resource}}}:value")
    }

    /// ...and the highest fencing token that wrote it.
    pub fn fenced_high_water(resource: &str) -> String {
        format!("{PREFIX}:{{r:{resource}}}:fence")
    }

    /// The shared HS256 secret used when the operator configured no key.
    pub fn jwt_default_secret() -> String {
        format!("{PREFIX}:jwt:default-secret")
    }
}

#[cfg(test)]
mod tests {
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
}
