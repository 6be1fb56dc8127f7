//! Rate-limit tests on a real Redis: boundaries, concurrency, no leaks.

use std::time::Duration;

use super::*;

fn policy(spec: &str) -> Policy {
    Policy::parse(spec).unwrap()
}

fn ip(ip: &str) -> Subject {
    Subject::Ip { ip: ip.to_owned() }
}

async fn hit(limiter: &Limiter, policy: &Policy, subject: &Subject) -> Outcome {
    let checks = [Check {
        policy,
        subject: subject.clone(),
        cost: 1,
    }];
    limiter
        .check(&checks, true)
        .await
        .unwrap()
        .outcomes
        .remove(0)
}

/// Policies live in Redis with the limiter's functions: one it was not
/// built with cannot be checked (and is not silently allowed).
#[tokio::test]
async fn a_policy_the_limiter_does_not_have_is_refused() {
    let redis = crate::testing::TestRedis::start().await;
    let limiter = Limiter::new(redis.store().await, vec![]);
    let stranger = policy("name=stranger,key=ip,limit=3,window=1m");
    let checks = [Check {
        policy: &stranger,
        subject: ip("10.0.0.9"),
        cost: 1,
    }];
    match limiter.check(&checks, true).await {
        Err(LimitError::UnknownPolicy(name)) => assert_eq!(name, "stranger"),
        other => panic!("checked a policy the limiter lacks: {other:?}"),
    }
}

/// Redis forgets functions when it restarts without persistence (and a
/// new Cluster node has none): the next check loads them again.
#[tokio::test]
async fn functions_redis_forgot_are_loaded_again() {
    let redis = crate::testing::TestRedis::start().await;
    let store = redis.store().await;
    let log = policy("name=log,key=ip,limit=3,window=1m");
    let limiter = Limiter::new(store.clone(), vec![log.clone()]);
    limiter.load_functions().await.unwrap();
    for _ in 0..2 {
        let _: () = redis::cmd("FUNCTION")
            .arg("FLUSH")
            .query_async(&mut store.conn())
            .await
            .unwrap();
        assert!(hit(&limiter, &log, &ip("10.0.0.8")).await.allowed);
    }
}

crate::both_topologies! {
    async fn the_sliding_log_is_exact_at_the_window_edge(backend) {
        // Margins of a second either side of the edge: a busy machine cannot
        // turn this into a false failure, only Redis's clock decides.
        let log = policy("name=log,key=ip,algorithm=sliding-log,limit=3,window=3s");
        let limiter = Limiter::new(backend.store().await, vec![log.clone()]);
        let who = ip("10.0.0.1");
        for left in [2, 1, 0] {
            let outcome = hit(&limiter, &log, &who).await;
            assert!(outcome.allowed);
            assert_eq!(outcome.remaining, left);
        }
        let rejected = hit(&limiter, &log, &who).await;
        assert!(!rejected.allowed);
        let retry = rejected.retry_after_ms.unwrap();
        assert!((1..=3_000).contains(&retry), "retry after {retry} ms");
        if retry > 1_000 {
            // A window must pass: until a second before the retry time.
            tokio::time::sleep(Duration::from_millis(retry - 1_000)).await;
            assert!(
                !hit(&limiter, &log, &who).await.allowed,
                "still inside the window"
            );
        }
        // A window must pass: just past the retry time.
        tokio::time::sleep(Duration::from_millis(retry.min(1_000) + 100)).await;
        assert!(
            hit(&limiter, &log, &who).await.allowed,
            "the oldest request left the window"
        );
    }
}

