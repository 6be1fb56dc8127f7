//! A TCP proxy that partitions or slows: for tests of half-open
//! connections and of a Redis that answers only late.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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
    /// Replies are held this long, at random between the two bounds in ms
    /// (packed as `min << 32 | max`; 0: not at all).
    delay: Arc<AtomicU64>,
}

impl Blackhole {
    /// Starts forwarding `127.0.0.1:<port>` to `127.0.0.1:<target>`.
    pub async fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("the proxy's address").port();
        let generation = Arc::new(AtomicU64::new(0));
        let delay = Arc::new(AtomicU64::new(0));
        let (current, replies) = (generation.clone(), delay.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let born = current.load(Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                let none = Arc::new(AtomicU64::new(0));
                tokio::spawn(pipe(client_read, server_write, born, current.clone(), none));
                tokio::spawn(pipe(
                    server_read,
                    client_write,
                    born,
                    current.clone(),
                    replies.clone(),
                ));
            }
        });
        Self {
            port,
            generation,
            delay,
        }
    }

    /// Holds every reply from now on for a random time between `min` and
    /// `max` (a Redis that answers, but late and unevenly).
    pub fn delay_replies(&self, min: Duration, max: Duration) {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX) & 0xffff_ffff;
        self.delay
            .store((ms(min) << 32) | ms(max).max(1), Ordering::SeqCst);
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
    delay: Arc<AtomicU64>,
) {
    let mut buffer = vec![0; 16 * 1024];
    let mut random = u64::from_le_bytes(crate::random::bytes::<8>()) | 1;
    while let Ok(n) = from.read(&mut buffer).await {
        if n == 0 {
            return;
        }
        let bounds = delay.load(Ordering::SeqCst);
        if bounds != 0 {
            let (min, max) = (bounds >> 32, bounds & 0xffff_ffff);
            // xorshift: jitter, not security.
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            let ms = min + random % (max.saturating_sub(min) + 1);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if current.load(Ordering::SeqCst) == born && to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}
