//! A single-server connection that replaces itself when it stops answering.
//!
//! redis-rs's `ConnectionManager` reconnects when its connection breaks
//! (reset, closed), but a command that times out leaves the connection in
//! place. If the server went away without a reset (a partition, a host
//! that died, a firewall or NAT that forgot the flow), every later command
//! on that connection times out too, forever, although a new connection
//! would work. So after [`THRESHOLD`] timeouts in a row with no answer in
//! between, this opens a fresh connection and sends new commands there;
//! the old one goes away with its last command. A server that is merely
//! stalled (a long fork, a frozen process) gets a fresh connection too,
//! harmlessly: it answers on whichever connection once it wakes.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};

/// Timeouts in a row that condemn a connection.
const THRESHOLD: u32 = 2;

/// A healing connection to one server. Clones share it.
#[derive(Clone)]
pub(super) struct Healing {
    inner: Arc<Inner>,
}

struct Inner {
    current: RwLock<ConnectionManager>,
    client: redis::Client,
    config: ConnectionManagerConfig,
    timeouts: AtomicU32,
}

impl Healing {
    /// Connects lazily (see `Store::connect`).
    pub(super) fn new(
        client: redis::Client,
        config: ConnectionManagerConfig,
    ) -> Result<Self, RedisError> {
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config.clone())?;
        Ok(Self {
            inner: Arc::new(Inner {
                current: RwLock::new(manager),
                client,
                config,
                timeouts: AtomicU32::new(0),
            }),
        })
    }

    fn current(&self) -> ConnectionManager {
        self.inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Inner {
    fn observe<T>(&self, result: &RedisResult<T>) {
        match result {
            // Read first: a busy server answers all the time, and a store
            // to a shared counter on every answer would bounce its cache
            // line between cores.
            Ok(_) => {
                if self.timeouts.load(Ordering::Relaxed) != 0 {
                    self.timeouts.store(0, Ordering::Relaxed);
                }
            }
            Err(err) if err.is_timeout() => {
                if self.timeouts.fetch_add(1, Ordering::Relaxed) + 1 >= THRESHOLD {
                    self.replace();
                }
            }
            Err(_) => {}
        }
    }

    fn replace(&self) {
        match ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone()) {
            Ok(fresh) => {
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
                self.timeouts.store(0, Ordering::Relaxed);
                tracing::warn!("Redis stopped answering on its connection; opened a new one");
            }
            Err(err) => tracing::warn!(error = %err, "cannot open a new Redis connection"),
        }
    }
}

impl ConnectionLike for Healing {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let mut manager = self.current();
        let inner = &self.inner;
        Box::pin(async move {
            let result = manager.req_packed_command(cmd).await;
            inner.observe(&result);
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let mut manager = self.current();
        let inner = &self.inner;
        Box::pin(async move {
            let result = manager.req_packed_commands(pipeline, offset, count).await;
            inner.observe(&result);
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.current().get_db()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::store::{Store, StoreConfig};
    use crate::testing::TestRedis;

    /// A TCP proxy to Redis that can "partition" the connections it has:
    /// after [`Blackhole::cut`], bytes on existing connections vanish in
    /// both directions (no reset, no close: a half-open connection), while
    /// new connections are forwarded as before.
    struct Blackhole {
        port: u16,
        generation: Arc<AtomicU64>,
    }

    impl Blackhole {
        async fn start(target: u16) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let generation = Arc::new(AtomicU64::new(0));
            let current = generation.clone();
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let born = current.load(Ordering::SeqCst);
                    let server = TcpStream::connect(("127.0.0.1", target)).await.unwrap();
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::spawn(pipe(client_read, server_write, born, current.clone()));
                    tokio::spawn(pipe(server_read, client_write, born, current.clone()));
                }
            });
            Self { port, generation }
        }

        fn cut(&self) {
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    async fn pipe(
        mut from: tokio::net::tcp::OwnedReadHalf,
        mut to: tokio::net::tcp::OwnedWriteHalf,
        born: u64,
        current: Arc<AtomicU64>,
    ) {
        let mut buffer = vec![0; 16 * 1024];
        while let Ok(n) = from.read(&mut buffer).await {
            if n == 0 {
                return;
            }
            if current.load(Ordering::SeqCst) == born && to.write_all(&buffer[..n]).await.is_err() {
                return;
            }
        }
    }

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
        let started = std::time::Instant::now();
        let mut failures = 0;
        while store.ping().await.is_err() {
            failures += 1;
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "still no answer after {failures} timeouts: the dead connection was kept"
            );
        }
        assert!(failures >= 1, "the cut connection cannot have answered");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}