crate::both_topologies! {
    async fn every_window_key_expires_with_its_window(backend) {
        let store = backend.store().await;
        let specs = [
            "name=l,key=ip,algorithm=sliding-log,limit=5,window=1s",
            "name=c,key=ip,algorithm=sliding-counter,limit=5,window=1s",
            "name=g,key=ip,algorithm=gcra,limit=5,window=1s,burst=5",
            "name=c,key=ip,algorithm=sliding-counter,limit=50,window=1s",
        ];
        let limiter = Limiter::new(store.clone(), specs.into_iter().map(policy).collect());
        let who = ip("10.9.9.9");
        let pttl = |key: String| {
            let store = store.clone();
            async move {
                redis::cmd("PTTL")
                    .arg(key)
                    .query_async::<i64>(&mut store.conn())
                    .await
                    .unwrap()
            }
        };
        for (spec, longest) in [
            (
                "name=l,key=ip,algorithm=sliding-log,limit=5,window=1s",
                1_000,
            ),
            (
                "name=c,key=ip,algorithm=sliding-counter,limit=5,window=1s",
                2_000,
            ),
            (
                "name=g,key=ip,algorithm=gcra,limit=5,window=1s,burst=5",
                1_000,
            ),
        ] {
            let policy = policy(spec);
            for _ in 0..3 {
                assert!(hit(&limiter, &policy, &who).await.allowed);
            }
            let ttl = pttl(who.key(&policy.name)).await;
            assert!(ttl > 0 && ttl <= longest, "{spec}: PTTL {ttl}");
        }
        // A counter's TTL is renewed when a new bucket starts.
        let counter = policy("name=c,key=ip,algorithm=sliding-counter,limit=50,window=1s");
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        assert!(hit(&limiter, &counter, &who).await.allowed);
        let ttl = pttl(who.key("c")).await;
        assert!(ttl > 1_000 && ttl <= 2_000, "renewed PTTL {ttl}");
        // And everything is gone once the windows have passed.
        tokio::time::sleep(Duration::from_millis(2_100)).await;
        for name in ["l", "c", "g"] {
            assert_eq!(pttl(who.key(name)).await, -2, "{name} outlived its window");
        }
    }
}

