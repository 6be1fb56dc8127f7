//! The event stream on a real Redis: what is kept, what is dropped and said so.

use super::*;
use crate::api::events::{LockAcquired, LoginFailed, LoginFailure, RateLimited, Repeats, SignedIn};
use crate::testing::{TestRedis, wait_for, wait_until};

/// An event that carries a number (as a lock's fencing token).
fn numbered(i: usize) -> Event {
    Event::new(EventKind::LockAcquired(LockAcquired {
        lock: "test".to_owned(),
        fencing_token: i as u64,
    }))
}

fn number(event: &Event) -> u64 {
    match &event.kind {
        EventKind::LockAcquired(acquired) => acquired.fencing_token,
        other => panic!("not a numbered event: {other:?}"),
    }
}

fn rate_limited() -> Event {
    Event::new(EventKind::RateLimited(RateLimited {
        policy: Some("api-user".to_owned()),
        path: Some("/api/v1/auth/me".to_owned()),
        subjects: None,
        repeats: Repeats::default(),
    }))
}

fn repeats(event: &Event) -> Repeats {
    match &event.kind {
        EventKind::RateLimited(limited) => limited.repeats.clone(),
        other => panic!("not a refusal: {other:?}"),
    }
}

fn signed_in() -> Event {
    Event::new(EventKind::LoginSucceeded(SignedIn {
        device: "Firefox on Linux".to_owned(),
        admin: None,
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_and_counts_new_events_and_never_blocks() {
    let redis = TestRedis::start().await;
    let events = Events::new(redis.store().await, "gh-a", 100_000);
    redis.freeze();
    let started = std::time::Instant::now();
    let offered = QUEUE + 2 * BATCH + 1_000;
    for i in 0..offered {
        events.emit(numbered(i));
    }
    let took = started.elapsed();
    redis.thaw();
    assert!(
        took < Duration::from_secs(2),
        "emitting blocked for {took:?}"
    );
    // The queue holds QUEUE; the writer has at most one batch in hand.
    let dropped = events.dropped();
    assert!(
        (1_000..=(2 * BATCH + 1_000) as u64).contains(&dropped),
        "dropped {dropped} of {offered}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_emitted_while_redis_restarts_are_not_lost() {
    let mut redis = TestRedis::start().await;
    let events = Events::new(redis.store().await, "gh-a", 1000);
    redis.stop().await;
    for i in 0..3 {
        events.emit(numbered(i));
    }
    // The scenario, not a wait for readiness: Redis stays away a while and
    // comes back while the writer is still retrying.
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.restart().await;
    events.flush().await;
    let written = events.recent(&locks(), 10, 10).await.unwrap();
    assert_eq!(written.len(), 3, "{written:?}");
}

/// The numbered events only (a stopped Redis also opens the breaker,
/// which is an event of its own).
fn locks() -> Filter {
    Filter {
        kind: Some("lock".to_owned()),
        ..Filter::default()
    }
}

/// Events emitted while the circuit breaker is open (Redis frozen) are
/// held and written once Redis answers again, not dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_emitted_while_the_breaker_is_open_are_written_when_redis_is_back() {
    let redis = TestRedis::start().await;
    let store = redis.store().await;
    let events = Events::new(store.clone(), "gh-a", 1000);
    redis.freeze();
    wait_until("the breaker opens", Duration::from_secs(10), || async {
        store.tripped()
    })
    .await;
    for i in 0..3 {
        events.emit(numbered(i));
    }
    // The scenario, not a wait for readiness: the writer is refused by the
    // open breaker for a while.
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.thaw();
    events.flush().await;
    let written = events.recent(&locks(), 10, 10).await.unwrap();
    let mut numbers: Vec<u64> = written.iter().map(number).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [0, 1, 2], "{written:?}");
    assert_eq!(events.dropped(), 0);

    // The breaker's opening (queued while Redis was frozen) and closing
    // are events too, naming the target and in that order.
    let breaker = Filter {
        kind: Some("breaker".to_owned()),
        ..Filter::default()
    };
    let told = wait_for(
        "the breaker's two events",
        Duration::from_secs(10),
        || async {
            events.flush().await;
            let told = events.recent(&breaker, 10, 10).await.unwrap();
            (told.len() >= 2).then_some(told)
        },
    )
    .await;
    let target = redis.url().trim_start_matches("redis://").to_owned();
    let expected = crate::api::events::Breaker { target };
    let kinds: Vec<&EventKind> = told.iter().rev().map(|event| &event.kind).collect();
    assert_eq!(
        kinds,
        [
            &EventKind::BreakerOpened(expected.clone()),
            &EventKind::BreakerClosed(expected)
        ],
        "{told:?}"
    );
    assert!(told.iter().all(|event| event.instance == "gh-a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_read_on_a_frozen_redis_fails_in_bounded_time() {
    let redis = TestRedis::start().await;
    let store = crate::Store::connect(&crate::StoreConfig {
        response_timeout: Duration::from_millis(300),
        ..crate::StoreConfig::single(redis.url())
    })
    .await
    .unwrap();
    let block = Duration::from_millis(200);
    let mut conn = store.dedicated(block).await.unwrap();
    // Answers while Redis runs: nothing new within the block.
    assert!(
        Events::tail(&mut conn, "$", block)
            .await
            .unwrap()
            .is_empty()
    );
    redis.freeze();
    let started = std::time::Instant::now();
    let read = Events::tail(&mut conn, "$", block).await;
    let took = started.elapsed();
    redis.thaw();
    assert!(
        matches!(read, Err(StoreError::Unavailable(_))),
        "a frozen Redis must fail the read: {read:?}"
    );
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

crate::both_topologies! {
    async fn events_are_written_read_back_filtered_and_counted(backend) {
        let events = Events::new(backend.store().await, "gh-a", 1000);
        events.emit(
            Event::new(EventKind::LoginFailed(LoginFailed {
                reason: LoginFailure::InvalidCredentials,
            }))
            .username("Alice")
            .ip("192.0.2.1"),
        );
        events.emit(
            signed_in()
                .user("u1")
                .username("alice")
                .session("s1")
                .ip("192.0.2.1"),
        );
        events.emit(numbered(7));
        events.flush().await;

        let all = events.recent(&Filter::default(), 10, 100).await.unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].kind.name(), "lock_acquired", "newest first");
        assert_eq!(
            all[2].kind,
            EventKind::LoginFailed(LoginFailed { reason: LoginFailure::InvalidCredentials })
        );
        assert!(all.iter().all(|e| e.instance == "gh-a" && !e.id.is_empty()));

        let logins = Filter {
            kind: Some("login".into()),
            user: Some("alice".into()),
            ..Filter::default()
        };
        assert_eq!(events.recent(&logins, 10, 100).await.unwrap().len(), 2);
        let by_ip = Filter {
            ip: Some("192.0.2.1".into()),
            ..Filter::default()
        };
        assert_eq!(events.recent(&by_ip, 1, 100).await.unwrap().len(), 1);

        let after = events.after(&all[2].id, 10).await.unwrap();
        assert_eq!(
            after.iter().map(|e| e.kind.name()).collect::<Vec<_>>(),
            ["login_succeeded", "lock_acquired"]
        );

        let series = events.series(5).await.unwrap();
        assert_eq!(series.len(), 5);
        let totals = series.iter().fold([0; 4], |mut acc, (_, row)| {
            for (a, r) in acc.iter_mut().zip(row) {
                *a += r;
            }
            acc
        });
        assert_eq!(totals, [1, 1, 0, 0]);
    }
}

#[tokio::test]
async fn a_tail_sees_events_from_another_instance() {
    let redis = TestRedis::start().await;
    let a = Events::new(redis.store().await, "gh-a", 1000);
    let b = Events::new(redis.store().await, "gh-b", 1000);
    let start = b.last_id().await.unwrap();
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    // The reader asks for what follows `start`: it sees the event whether
    // it is written before or after the reader blocks.
    let reader =
        tokio::spawn(async move { Events::tail(&mut conn, &start, Duration::from_secs(5)).await });
    a.emit(
        Event::new(EventKind::SessionRevoked(
            crate::api::events::SessionEnded {
                reason: crate::blacklist::Reason::SessionRevoked,
            },
        ))
        .user("u9"),
    );
    a.flush().await;
    let seen = reader.await.unwrap().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].instance, "gh-a");
}

crate::both_topologies! {
    /// A flood of refusals is two events per subject and window, and
    /// however many other events push the stream past its cap, the
    /// audit stream keeps every audit event.
    async fn floods_are_aggregated_and_cannot_evict_audit_events(backend) {
        let store = backend.store().await;
        let events = Events::with_retention(store.clone(), "gh-a", Retention { events: 100, audit: 10_000 });
        for i in 0..10 {
            events.emit(signed_in().user(&format!("u{i}")));
        }
        for i in 0..2_000 {
            events.emit(numbered(i));
        }
        let window = Duration::from_millis(1_200);
        for _ in 0..5_000 {
            events.refused("api-user:u1", window, rate_limited().user("u1"));
        }
        events.flush().await;
        let limited = Filter { kind: Some("rate_limited".to_owned()), ..Filter::default() };
        let now = events.recent(&limited, 10, 10_000).await.unwrap();
        assert_eq!(now.len(), 1, "the first refusal at once, the rest counted");
        assert_eq!(repeats(&now[0]).count, Some(1));

        // When the window has passed, one more event with the count.
        let later = wait_for("the window's summary", Duration::from_secs(10), || async {
            events.flush().await;
            let later = events.recent(&limited, 10, 10_000).await.unwrap();
            (later.len() >= 2).then_some(later)
        })
        .await;
        assert_eq!(later.len(), 2, "{later:?}");
        assert_eq!(repeats(&later[0]).count, Some(4999));
        assert_eq!(repeats(&later[0]).repeated, Some(true));
        let (_, counts) = events.series(2).await.unwrap().into_iter().fold(
            (0, [0u64; 4]),
            |(_, mut acc), (minute, row)| {
                for (a, r) in acc.iter_mut().zip(row) {
                    *a += r;
                }
                (minute, acc)
            },
        );
        assert_eq!(counts[3], 5_000, "the chart still counts every refusal");

        // The main stream was trimmed far past the sign-ins...
        let all = events.recent(&Filter { kind: Some("login".to_owned()), ..Filter::default() }, 100, 10_000).await.unwrap();
        assert!(all.is_empty(), "{} sign-ins survived in the capped stream", all.len());
        // ...the audit stream has them all, and the one alert the flood
        // raised (a rate-limit storm), nothing else.
        let audit = events.recent_in(Stream::Audit, &Filter::default(), 100, 10_000).await.unwrap();
        let kinds = |name: &str| audit.iter().filter(|e| e.kind.name() == name).count();
        assert_eq!(kinds("login_succeeded"), 10);
        assert_eq!(kinds("alert_raised"), 1, "{audit:?}");
        assert_eq!(audit.len(), 11);
    }
}

/// The events metric counts every refusal, those a window's summary
/// stands for too: a flood shows on the dashboard as large as it was.
#[tokio::test]
async fn the_events_metric_counts_the_refusals_a_summary_stands_for() {
    // This test's own recorder, on this thread, where the runtime runs the
    // events' tasks too.
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);
    let redis = TestRedis::start().await;
    let events = Events::new(redis.store().await, "gh-a", 1000);
    for _ in 0..7 {
        events.refused(
            "api-user:u1",
            Duration::from_millis(50),
            rate_limited().user("u1"),
        );
    }
    let counted = || {
        let exposition = handle.render();
        exposition
            .lines()
            .find_map(|line| line.strip_prefix(r#"gatehouse_events_total{kind="rate_limited"} "#))
            .and_then(|n| n.parse::<u64>().ok())
    };
    assert_eq!(counted(), Some(1), "the first refusal at once");
    wait_for("the summary counted", Duration::from_secs(10), || async {
        (counted() == Some(7)).then_some(())
    })
    .await;
    events.flush().await;
    assert_eq!(counted(), Some(7), "each refusal once");
}

#[tokio::test]
async fn spraying_subjects_cannot_grow_memory_without_bound() {
    let redis = TestRedis::start().await;
    let events = Events::new(redis.store().await, "gh-a", 100_000);
    let window = Duration::from_secs(60);
    for i in 0..(aggregate::MAX_SUBJECTS + 5_000) {
        events.refused(
            &format!("ip:10.0.{}.{}", i / 256, i % 256),
            window,
            rate_limited(),
        );
    }
    let many = Filter {
        kind: Some("rate_limited".to_owned()),
        ..Filter::default()
    };
    let recorded = wait_for(
        "every subject's first refusal",
        Duration::from_secs(10),
        || async {
            events.flush().await;
            let recorded = events.recent(&many, 20_000, 20_000).await.unwrap();
            (recorded.len() > aggregate::MAX_SUBJECTS).then_some(recorded)
        },
    )
    .await;
    assert_eq!(
        recorded.len(),
        aggregate::MAX_SUBJECTS + 1,
        "one per tracked subject, one for the rest"
    );
    let overflow = recorded
        .iter()
        .find(|e| {
            matches!(&e.kind, EventKind::RateLimited(limited) if limited.subjects.as_deref() == Some("many"))
        })
        .unwrap();
    assert_eq!(repeats(overflow).count, Some(5000));
}

crate::both_topologies! {
    async fn the_stream_is_capped(backend) {
        let events = Events::new(backend.store().await, "gh-a", 100);
        for i in 0..1_000 {
            events.emit(numbered(i));
        }
        events.flush().await;
        let len: u64 = redis::cmd("XLEN")
            .arg(keys::events())
            .query_async(&mut backend.store().await.conn())
            .await
            .unwrap();
        // Trimming is approximate (whole radix-tree nodes), never below the cap.
        assert!((100..400).contains(&len), "stream holds {len} events");
        // What is kept is the newest, and nothing was lost on the way.
        let newest = events.recent(&Filter::default(), 100, 100).await.unwrap();
        let numbers: Vec<u64> = newest
            .iter()
            .map(number)
            .collect();
        assert_eq!(numbers, (900..1_000).rev().collect::<Vec<u64>>());
    }
}
