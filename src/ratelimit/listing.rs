//! When this instance last listed each subject in the console's index.
//!
//! The index of subjects with live windows is advisory (the console reads
//! it to list who has a window; it is pruned by score), so it need not move
//! on every request. Checking in Redis whether a subject is due would cost
//! the admission script a command per subject on every request, the
//! hottest path there is. Instead each instance remembers when it last
//! listed a subject and passes it to the script at most once per
//! [`RELIST_EVERY`]; the script raises its score (`ZADD GT`) to the end of
//! the subject's longest window. Several instances each re-list on their
//! own schedule, which only makes the index fresher.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::Subject;

/// How often one instance re-lists a busy subject.
pub(super) const RELIST_EVERY: Duration = Duration::from_secs(1);

/// Beyond this many subjects, those not listed within the last
/// [`RELIST_EVERY`] are forgotten (and all of them, if every one was): the
/// memory stays bounded whatever addresses a flood comes from, and a
/// forgotten subject is merely listed again on its next request.
const MOST_REMEMBERED: usize = 100_000;

/// Subjects (by a keyed hash, so no string is kept or built) and when this
/// instance last listed them.
#[derive(Debug, Default)]
pub(super) struct Listings {
    hasher: RandomState,
    last: Mutex<HashMap<u64, Instant>>,
}

impl Listings {
    /// Whether `subject` is due to be (re)listed at `now`; if it is, it
    /// counts as listed from `now` on.
    pub(super) fn due(&self, subject: &Subject, now: Instant) -> bool {
        let id = self.hasher.hash_one(subject);
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = last.get_mut(&id) {
            if now.saturating_duration_since(*at) < RELIST_EVERY {
                return false;
            }
            *at = now;
            return true;
        }
        if last.len() >= MOST_REMEMBERED {
            last.retain(|_, at| now.saturating_duration_since(*at) < RELIST_EVERY);
            if last.len() >= MOST_REMEMBERED {
                last.clear();
            }
        }
        last.insert(id, now);
        true
    }

    /// Forgets `subject` (its windows were reset and it left the index), so
    /// that its next request lists it again at once.
    pub(super) fn forget(&self, subject: &Subject) {
        let id = self.hasher.hash_one(subject);
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> Subject {
        Subject::Ip {
            ip: format!("10.{}.{}.{}", n >> 16, (n >> 8) & 255, n & 255),
        }
    }

    #[test]
    fn a_subject_is_due_once_per_step() {
        let listings = Listings::default();
        let start = Instant::now();
        assert!(listings.due(&ip(1), start));
        assert!(!listings.due(&ip(1), start + RELIST_EVERY / 2));
        assert!(
            listings.due(&ip(2), start + RELIST_EVERY / 2),
            "another subject"
        );
        assert!(listings.due(&ip(1), start + RELIST_EVERY));
        assert!(!listings.due(&ip(1), start + RELIST_EVERY + RELIST_EVERY / 2));
    }

    #[test]
    fn a_forgotten_subject_is_due_at_once() {
        let listings = Listings::default();
        let start = Instant::now();
        assert!(listings.due(&ip(1), start));
        listings.forget(&ip(1));
        assert!(listings.due(&ip(1), start));
    }

    #[test]
    fn memory_stays_bounded() {
        let listings = Listings::default();
        let start = Instant::now();
        for n in 0..MOST_REMEMBERED as u32 {
            listings.due(&ip(n), start);
        }
        assert_eq!(listings.remembered(), MOST_REMEMBERED);
        // Full of subjects listed within the step: all are forgotten.
        assert!(listings.due(&ip(u32::MAX), start));
        assert_eq!(listings.remembered(), 1);
        // Full again, half of them stale: only the stale half goes.
        let later = start + RELIST_EVERY;
        for n in 1..MOST_REMEMBERED as u32 / 2 {
            listings.due(&ip(n), start);
        }
        for n in MOST_REMEMBERED as u32 / 2..MOST_REMEMBERED as u32 {
            listings.due(&ip(n), later);
        }
        assert!(listings.remembered() >= MOST_REMEMBERED - 1);
        assert!(listings.due(&ip(u32::MAX - 1), later));
        assert_eq!(listings.remembered(), MOST_REMEMBERED / 2 + 1);
        assert!(!listings.due(&ip(MOST_REMEMBERED as u32 - 1), later));
    }
}
