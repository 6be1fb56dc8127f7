//! A circuit breaker for one Redis target (the server, the Sentinel
//! primary, or one Cluster primary).
//!
//! Without one, a Redis that hangs (stopped, a half-open connection, a
//! partition) makes every request wait the whole response timeout before
//! its 503, and a proxy in front piles up connections. The breaker opens
//! as soon as the target looks gone, and then no call waits on it:
//! - 5 calls in a row failed or timed out, or
//! - at least half of at least 20 calls in the last 2 s failed or took
//!   longer than 500 ms, or
//! - 2 background probes in a row (a `PING` every 250 ms, 200 ms deadline)
//!   went unanswered, which opens it with no traffic too. A call is a probe
//!   as well: 200 ms in which calls waited and the target answered nothing
//!   count as a missed probe ([`Breaker::stalled`], checked every 50 ms), so
//!   under traffic a freeze is seen 400 ms after it began, whatever the
//!   phase of the background probes.
//!
//! Opening wakes every call waiting on the target, which then fails at
//! once. While open, calls fail without being sent; the probes go on, and
//! after a run of good probes one call is let through (half-open): its
//! success closes the breaker. The run starts at 3 probes (so service is
//! back within about a second of Redis answering) and doubles with each
//! reopening within a minute of the last, up to 30 s of probes, so a
//! target that answers only now and then cannot make it flap.
//!
//! The state machine takes the time as an argument, so its rules are
//! tested without waiting.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Calls in a row that fail before the breaker opens.
pub const CONSECUTIVE_FAILURES: u32 = 5;
/// The window of the failure rate, its least number of calls, and what
/// counts as slow.
pub const RATE_WINDOW: Duration = Duration::from_secs(2);
pub const RATE_MIN_CALLS: u32 = 20;
pub const SLOW_CALL: Duration = Duration::from_millis(500);
/// Background probes: how often, how long one may take, how many missed in
/// a row open the breaker.
pub const PROBE_EVERY: Duration = Duration::from_millis(250);
pub const PROBE_DEADLINE: Duration = Duration::from_millis(200);
pub const MISSED_PROBES: u32 = 2;
/// Good probes in a row before a trial call, at first and at most (30 s
/// of probes); a reopening within [`FLAP_WINDOW`] doubles the run.
pub const GOOD_PROBES: u32 = 3;
pub const MOST_GOOD_PROBES: u32 = 120;
pub const FLAP_WINDOW: Duration = Duration::from_secs(60);

/// Where a breaker stands (the metric's value: 0, 1, 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Closed = 0,
    HalfOpen = 1,
    Open = 2,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Closed => "closed",
            Phase::HalfOpen => "half_open",
            Phase::Open => "open",
        }
    }
}

/// What a call may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permit {
    /// Send it.
    Call,
    /// Send it: the one trial call of a half-open breaker.
    Trial,
    /// Do not send it: the target is taken to be gone.
    Refused,
}

/// A change of phase, to report (metric, log, event).
pub type Transition = Option<Phase>;

/// One target's breaker. Shared; every method takes `now`.
#[derive(Debug)]
pub struct Breaker {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    consecutive_failures: u32,
    /// Calls in the rate window: `(second, calls, bad)`, one bucket per
    /// 250 ms, oldest first.
    buckets: [(Option<Instant>, u32, u32); 8],
    missed_probes: u32,
    /// When a miss was last counted.
    last_miss: Option<Instant>,
    good_probes: u32,
    /// Good probes needed before the next trial.
    needed: u32,
    /// The trial call is out.
    trial_out: bool,
    last_opened: Option<Instant>,
    /// When a call or probe last succeeded.
    last_success: Option<Instant>,
    /// Calls sent and not yet ended.
    waiting: u32,
    /// While calls wait: since when the target has answered nothing.
    silent_since: Option<Instant>,
}

impl Default for Breaker {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                phase: Phase::Closed,
                consecutive_failures: 0,
                buckets: [(None, 0, 0); 8],
                missed_probes: 0,
                last_miss: None,
                good_probes: 0,
                needed: GOOD_PROBES,
                trial_out: false,
                last_opened: None,
                last_success: None,
                waiting: 0,
                silent_since: None,
            }),
        }
    }
}

impl Breaker {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn phase(&self) -> Phase {
        self.state().phase
    }

    /// When a call or probe last succeeded (`None`: never).
    pub fn last_success(&self) -> Option<Instant> {
        self.state().last_success
    }

    /// Whether a call may be sent now; a permitted call waits until it is
    /// [recorded](Self::record) or [abandoned](Self::abandon).
    pub fn permit(&self, now: Instant) -> Permit {
        let mut state = self.state();
        let permit = match state.phase {
            Phase::Closed => Permit::Call,
            Phase::HalfOpen if !state.trial_out => {
                state.trial_out = true;
                Permit::Trial
            }
            Phase::HalfOpen | Phase::Open => return Permit::Refused,
        };
        if state.waiting == 0 {
            state.silent_since = Some(now);
        }
        state.waiting += 1;
        permit
    }

