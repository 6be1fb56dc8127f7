//! What can go wrong talking to Redis, sorted once: a Redis that cannot
//! answer *now* (a 503 the client may retry) versus one that answered with
//! an error (a bug or a misconfiguration).

use redis::RedisError;

/// What can go wrong talking to Redis.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL could not be parsed; this is a configuration mistake.
    #[error("invalid Redis URL {:?}: {source}", super::redact_url(url))]
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

/// What a call refused by an open circuit breaker fails with.
const CIRCUIT_OPEN: &str = "the Redis circuit breaker is open";

/// The error of a call the circuit breaker did not send: Redis never saw
/// it, so sending it again later cannot duplicate it.
pub(super) fn circuit_open() -> RedisError {
    RedisError::from((redis::ErrorKind::Io, CIRCUIT_OPEN))
}

/// The error of a call that was sent and given up on when the breaker
/// opened: a timeout, since a frozen Redis may still run it when it wakes.
pub(super) fn abandoned() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "no answer before the Redis circuit breaker opened",
    ))
}

/// Whether `err` is a call an open circuit breaker did not send.
pub fn not_sent(err: &RedisError) -> bool {
    err.kind() == redis::ErrorKind::Io && err.to_string().contains(CIRCUIT_OPEN)
}

/// Whether `err` says Redis could not answer (as opposed to an answer
/// that was an error).
pub(super) fn is_unavailable(err: &RedisError) -> bool {
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
    busy || err.is_io_error()
        || err.is_timeout()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_unrecoverable_error()
}

impl StoreError {
    /// The call was not sent (or was given up) because the circuit
    /// breaker of its Redis target is open.
    pub fn is_circuit_open(&self) -> bool {
        matches!(self, StoreError::Unavailable(err) if not_sent(err))
    }
}

impl From<RedisError> for StoreError {
    fn from(err: RedisError) -> Self {
        // A Redis that is loading its data, failing over, or whose Cluster
        // is reconfiguring cannot answer *now*: that is unavailability (a
        // 503 the client may retry), not a failed command (a 500).
        // So is a Sentinel deployment whose sentinels name no reachable
        // primary (mid-failover), and a target whose breaker is open.
        if is_unavailable(&err) {
            StoreError::Unavailable(err)
        } else {
            StoreError::Command(err)
        }
    }
}
