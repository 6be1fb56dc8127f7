//! What can go wrong talking to Redis, sorted once: a Redis that cannot
//! answer *now* (a 503 the client may retry) versus one that answered with
//! an error (a bug or a misconfiguration).

use redis::RedisError;

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
