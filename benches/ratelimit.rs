//! Rate-limit benchmarks: checks per second for each algorithm with 64
//! concurrent callers, next to raw Redis PINGs in the same run. Run with
//! `make bench`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark code

mod support;

use std::time::Instant;

use gatehouse::Store;
use gatehouse::ratelimit::{Check, Limiter, Policy, Subject};
use gatehouse::testing::TestRedis;
use support::table;

const CALLERS: usize = 64;
const PER_CALLER: usize = 500;

async fn pings(store: &Store) -> f64 {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CALLERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..PER_CALLER {
                store.ping().await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    (CALLERS * PER_CALLER) as f64 / started.elapsed().as_secs_f64()
}

/// Each caller is its own subject (as with per-user limits); every check
/// is admitted so each one does the full work of counting.
async fn checks(limiter: &Limiter) -> f64 {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for caller in 0..CALLERS {
        let limiter = limiter.clone();
        tasks.push(tokio::spawn(async move {
            let policy = &limiter.policies()[0];
            for _ in 0..PER_CALLER {
                let checks = [Check {
                    policy,
                    subject: Subject::User {
                        user_id: format!("bench{caller}"),
                    },
                    cost: 1,
                }];
                assert!(limiter.check(&checks, true).await.unwrap().allowed());
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    (CALLERS * PER_CALLER) as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let redis = TestRedis::start().await;
    let store = redis.store().await;
    println!(
        "Rate-limit benchmarks: {}, {CALLERS} concurrent callers",
        support::machine()
    );
    let mut rows = Vec::new();
    let baseline = pings(&store).await;
    rows.push(vec![
        "PING (baseline)".to_owned(),
        format!("{baseline:.0}"),
        "1.00".to_owned(),
    ]);
    for spec in [
        "name=sliding-log,key=user,algorithm=sliding-log,limit=1000000,window=1m",
        "name=sliding-counter,key=user,algorithm=sliding-counter,limit=1000000,window=1m",
        "name=gcra,key=user,algorithm=gcra,limit=1000000,window=1s,burst=1000000",
    ] {
        let policy = Policy::parse(spec).unwrap();
        let name = policy.name.to_string();
        let limiter = Limiter::new(store.clone(), vec![policy]);
        limiter.load_functions().await.unwrap();
        let rate = checks(&limiter).await;
        rows.push(vec![
            name,
            format!("{rate:.0}"),
            format!("{:.2}", rate / baseline),
        ]);
    }
    table(
        "Rate-limit checks (one function call each) vs PING",
        &["operation", "per second", "ratio to PING"],
        &rows,
    );
}
