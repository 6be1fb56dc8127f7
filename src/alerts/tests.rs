//! The alert rules on a real Redis (one server and a Cluster), fed the way
//! they are in production: events emitted, written by the event writer.

use super::*;
use crate::api::alerts::{AlertState, RuleId, Severity};
use crate::api::events::{Breaker, Device, Kind, LoginLocked, RateLimited, Repeats, SignedIn};
use crate::events::{Event, EventKind, Events, Filter};

fn reuse(user_id: &str) -> Event {
    Event::new(EventKind::RefreshReuseDetected(Device {
        device: "Firefox on Linux".to_owned(),
    }))
    .user(user_id)
    .username("alice")
    .ip("10.0.0.9")
}

fn admin_signed_in(user_id: &str, ip: &str) -> Event {
    Event::new(EventKind::LoginSucceeded(SignedIn {
        device: "Firefox on Linux".to_owned(),
        admin: Some(true),
    }))
    .user(user_id)
    .username("root")
    .ip(ip)
}

fn refused() -> Event {
    Event::new(EventKind::RateLimited(RateLimited {
        policy: Some("api-user".to_owned()),
        path: None,
        subjects: None,
        repeats: Repeats::default(),
    }))
}

fn locked(username: &str) -> Event {
    Event::new(EventKind::LoginLocked(LoginLocked {
        retry_after_ms: 60_000,
        repeats: Repeats::default(),
    }))
    .username(username)
    .ip("10.0.0.7")
}

async fn emit(events: &Events, all: impl IntoIterator<Item = Event>) {
    for event in all {
        events.emit(event);
    }
    events.flush().await;
}

async fn open(alerts: &Alerts) -> Vec<Alert> {
    alerts
        .list(&AlertQuery {
            state: Some(AlertState::Open),
            limit: None,
        })
        .await
        .unwrap()
        .alerts
}

async fn raised_events(events: &Events) -> Vec<Event> {
    let filter = Filter {
        kind: Some(Kind::AlertRaised.as_str().to_owned()),
        ..Filter::default()
    };
    events
        .recent_in(crate::events::Stream::Audit, &filter, 100, 10_000)
        .await
        .unwrap()
}

