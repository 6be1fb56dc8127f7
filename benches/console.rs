//! Console scale: with 100 000 live sessions and a busy event stream, how
//! long do the Sessions page's data and the overview take, how long from
//! an event to its alert, and the Alerts page's list? Run with `make bench`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark code

mod support;

use std::time::{Duration, Instant};

use gatehouse::alerts::Alerts;
use gatehouse::api::alerts::{AlertQuery, AlertState};
use gatehouse::api::events::{Device, RateLimited, Repeats, SignedIn};
use gatehouse::events::{Event, EventKind, Events, Filter};
use gatehouse::session::{NewSession, SessionConfig, Sessions};
use gatehouse::testing::TestRedis;
use support::{ms, percentile, table};

const SESSIONS: usize = 100_000;
const USERS: usize = 10_000;
const EVENTS: usize = 10_000;

async fn time<F, Fut, T>(runs: usize, f: F) -> Vec<Duration>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        f().await;
        samples.push(started.elapsed());
    }
    samples.sort();
    samples
}

#[tokio::main]
async fn main() {
    let redis = TestRedis::start().await;
    let store = redis.store().await;
    let sessions = Sessions::new(store.clone(), SessionConfig::default());
    println!("Console benchmarks: {}", support::machine());

    let seeding = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..64 {
        let sessions = sessions.clone();
        tasks.push(tokio::spawn(async move {
            for i in (worker..SESSIONS).step_by(64) {
                let user = format!("{:032x}", i % USERS);
                let id = format!("{i:032x}");
                sessions
                    .create(&NewSession {
                        id: &id,
                        user_id: &user,
                        ip: "198.51.100.7",
                        user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                        refresh_jti: "r",
                        access_jti: "a",
                        access_expires_at_ms: 0,
                        pending: gatehouse::token::Pending::default(),
                        password_generation: 0,
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let seeded = seeding.elapsed();

    let events = Events::new(store.clone(), "bench", 100_000);
    let emitting = Instant::now();
    for i in 0..EVENTS {
        events.emit(
            Event::new(if i % 10 == 0 {
                EventKind::RateLimited(RateLimited {
                    policy: Some("api-user".to_owned()),
                    path: Some("/api/v1/auth/me".to_owned()),
                    subjects: None,
                    repeats: Repeats::default(),
                })
            } else {
                EventKind::LoginSucceeded(SignedIn {
                    device: "Firefox on Linux".to_owned(),
                    admin: None,
                })
            })
            .ip("198.51.100.7"),
        );
    }
    events.flush().await;
    let emitted = emitting.elapsed();

    let first_page = time(50, || sessions.list_all(0, 50)).await;
    let deep_page = time(50, || sessions.list_all(90_000, 50)).await;
    let counts = time(50, || sessions.counts()).await;
    let everything = Filter::default();
    let rejections = Filter {
        kind: Some("rate_limited".into()),
        ..Filter::default()
    };
    let recent = time(20, || events.recent(&everything, 200, 20_000)).await;
    let filtered = time(20, || events.recent(&rejections, 200, 20_000)).await;
    let series = time(50, || events.series(30)).await;

    // Alerts: each a refresh-token reuse of another user, from the emit to
    // the `alert_raised` event written (the writer applies the rule after
    // writing the event); then the Alerts page's list with 1000 kept.
    let alerts = Alerts::new(store.clone());
    let raised = std::sync::atomic::AtomicUsize::new(0);
    let raise = time(200, || {
        let user = format!(
            "{:032x}",
            raised.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        events.emit(
            Event::new(EventKind::RefreshReuseDetected(Device {
                device: "Firefox on Linux".to_owned(),
            }))
            .user(&user)
            .ip("198.51.100.7"),
        );
        events.flush()
    })
    .await;
    for i in 0..1000 {
        events.emit(
            Event::new(EventKind::RefreshReuseDetected(Device {
                device: "Firefox on Linux".to_owned(),
            }))
            .user(&format!("{:032x}", 10_000 + i)),
        );
    }
    events.flush().await;
    let open = AlertQuery {
        state: Some(AlertState::Open),
        limit: Some(200),
    };
    let listed = time(50, || alerts.list(&open)).await;
    assert_eq!(alerts.list(&open).await.unwrap().open, 1000);

    let rows: Vec<Vec<String>> = [
        ("Sessions page, first 50 of 100k", &first_page),
        ("Sessions page, 50 at offset 90 000", &deep_page),
        ("Active session and user counts", &counts),
        ("Event feed, newest 200 of 10k", &recent),
        ("Event feed, 200 rate_limited (filtered scan)", &filtered),
        ("Overview time series (30 min)", &series),
        (
            "Alert raised: event emitted to alert_raised written",
            &raise,
        ),
        ("Alerts page: 200 open of 1000 kept", &listed),
    ]
    .into_iter()
    .map(|(what, samples)| {
        vec![
            what.to_owned(),
            ms(percentile(samples, 50.0)),
            ms(percentile(samples, 99.0)),
        ]
    })
    .collect();
    table(
        "Console queries with 100 000 sessions and 10 000 events",
        &["query", "p50", "p99"],
        &rows,
    );
    println!(
        "\nSeeding: {SESSIONS} sessions in {:.1} s ({:.0}/s); {EVENTS} events written in {} ({:.0}/s).",
        seeded.as_secs_f64(),
        SESSIONS as f64 / seeded.as_secs_f64(),
        ms(emitted),
        EVENTS as f64 / emitted.as_secs_f64()
    );
}
