//! `rate_limited` events, aggregated per subject and window.
//!
//! A flood of refused requests must not become a flood of events: the
//! stream is capped, so one event per refusal would push real security
//! events out of it, and writing them would cost Redis more than refusing
//! the requests did. So the first refusal of a subject under a policy is
//! recorded at once (`count` 1, so the console sees it live), the rest of
//! that window only counted in memory, and when the window has passed one
//! more event carries how many followed (`count`). At most two events per
//! subject, policy, window and instance, whatever the rate.
//!
//! Memory is bounded too: beyond [`MAX_SUBJECTS`] subjects in flight (an
//! attacker spraying addresses), refusals of new subjects are only counted,
//! and reported as one event for "many subjects" per second.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Event, EventKind};
use crate::api::events::{RateLimited, Repeats};

/// Most subjects tracked at once.
pub const MAX_SUBJECTS: usize = 10_000;

struct Slot {
    until: Instant,
    /// Refusals after the first, in this window.
    more: u64,
    /// The first refusal's event, the template of the summary.
    first: Event,
}

/// The aggregation state of one process.
#[derive(Default)]
pub(super) struct Aggregator {
    state: Mutex<State>,
}

impl std::fmt::Debug for Aggregator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aggregator").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    slots: HashMap<String, Slot>,
    /// Refusals of subjects that found no room, since the last report.
    overflow: u64,
}

impl Aggregator {
    /// Records one refusal of `subject` in a window of `window`; returns
    /// the events to write now (none while the window is running).
    pub(super) fn refused(&self, subject: &str, window: Duration, event: Event) -> Vec<Event> {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = state.slots.get_mut(subject)
            && now < slot.until
        {
            slot.more += 1;
            return Vec::new();
        }
        if state.slots.len() >= MAX_SUBJECTS && !state.slots.contains_key(subject) {
            state.overflow += 1;
            return Vec::new();
        }
        let window = window.max(Duration::from_secs(1));
        let mut first = event;
        if let Some(repeats) = first.kind.repeats_mut() {
            repeats.count = Some(1);
            repeats.window_ms = Some(crate::duration::millis(window));
        }
        let previous = state.slots.insert(
            subject.to_owned(),
            Slot {
                until: now + window,
                more: 0,
                first: first.clone(),
            },
        );
        drop(state);
        // A passed window [`Aggregator::due`] has not reported yet.
        let mut out: Vec<Event> = previous
            .filter(|p| p.more > 0)
            .map(summary)
            .into_iter()
            .collect();
        out.push(first);
        out
    }

    /// Summaries of windows that have passed, and the overflow report;
    /// called about once a second.
    pub(super) fn due(&self) -> Vec<Event> {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        state.slots.retain(|_, slot| {
            if now < slot.until {
                return true;
            }
            if slot.more > 0 {
                out.push(summary(Slot {
                    until: slot.until,
                    more: slot.more,
                    first: slot.first.clone(),
                }));
            }
            false
        });
        if state.overflow > 0 {
            out.push(Event::new(EventKind::RateLimited(RateLimited {
                policy: None,
                path: None,
                subjects: Some("many".to_owned()),
                repeats: Repeats {
                    count: Some(std::mem::take(&mut state.overflow)),
                    ..Repeats::default()
                },
            })));
        }
        out
    }
}

/// The event for the refusals that followed a window's first.
fn summary(slot: Slot) -> Event {
    let mut event = slot.first;
    event.at_ms = crate::duration::epoch_ms();
    if let Some(repeats) = event.kind.repeats_mut() {
        repeats.count = Some(slot.more);
        repeats.repeated = Some(true);
    }
    event
}
