//! Session tests against a real Redis: TTLs, the index, concurrency.

use std::collections::BTreeSet;
use std::time::Duration;

use super::*;
use crate::testing::TestBackend;

fn id() -> String {
    crate::random::hex::<16>()
}

fn sessions(store: Store, idle_ms: u64, absolute_ms: u64, max: u32) -> Sessions {
    Sessions::new(
        store,
        SessionConfig {
            idle_timeout: Duration::from_millis(idle_ms),
            absolute_lifetime: Duration::from_millis(absolute_ms),
            max_per_user: max,
        },
    )
}

async fn start(sessions: &Sessions, user: &str) -> String {
    let sid = id();
    sessions
        .create(&NewSession {
            id: &sid,
            user_id: user,
            ip: "203.0.113.7",
            user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            refresh_jti: "r",
            access_jti: &format!("a-{sid}"),
            access_expires_at_ms: 4_000_000_000_000,
            pending: crate::token::Pending::default(),
            password_generation: 0,
        })
        .await
        .unwrap();
    sid
}

/// The user's index members and the session keys that exist must agree.
async fn assert_index_consistent(backend: &TestBackend, user: &str) -> BTreeSet<String> {
    let store = backend.store().await;
    let indexed: BTreeSet<String> = redis::cmd("ZRANGE")
        .arg(keys::user_sessions(user))
        .arg(0)
        .arg(-1)
        .query_async(&mut store.conn())
        .await
        .unwrap();
    let existing: BTreeSet<String> = backend
        .scan(&format!("{}*", keys::session_prefix(user)))
        .await
        .into_iter()
        .map(|k| k.rsplit(':').next().unwrap().to_owned())
        .collect();
    assert_eq!(indexed, existing, "index and session keys disagree");
    existing
}

crate::both_topologies! {
    async fn created_sessions_are_listed_touched_and_revoked(backend) {
        let store = backend.store().await;
        let sessions = sessions(store.clone(), 60_000, 600_000, 10);
        let user = id();
        let first = start(&sessions, &user).await;
        let second = start(&sessions, &user).await;

        let listed = sessions.list(&user).await.unwrap();
        assert_eq!(listed.len(), 2);
        let one = &listed[0];
        assert_eq!(one.device, "Firefox on Linux");
        assert_eq!(one.ip, "203.0.113.7");
        assert_eq!(one.generation, 0);
        assert!(one.idle_expires_at_ms <= one.absolute_expires_at_ms);

        // A use is recorded at most once a second (a tenth of the idle
        // timeout when that is shorter), so wait past that step.
        tokio::time::sleep(Duration::from_millis(1_050)).await;
        let touched = sessions.touch(&user, &first, "a").await.unwrap();
        assert_eq!(
            sessions.list(&user).await.unwrap()[0].id,
            first,
            "most recently used first"
        );
        assert_eq!(
            sessions
                .get(&user, &first)
                .await
                .unwrap()
                .unwrap()
                .last_seen_at_ms,
            touched.now_ms
        );

        let ended = sessions.revoke(&user, &second).await.unwrap().unwrap();
        assert_eq!(ended.access_jti, format!("a-{second}"));
        assert!(sessions.revoke(&user, &second).await.unwrap().is_none());
        assert!(matches!(
            sessions.touch(&user, &second, "a").await,
            Err(SessionError::Ended)
        ));
        assert_eq!(sessions.list(&user).await.unwrap().len(), 1);
        assert_index_consistent(&backend, &user).await;
    }
}

crate::both_topologies! {
    async fn idle_sessions_expire_and_use_keeps_them_alive(backend) {
        let sessions = sessions(backend.store().await, 1_000, 60_000, 10);
        let user = id();
        let kept = start(&sessions, &user).await;
        let idle = start(&sessions, &user).await;
        // The sleeps alone pass the idle timeout for the unused session; the
        // used one has 700 ms of slack between uses.
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            sessions.touch(&user, &kept, "a").await.unwrap();
        }
        assert!(matches!(
            sessions.touch(&user, &idle, "a").await,
            Err(SessionError::Ended)
        ));
        assert!(
            sessions.get(&user, &idle).await.unwrap().is_none(),
            "Redis expired the key itself"
        );
        assert_eq!(sessions.list(&user).await.unwrap().len(), 1);
    }
}

crate::both_topologies! {
    async fn absolute_lifetime_ends_even_active_sessions(backend) {
        let sessions = sessions(backend.store().await, 10_000, 1_000, 10);
        let user = id();
        let started = std::time::Instant::now();
        let sid = start(&sessions, &user).await;
        // Used all the time, well within its idle timeout: only the absolute
        // lifetime can end it, and not before it is over.
        loop {
            match sessions.touch(&user, &sid, "a").await {
                Ok(_) => assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "the session outlived its absolute lifetime"
                ),
                Err(SessionError::Ended) => break,
                Err(other) => panic!("unexpected {other:?}"),
            }
            // Uses a few times a second (the session's use is what is tested).
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let ended = started.elapsed();
        assert!(
            ended >= Duration::from_millis(1_000),
            "ended after {ended:?}, before its absolute lifetime"
        );
        assert!(sessions.list(&user).await.unwrap().is_empty());
    }
}

crate::both_topologies! {
    async fn disabled_users_get_no_new_sessions(backend) {
        let store = backend.store().await;
        let sessions = sessions(store.clone(), 60_000, 600_000, 10);
        let user = id();
        let _: () = redis::cmd("SET")
            .arg(keys::user_disabled(&user))
            .arg(1)
            .query_async(&mut store.conn())
            .await
            .unwrap();
        let sid = id();
        let result = sessions
            .create(&NewSession {
                id: &sid,
                user_id: &user,
                ip: "",
                user_agent: "",
                refresh_jti: "r",
                access_jti: "a",
                access_expires_at_ms: 0,
                pending: crate::token::Pending::default(),
                password_generation: 0,
            })
            .await;
        assert!(matches!(result, Err(SessionError::UserDisabled)));
        assert!(sessions.list(&user).await.unwrap().is_empty());
    }
}

