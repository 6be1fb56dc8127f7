//! A connection that follows the primary chosen by Redis Sentinel.
//!
//! Sentinel promotes a replica when the primary fails. This connection
//! asks the sentinels for the current primary at start, talks to it
//! through a reconnecting [`ConnectionManager`], and asks again when the
//! node it talks to refuses connections or answers `READONLY` (it has been
//! demoted). A command refused that way never ran, so it is retried once
//! on the new primary; a command whose connection dropped mid-flight may
//! have run, so it fails (the caller decides; Gatehouse answers 503) and
//! the next one goes to the new primary.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{
    Cmd, ConnectionAddr, ErrorKind, Pipeline, RedisError, RedisFuture, RedisResult,
    ServerErrorKind, Value,
};
use tokio::sync::Mutex;

/// The shared state of a Sentinel-managed connection.
pub(super) struct Sentinel {
    client: Mutex<SentinelClient>,
    /// The primary's address and the connection to it.
    current: RwLock<(ConnectionAddr, ConnectionManager)>,
    config: ConnectionManagerConfig,
    connect_timeout: Duration,
}

impl Sentinel {
    /// Asks `sentinels` for the primary of `master` and connects to it.
    /// `node` carries the data nodes' credentials and database, if any.
    pub async fn connect(
        sentinels: &[String],
        master: &str,
        node: Option<redis::RedisConnectionInfo>,
        config: ConnectionManagerConfig,
        connect_timeout: Duration,
    ) -> RedisResult<Arc<Self>> {
        let node =
            node.map(|info| SentinelNodeConnectionInfo::default().set_redis_connection_info(info));
        let mut client = SentinelClient::build(
            sentinels.iter().map(String::as_str).collect(),
            master.to_owned(),
            node,
            SentinelServerType::Master,
        )?;
        let primary = discover(&mut client, connect_timeout).await?;
        let addr = primary.get_connection_info().addr().clone();
        let manager = ConnectionManager::new_lazy_with_config(primary, config.clone())?;
        Ok(Arc::new(Self {
            client: Mutex::new(client),
            current: RwLock::new((addr, manager)),
            config,
            connect_timeout,
        }))
    }

    fn current(&self) -> ConnectionManager {
        match self.current.read() {
            Ok(current) => current.1.clone(),
            Err(poisoned) => poisoned.into_inner().1.clone(),
        }
    }

    /// Asks the sentinels again and, if they name another primary,
    /// switches to it. (The same primary keeps its connection: the
    /// manager reconnects to it by itself.)
    async fn rediscover(&self) -> RedisResult<()> {
        let primary = self.primary().await?;
        let addr = primary.get_connection_info().addr().clone();
        let mut current = match self.current.write() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        };
        if current.0 != addr {
            tracing::warn!(from = %current.0, to = %addr, "Redis Sentinel: the primary moved; switching");
            *current = (
                addr,
                ConnectionManager::new_lazy_with_config(primary, self.config.clone())?,
            );
        }
        Ok(())
    }

    /// A client for the current primary (for pub/sub and blocking reads).
    pub async fn primary(&self) -> RedisResult<redis::Client> {
        let mut client = self.client.lock().await;
        discover(&mut client, self.connect_timeout).await
    }

    /// Sends one request to the current primary, following a failover as
    /// the module docs describe.
    async fn send<T, F, Fut>(&self, request: F) -> RedisResult<T>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        match request(self.current()).await {
            Err(err) if refused(&err) => {
                self.rediscover().await?;
                request(self.current()).await
            }
            Err(err) if broken(&err) => {
                if let Err(again) = self.rediscover().await {
                    tracing::debug!(error = %again, "Redis Sentinel: primary not found yet");
                }
                Err(err)
            }
            other => other,
        }
    }
}

async fn discover(client: &mut SentinelClient, timeout: Duration) -> RedisResult<redis::Client> {
    match tokio::time::timeout(timeout * 3, client.async_get_client()).await {
        Ok(result) => result,
        Err(_) => Err(RedisError::from((
            ErrorKind::Io,
            "the sentinels did not answer in time",
        ))),
    }
}

/// Refused before running: safe to retry on the new primary.
fn refused(err: &RedisError) -> bool {
    err.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly) || err.is_connection_refusal()
}

/// The connection broke: the node may be gone; find the primary again.
fn broken(err: &RedisError) -> bool {
    err.is_io_error() || err.is_connection_dropped() || err.is_timeout()
}

/// The connection handle stored in a `Store`.
#[derive(Clone)]
pub(super) struct SentinelConnection(pub Arc<Sentinel>);

impl ConnectionLike for SentinelConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(
            self.0
                .send(move |mut conn| async move { conn.req_packed_command(cmd).await }),
        )
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(self.0.send(move |mut conn| async move {
            conn.req_packed_commands(pipeline, offset, count).await
        }))
    }

    fn get_db(&self) -> i64 {
        self.0.current().get_db()
    }
}
