//! A connection that follows the primary chosen by Redis Sentinel.
//!
//! Sentinel promotes a replica when the primary fails. This connection
//! asks the sentinels for the current primary at start, talks to it
//! through a reconnecting [`ConnectionManager`], and asks again when the
//! node it talks to refuses connections or answers `READONLY` (it has been
//! demoted). A command refused that way never ran, so it is retried once
//! on the new primary; a command whose connection dropped mid-flight may
//! have run, so it fails (the caller decides; Gatehouse answers 503) and
//! the next one goes to the new primary. A command that timed out fails at
//! once too: asking the sentinels again (and opening a fresh connection,
//! since a connection that stopped answering may be half-open) happens in
//! the background, one search at a time, so a frozen primary costs each
//! request the timeout and no more.
//!
//! Errors alone are not enough: after a failover the old primary, if it is
//! still running, keeps accepting writes until the sentinels reconfigure
//! it, on their next look at it (up to 10 s later), and the resync then
//! discards those writes. So a watcher also listens to the sentinels'
//! `+switch-master` announcements and moves to the new primary the moment
//! one names it.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    Cmd, ConnectionAddr, ErrorKind, IntoConnectionInfo, Pipeline, RedisError, RedisFuture,
    RedisResult, ServerErrorKind, TlsMode, Value,
};

use super::Tls;
use super::swap::{Current, Search};
use tokio::sync::Mutex;

/// The shared state of a Sentinel-managed connection.
pub(super) struct Sentinel {
    client: Mutex<SentinelClient>,
    /// The primary's address and the connection to it.
    current: Current<(ConnectionAddr, ConnectionManager)>,
    config: ConnectionManagerConfig,
    connect_timeout: Duration,
    /// The background search for the primary.
    searching: Search,
}

impl Sentinel {
    /// Asks `sentinels` for the primary of `master` and connects to it.
    /// `node` carries the data nodes' credentials, database and scheme
    /// (`rediss://` for TLS), if any; `tls` the certificates for TLS.
    pub async fn connect(
        sentinels: &[String],
        master: &str,
        node: Option<&str>,
        tls: Option<Tls>,
        config: ConnectionManagerConfig,
        connect_timeout: Duration,
    ) -> RedisResult<Arc<Self>> {
        let mut client = sentinel_client(sentinels, master, node, tls.as_ref())?;
        let primary = discover(&mut client, connect_timeout).await?;
        let addr = primary.get_connection_info().addr().clone();
        let manager = ConnectionManager::new_lazy_with_config(primary, config.clone())?;
        let this = Arc::new(Self {
            client: Mutex::new(client),
            current: Current::new((addr, manager)),
            config,
            connect_timeout,
            searching: Search::default(),
        });
        tokio::spawn(watch(
            Arc::downgrade(&this),
            sentinels.to_vec(),
            master.to_owned(),
            tls,
            connect_timeout,
        ));
        Ok(this)
    }

    fn current(&self) -> ConnectionManager {
        self.current.read(|(_, manager)| manager.clone())
    }

