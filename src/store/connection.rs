//! The connection every store call goes through: one of the topologies
//! behind one [`ConnectionLike`], so that scripts and commands are written
//! once. Each call's latency and errors are recorded here for the metrics,
//! and on a Cluster a plain pipeline is split by slot here (see
//! [`split_by_slot`]), so callers never think about slots.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use metrics::Histogram;
use redis::aio::ConnectionLike;
use redis::cluster_routing::Slot;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Value};

use super::circuit::Circuit;
use super::{healing, sentinel};

#[cfg(any(test, feature = "test-util"))]
pub(crate) mod slots;

/// One connection, whichever the topology, with its meters. Clones share
/// both.
#[derive(Clone)]
pub(super) struct Connection {
    pub(super) link: Link,
    meters: Arc<Meters>,
    /// The circuit breakers calls go through (none on a dedicated
    /// connection, whose reads block on purpose).
    circuit: Option<Arc<Circuit>>,
}

/// The topologies.
#[derive(Clone)]
pub(super) enum Link {
    Single(healing::Healing<healing::Single>),
    Cluster(healing::Healing<healing::Cluster>),
    /// A connection of its own, for blocking reads.
    Dedicated(redis::aio::MultiplexedConnection),
    Sentinel(sentinel::SentinelConnection),
}

impl Connection {
    /// A connection whose calls go through `circuit` (probed from now on).
    pub(super) fn guarded(link: Link, circuit: Arc<Circuit>) -> Self {
        circuit.watch(link.clone());
        Self {
            link,
            meters: Arc::default(),
            circuit: Some(circuit),
        }
    }

    /// A second link to the targets of `store`'s connection, through its
    /// breakers but not probed again: it carries commands that block on
    /// purpose (`WAIT`, `XREAD BLOCK`), behind which a probe would wait.
    pub(super) fn sharing(link: Link, store: &Connection) -> Self {
        Self {
            link,
            meters: Arc::default(),
            circuit: store.circuit.clone(),
        }
    }

    /// A connection of its own for blocking reads: no breaker, no timing.
    pub(super) fn dedicated(conn: redis::aio::MultiplexedConnection) -> Self {
        Self {
            link: Link::Dedicated(conn),
            meters: Arc::default(),
            circuit: None,
        }
    }

    pub(super) fn circuit(&self) -> Option<&Circuit> {
        self.circuit.as_deref()
    }
}

impl Link {
    /// A probe went unanswered within its deadline: the connection is
    /// treated as after a timeout (replaced, or its primary looked up
    /// again, when that keeps happening).
    pub(super) fn missed(&self) {
        match self {
            Link::Single(conn) => conn.missed(),
            Link::Cluster(conn) => conn.missed(),
            Link::Sentinel(conn) => conn.0.missed(),
            Link::Dedicated(_) => {}
        }
    }

    /// Sends `cmd`, past any breaker (the probes' way).
    pub(super) async fn send(&mut self, cmd: &Cmd) -> redis::RedisResult<Value> {
        match self {
            Link::Single(conn) => conn.send(cmd).await,
            Link::Cluster(conn) => {
                #[cfg(any(test, feature = "test-util"))]
                slots::check(cmd)?;
                conn.send(cmd).await
            }
            Link::Sentinel(conn) => conn.req_packed_command(cmd).await,
            Link::Dedicated(conn) => conn.req_packed_command(cmd).await,
        }
    }
}

