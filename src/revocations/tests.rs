//! The mirror's rules in memory, and the stream on real Redis: every kind
//! of revocation reaches another instance's mirror, a new instance is
//! primed with what came before it, and a reconnecting reader resumes
//! where it stopped.

use std::time::Duration;

use super::mirror::{CAPACITY, Entry};
use super::*;
use crate::auth::Auth;
use crate::blacklist::Reason;
use crate::testing::TestRedis;
use crate::testing::fixtures::{AuthFixture, signed_in};
use crate::token::{AccessClaims, TokenUse};
use crate::user::Role;

const TTL: Duration = Duration::from_secs(900);

fn claims(user: &str, session: &str, jti: &str, iat_ms: u64) -> AccessClaims {
    AccessClaims {
        sub: user.into(),
        sid: session.into(),
        jti: jti.into(),
        iat: iat_ms / 1000,
        nbf: iat_ms / 1000,
        exp: iat_ms / 1000 + 900,
        iss: "gatehouse".into(),
        aud: "gatehouse".into(),
        name: "ada".into(),
        roles: vec!["user".into()],
        token_use: TokenUse::Access,
        must_change_password: false,
        must_enroll_mfa: false,
        amr: crate::token::Amr::password(),
        aal: 1,
        auth_time: iat_ms / 1000,
    }
}

#[test]
fn sessions_and_tokens_are_refused_by_name() {
    let mirror = Mirror::new(TTL);
    let now = 1_000_000_000;
    mirror.insert(
        Entry::Session {
            session_id: "s1".into(),
        },
        now,
        now,
    );
    mirror.insert(Entry::Token { jti: "j2".into() }, now, now);
    assert!(mirror.revokes(&claims("u", "s1", "j1", now - 60_000)));
    assert!(mirror.revokes(&claims("u", "s2", "j2", now - 60_000)));
    assert!(!mirror.revokes(&claims("u", "s2", "j3", now - 60_000)));
    assert_eq!(mirror.len(), 2);
}

#[test]
fn a_user_cut_refuses_older_tokens_except_the_kept_session_and_errs_towards_refusing() {
    let mirror = Mirror::new(TTL);
    let cut = 1_000_000_000;
    mirror.insert(
        Entry::User {
            user_id: "u".into(),
            keep: Some("kept".into()),
        },
        cut,
        cut,
    );
    assert!(mirror.revokes(&claims("u", "s1", "j", cut - 60_000)));
    assert!(!mirror.revokes(&claims("u", "kept", "j", cut - 60_000)));
    // Within the clock margin after the cut: still refused.
    assert!(mirror.revokes(&claims("u", "s1", "j", cut + 4_000)));
    assert!(!mirror.revokes(&claims("u", "s1", "j", cut + 6_000)));
    assert!(!mirror.revokes(&claims("v", "s1", "j", cut - 60_000)));
}

#[test]
fn entries_expire_with_the_last_token_they_could_revoke() {
    let mirror = Mirror::new(TTL);
    let at = 1_000_000_000;
    let lifetime = crate::duration::millis(TTL + CLOCK_MARGIN);
    // Already past its lifetime: not even taken in.
    mirror.insert(
        Entry::Session {
            session_id: "old".into(),
        },
        at - lifetime,
        at,
    );
    assert!(mirror.is_empty());
    mirror.insert(
        Entry::Session {
            session_id: "s".into(),
        },
        at,
        at,
    );
    // The next insert after the lifetime prunes it.
    mirror.insert(
        Entry::Token {
            jti: "later".into(),
        },
        at + lifetime,
        at + lifetime + 1_000,
    );
    assert!(!mirror.revokes(&claims("u", "s", "x", at)));
    assert_eq!(mirror.len(), 1);
}

#[test]
fn a_full_mirror_vouches_for_nothing_until_what_it_dropped_expired() {
    let mirror = Mirror::new(TTL);
    let now = 1_000_000_000;
    mirror.synced(now);
    for i in 0..CAPACITY {
        mirror.insert(Entry::Token { jti: i.to_string() }, now, now);
    }
    assert!(mirror.whole_at(now, Duration::ZERO, now));
    mirror.insert(
        Entry::Token {
            jti: "dropped".into(),
        },
        now,
        now,
    );
    assert!(!mirror.whole_at(now, Duration::ZERO, now));
    let expired = now + crate::duration::millis(TTL + CLOCK_MARGIN);
    assert!(mirror.whole_at(now, Duration::ZERO, expired));
}

#[test]
fn whole_only_if_read_to_the_end_recently_enough() {
    let mirror = Mirror::new(TTL);
    assert!(
        !mirror.whole_at(1_000, Duration::from_secs(1), 1_000),
        "never read"
    );
    mirror.synced(10_000);
    assert!(mirror.whole_at(10_500, Duration::from_secs(1), 11_000));
    assert!(!mirror.whole_at(12_000, Duration::from_secs(1), 12_000));
}

async fn instance(store: &crate::Store, name: &'static str) -> Auth {
    AuthFixture {
        cheap_hashing: true,
        instance: name,
        degraded_max: Duration::from_secs(300),
        ..AuthFixture::default()
    }
    .build(store)
    .await
}

