use std::collections::HashSet;

use super::*;
use crate::testing::TestBackend;

async fn factors(backend: &TestBackend) -> Factors {
    Factors::new(
        backend.store().await,
        &[42; 32],
        crate::testing::fixtures::relying_party(),
    )
}

/// The secret of an enrolment, from its base32 (as an app reads it).
fn secret_of(enrolment: &TotpEnrolment) -> Vec<u8> {
    totp::from_base32(&enrolment.secret).unwrap()
}

fn now() -> u64 {
    crate::duration::epoch_ms() / 1000
}

/// A confirmed TOTP factor of `user`, and its secret.
async fn enrolled(factors: &Factors, user: &str) -> (String, Vec<u8>) {
    let enrolment = factors.enroll_totp(user, "ann", None).await.unwrap();
    let secret = secret_of(&enrolment);
    // The previous step's code: the current one stays free for the test.
    let code = totp::code_at(&secret, now() - totp::PERIOD);
    factors
        .confirm_totp(user, &enrolment.factor_id, &code)
        .await
        .unwrap()
        .expect("a code of the secret confirms it");
    (enrolment.factor_id, secret)
}

crate::both_topologies! {
    async fn a_confirmed_first_factor_brings_ten_recovery_codes(backend) {
        let factors = factors(&backend).await;
        let enrolment = factors.enroll_totp("u1", "ann", Some("Phone")).await.unwrap();
        assert!(enrolment.otpauth_uri.starts_with("otpauth://totp/Gatehouse:ann?secret="));
        assert_eq!(enrolment.secret.len(), 32);
        assert!(factors.list("u1").await.unwrap().factors.is_empty(), "not a factor until confirmed");
        assert!(!factors.has_factor("u1").await.unwrap());

        let secret = secret_of(&enrolment);
        let wrong = totp::code_at(&secret, now() + 10 * totp::PERIOD);
        assert!(factors.confirm_totp("u1", &enrolment.factor_id, &wrong).await.unwrap().is_none());
        let code = totp::code_at(&secret, now());
        let confirmed = factors
            .confirm_totp("u1", &enrolment.factor_id, &code)
            .await
            .unwrap()
            .unwrap();
        let codes = confirmed.recovery_codes.expect("the first factor's codes");
        assert_eq!(codes.iter().collect::<HashSet<_>>().len(), RECOVERY_CODES);

        let listed = factors.list("u1").await.unwrap();
        assert_eq!(listed.recovery_codes_left, RECOVERY_CODES as u64);
        assert_eq!(listed.factors.len(), 1);
        let factor = &listed.factors[0];
        assert_eq!((factor.kind, factor.label.as_str()), (Kind::Totp, "Phone"));
        assert!(factor.last_used_at_ms.is_some(), "confirming used it");

        // A second factor brings no new codes.
        let second = factors.enroll_totp("u1", "ann", None).await.unwrap();
        let code = totp::code_at(&secret_of(&second), now());
        let confirmed = factors.confirm_totp("u1", &second.factor_id, &code).await.unwrap().unwrap();
        assert!(confirmed.recovery_codes.is_none());
        assert_eq!(factors.list("u1").await.unwrap().factors.len(), 2);
        // Confirmed once: a confirmed factor is not pending any more.
        assert!(matches!(
            factors.confirm_totp("u1", &second.factor_id, &code).await,
            Err(MfaError::NotFound)
        ));
    }

    async fn one_code_signs_in_once_however_many_race(backend) {
        let factors = factors(&backend).await;
        let (factor_id, secret) = enrolled(&factors, "u1").await;
        let code = totp::code_at(&secret, now());
        let attempts = (0..6).map(|_| {
            let factors = factors.clone();
            let code = code.clone();
            tokio::spawn(async move { factors.verify_totp("u1", &code).await.unwrap() })
        });
        let mut accepted = Vec::new();
        for attempt in attempts {
            accepted.extend(attempt.await.unwrap());
        }
        assert_eq!(accepted, vec![factor_id], "exactly one of six concurrent uses");
        assert_eq!(factors.verify_totp("u1", &code).await.unwrap(), None, "nor later");
    }

    async fn an_older_code_fails_once_a_newer_one_was_used(backend) {
        let factors = factors(&backend).await;
        let (_, secret) = enrolled(&factors, "u1").await;
        let next = totp::code_at(&secret, now() + totp::PERIOD);
        assert!(factors.verify_totp("u1", &next).await.unwrap().is_some());
        let current = totp::code_at(&secret, now());
        assert_eq!(factors.verify_totp("u1", &current).await.unwrap(), None);
        // Another user's factor is untouched by it.
        let (_, other) = enrolled(&factors, "u2").await;
        let code = totp::code_at(&other, now());
        assert!(factors.verify_totp("u2", &code).await.unwrap().is_some());
        assert_eq!(factors.verify_totp("u1", "123456").await.unwrap(), None);
    }

    async fn a_recovery_code_works_once_and_dies_with_a_new_set(backend) {
        let factors = factors(&backend).await;
        assert!(matches!(factors.new_recovery_codes("u1").await, Err(MfaError::NoFactor)));
        let (factor_id, _) = enrolled(&factors, "u1").await;
        let first = factors.new_recovery_codes("u1").await.unwrap();
        let typed = first[0].to_uppercase().replace('-', " ");
        assert!(factors.use_recovery_code("u1", &typed).await.unwrap());
        assert!(!factors.use_recovery_code("u1", &first[0]).await.unwrap(), "once");
        assert!(!factors.use_recovery_code("u2", &first[1]).await.unwrap(), "another user's");
        assert_eq!(factors.list("u1").await.unwrap().recovery_codes_left, 9);

        let second = factors.new_recovery_codes("u1").await.unwrap();
        assert!(!factors.use_recovery_code("u1", &first[1]).await.unwrap(), "the old set is dead");
        assert!(factors.use_recovery_code("u1", &second[0]).await.unwrap());

        // The last factor takes the codes with it.
        factors.remove("u1", &factor_id).await.unwrap();
        assert!(!factors.use_recovery_code("u1", &second[1]).await.unwrap());
        assert!(matches!(factors.remove("u1", &factor_id).await, Err(MfaError::NotFound)));
        assert!(!factors.has_factor("u1").await.unwrap());
    }

    async fn a_ticket_is_void_after_five_attempts_however_many_race(backend) {
        let factors = factors(&backend).await;
        assert!(matches!(factors.issue_ticket("u1").await, Err(MfaError::NoFactor)));
        enrolled(&factors, "u1").await;
        let ticket = factors.issue_ticket("u1").await.unwrap();
        assert_eq!(ticket.methods, vec![Method::Totp, Method::RecoveryCode]);
        assert_eq!(ticket.expires_in_ms, 300_000);
        let attempts = (0..20).map(|_| {
            let factors = factors.clone();
            let ticket = ticket.ticket.clone();
            tokio::spawn(async move { factors.attempt_ticket(&ticket).await.unwrap() })
        });
        let mut counted = 0;
        for attempt in attempts {
            if let Some(attempt) = attempt.await.unwrap() {
                assert_eq!(attempt.user_id, "u1");
                counted += 1;
            }
        }
        assert_eq!(counted, ATTEMPTS, "exactly five of twenty racing attempts");
        assert_eq!(factors.attempt_ticket(&ticket.ticket).await.unwrap(), None);
    }

    async fn a_ticket_is_taken_once(backend) {
        let factors = factors(&backend).await;
        enrolled(&factors, "u1").await;
        let ticket = factors.issue_ticket("u1").await.unwrap();
        assert!(factors.attempt_ticket(&ticket.ticket).await.unwrap().is_some());
        let takes = (0..6).map(|_| {
            let factors = factors.clone();
            let ticket = ticket.ticket.clone();
            tokio::spawn(async move { factors.take_ticket(&ticket).await.unwrap() })
        });
        let mut taken = 0;
        for take in takes {
            taken += u32::from(take.await.unwrap());
        }
        assert_eq!(taken, 1);
        assert_eq!(factors.attempt_ticket(&ticket.ticket).await.unwrap(), None);
        assert_eq!(factors.attempt_ticket("not a ticket").await.unwrap(), None);
    }

    async fn a_reset_removes_every_factor_pending_or_not_and_the_codes(backend) {
        let factors = factors(&backend).await;
        enrolled(&factors, "u1").await;
        enrolled(&factors, "u1").await;
        let pending = factors.enroll_totp("u1", "ann", None).await.unwrap();
        assert_eq!(factors.reset("u1").await.unwrap(), 2);
        assert!(backend.scan("gh:{u:u1}:mfa*").await.is_empty(), "nothing left");
        let code = totp::code_at(&secret_of(&pending), now());
        assert!(matches!(
            factors.confirm_totp("u1", &pending.factor_id, &code).await,
            Err(MfaError::NotFound)
        ));
    }

    async fn redis_holds_no_secret_and_no_code(backend) {
        let factors = factors(&backend).await;
        let enrolment = factors.enroll_totp("u1", "ann", None).await.unwrap();
        let secret = secret_of(&enrolment);
        let confirmed = factors
            .confirm_totp("u1", &enrolment.factor_id, &totp::code_at(&secret, now()))
            .await
            .unwrap()
            .unwrap();
        let keys = backend.scan("gh:*").await;
        assert!(keys.iter().all(|key| key.starts_with("gh:{u:u1}:mfa")), "{keys:?}");
        let mut conn = backend.store().await.conn();
        let dump: Vec<String> = redis::cmd("HVALS")
            .arg(keys::mfa_factor("u1", &enrolment.factor_id))
            .query_async(&mut conn)
            .await
            .unwrap();
        let codes: Vec<String> = redis::cmd("SMEMBERS")
            .arg(keys::mfa_recovery("u1"))
            .query_async(&mut conn)
            .await
            .unwrap();
        let stored = [dump, codes].concat().join(" ");
        assert!(!stored.contains(&enrolment.secret));
        for code in confirmed.recovery_codes.unwrap() {
            assert!(!stored.contains(&code) && !stored.contains(&code.replace('-', "")));
        }
        // Another key cannot open the secret.
        let other = Factors::new(
            backend.store().await,
            &[7; 32],
            crate::testing::fixtures::relying_party(),
        );
        let code = totp::code_at(&secret, now() + totp::PERIOD);
        assert!(matches!(other.verify_totp("u1", &code).await, Err(MfaError::Corrupt(_))));
    }

    async fn enrolments_are_bounded(backend) {
        let factors = factors(&backend).await;
        for _ in 0..MAX_PENDING {
            factors.enroll_totp("u1", "ann", None).await.unwrap();
        }
        assert!(matches!(
            factors.enroll_totp("u1", "ann", None).await,
            Err(MfaError::TooManyPending)
        ));
        for bad in ["a\nb", &"x".repeat(MAX_LABEL_CHARS + 1)] {
            assert!(matches!(
                factors.enroll_totp("u2", "bob", Some(bad)).await,
                Err(MfaError::InvalidLabel)
            ));
        }
        assert!(matches!(
            factors.confirm_totp("u1", "../x", "123456").await,
            Err(MfaError::NotFound)
        ));
    }
}

#[test]
fn a_key_file_needs_32_bytes_of_secret_and_ignores_surrounding_whitespace() {
    assert!(super::key_from_file(b"  too short\n").is_err());
    let secret = b"0123456789abcdef0123456789abcdef";
    let key = super::key_from_file(secret).unwrap();
    assert_eq!(
        super::key_from_file(b"0123456789abcdef0123456789abcdef\n").unwrap(),
        key
    );
    assert_ne!(
        super::key_from_file(b"0123456789abcdef0123456789abcdeg").unwrap(),
        key
    );
    assert_ne!(
        key.as_slice(),
        secret.as_slice(),
        "hashed, not used as it is"
    );
}
