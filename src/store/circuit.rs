//! The store's circuit breakers (see [`super::breaker`]): which one a call
//! goes through, and the probes that watch each target.
//!
//! One server or a Sentinel primary is one target. A Cluster has one per
//! primary: a call goes through the breaker of the node that owns its
//! first key's slot (learnt from `CLUSTER SLOTS`, refreshed every few
//! seconds), so one frozen node does not stop requests whose keys live on
//! the others. A call without a key is not gated.
//!
//! The probes run on the store's own connection, past the breakers: what
//! they show is whether the connection requests use would be answered.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, Slot, SlotAddr};
use redis::{Cmd, RedisResult, Value};
use tokio::sync::{Notify, broadcast};

use super::breaker::{Breaker, PROBE_DEADLINE, PROBE_EVERY, Permit, Phase, Transition};
use super::connection::Link;

use super::error::{abandoned, circuit_open, is_unavailable};

/// Slots of a Cluster.
const SLOTS: u16 = 16_384;
/// How often waiting calls are checked for a stalled target.
const STALL_CHECK: Duration = Duration::from_millis(50);
/// Changes kept for a subscriber that lags behind (a flapping Cluster of
/// many primaries makes a few a minute at most).
const CHANGES: usize = 64;

/// A breaker that changed phase, as [`super::Store::breaker_changes`]
/// tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakerChange {
    /// The target: `host:port` of the server, the Sentinel primary or a
    /// Cluster primary.
    pub target: Arc<str>,
    pub phase: Phase,
}

/// One target: its breaker, and the calls waiting on it.
pub(super) struct Target {
    name: Arc<str>,
    breaker: Breaker,
    /// Woken when the breaker opens: every call waiting then fails.
    opened: Notify,
    /// Where its changes are told.
    changes: broadcast::Sender<BreakerChange>,
}

impl Target {
    fn new(name: &str, changes: broadcast::Sender<BreakerChange>) -> Arc<Self> {
        let target = Arc::new(Self {
            name: name.into(),
            breaker: Breaker::default(),
            opened: Notify::new(),
            changes,
        });
        target.report(Some(Phase::Closed), false);
        target
    }

    /// Makes a transition known: the metrics, the log, the subscribers to
    /// changes, and the calls that wait on a target that just opened.
    fn report(&self, transition: Transition, counted: bool) {
        let Some(phase) = transition else { return };
        let name = self.name.to_string();
        metrics::gauge!(crate::observe::REDIS_BREAKER_STATE, "target" => name.clone())
            .set(phase as u8 as f64);
        if !counted {
            return;
        }
        metrics::counter!(
            crate::observe::REDIS_BREAKER_TRANSITIONS,
            "target" => name, "to" => phase.as_str()
        )
        .increment(1);
        // No subscriber is no error: nobody asked.
        let _ = self.changes.send(BreakerChange {
            target: Arc::clone(&self.name),
            phase,
        });
        match phase {
            Phase::Open => {
                tracing::warn!(target = %self.name, "Redis is not answering: circuit breaker open, calls fail at once");
                self.opened.notify_waiters();
            }
            Phase::HalfOpen => {
                tracing::info!(target = %self.name, "Redis answers probes again: one call goes through");
            }
            Phase::Closed => {
                tracing::warn!(target = %self.name, "Redis answers again: circuit breaker closed")
            }
        }
    }

    /// Sends a call through this target's breaker: at once refused while
    /// it is open, and given up the moment it opens.
    pub(super) async fn guard<T>(
        &self,
        send: impl Future<Output = RedisResult<T>>,
    ) -> RedisResult<T> {
        let started = Instant::now();
        let permit = self.breaker.permit(started);
        if permit == Permit::Refused {
            return Err(circuit_open());
        }
        // Registered before the call is sent, so an opening while it waits
        // cannot be missed.
        let opened = self.opened.notified();
        tokio::pin!(opened);
        opened.as_mut().enable();
        let mut outcome = Outcome {
            breaker: &self.breaker,
            permit,
            ended: false,
        };
        let result = tokio::select! {
            biased;
            result = send => result,
            () = opened => return Err(abandoned()),
        };
        outcome.ended = true;
        let failed = result.as_ref().err().is_some_and(is_unavailable);
        let transition = self
            .breaker
            .record(permit, failed, started.elapsed(), Instant::now());
        self.report(transition, true);
        result
    }

    /// Sends a command that waits on purpose (`WAIT`, `XREAD BLOCK`):
    /// refused unless the breaker is closed and given up the moment it
    /// opens, but not counted, since its wait says nothing of the target.
    pub(super) async fn guard_blocking<T>(
        &self,
        send: impl Future<Output = RedisResult<T>>,
    ) -> RedisResult<T> {
        if self.breaker.phase() != Phase::Closed {
            return Err(circuit_open());
        }
        let opened = self.opened.notified();
        tokio::pin!(opened);
        opened.as_mut().enable();
        tokio::select! {
            biased;
            result = send => result,
            () = opened => Err(abandoned()),
        }
    }

    fn probed(&self, answered: bool) {
        let transition = self.breaker.probed(answered, Instant::now());
        self.report(transition, true);
    }

