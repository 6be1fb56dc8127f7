//! Where Redis is and how long to wait for it: what an operator configures.

use std::time::Duration;

use super::{Replication, Tls};

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
