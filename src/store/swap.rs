//! What the two connections that replace themselves share: `healing`
//! (when a connection stops answering) and `sentinel` (when the primary
//! moves). Both keep the connection in use where a replacement can be
//! swapped in under its users, and both look for that replacement in the
//! background, one search at a time, so that no caller waits for it and a
//! burst of failures starts one search, not one per failed call.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockWriteGuard};

/// The connection in use, replaced whole. A panic while it was being
/// replaced leaves the old or the new one, either of which is usable, so
/// a poisoned lock is read through.
pub(super) struct Current<T>(RwLock<T>);

impl<T> Current<T> {
    pub(super) fn new(conn: T) -> Self {
        Self(RwLock::new(conn))
    }

    /// Reads it (typically a clone of the handle, held only that long).
    pub(super) fn read<R>(&self, read: impl FnOnce(&T) -> R) -> R {
        read(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Holds it for a replacement.
    pub(super) fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// At most one search for a replacement under way.
#[derive(Default)]
pub(super) struct Search(Arc<AtomicBool>);

impl Search {
    /// Runs `search` on the runtime unless one is already running (then
    /// `search` is dropped unstarted).
    pub(super) fn start(&self, search: impl Future<Output = ()> + Send + 'static) {
        if self.0.swap(true, Ordering::AcqRel) {
            return;
        }
        let running = Done(Arc::clone(&self.0));
        tokio::spawn(async move {
            let _running = running;
            search.await;
        });
    }
}

/// Ends a search when dropped: when it finished, and also when it
/// panicked or the runtime dropped it, so the next failure can start
/// another.
struct Done(Arc<AtomicBool>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn one_search_runs_at_a_time_and_the_next_may_start_after_it() {
        let search = Search::default();
        let started = Arc::new(AtomicU32::new(0));
        let (finish, finished) = tokio::sync::oneshot::channel::<()>();
        let first = Arc::clone(&started);
        search.start(async move {
            first.fetch_add(1, Ordering::SeqCst);
            let _ = finished.await;
        });
        for _ in 0..5 {
            let more = Arc::clone(&started);
            search.start(async move {
                more.fetch_add(1, Ordering::SeqCst);
            });
        }
        crate::testing::wait_until("the first search ran", Duration::from_secs(5), || async {
            started.load(Ordering::SeqCst) == 1
        })
        .await;
        finish.send(()).unwrap();
        crate::testing::wait_until("the first search ended", Duration::from_secs(5), || async {
            !search.0.load(Ordering::SeqCst)
        })
        .await;
        assert_eq!(started.load(Ordering::SeqCst), 1, "the others were dropped");

        let again = Arc::clone(&started);
        search.start(async move {
            again.fetch_add(1, Ordering::SeqCst);
        });
        crate::testing::wait_until("a later search ran", Duration::from_secs(5), || async {
            started.load(Ordering::SeqCst) == 2
        })
        .await;
    }

    #[tokio::test]
    async fn a_search_that_panics_does_not_block_the_next() {
        let search = Search::default();
        search.start(async { panic!("the search failed badly") });
        crate::testing::wait_until(
            "the panicked search ended",
            Duration::from_secs(5),
            || async { !search.0.load(Ordering::SeqCst) },
        )
        .await;
    }
}