crate::both_topologies! {
    async fn the_sliding_counter_weights_the_previous_bucket(backend) {
        let counter = policy("name=counter,key=ip,algorithm=sliding-counter,limit=4,window=1s");
        let limiter = Limiter::new(backend.store().await, vec![counter.clone()]);
        let who = ip("10.0.0.2");
        // Start just after a bucket begins (by Redis's clock), so the burst
        // below cannot straddle two buckets.
        let store = backend.store().await;
        loop {
            let (_, micros): (u64, u64) = redis::cmd("TIME")
                .query_async(&mut store.conn())
                .await
                .unwrap();
            if micros < 200_000 {
                break;
            }
            // Waits for the start of a fresh second (a bucket boundary).
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut allowed = 0;
        for _ in 0..6 {
            allowed += u32::from(hit(&limiter, &counter, &who).await.allowed);
        }
        assert_eq!(allowed, 4);
        let retry = hit(&limiter, &counter, &who).await.retry_after_ms.unwrap();
        assert!(retry > 0 && retry <= 2_000, "retry after {retry} ms");
        // Two windows later, nothing of the burst weighs any more.
        tokio::time::sleep(Duration::from_millis(2_050)).await;
        for _ in 0..4 {
            assert!(hit(&limiter, &counter, &who).await.allowed);
        }
    }
}

crate::both_topologies! {
    async fn gcra_allows_the_burst_then_the_steady_rate(backend) {
        // One a second, bursts of 3 (a second of slack for a busy machine).
        let gcra = policy("name=gcra,key=ip,algorithm=gcra,limit=10,window=10s,burst=3");
        let limiter = Limiter::new(backend.store().await, vec![gcra.clone()]);
        let who = ip("10.0.0.3");
        for _ in 0..3 {
            assert!(hit(&limiter, &gcra, &who).await.allowed);
        }
        let rejected = hit(&limiter, &gcra, &who).await;
        assert!(!rejected.allowed);
        let retry = rejected.retry_after_ms.unwrap();
        assert!((1..=1_000).contains(&retry), "retry after {retry} ms");
        // A window must pass: just past the retry time.
        tokio::time::sleep(Duration::from_millis(retry + 5)).await;
        assert!(
            hit(&limiter, &gcra, &who).await.allowed,
            "one more after one interval"
        );
        assert!(!hit(&limiter, &gcra, &who).await.allowed);
    }
}

crate::both_topologies! {
/// 500 concurrent requests against a limit of 100: exactly 100 pass, for
/// every algorithm.
    async fn exactly_the_limit_passes_under_500_concurrent_requests(backend) {
        for spec in [
            "name=log,key=ip,algorithm=sliding-log,limit=100,window=1h",
            "name=counter,key=ip,algorithm=sliding-counter,limit=100,window=1h",
            "name=gcra,key=ip,algorithm=gcra,limit=100,window=1h,burst=100",
        ] {
            let limiter = Limiter::new(backend.store().await, vec![policy(spec)]);
            let mut tasks = Vec::new();
            for _ in 0..500 {
                let limiter = limiter.clone();
                tasks.push(tokio::spawn(async move {
                    let policy = &limiter.policies()[0];
                    let checks = [Check {
                        policy,
                        subject: ip("10.9.9.9"),
                        cost: 1,
                    }];
                    limiter.check(&checks, true).await.unwrap().allowed()
                }));
            }
            let mut admitted = 0;
            for task in tasks {
                admitted += u32::from(task.await.unwrap());
            }
            assert_eq!(admitted, 100, "{spec}");
        }
    }
}

crate::both_topologies! {
    async fn a_request_rejected_by_one_policy_spends_nothing_of_another(backend) {
        let per_ip = policy("name=per-ip,key=ip,algorithm=sliding-log,limit=5,window=1h,routes=*");
        let per_user =
            policy("name=per-user,key=user,algorithm=gcra,limit=2,window=1h,burst=2,routes=*");
        let limiter = Limiter::new(backend.store().await, vec![per_ip, per_user]);
        let mut admitted = 0;
        for _ in 0..5 {
            let checks = limiter.checks_for(
                crate::route::RouteClass::Ordinary,
                "/api/x",
                "10.1.1.1",
                Some(("u1", "s1")),
            );
            assert_eq!(checks.len(), 2);
            let decision = limiter.check(&checks, true).await.unwrap();
            if decision.allowed() {
                admitted += 1;
            } else {
                assert_eq!(&*decision.rejection().unwrap().policy, "per-user");
            }
        }
        assert_eq!(admitted, 2);
        let windows = limiter.windows(&ip("10.1.1.1")).await.unwrap();
        // One script checks every policy on one Redis; on a Cluster each
        // policy is checked in its own slot, so a refused request still
        // counts against the others (as docs/src/known-limits.md says).
        let counted = match backend.topology() {
            crate::testing::Topology::Single => 2,
            crate::testing::Topology::Cluster => 5,
        };
        assert_eq!(windows[0].used, counted, "requests counted per IP");
        assert_eq!(windows[0].remaining, 5 - counted);
    }
}

crate::both_topologies! {
    async fn windows_show_request_times_and_reset_unblocks(backend) {
        let log = policy("name=api,key=user,algorithm=sliding-log,limit=3,window=1m,routes=*");
        let limiter = Limiter::new(backend.store().await, vec![log]);
        let user = Subject::User {
            user_id: "u42".into(),
        };
        for _ in 0..4 {
            let checks = limiter.checks_for(
                crate::route::RouteClass::Ordinary,
                "/api",
                "10.0.0.1",
                Some(("u42", "s")),
            );
            limiter.check(&checks, true).await.unwrap();
        }
        let windows = limiter.windows(&user).await.unwrap();
        assert_eq!(windows.len(), 1);
        let window = &windows[0];
        assert_eq!((window.used, window.remaining, window.limit), (3, 0, 3));
        assert_eq!(window.requests_ms.len(), 3);
        assert!(window.requests_ms.windows(2).all(|w| w[0] <= w[1]));

        let (total, active) = limiter.active(0, 10).await.unwrap();
        assert_eq!(total, 1);
        assert_eq!(active[0].subject, user);

        assert_eq!(limiter.reset(&user).await.unwrap(), 1);
        let checks = limiter.checks_for(
            crate::route::RouteClass::Ordinary,
            "/api",
            "10.0.0.1",
            Some(("u42", "s")),
        );
        assert!(limiter.check(&checks, true).await.unwrap().allowed());
    }
}

crate::both_topologies! {
    async fn a_cost_above_the_limit_can_never_pass(backend) {
        let log = policy("name=log,key=key,limit=3,window=1m");
        let limiter = Limiter::new(backend.store().await, vec![log.clone()]);
        let checks = [Check {
            policy: &log,
            subject: Subject::Key { key: "k".into() },
            cost: 5,
        }];
        let outcome = limiter
            .check(&checks, true)
            .await
            .unwrap()
            .outcomes
            .remove(0);
        assert!(!outcome.allowed);
        assert_eq!(outcome.retry_after_ms, None);
    }
}
