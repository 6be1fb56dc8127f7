//! The event vocabulary on the wire: the JSON of before, typed.

use serde_json::json;

use super::*;

fn event(kind: EventKind) -> Event {
    Event {
        id: "1700000000000-0".to_owned(),
        at_ms: 1_700_000_000_000,
        instance: "gh-a".to_owned(),
        user_id: Some("u1".to_owned()),
        username: None,
        session_id: None,
        ip: Some("192.0.2.1".to_owned()),
        kind,
    }
}

#[test]
fn an_event_is_the_json_it_always_was() {
    let kind = EventKind::SignedOutEverywhere(Sessions { sessions: 3 });
    assert_eq!(
        serde_json::to_value(event(kind)).unwrap(),
        json!({
            "id": "1700000000000-0",
            "kind": "signed_out_everywhere",
            "at_ms": 1_700_000_000_000u64,
            "instance": "gh-a",
            "user_id": "u1",
            "ip": "192.0.2.1",
            "details": {"sessions": "3"},
        })
    );
    // A kind without details has no `details`.
    let renewed = serde_json::to_value(event(EventKind::TokenRenewed)).unwrap();
    assert_eq!(renewed["kind"], "token_renewed");
    assert!(renewed.get("details").is_none(), "{renewed}");
}

#[test]
fn events_written_before_the_types_existed_still_read() {
    // As the string-keyed events of earlier versions are stored in Redis.
    let stored = json!({
        "id": "", "kind": "rate_limited", "at_ms": 5, "instance": "gh-a",
        "ip": "198.51.100.7",
        "details": {"policy": "login-ip", "path": "/api/v1/auth/login",
                    "count": "4999", "window_ms": "60000", "repeated": "true"},
    });
    let read: Event = serde_json::from_value(stored.clone()).unwrap();
    assert_eq!(
        read.kind,
        EventKind::RateLimited(RateLimited {
            policy: Some("login-ip".to_owned()),
            path: Some("/api/v1/auth/login".to_owned()),
            subjects: None,
            repeats: Repeats {
                count: Some(4999),
                window_ms: Some(60_000),
                repeated: Some(true),
            },
        })
    );
    assert_eq!(read.kind.stands_for(), 4999);
    assert_eq!(serde_json::to_value(&read).unwrap(), stored);

    let reset: Event = serde_json::from_value(json!({
        "kind": "password_reset", "at_ms": 5, "instance": "gh-a",
        "details": {"by": "root", "must_change": "true", "sessions_ended": "2"},
    }))
    .unwrap();
    assert_eq!(
        reset.kind,
        EventKind::PasswordReset(PasswordReset {
            by: "root".to_owned(),
            must_change: true,
            sessions_ended: 2,
        })
    );
}

#[test]
fn a_detail_of_the_wrong_type_is_an_error_not_a_default() {
    let bad = json!({
        "kind": "signed_out_everywhere", "at_ms": 5, "instance": "gh-a",
        "details": {"sessions": "three"},
    });
    let wrong_type = serde_json::from_value::<Event>(bad).unwrap_err();
    assert!(
        wrong_type.to_string().contains("invalid digit"),
        "{wrong_type}"
    );
    let unknown = json!({"kind": "login_teleported", "at_ms": 5, "instance": "gh-a"});
    let unknown = serde_json::from_value::<Event>(unknown).unwrap_err();
    assert!(
        unknown.to_string().contains("login_teleported"),
        "{unknown}"
    );
}

#[test]
fn every_kind_has_one_name_and_round_trips_by_it() {
    let mut names: Vec<&str> = Kind::ALL.iter().map(|kind| kind.as_str()).collect();
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), count, "two kinds share a wire name");
    for kind in Kind::ALL {
        assert_eq!(Kind::parse(kind.as_str()), Some(*kind));
        assert_eq!(
            serde_json::to_value(kind).unwrap(),
            json!(kind.as_str()),
            "Kind and EventKind name {kind:?} alike"
        );
    }
    assert_eq!(
        EventKind::LoginChallenged.kind().as_str(),
        "login_challenged"
    );
}