    /// Asks the sentinels again and, if they name another primary (or
    /// `fresh` asks for a new connection anyway), switches to it.
    /// (Otherwise the same primary keeps its connection: the manager
    /// reconnects to it by itself after a reset.)
    async fn rediscover(&self, fresh: bool) -> RedisResult<()> {
        let primary = self.primary().await?;
        let addr = primary.get_connection_info().addr().clone();
        let mut current = self.current.write();
        if current.0 != addr || fresh {
            tracing::warn!(from = %current.0, to = %addr, "Redis Sentinel: connecting to the primary again");
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
    async fn send<T, F, Fut>(self: &Arc<Self>, request: F) -> RedisResult<T>
    where
        T: Reply,
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        match request(self.current()).await {
            // Server errors arrive as replies; callers turn them into errors.
            Ok(reply) if reply.read_only() => {
                self.rediscover(false).await?;
                request(self.current()).await
            }
            Err(err) if refused(&err) => {
                self.rediscover(false).await?;
                request(self.current()).await
            }
            Err(err) if broken(&err) => {
                self.search_in_background(err.is_timeout());
                Err(err)
            }
            other => other,
        }
    }

    /// A probe went unanswered: ask the sentinels again (and connect
    /// afresh), as after a timeout.
    pub(super) fn missed(self: &Arc<Self>) {
        self.search_in_background(true);
    }

    /// Rediscovers the primary without holding up the caller (at most one
    /// search at a time).
    fn search_in_background(self: &Arc<Self>, fresh: bool) {
        let this = Arc::clone(self);
        self.searching.start(async move {
            if let Err(err) = this.rediscover(fresh).await {
                tracing::debug!(error = %err, "Redis Sentinel: primary not found yet");
            }
        });
    }
}

/// Follows `+switch-master` announcements for `master`, from one sentinel
/// at a time (the next one when a connection fails), until the
/// connection is dropped.
async fn watch(
    sentinel: Weak<Sentinel>,
    urls: Vec<String>,
    master: String,
    tls: Option<Tls>,
    timeout: Duration,
) {
    for url in urls.iter().cycle() {
        let client = match super::tls::client(url, tls.as_ref()) {
            Ok(client) => client,
            Err(err) => return tracing::warn!(error = %err, "Redis Sentinel: bad sentinel URL"),
        };
        if let Err(err) = listen(&sentinel, &client, &master, timeout).await {
            tracing::debug!(error = %err, "Redis Sentinel: announcements interrupted");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        if sentinel.strong_count() == 0 {
            return;
        }
    }
}

/// Listens to one sentinel; `Ok` once the connection it serves is gone.
async fn listen(
    sentinel: &Weak<Sentinel>,
    client: &redis::Client,
    master: &str,
    timeout: Duration,
) -> RedisResult<()> {
    let mut pubsub = match tokio::time::timeout(timeout, client.get_async_pubsub()).await {
        Ok(pubsub) => pubsub?,
        Err(_) => {
            return Err(RedisError::from((
                ErrorKind::Io,
                "the sentinel did not answer",
            )));
        }
    };
    pubsub.subscribe("+switch-master").await?;
    let mut messages = pubsub.on_message();
    loop {
        // Wakes now and then to notice a dropped connection.
        let message = match tokio::time::timeout(Duration::from_secs(5), messages.next()).await {
            Err(_) if sentinel.strong_count() == 0 => return Ok(()),
            Err(_) => continue,
            Ok(None) => return Err(RedisError::from((ErrorKind::Io, "the sentinel hung up"))),
            Ok(Some(message)) => message,
        };
        // `<master> <old-ip> <old-port> <new-ip> <new-port>`
        let payload: String = message.get_payload()?;
        if payload.split(' ').next() != Some(master) {
            continue;
        }
        let Some(sentinel) = sentinel.upgrade() else {
            return Ok(());
        };
        tracing::warn!(announcement = %payload, "Redis Sentinel: the primary changed");
        if let Err(err) = sentinel.rediscover(false).await {
            tracing::warn!(error = %err, "Redis Sentinel: cannot reach the new primary yet");
            sentinel.search_in_background(false);
        }
    }
}

/// The client that asks `sentinels` for `master`'s primary. Sentinels share
/// one password (the first sentinel URL that carries credentials gives
/// them), as Redis's `sentinel-pass` assumes.
fn sentinel_client(
    sentinels: &[String],
    master: &str,
    node: Option<&str>,
    tls: Option<&Tls>,
) -> RedisResult<SentinelClient> {
    let sentinels = sentinels
        .iter()
        .map(|url| url.as_str().into_connection_info())
        .collect::<RedisResult<Vec<_>>>()?;
    let mut builder = SentinelClientBuilder::new(
        sentinels.iter().map(|info| info.addr().clone()),
        master,
        SentinelServerType::Master,
    )?;
    let credentials = sentinels
        .iter()
        .map(|info| info.redis_settings())
        .find(|settings| settings.password().is_some());
    if let Some(settings) = credentials {
        if let Some(username) = settings.username() {
            builder = builder.set_client_to_sentinel_username(username);
        }
        if let Some(password) = settings.password() {
            builder = builder.set_client_to_sentinel_password(password);
        }
    }
    let tls_to_sentinels = sentinels.iter().any(|info| is_tls(info.addr()));
    let node = node.map(|url| url.into_connection_info()).transpose()?;
    let tls_to_nodes = node.as_ref().is_some_and(|info| is_tls(info.addr()));
    if let Some(node) = &node {
        let settings = node.redis_settings();
        builder = builder.set_client_to_redis_db(settings.db());
        if let Some(username) = settings.username() {
            builder = builder.set_client_to_redis_username(username);
        }
        if let Some(password) = settings.password() {
            builder = builder.set_client_to_redis_password(password);
        }
        if tls_to_nodes {
            builder = builder.set_client_to_redis_tls_mode(TlsMode::Secure);
        }
    }
    if let Some(tls) = tls {
        if tls_to_sentinels {
            builder = builder.set_client_to_sentinel_certificates(tls.certificates());
        }
        if tls_to_nodes {
            builder = builder.set_client_to_redis_certificates(tls.certificates());
        }
    }
    builder.build()
}

fn is_tls(addr: &ConnectionAddr) -> bool {
    matches!(addr, ConnectionAddr::TcpTls { .. })
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

/// A reply that says the node is a replica now (the write did not run).
trait Reply {
    fn read_only(&self) -> bool;
}

impl Reply for Value {
    fn read_only(&self) -> bool {
        matches!(self, Value::ServerError(err) if err.kind() == Some(ServerErrorKind::ReadOnly))
    }
}

impl Reply for Vec<Value> {
    fn read_only(&self) -> bool {
        self.iter().any(Reply::read_only)
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
