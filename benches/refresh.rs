//! Refresh benchmarks: rotation throughput and latency with many callers
//! racing on one session (coalesced into one rotation per round), and with
//! many sessions refreshing independently. Run with `make bench`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark code

mod support;

use std::time::{Duration, Instant};

use gatehouse::auth::{Auth, Client};
use gatehouse::ratelimit::Policy;
use gatehouse::testing::TestRedis;
use gatehouse::testing::fixtures::AuthFixture;
use gatehouse::user::Role;
use support::{ms, percentile, table};

async fn auth(redis: &TestRedis) -> Auth {
    AuthFixture {
        // The per-session rotation limit is applied (so its cost is
        // measured) but set high enough never to refuse a benchmark round.
        policies: vec![
            Policy::parse("name=refresh,key=session,limit=1000000000,window=1m").unwrap(),
        ],
        only_policies: true,
        events_kept: 100_000,
        instance: "bench",
        ..AuthFixture::default()
    }
    .build(&redis.store().await)
    .await
}

/// `callers` refresh the same token at once, round after round.
async fn one_session(auth: &Auth, callers: usize, rounds: usize) -> (f64, Vec<Duration>) {
    let login = auth
        .login("bench", "bench password", &Client::default())
        .await
        .unwrap();
    let mut token = login.refresh.token;
    let mut samples = Vec::new();
    let started = Instant::now();
    for _ in 0..rounds {
        let mut tasks = Vec::new();
        for _ in 0..callers {
            let (auth, token) = (auth.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                let begun = Instant::now();
                let rotated = auth.refresh(&token, &Client::default()).await.unwrap();
                (begun.elapsed(), rotated.refresh_token.unwrap())
            }));
        }
        for task in tasks {
            let (latency, next) = task.await.unwrap();
            samples.push(latency);
            token = next;
        }
    }
    let rate = samples.len() as f64 / started.elapsed().as_secs_f64();
    samples.sort();
    (rate, samples)
}

/// `sessions` callers each refresh their own session, `rounds` times.
async fn many_sessions(auth: &Auth, sessions: usize, rounds: usize) -> (f64, Vec<Duration>) {
    let mut tokens = Vec::new();
    for _ in 0..sessions {
        tokens.push(
            auth.login("bench", "bench password", &Client::default())
                .await
                .unwrap()
                .refresh
                .token,
        );
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut token in tokens {
        let auth = auth.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            for _ in 0..rounds {
                let begun = Instant::now();
                let rotated = auth.refresh(&token, &Client::default()).await.unwrap();
                samples.push(begun.elapsed());
                token = rotated.refresh_token.unwrap();
            }
            samples
        }));
    }
    let mut samples = Vec::new();
    for task in tasks {
        samples.extend(task.await.unwrap());
    }
    let rate = samples.len() as f64 / started.elapsed().as_secs_f64();
    samples.sort();
    (rate, samples)
}

#[tokio::main]
async fn main() {
    let redis = TestRedis::start().await;
    let auth = auth(&redis).await;
    auth.users()
        .create("bench", "bench password", &[Role::User])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    println!("Refresh benchmarks: {}", support::machine());

    let mut rows = Vec::new();
    for (callers, rounds) in [(1, 2_000), (10, 200), (100, 20)] {
        let (rate, samples) = one_session(&auth, callers, rounds).await;
        rows.push(vec![
            format!("{callers} on 1 session"),
            samples.len().to_string(),
            format!("{rate:.0}"),
            ms(percentile(&samples, 50.0)),
            ms(percentile(&samples, 99.0)),
        ]);
    }
    let (rate, samples) = many_sessions(&auth, 100, 20).await;
    rows.push(vec![
        "100 on 100 sessions".to_owned(),
        samples.len().to_string(),
        format!("{rate:.0}"),
        ms(percentile(&samples, 50.0)),
        ms(percentile(&samples, 99.0)),
    ]);
    table(
        "Refresh (rotation under the per-session lock; racing callers coalesce)",
        &[
            "concurrent callers",
            "refreshes",
            "refreshes per second",
            "p50",
            "p99",
        ],
        &rows,
    );
}