/// The names commands are timed under (a fixed set of labels; scripts are
/// all `EVALSHA`, functions `FCALL`), then `other` and `pipeline`.
const COMMANDS: [&str; 32] = [
    "EVALSHA",
    "EVAL",
    "FCALL",
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
const OTHER: usize = COMMANDS.len();
const PIPELINE: usize = COMMANDS.len() + 1;

/// Each label's latency histogram, registered with the recorder the first
/// time it is used (looking one up by its labels builds a key and hashes
/// it: an allocation on every command).
struct Meters {
    durations: [OnceLock<Histogram>; COMMANDS.len() + 2],
}

impl Default for Meters {
    fn default() -> Self {
        Self {
            durations: std::array::from_fn(|_| OnceLock::new()),
        }
    }
}

impl Meters {
    /// Records a call of command `index` that took from `started`, and its
    /// error, if any.
    fn record<T>(&self, index: usize, started: Instant, result: &redis::RedisResult<T>) {
        let label = label(index);
        if let Some(histogram) = self.durations.get(index) {
            histogram
                .get_or_init(
                    || metrics::histogram!(crate::observe::REDIS_DURATION, "command" => label),
                )
                .record(started.elapsed().as_secs_f64());
        }
        if let Err(err) = result {
            let kind = if err.is_timeout() {
                "timeout"
            } else if err.is_io_error() || err.is_connection_dropped() {
                "connection"
            } else {
                "other"
            };
            metrics::counter!(crate::observe::REDIS_ERRORS, "command" => label, "kind" => kind)
                .increment(1);
        }
    }
}

fn label(index: usize) -> &'static str {
    match index {
        PIPELINE => "pipeline",
        _ => COMMANDS.get(index).copied().unwrap_or("other"),
    }
}

/// Whether `cmd` (command `index`) waits on purpose: `WAIT`, or `XREAD`
/// with `BLOCK`.
fn blocks(index: usize, cmd: &Cmd) -> bool {
    match label(index) {
        "WAIT" => true,
        "XREAD" => cmd.args_iter().any(
            |arg| matches!(arg, redis::Arg::Simple(word) if word.eq_ignore_ascii_case(b"BLOCK")),
        ),
        _ => false,
    }
}

/// The index of the command's name in [`COMMANDS`] (or [`OTHER`]).
fn command_index(cmd: &Cmd) -> usize {
    let Some(redis::Arg::Simple(name)) = cmd.args_iter().next() else {
        return OTHER;
    };
    COMMANDS
        .iter()
        .position(|known| known.as_bytes().eq_ignore_ascii_case(name))
        .unwrap_or(OTHER)
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let Connection {
            link,
            meters,
            circuit,
        } = self;
        match link {
            // Blocking reads wait on purpose: not a latency.
            Link::Dedicated(conn) => conn.req_packed_command(cmd),
            // The one box of a call: the trait returns one.
            link => Box::pin(async move {
                let started = Instant::now();
                let index = command_index(cmd);
                let target = circuit.as_ref().and_then(|circuit| circuit.target(cmd));
                let result = match target {
                    Some(target) if blocks(index, cmd) => {
                        target.guard_blocking(link.send(cmd)).await
                    }
                    Some(target) => target.guard(link.send(cmd)).await,
                    None => link.send(cmd).await,
                };
                meters.record(index, started, &result);
                result
            }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let sent = match &mut self.link {
            Link::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Link::Cluster(c) if !pipeline.is_transaction() => {
                split_by_slot(c.clone(), pipeline, offset, count)
            }
            Link::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Link::Dedicated(c) => return c.req_packed_commands(pipeline, offset, count),
            Link::Sentinel(c) => c.req_packed_commands(pipeline, offset, count),
        };
        let meters = &self.meters;
        let target = self
            .circuit
            .as_ref()
            .and_then(|circuit| pipeline.cmd_iter().find_map(|cmd| circuit.target(cmd)));
        Box::pin(async move {
            let started = Instant::now();
            let result = match target {
                Some(target) => target.guard(sent).await,
                None => sent.await,
            };
            meters.record(PIPELINE, started, &result);
            result
        })
    }

    fn get_db(&self) -> i64 {
        match &self.link {
            Link::Single(c) => c.get_db(),
            Link::Cluster(c) => c.get_db(),
            Link::Dedicated(c) => c.get_db(),
            Link::Sentinel(c) => c.get_db(),
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

/// The slot of a command's first key, or `None` for a keyless command.
fn first_key_slot(cmd: &Cmd) -> Option<Slot> {
    super::circuit::first_key(cmd).map(Slot::for_key)
}