    fn check_stall(&self, now: Instant) {
        let transition = self.breaker.stalled(now);
        self.report(transition, true);
    }
}

/// A call's permit, given back if the call is dropped before it ends (so a
/// half-open breaker's trial is not lost with a cancelled request).
struct Outcome<'a> {
    breaker: &'a Breaker,
    permit: Permit,
    ended: bool,
}

impl Drop for Outcome<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.breaker.abandon(self.permit);
        }
    }
}

/// The targets of one store.
pub(super) struct Circuit {
    targets: RwLock<Targets>,
    changes: broadcast::Sender<BreakerChange>,
}

enum Targets {
    One(Arc<Target>),
    /// A Cluster's primaries: each with the first slot it owns (where its
    /// probe goes), and the owner of every slot.
    Slots {
        primaries: Vec<(u16, Arc<Target>)>,
        owners: HashMap<Slot, Arc<Target>>,
    },
}

impl Targets {
    fn slots() -> Self {
        Targets::Slots {
            primaries: Vec::new(),
            owners: HashMap::new(),
        }
    }
}

impl Circuit {
    /// One target (a server, a Sentinel primary), named `name`.
    pub(super) fn one(name: &str) -> Arc<Self> {
        let changes = broadcast::Sender::new(CHANGES);
        Arc::new(Self {
            targets: RwLock::new(Targets::One(Target::new(name, changes.clone()))),
            changes,
        })
    }

    /// A Cluster's targets, learnt by the first probe.
    pub(super) fn cluster() -> Arc<Self> {
        Arc::new(Self {
            targets: RwLock::new(Targets::slots()),
            changes: broadcast::Sender::new(CHANGES),
        })
    }

    /// The changes of every breaker from now on.
    pub(super) fn changes(&self) -> broadcast::Receiver<BreakerChange> {
        self.changes.subscribe()
    }

    /// The target `cmd` goes to (`None`: not gated).
    pub(super) fn target(&self, cmd: &Cmd) -> Option<Arc<Target>> {
        let targets = self.targets.read().unwrap_or_else(PoisonError::into_inner);
        match &*targets {
            Targets::One(target) => Some(Arc::clone(target)),
            Targets::Slots { owners, .. } => owners.get(&Slot::for_key(first_key(cmd)?)).cloned(),
        }
    }

    /// When the target of `key` (any target, without one) last answered.
    pub(super) fn last_contact(&self, key: Option<&[u8]>) -> Option<Instant> {
        let targets = self.targets.read().unwrap_or_else(PoisonError::into_inner);
        match &*targets {
            Targets::One(target) => target.breaker.last_success(),
            Targets::Slots { primaries, owners } => match key {
                Some(key) => owners
                    .get(&Slot::for_key(key))
                    .and_then(|target| target.breaker.last_success()),
                None => primaries
                    .iter()
                    .filter_map(|(_, target)| target.breaker.last_success())
                    .min(),
            },
        }
    }

    /// Whether a breaker of this store is in a phase `wanted` accepts.
    pub(super) fn any(&self, wanted: impl Fn(Phase) -> bool) -> bool {
        let mut any = false;
        self.each(|target| any |= wanted(target.breaker.phase()));
        any
    }

    /// Runs `visit` on every target.
    fn each(&self, mut visit: impl FnMut(&Target)) {
        match &*self.targets.read().unwrap_or_else(PoisonError::into_inner) {
            Targets::One(target) => visit(target),
            Targets::Slots { primaries, .. } => {
                primaries.iter().for_each(|(_, target)| visit(target));
            }
        }
    }

    fn primaries(&self) -> Vec<(u16, Arc<Target>)> {
        match &*self.targets.read().unwrap_or_else(PoisonError::into_inner) {
            Targets::Slots { primaries, .. } => primaries.clone(),
            Targets::One(_) => Vec::new(),
        }
    }

    /// Starts the probes of `link`'s targets and the watch on waiting
    /// calls; they stop with the circuit.
    pub(super) fn watch(self: &Arc<Self>, link: Link) {
        tokio::spawn(probe(Arc::downgrade(self), link));
        tokio::spawn(stalls(Arc::downgrade(self)));
    }
}

/// Every [`STALL_CHECK`], whether calls on a target have waited a probe's
/// deadline without an answer (see [`Breaker::stalled`]).
async fn stalls(circuit: Weak<Circuit>) {
    let mut every = tokio::time::interval(STALL_CHECK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(circuit) = circuit.upgrade() else {
            return;
        };
        let now = Instant::now();
        circuit.each(|target| target.check_stall(now));
    }
}

