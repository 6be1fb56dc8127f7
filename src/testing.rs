//! Throwaway Redis servers for tests (feature `test-util`).
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
