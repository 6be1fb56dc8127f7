//! Where Redis is and how long to wait for it: what an operator configures.

use std::time::Duration;

use super::{Replication, StoreError, Tls};

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

/// Checks, without connecting, that `url` is a Redis URL this store can
/// use, so that a configuration mistake is caught when it is read.
pub fn check_url(url: &str) -> Result<(), StoreError> {
    redis::IntoConnectionInfo::into_connection_info(url)
        .map(drop)
        .map_err(|source| StoreError::InvalidUrl {
            url: url.to_owned(),
            source,
        })
}

/// A sentinel's URL from how operators usually write its address: a URL
/// as for a server, `host:port`, `[v6-address]:port`, or a bare host (or
/// IPv6 address) on the sentinels' usual port 26379.
pub fn sentinel_url(address: &str) -> Result<String, StoreError> {
    let address = address.trim();
    let url = if address.contains("://") {
        address.to_owned()
    } else {
        match address.matches(':').count() {
            _ if address.starts_with('[') && address.ends_with(']') => {
                format!("redis://{address}:26379")
            }
            0 => format!("redis://{address}:26379"),
            1 => format!("redis://{address}"),
            _ if address.starts_with('[') => format!("redis://{address}"),
            _ => format!("redis://[{address}]:26379"),
        }
    };
    check_url(&url)?;
    Ok(url)
}

/// `url` without its password, for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://***@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_the_log() {
        assert_eq!(
            redact_url("redis://:s3cret@db:6380/2"),
            "redis://***@db:6380/2"
        );
        assert_eq!(redact_url("rediss://app:pw@db"), "rediss://***@db");
        assert_eq!(redact_url("redis://db:6379"), "redis://db:6379");
        let err = check_url("redis://:s3cret@db:port")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn sentinels_may_be_written_as_host_and_port() {
        assert_eq!(
            sentinel_url("10.0.0.5:26380").unwrap(),
            "redis://10.0.0.5:26380"
        );
        assert_eq!(sentinel_url("s1").unwrap(), "redis://s1:26379");
        assert_eq!(sentinel_url("[::1]:26381").unwrap(), "redis://[::1]:26381");
        assert_eq!(sentinel_url("::1").unwrap(), "redis://[::1]:26379");
        assert_eq!(sentinel_url("rediss://:pw@s3").unwrap(), "rediss://:pw@s3");
        assert!(matches!(
            sentinel_url("s1:port"),
            Err(StoreError::InvalidUrl { .. })
        ));
        assert!(matches!(
            sentinel_url("http://s1:26379"),
            Err(StoreError::InvalidUrl { .. })
        ));
    }
}
