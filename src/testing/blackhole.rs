//! A TCP proxy that partitions: for tests of half-open connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy to Redis that can "partition" the connections it has:
/// after [`Blackhole::cut`], bytes on existing connections vanish in
/// both directions (no reset, no close: a half-open connection), while
/// new connections are forwarded as before.
pub struct Blackhole {
    /// The port to connect to instead of Redis's.
    pub port: u16,
    generation: Arc<AtomicU64>,
}

impl Blackhole {
    /// Starts forwarding `127.0.0.1:<port>` to `127.0.0.1:<target>`.
    pub async fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("the proxy's address").port();
        let generation = Arc::new(AtomicU64::new(0));
        let current = generation.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let born = current.load(Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pipe(client_read, server_write, born, current.clone()));
                tokio::spawn(pipe(server_read, client_write, born, current.clone()));
            }
        });
        Self { port, generation }
    }

    /// Silences every connection open now; later ones work.
    pub fn cut(&self) {
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