crate::both_topologies! {
    async fn a_reuse_raises_one_critical_alert_and_repeats_add_to_it(backend) {
        let store = backend.store().await;
        let (events, alerts) = (Events::new(store.clone(), "gh-a", 1000), Alerts::new(store));
        emit(&events, [reuse("ab12")]).await;
        let found = open(&alerts).await;
        assert_eq!(found.len(), 1, "{found:?}");
        let alert = &found[0];
        assert_eq!((alert.rule, alert.severity), (RuleId::RefreshReuse, Severity::Critical));
        assert_eq!(alert.subject, "user:ab12");
        assert_eq!(alert.link, "/console/users/ab12");
        assert_eq!(alert.count, 1);
        assert!(alert.title.contains("alice"), "{}", alert.title);
        emit(&events, [reuse("ab12"), reuse("ab12")]).await;
        let found = open(&alerts).await;
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].count, 3);
        assert!(found[0].last_at_ms >= found[0].first_at_ms);
        // One alert_raised, in the audit stream too, about the user.
        let raised = raised_events(&events).await;
        assert_eq!(raised.len(), 1, "{raised:?}");
        assert_eq!(raised[0].user_id.as_deref(), Some("ab12"));
        // Another user is another subject.
        emit(&events, [reuse("cd34")]).await;
        assert_eq!(open(&alerts).await.len(), 2);
    }

    async fn two_instances_raise_one_alert_not_two(backend) {
        let store = backend.store().await;
        let a = Events::new(store.clone(), "gh-a", 10_000);
        let b = Events::new(store.clone(), "gh-b", 10_000);
        let alerts = Alerts::new(store);
        for round in 0..5 {
            let user = format!("ee{round}");
            // Both writers take their batches at once.
            tokio::join!(
                emit(&a, (0..20).map(|_| reuse(&user))),
                emit(&b, (0..20).map(|_| reuse(&user)))
            );
        }
        let found = open(&alerts).await;
        assert_eq!(found.len(), 5, "{found:?}");
        assert!(found.iter().all(|alert| alert.count == 40), "{found:?}");
        assert_eq!(raised_events(&a).await.len(), 5);
    }

    async fn the_storm_rule_raises_at_its_threshold_once(backend) {
        let store = backend.store().await;
        let (events, alerts) = (Events::new(store.clone(), "gh-a", 1000), Alerts::new(store));
        alerts
            .set_rule(&SetAlertRuleRequest { rule: RuleId::RateLimitStorm, enabled: true, threshold: Some(5) })
            .await
            .unwrap();
        emit(&events, (0..4).map(|_| refused())).await;
        assert!(open(&alerts).await.is_empty());
        emit(&events, [refused()]).await;
        let found = open(&alerts).await;
        // Unless the minute turned between the two: then it takes five more.
        let found = if found.is_empty() {
            emit(&events, (0..5).map(|_| refused())).await;
            open(&alerts).await
        } else {
            found
        };
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].rule, found[0].subject.as_str()), (RuleId::RateLimitStorm, "all"));
        assert_eq!(found[0].count, 5);
        emit(&events, (0..3).map(|_| refused())).await;
        let found = open(&alerts).await;
        assert_eq!(found.len(), 1);
        assert!(found[0].count >= 8, "{found:?}");
        let storm = alerts.rules().await.unwrap().rules.into_iter()
            .find(|r| r.rule == RuleId::RateLimitStorm).unwrap();
        assert_eq!(storm.threshold, Some(5));
    }

    async fn a_new_admin_address_raises_a_known_one_does_not(backend) {
        let store = backend.store().await;
        let (events, alerts) = (Events::new(store.clone(), "gh-a", 1000), Alerts::new(store));
        // The first address is learned; it and a non-admin sign-in raise nothing.
        let mut user = admin_signed_in("aa01", "10.1.1.1");
        emit(&events, [admin_signed_in("aa01", "10.1.1.1"), admin_signed_in("aa01", "10.1.1.1")]).await;
        user.kind = EventKind::LoginSucceeded(SignedIn { device: "x".to_owned(), admin: None });
        emit(&events, [user.ip("10.9.9.9")]).await;
        assert!(open(&alerts).await.is_empty());
        emit(&events, [admin_signed_in("aa01", "10.2.2.2")]).await;
        let found = open(&alerts).await;
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].rule, found[0].subject.as_str()), (RuleId::AdminNewAddress, "user:aa01"));
        assert!(found[0].title.contains("10.2.2.2"), "{}", found[0].title);
        // Now known: signing in from it again adds nothing.
        emit(&events, [admin_signed_in("aa01", "10.2.2.2")]).await;
        assert_eq!(open(&alerts).await[0].count, 1);
    }

    async fn a_rule_off_by_default_raises_once_turned_on(backend) {
        let store = backend.store().await;
        let (events, alerts) = (Events::new(store.clone(), "gh-a", 1000), Alerts::new(store));
        let presented = || {
            Event::new(EventKind::DisabledTokenPresented(Repeats::default())).user("dd01")
        };
        emit(&events, [presented()]).await;
        assert!(open(&alerts).await.is_empty());
        alerts
            .set_rule(&SetAlertRuleRequest { rule: RuleId::DisabledToken, enabled: true, threshold: None })
            .await
            .unwrap();
        emit(&events, [presented()]).await;
        let found = open(&alerts).await;
        assert_eq!((found[0].rule, found[0].severity), (RuleId::DisabledToken, Severity::Info));
        // Off again, for every instance: nothing more is counted.
        alerts
            .set_rule(&SetAlertRuleRequest { rule: RuleId::DisabledToken, enabled: false, threshold: None })
            .await
            .unwrap();
        emit(&events, [presented()]).await;
        assert_eq!(open(&alerts).await[0].count, 1);
        // A threshold only where a rule counts.
        let wrong = SetAlertRuleRequest { rule: RuleId::Lockout, enabled: true, threshold: Some(3) };
        assert!(matches!(alerts.set_rule(&wrong).await, Err(AlertError::Invalid(_))));
        let zero = SetAlertRuleRequest { rule: RuleId::RateLimitStorm, enabled: true, threshold: Some(0) };
        assert!(matches!(alerts.set_rule(&zero).await, Err(AlertError::Invalid(_))));
    }

    async fn acknowledging_ends_deduplication(backend) {
        let store = backend.store().await;
        let (events, alerts) = (Events::new(store.clone(), "gh-a", 1000), Alerts::new(store));
        emit(&events, [reuse("ab12"), reuse("ab12")]).await;
        let id = open(&alerts).await[0].alert_id.clone();
        assert_eq!(alerts.open_count().await.unwrap(), 1, "a repeat is no second open alert");
        let (alert, now) = alerts.acknowledge(&id, "root").await.unwrap();
        assert!(now);
        assert_eq!(alerts.open_count().await.unwrap(), 0);
        assert!(open(&alerts).await.is_empty());
        assert_eq!(alert.state, AlertState::Acknowledged);
        assert_eq!(alert.acknowledged_by.as_deref(), Some("root"));
        assert!(alert.acknowledged_at_ms.is_some());
        let (_, again) = alerts.acknowledge(&id, "other").await.unwrap();
        assert!(!again);
        assert!(matches!(alerts.acknowledge("ffff", "root").await, Err(AlertError::NotFound)));
        assert!(matches!(alerts.acknowledge("../x", "root").await, Err(AlertError::NotFound)));
        // The next reuse is a new alert; the list puts it first.
        emit(&events, [reuse("ab12")]).await;
        let all = alerts.list(&AlertQuery::default()).await.unwrap();
        assert_eq!(all.open, 1);
        assert_eq!(alerts.open_count().await.unwrap(), 1);
        assert_eq!(all.alerts.len(), 2);
        assert_eq!(all.alerts[0].state, AlertState::Open);
        assert_ne!(all.alerts[0].alert_id, id);
        assert_eq!(all.alerts[1].acknowledged_by.as_deref(), Some("root"));
    }

    async fn an_account_is_its_user_and_an_unknown_name_its_address(backend) {
        let store = backend.store().await;
        let (events, alerts) = (Events::new(store.clone(), "gh-a", 1000), Alerts::new(store.clone()));
        let () = redis::cmd("HSET")
            .arg(keys::usernames())
            .arg("bob")
            .arg("bb01")
            .query_async(&mut store.conn())
            .await
            .unwrap();
        emit(&events, [locked("Bob"), locked("nobody")]).await;
        let mut subjects: Vec<String> = open(&alerts).await.into_iter().map(|a| a.subject).collect();
        subjects.sort();
        assert_eq!(subjects, ["ip:10.0.0.7", "user:bb01"]);
        // Redis going away is critical, about the target.
        emit(&events, [Event::new(EventKind::BreakerOpened(Breaker { target: "10.0.0.1:6380".to_owned() }))]).await;
        let redis = open(&alerts).await.into_iter().find(|a| a.rule == RuleId::RedisDegraded).unwrap();
        assert_eq!(redis.subject, "redis:10.0.0.1:6380");
        assert_eq!(redis.severity, Severity::Critical);
        assert_eq!(open(&alerts).await[0].rule, RuleId::RedisDegraded, "most urgent first");
    }

    async fn alerts_are_bounded_and_expire(backend) {
        let store = backend.store().await;
        let (events, alerts) = (Events::new(store.clone(), "gh-a", 10_000), Alerts::new(store.clone()));
        let first: Vec<Event> = (0..KEPT + 5).map(|i| reuse(&format!("{i:x}"))).collect();
        emit(&events, first).await;
        let all = alerts.list(&AlertQuery { state: None, limit: Some(5000) }).await.unwrap();
        assert_eq!(all.alerts.len() as u64, KEPT);
        assert_eq!(all.open, KEPT);
        assert_eq!(alerts.open_count().await.unwrap(), KEPT);
        // The oldest went: user 0 is no longer there.
        assert!(all.alerts.iter().all(|a| a.subject != "user:0"));
        let sorted = [keys::alert_index(), keys::alert_open()];
        for key in [keys::alert_data(), keys::alert_index(), keys::alert_dedup(), keys::alert_open()] {
            let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut store.conn()).await.unwrap();
            assert!(ttl > 0 && ttl <= crate::duration::millis(RETENTION) as i64, "{key}: {ttl}");
            let len: u64 = redis::cmd(if sorted.contains(&key) { "ZCARD" } else { "HLEN" })
                .arg(&key)
                .query_async(&mut store.conn())
                .await
                .unwrap();
            assert_eq!(len, KEPT, "{key}");
        }
    }
}

#[test]
fn the_rules_are_listed_in_the_order_of_their_ids() {
    for (rule, id) in rules::RULES.iter().zip(RuleId::ALL) {
        assert_eq!(rule.id, id);
        assert_eq!(RuleId::parse(id.as_str()), Some(id));
        assert_eq!(
            serde_json::to_value(id).unwrap(),
            serde_json::json!(id.as_str())
        );
    }
    for severity in Severity::ALL {
        assert_eq!(
            serde_json::to_value(severity).unwrap(),
            serde_json::json!(severity.as_str())
        );
    }
}
