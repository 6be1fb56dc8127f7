//! Lock benchmarks: uncontended acquire+release throughput, and hand-over
//! latency under contention. Run with `make bench` (or
//! `cargo bench --bench locks`); prints Markdown tables.
#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark code

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse::lock::{LockOptions, Locks};
use gatehouse::testing::TestRedis;
use support::{ms, percentile, table};
use tokio::sync::Mutex;

fn options(wait: Duration) -> LockOptions {
    LockOptions {
        ttl: Duration::from_secs(10),
        wait,
        label: "bench".into(),
        holder: None,
        watchdog: false,
        fencing: true,
    }
}

async fn uncontended(locks: &Locks, tasks: usize, pairs_per_task: usize) -> f64 {
    let started = Instant::now();
    let mut handles = Vec::new();
    for task in 0..tasks {
        let locks = locks.clone();
        handles.push(tokio::spawn(async move {
            let name = format!("bench/uncontended/{task}");
            for _ in 0..pairs_per_task {
                let lease = locks
                    .acquire_lease(&name, &options(Duration::ZERO))
                    .await
                    .unwrap();
                locks.release(&name, &lease.owner).await.unwrap();
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    (tasks * pairs_per_task) as f64 / started.elapsed().as_secs_f64()
}

/// `waiters` tasks pass one lock around `handovers` times; each hand-over
/// is the time from a release to the next acquisition.
async fn contended(locks: &Locks, waiters: usize, handovers: usize) -> Vec<Duration> {
    let name = format!("bench/contended/{waiters}");
    let released_at: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let samples: Arc<Mutex<Vec<Duration>>> = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for _ in 0..waiters {
        let (locks, name, released_at, samples) = (
            locks.clone(),
            name.clone(),
            released_at.clone(),
            samples.clone(),
        );
        handles.push(tokio::spawn(async move {
            loop {
                let lease = locks
                    .acquire_lease(&name, &options(Duration::from_secs(120)))
                    .await
                    .unwrap();
                let acquired = Instant::now();
                let done = {
                    let mut samples = samples.lock().await;
                    if let Some(released) = released_at.lock().await.take() {
                        samples.push(acquired - released);
                    }
                    samples.len() >= handovers
                };
                // Hold briefly, as real work would.
                tokio::time::sleep(Duration::from_millis(1)).await;
                *released_at.lock().await = Some(Instant::now());
                locks.release(&name, &lease.owner).await.unwrap();
                if done {
                    return;
                }
            }
        }));
    }
    // The first finisher means enough samples; the others are still
    // waiting on the lock, so stop them.
    let mut handles = handles.into_iter();
    if let Some(first) = handles.next() {
        first.await.unwrap();
    }
    for handle in handles {
        handle.abort();
    }
    let mut samples = samples.lock().await.clone();
    samples.sort();
    samples
}

#[tokio::main]
async fn main() {
    let redis = TestRedis::start().await;
    let locks = Locks::new(redis.store().await, "bench");
    tokio::time::sleep(Duration::from_millis(200)).await; // release listener up
    println!("Lock benchmarks: {}", support::machine());

    let mut rows = Vec::new();
    for tasks in [1, 16] {
        let rate = uncontended(&locks, tasks, 20_000 / tasks).await;
        rows.push(vec![tasks.to_string(), format!("{rate:.0}")]);
    }
    table(
        "Uncontended acquire + release (each task its own lock)",
        &["concurrent tasks", "pairs per second"],
        &rows,
    );

    let mut rows = Vec::new();
    for waiters in [2, 16, 128] {
        let samples = contended(&locks, waiters, 400).await;
        rows.push(vec![
            waiters.to_string(),
            samples.len().to_string(),
            ms(percentile(&samples, 50.0)),
            ms(percentile(&samples, 99.0)),
        ]);
    }
    table(
        "Contended hand-over latency (release -> next holder acquires)",
        &["waiters", "hand-overs", "p50", "p99"],
        &rows,
    );
}