/// Waits until `auth`'s mirror says `revoked` of `claims`.
async fn until(auth: &Auth, claims: &AccessClaims, revoked: bool) {
    let mirror = auth.revocation_mirror().expect("degraded mode is on");
    let what = format!("the mirror says revoked = {revoked}");
    crate::testing::wait_until(&what, Duration::from_secs(10), || async {
        mirror.revokes(claims) == revoked
    })
    .await;
}

crate::both_topologies! {
    async fn every_kind_of_revocation_reaches_another_instances_mirror(backend) {
        let here = instance(&backend.store().await, "gh-a").await;
        let there = instance(&backend.store().await, "gh-b").await;
        let signed_out = signed_in(&here, "ada", &[Role::User]).await;
        let roles_changed = signed_in(&here, "bob", &[Role::User]).await;
        let disabled = signed_in(&here, "cyd", &[Role::User]).await;
        let untouched = signed_in(&here, "dee", &[Role::User]).await;

        here.revoke_session(&signed_out.user.id, &signed_out.session_id, Reason::Logout)
            .await
            .unwrap();
        until(&there, &signed_out.access.claims, true).await;

        here.users().set_roles(&roles_changed.user.id, &[Role::Admin]).await.unwrap();
        until(&there, &roles_changed.access.claims, true).await;

        here.set_disabled(&disabled.user.id, true).await.unwrap();
        until(&there, &disabled.access.claims, true).await;

        let mirror = there.revocation_mirror().unwrap();
        assert!(!mirror.revokes(&untouched.access.claims));
        let ttl: i64 = redis::cmd("PTTL")
            .arg(keys::revocations())
            .query_async(&mut backend.store().await.conn())
            .await
            .unwrap();
        assert!(ttl > 0, "the stream expires when idle ({ttl})");
    }

    async fn a_password_reset_and_a_password_change_cut_the_users_tokens(backend) {
        let here = instance(&backend.store().await, "gh-a").await;
        let there = instance(&backend.store().await, "gh-b").await;
        let reset = signed_in(&here, "eve", &[Role::User]).await;
        here.reset_password(&reset.user.id, "another long password", true)
            .await
            .unwrap();
        until(&there, &reset.access.claims, true).await;

        let changing = signed_in(&here, "fay", &[Role::User]).await;
        let other_device = here
            .login("fay", crate::testing::fixtures::PASSWORD, &crate::testing::fixtures::client())
            .await
            .unwrap();
        let caller = here.authenticate(&changing.access.token).await.unwrap();
        here.change_password(
            &caller,
            crate::testing::fixtures::PASSWORD,
            "a different long password",
            &crate::testing::fixtures::client(),
        )
        .await
        .unwrap();
        until(&there, &other_device.access.claims, true).await;
        // The session the change was made from keeps its token.
        assert!(!there.revocation_mirror().unwrap().revokes(&changing.access.claims));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_instance_is_primed_and_a_reconnecting_one_resumes_after_its_last_entry() {
    let redis = TestRedis::start().await;
    let store = redis.store().await;
    let first = instance(&store, "gh-a").await;
    let early = signed_in(&first, "gus", &[Role::User]).await;
    first
        .revoke_session(&early.user.id, &early.session_id, Reason::Logout)
        .await
        .unwrap();

    // Started after the revocation: primed with it.
    let later = instance(&redis.store().await, "gh-b").await;
    until(&later, &early.access.claims, true).await;

    // Cut the readers' connections (those waiting in XREAD), and revoke
    // before they reconnect: resuming after the last entry read finds it
    // (a reader that started again from the stream's end would not).
    let during = signed_in(&first, "hal", &[Role::User]).await;
    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut store.conn())
        .await
        .unwrap();
    let readers: Vec<&str> = clients
        .lines()
        .filter(|line| line.contains("cmd=xread"))
        .filter_map(|line| line.split(' ').find_map(|field| field.strip_prefix("id=")))
        .collect();
    assert_eq!(readers.len(), 2, "one reader per instance: {clients}");
    for id in readers {
        let _: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .query_async(&mut store.conn())
            .await
            .unwrap();
    }
    first
        .revoke_session(&during.user.id, &during.session_id, Reason::Logout)
        .await
        .unwrap();
    until(&later, &during.access.claims, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_degraded_mode_there_is_no_mirror_and_revocations_still_reach_the_stream() {
    let redis = TestRedis::start().await;
    let store = redis.store().await;
    let auth = AuthFixture::default().build(&store).await;
    assert!(auth.revocation_mirror().is_none());
    let login = signed_in(&auth, "ida", &[Role::User]).await;
    auth.revoke_session(&login.user.id, &login.session_id, Reason::Logout)
        .await
        .unwrap();
    let length: u64 = redis::cmd("XLEN")
        .arg(keys::revocations())
        .query_async(&mut store.conn())
        .await
        .unwrap();
    // The session's end (which covers its token's blacklisting).
    assert_eq!(length, 1);
}