    /// The outcome of a call sent with `permit`: `failed` when the target
    /// did not answer (an error that says Redis is unavailable), `took`
    /// its duration.
    pub fn record(&self, permit: Permit, failed: bool, took: Duration, now: Instant) -> Transition {
        let mut state = self.state();
        state.ended();
        if !failed {
            state.answered(now);
        }
        match (permit, state.phase) {
            (Permit::Trial, Phase::HalfOpen) => {
                state.trial_out = false;
                if failed {
                    state.open(now)
                } else {
                    state.close()
                }
            }
            (Permit::Call, Phase::Closed) => {
                state.consecutive_failures = if failed {
                    state.consecutive_failures + 1
                } else {
                    0
                };
                let (calls, bad) = state.count(now, failed || took > SLOW_CALL);
                if state.consecutive_failures >= CONSECUTIVE_FAILURES
                    || (calls >= RATE_MIN_CALLS && 2 * bad >= calls)
                {
                    state.open(now)
                } else {
                    None
                }
            }
            // A call sent before the breaker opened (or a trial that
            // another trial overtook): its outcome changes nothing.
            _ => None,
        }
    }

    /// A call sent with `permit` ended without an outcome (its request was
    /// dropped): a trial is given back, so that another can be sent.
    pub fn abandon(&self, permit: Permit) {
        let mut state = self.state();
        state.ended();
        if permit == Permit::Trial {
            state.trial_out = false;
        }
    }

    /// Counts a missed probe when calls have waited [`PROBE_DEADLINE`]
    /// and the target answered nothing meanwhile (then the silence is
    /// counted again from the end of that deadline).
    pub fn stalled(&self, now: Instant) -> Transition {
        let mut state = self.state();
        let since = state.silent_since?;
        if state.phase != Phase::Closed || now.saturating_duration_since(since) < PROBE_DEADLINE {
            return None;
        }
        let deadline = since + PROBE_DEADLINE;
        state.silent_since = Some(deadline);
        if state.miss(deadline) && state.missed_probes >= MISSED_PROBES {
            state.open(now)
        } else {
            None
        }
    }

    /// The outcome of a background probe.
    pub fn probed(&self, answered: bool, now: Instant) -> Transition {
        let mut state = self.state();
        if answered {
            state.answered(now);
            state.missed_probes = 0;
            if state.phase == Phase::Open {
                state.good_probes += 1;
                if state.good_probes >= state.needed {
                    state.phase = Phase::HalfOpen;
                    state.trial_out = false;
                    return Some(Phase::HalfOpen);
                }
            }
            return None;
        }
        state.good_probes = 0;
        let counted = state.miss(now);
        match state.phase {
            Phase::Closed if counted && state.missed_probes >= MISSED_PROBES => state.open(now),
            // A half-open target that stops answering is open again.
            Phase::HalfOpen => state.open(now),
            _ => None,
        }
    }
}

impl State {
    /// The target answered (a call or a probe).
    fn answered(&mut self, now: Instant) {
        self.last_success = Some(now);
        if self.waiting > 0 {
            self.silent_since = Some(now);
        }
    }

    /// Counts a missed probe (or a stall) that happened `at`, unless
    /// another was counted less than a probe's deadline before: a probe and the calls that wait
    /// beside it in one silence are one miss, not two.
    fn miss(&mut self, at: Instant) -> bool {
        if self
            .last_miss
            .is_some_and(|last| at.saturating_duration_since(last) < PROBE_DEADLINE)
        {
            return false;
        }
        self.last_miss = Some(at);
        self.missed_probes += 1;
        true
    }

    /// A call no longer waits.
    fn ended(&mut self) {
        self.waiting = self.waiting.saturating_sub(1);
        if self.waiting == 0 {
            self.silent_since = None;
        }
    }

    fn open(&mut self, now: Instant) -> Transition {
        let flapping = self
            .last_opened
            .is_some_and(|at| now.saturating_duration_since(at) < FLAP_WINDOW);
        self.needed = if flapping {
            (self.needed * 2).min(MOST_GOOD_PROBES)
        } else {
            GOOD_PROBES
        };
        self.last_opened = Some(now);
        self.phase = Phase::Open;
        self.good_probes = 0;
        self.consecutive_failures = 0;
        self.buckets = [(None, 0, 0); 8];
        Some(Phase::Open)
    }

    fn close(&mut self) -> Transition {
        self.phase = Phase::Closed;
        self.consecutive_failures = 0;
        self.missed_probes = 0;
        self.buckets = [(None, 0, 0); 8];
        Some(Phase::Closed)
    }

    /// Counts a call in the rate window; returns the window's calls and
    /// bad calls.
    fn count(&mut self, now: Instant, bad: bool) -> (u32, u32) {
        let slot = RATE_WINDOW / 8;
        let current = self.buckets.iter().position(|(start, _, _)| {
            start.is_some_and(|s| now.saturating_duration_since(s) < slot)
        });
        let index = match current {
            Some(index) => index,
            None => {
                // The oldest bucket (or an empty one) starts again now.
                let index = self
                    .buckets
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, (start, _, _))| *start)
                    .map_or(0, |(i, _)| i);
                self.buckets[index] = (Some(now), 0, 0);
                index
            }
        };
        self.buckets[index].1 += 1;
        self.buckets[index].2 += u32::from(bad);
        self.buckets
            .iter()
            .filter(|(start, _, _)| {
                start.is_some_and(|s| now.saturating_duration_since(s) < RATE_WINDOW)
            })
            .fold((0, 0), |(calls, bads), (_, c, b)| (calls + c, bads + b))
    }
}

#[cfg(test)]
mod tests;
