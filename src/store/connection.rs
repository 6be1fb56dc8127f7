//! The connection every store call goes through: one of the topologies
//! behind one [`ConnectionLike`], so that scripts and commands are written
//! once. Each call's latency and errors are recorded here for the metrics,
//! and on a Cluster a plain pipeline is split by slot here (see
//! [`split_by_slot`]), so callers never think about slots.

use std::time::Instant;

use redis::aio::ConnectionLike;
use redis::cluster_routing::Slot;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Value};

use super::{healing, sentinel};

#[cfg(any(test, feature = "test-util"))]
pub(crate) mod slots;

/// One connection, whichever the topology.
#[derive(Clone)]
pub(super) enum Connection {
    Single(healing::Healing<healing::Single>),
    Cluster(healing::Healing<healing::Cluster>),
    /// A connection of its own, for blocking reads.
    Dedicated(redis::aio::MultiplexedConnection),
    Sentinel(sentinel::SentinelConnection),
}

/// Awaits a command, recording its latency (and error, if any) under
/// `command`.
async fn timed<T>(command: &'static str, sent: RedisFuture<'_, T>) -> redis::RedisResult<T> {
    let started = Instant::now();
    let result = sent.await;
    metrics::histogram!(crate::observe::REDIS_DURATION, "command" => command)
        .record(started.elapsed().as_secs_f64());
    if let Err(err) = &result {
        let kind = if err.is_timeout() {
            "timeout"
        } else if err.is_io_error() || err.is_connection_dropped() {
            "connection"
        } else {
            "other"
        };
        metrics::counter!(crate::observe::REDIS_ERRORS, "command" => command, "kind" => kind)
            .increment(1);
    }
    result
}

/// The command's name as a metrics label (a fixed set; scripts are all
/// `EVALSHA`).
fn command_name(cmd: &Cmd) -> &'static str {
    const KNOWN: [&str; 31] = [
        "EVALSHA",
        "EVAL",
        "SCRIPT",
        "GET",
        "SET",
        "DEL",
        "EXISTS",
        "HGET",
        "HSET",
        "HDEL",
        "HGETALL",
        "HMGET",
        "ZADD",
        "ZREM",
        "ZRANGE",
        "ZREMRANGEBYSCORE",
        "ZCARD",
        "ZSCAN",
        "XADD",
        "XRANGE",
        "XREVRANGE",
        "XREAD",
        "XLEN",
        "INCR",
        "PUBLISH",
        "PING",
        "INFO",
        "MGET",
        "SCAN",
        "PEXPIRE",
        "WAIT",
    ];
    let Some(redis::Arg::Simple(name)) = cmd.args_iter().next() else {
        return "other";
    };
    KNOWN
        .into_iter()
        .find(|known| known.as_bytes().eq_ignore_ascii_case(name))
        .unwrap_or("other")
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let sent = match self {
            Connection::Single(c) => c.req_packed_command(cmd),
            Connection::Cluster(c) => {
                #[cfg(any(test, feature = "test-util"))]
                if let Err(err) = slots::check(cmd) {
                    return Box::pin(async move { Err(err) });
                }
                c.req_packed_command(cmd)
            }
            // Blocking reads wait on purpose: not a latency.
            Connection::Dedicated(c) => return c.req_packed_command(cmd),
            Connection::Sentinel(c) => c.req_packed_command(cmd),
        };
        Box::pin(timed(command_name(cmd), sent))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let sent = match self {
            Connection::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(c) if !pipeline.is_transaction() => {
                split_by_slot(c.clone(), pipeline, offset, count)
            }
            Connection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Connection::Dedicated(c) => return c.req_packed_commands(pipeline, offset, count),
            Connection::Sentinel(c) => c.req_packed_commands(pipeline, offset, count),
        };
        Box::pin(timed("pipeline", sent))
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(c) => c.get_db(),
            Connection::Cluster(c) => c.get_db(),
            Connection::Dedicated(c) => c.get_db(),
            Connection::Sentinel(c) => c.get_db(),
        }
    }
}

/// Sends a plain (non-`MULTI`) pipeline to a Cluster one slot at a time.
///
/// A Cluster node refuses a pipeline whose keys live in different slots,
/// and the cluster client refuses to send one. A plain pipeline is not
/// atomic anyway (it only saves round trips), so its commands are grouped
/// by slot, each group goes to its node as a pipeline of its own, all
/// groups concurrently, and the replies are put back in command order.
/// Callers write one pipeline and it works on both topologies; what must
/// be atomic is a script or `MULTI`, whose keys share a hash tag.
fn split_by_slot<'a>(
    conn: impl ConnectionLike + Clone + Send + 'a,
    pipeline: &'a Pipeline,
    offset: usize,
    count: usize,
) -> RedisFuture<'a, Vec<Value>> {
    Box::pin(async move {
        let slots: Vec<Option<Slot>> = pipeline.cmd_iter().map(first_key_slot).collect();
        if slots.windows(2).all(|pair| pair[0] == pair[1]) {
            let mut conn = conn;
            return conn.req_packed_commands(pipeline, offset, count).await;
        }
        let mut groups: Vec<(Option<Slot>, Pipeline, Vec<usize>)> = Vec::new();
        for (position, (cmd, slot)) in pipeline.cmd_iter().zip(slots).enumerate() {
            let group = match groups.iter_mut().position(|(s, _, _)| *s == slot) {
                Some(i) => &mut groups[i],
                None => {
                    groups.push((slot, redis::pipe(), Vec::new()));
                    let last = groups.len() - 1;
                    &mut groups[last]
                }
            };
            group.1.add_command(cmd.clone());
            group.2.push(position);
        }
        let sent = groups.iter().map(|(_, group, _)| {
            let mut conn = conn.clone();
            async move { conn.req_packed_commands(group, 0, group.len()).await }
        });
        let replies = futures_util::future::try_join_all(sent).await?;
        let mut ordered: Vec<Option<Value>> = vec![None; pipeline.len()];
        for ((_, _, positions), values) in groups.iter().zip(replies) {
            for (&position, value) in positions.iter().zip(values) {
                ordered[position] = Some(value);
            }
        }
        ordered
            .into_iter()
            .skip(offset)
            .take(count)
            .map(|value| {
                value.ok_or_else(|| {
                    RedisError::from((
                        redis::ErrorKind::Client,
                        "a Cluster pipeline reply is missing",
                    ))
                })
            })
            .collect()
    })
}

/// The slot of a command's first key (the first argument for every
/// command Gatehouse pipelines), or `None` for a keyless command.
fn first_key_slot(cmd: &Cmd) -> Option<Slot> {
    match cmd.args_iter().nth(1)? {
        redis::Arg::Simple(key) => Some(Slot::for_key(key)),
        _ => None,
    }
}