/// The probes: a `PING` to every target every [`PROBE_EVERY`], each with
/// [`PROBE_DEADLINE`], and again at once after a miss (with no traffic, a
/// frozen Redis then opens the breaker within 650 ms, not 700); a Cluster's
/// slot map is read again every 20 rounds (5 s), and whenever it is unknown.
async fn probe(circuit: Weak<Circuit>, mut link: Link) {
    let mut every = tokio::time::interval(PROBE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ping = redis::cmd("PING");
    for round in 0u64.. {
        every.tick().await;
        let Some(circuit) = circuit.upgrade() else {
            return;
        };
        let one = {
            let targets = circuit
                .targets
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            match &*targets {
                Targets::One(target) => Some(Arc::clone(target)),
                Targets::Slots { .. } => None,
            }
        };
        match (one, &mut link) {
            (Some(target), link) => {
                let answered = tokio::time::timeout(PROBE_DEADLINE, link.send(&ping)).await;
                if answered.is_err() {
                    link.missed();
                    // Confirm at once: the second miss opens the breaker
                    // 400 ms after the first probe went out, not 450.
                    every.reset_immediately();
                }
                target.probed(matches!(answered, Ok(Ok(_))));
            }
            (None, Link::Cluster(cluster)) => {
                let mut primaries = circuit.primaries();
                if primaries.is_empty() || round % 20 == 0 {
                    refresh(&circuit, cluster).await;
                    primaries = circuit.primaries();
                }
                let probes = primaries.into_iter().map(|(start, target)| {
                    let cluster = cluster.clone();
                    let ping = ping.clone();
                    async move {
                        let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(
                            Route::new(start, SlotAddr::Master),
                        ));
                        let answered =
                            tokio::time::timeout(PROBE_DEADLINE, cluster.route(ping, route)).await;
                        let missed = answered.is_err();
                        if missed {
                            cluster.missed();
                        }
                        target.probed(matches!(answered, Ok(Ok(_))));
                        missed
                    }
                });
                let missed = futures_util::future::join_all(probes).await;
                if missed.contains(&true) {
                    every.reset_immediately();
                }
            }
            (None, _) => return,
        }
    }
}

/// Reads a Cluster's slot map and gives each primary a target (keeping
/// the breakers of primaries that stay).
async fn refresh(circuit: &Circuit, cluster: &super::healing::Healing<super::healing::Cluster>) {
    let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random);
    let answer = tokio::time::timeout(
        PROBE_DEADLINE * 5,
        cluster.route(redis::cmd("CLUSTER").arg("SLOTS").clone(), route),
    )
    .await;
    let Ok(Ok(Value::Array(entries))) = answer else {
        return;
    };
    let ranges: Vec<(u16, u16, String)> = entries.into_iter().filter_map(slot_range).collect();
    if ranges.is_empty() {
        return;
    }
    let mut targets = circuit
        .targets
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    let Targets::Slots { primaries, owners } = &mut *targets else {
        return;
    };
    let mut fresh: Vec<(u16, Arc<Target>)> = Vec::new();
    let mut fresh_owners = HashMap::with_capacity(usize::from(SLOTS));
    for (start, end, name) in ranges {
        let known = |list: &[(u16, Arc<Target>)]| {
            list.iter()
                .find(|(_, t)| *t.name == *name)
                .map(|(_, t)| Arc::clone(t))
        };
        let target = match known(&fresh) {
            Some(target) => target,
            None => {
                let target =
                    known(primaries).unwrap_or_else(|| Target::new(&name, circuit.changes.clone()));
                fresh.push((start, Arc::clone(&target)));
                target
            }
        };
        for slot in (start..=end).filter_map(Slot::new) {
            fresh_owners.insert(slot, Arc::clone(&target));
        }
    }
    *primaries = fresh;
    *owners = fresh_owners;
}

/// One `CLUSTER SLOTS` entry: `[start, end, [host, port, …], replicas…]`.
fn slot_range(entry: Value) -> Option<(u16, u16, String)> {
    let Value::Array(items) = entry else {
        return None;
    };
    let number = |value: &Value| match value {
        Value::Int(n) => u16::try_from(*n).ok(),
        _ => None,
    };
    let (start, end) = (number(items.first()?)?, number(items.get(1)?)?);
    let Value::Array(primary) = items.get(2)? else {
        return None;
    };
    let host = match primary.first()? {
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::SimpleString(text) => text.clone(),
        _ => return None,
    };
    let port = match primary.get(1)? {
        Value::Int(port) => *port,
        _ => return None,
    };
    Some((start, end, format!("{host}:{port}")))
}

/// The first key of a command: the one after the key count of a script or
/// function call, after `STREAMS` for `XREAD`, none for `WAIT`, else its
/// first argument.
pub(super) fn first_key(cmd: &Cmd) -> Option<&[u8]> {
    let mut args = cmd.args_iter().map(|arg| match arg {
        redis::Arg::Simple(bytes) => bytes,
        _ => b"".as_slice(),
    });
    let name = args.next()?;
    if name.eq_ignore_ascii_case(b"XREAD") {
        return args
            .skip_while(|arg| !arg.eq_ignore_ascii_case(b"STREAMS"))
            .nth(1);
    }
    if name.eq_ignore_ascii_case(b"WAIT") {
        return None;
    }
    let script = [b"EVALSHA".as_slice(), b"EVAL", b"FCALL"]
        .iter()
        .any(|s| name.eq_ignore_ascii_case(s));
    if script {
        let _ = args.next()?;
        let count = args.next()?;
        if count == b"0" {
            return None;
        }
    }
    args.next()
}

#[cfg(test)]
mod tests;
