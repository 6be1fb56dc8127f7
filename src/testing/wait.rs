//! Tests wait for a state, not for a time.
//!
//! A test that sleeps "long enough" for something to be ready is slow when
//! the machine is fast and flaky when it is slow. [`wait_until`] polls a
//! condition instead and returns as soon as it holds; its bound is only
//! where the test gives up (generous: how fast something happens is a
//! benchmark's measure, not a test's). A test sleeps only where a TTL or a
//! window must pass, and says so.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(10);

/// Polls `check` until it returns `Some`, and returns what it holds; panics
/// naming `what` if that takes longer than `within`.
pub async fn wait_for<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "waited {within:?} in vain for: {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `check` until it holds; panics naming `what` if that takes longer
/// than `within`.
pub async fn wait_until<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_for(what, within, || {
        let holds = check();
        async move { holds.await.then_some(()) }
    })
    .await;
}

/// [`wait_until`] for tests without a runtime (those that drive a child
/// process from plain threads).
pub fn wait_until_blocking(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "waited {within:?} in vain for: {what}"
        );
        std::thread::sleep(POLL);
    }
}