crate::both_topologies! {
    async fn the_least_recently_used_sessions_are_evicted_over_the_cap(backend) {
        let store = backend.store().await;
        let sessions = sessions(store.clone(), 60_000, 600_000, 3);
        let user = id();
        let mut ids = Vec::new();
        for _ in 0..5 {
            ids.push(start(&sessions, &user).await);
            // Distinct creation times, so the oldest is well defined.
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        let live: BTreeSet<String> = sessions
            .list(&user)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(live, ids[2..].iter().cloned().collect());
        assert_index_consistent(&backend, &user).await;
    }
}

crate::both_topologies! {
    async fn sign_out_everywhere_ends_all_but_the_kept_session(backend) {
        let store = backend.store().await;
        let sessions = sessions(store.clone(), 60_000, 600_000, 10);
        let user = id();
        let keep = start(&sessions, &user).await;
        for _ in 0..3 {
            start(&sessions, &user).await;
        }
        let ended = sessions.revoke_all(&user, Some(&keep)).await.unwrap();
        assert_eq!(ended.len(), 3);
        assert!(
            ended
                .iter()
                .all(|e| e.access_jti == format!("a-{}", e.session_id))
        );
        assert_eq!(sessions.list(&user).await.unwrap().len(), 1);
        assert_eq!(sessions.revoke_all(&user, None).await.unwrap().len(), 1);
        assert!(sessions.list(&user).await.unwrap().is_empty());
        assert_index_consistent(&backend, &user).await;
    }
}

crate::both_topologies! {
/// 100 concurrent sign-ins and sign-outs of one user, with "sign out
/// everywhere" racing them: afterwards the index lists exactly the
/// sessions that exist.
    async fn the_index_stays_consistent_under_concurrent_logins_and_logouts(backend) {
        let store = backend.store().await;
        let sessions = sessions(store.clone(), 60_000, 600_000, 1000);
        let user = id();
        // 100 concurrent sign-ins, every other one signed out again at once:
        // exactly the other half is left, and the index lists exactly those.
        let mut tasks = Vec::new();
        for i in 0..100 {
            let sessions = sessions.clone();
            let user = user.clone();
            tasks.push(tokio::spawn(async move {
                let sid = start(&sessions, &user).await;
                sessions.touch(&user, &sid, "a").await.unwrap();
                if i % 2 == 0 {
                    assert!(sessions.revoke(&user, &sid).await.unwrap().is_some());
                    None
                } else {
                    Some(sid)
                }
            }));
        }
        let mut kept = BTreeSet::new();
        for task in tasks {
            kept.extend(task.await.unwrap());
        }
        assert_eq!(kept.len(), 50);
        let listed = |sessions: Sessions| {
            let user = user.clone();
            async move {
                sessions
                    .list(&user)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|s| s.id)
                    .collect::<BTreeSet<String>>()
            }
        };
        assert_eq!(assert_index_consistent(&backend, &user).await, kept);
        assert_eq!(listed(sessions.clone()).await, kept);

        // Sign out everywhere but one, racing 20 new sign-ins: the one kept
        // survives, every other old session ends, and the index still lists
        // exactly the live sessions.
        let survivor = kept.iter().next().unwrap().clone();
        let mut tasks = Vec::new();
        for i in 0..24 {
            let (sessions, user, survivor) = (sessions.clone(), user.clone(), survivor.clone());
            tasks.push(tokio::spawn(async move {
                if i % 6 == 0 {
                    sessions.revoke_all(&user, Some(&survivor)).await.unwrap();
                    None
                } else {
                    Some(start(&sessions, &user).await)
                }
            }));
        }
        let mut new = BTreeSet::new();
        for task in tasks {
            new.extend(task.await.unwrap());
        }
        let live = assert_index_consistent(&backend, &user).await;
        assert!(live.contains(&survivor), "the kept session was ended");
        let old_left: Vec<&String> = live
            .iter()
            .filter(|sid| **sid != survivor && !new.contains(*sid))
            .collect();
        assert!(old_left.is_empty(), "old sessions survived: {old_left:?}");
        assert_eq!(listed(sessions.clone()).await, live);
    }
}

crate::both_topologies! {
    async fn the_console_lists_everyone_s_sessions_and_prunes_ended_ones(backend) {
        let store = backend.store().await;
        let sessions = sessions(store.clone(), 300, 600_000, 10);
        let (alice, bob) = (id(), id());
        let a1 = start(&sessions, &alice).await;
        // Distinct creation times, so the order is well defined.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let _a2 = start(&sessions, &alice).await;
        // Distinct creation times, so the order is well defined.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let b1 = start(&sessions, &bob).await;
        assert_eq!(sessions.counts().await.unwrap(), (3, 2));

        let (total, page) = sessions.list_all(0, 2).await.unwrap();
        assert_eq!(total, 3);
        assert_eq!(page.len(), 2);
        assert_eq!(page[0].id, b1, "newest first");

        sessions.revoke(&alice, &a1).await.unwrap();
        assert_eq!(sessions.counts().await.unwrap().0, 2);

        // The remaining sessions idle out (300 ms); the pruner notices.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let (next, removed) = sessions.prune_index(0, 100).await.unwrap();
        assert_eq!((next, removed), (0, 2));
        assert_eq!(sessions.list_all(0, 10).await.unwrap(), (0, vec![]));
    }
}
