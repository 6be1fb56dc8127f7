use super::*;
use crate::api::assurance::Method as AmrMethod;
use crate::events::{Filter, Kind, Stream};
use crate::mfa::totp;
use crate::testing::fixtures::{AuthFixture, PASSWORD, client};
use crate::user::Role;

/// An account `ann` with a confirmed TOTP factor: its id, its secret and
/// its recovery codes.
async fn enrolled(auth: &Auth) -> (String, Vec<u8>, Vec<String>) {
    let user = auth
        .users()
        .create("ann", PASSWORD, &[Role::User])
        .await
        .unwrap();
    let enrolment = auth
        .factors()
        .enroll_totp(&user.id, "ann", None)
        .await
        .unwrap();
    let secret = totp::from_base32(&enrolment.secret).unwrap();
    // The previous step's code: the current one stays free for the test.
    let code = totp::code_at(&secret, now() - totp::PERIOD);
    let confirmed = auth
        .factors()
        .confirm_totp(&user.id, &enrolment.factor_id, &code)
        .await
        .unwrap()
        .unwrap();
    (user.id, secret, confirmed.recovery_codes.unwrap())
}

fn now() -> u64 {
    crate::duration::epoch_ms() / 1000
}

/// Signs in with the password: the ticket of the second step.
async fn ticket(auth: &Auth) -> String {
    match auth.login("ann", PASSWORD, &client()).await {
        Err(AuthError::MfaRequired(ticket)) => ticket.ticket,
        other => panic!("expected mfa_required, got {other:?}"),
    }
}

async fn recorded(auth: &Auth, kind: Kind) -> usize {
    crate::testing::wait_for(
        "the events written",
        std::time::Duration::from_secs(5),
        || async {
            let events = auth
                .events()
                .recent_in(Stream::Audit, &Filter::default(), 100, 1_000)
                .await
                .ok()?;
            Some(events.iter().filter(|e| e.kind.kind() == kind).count())
        },
    )
    .await
}

crate::both_topologies! {
    async fn a_password_alone_opens_no_session_and_a_code_opens_one_at_aal_2(backend) {
        let auth = AuthFixture::default().build(&backend.store().await).await;
        let (user_id, secret, _) = enrolled(&auth).await;
        let ticket = ticket(&auth).await;
        assert!(auth.sessions().list(&user_id).await.unwrap().is_empty(), "no session yet");

        let code = totp::code_at(&secret, now());
        let login = auth
            .verify_second_factor(&ticket, MfaMethod::Totp, &code, &client())
            .await
            .unwrap();
        let principal = auth.authenticate(&login.access.token).await.unwrap();
        assert_eq!(principal.assurance.aal, 2);
        assert_eq!(
            principal.assurance.amr.methods().collect::<Vec<_>>(),
            vec![AmrMethod::Pwd, AmrMethod::Otp]
        );
        assert_eq!(login.refresh.claims.aal, 2);

        // Refresh and renewal keep it (and could not raise it).
        let rotated = auth.refresh(&login.refresh.token, &client()).await.unwrap();
        assert_eq!(rotated.access.aal, 2);
        assert_eq!(rotated.access.amr, principal.assurance.amr);
        assert_eq!(rotated.access.auth_time, principal.assurance.auth_time);
        let renewed = auth
            .renew_session(&rotated.access_token, false, &client())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(renewed.access.aal, 2);
        assert_eq!(renewed.principal.assurance, principal.assurance);
        assert_eq!(recorded(&auth, Kind::MfaSucceeded).await, 1);

        // The ticket opened its one session.
        let again = auth.verify_second_factor(&ticket, MfaMethod::Totp, &code, &client()).await;
        assert!(matches!(again, Err(AuthError::MfaInvalid)), "{again:?}");
        // A password-only session stays at aal 1 through its refresh.
        let plain = auth.users().create("bob", PASSWORD, &[Role::User]).await.unwrap();
        let login = auth.login(&plain.username, PASSWORD, &client()).await.unwrap();
        assert_eq!(login.access.claims.aal, 1);
        let rotated = auth.refresh(&login.refresh.token, &client()).await.unwrap();
        assert_eq!((rotated.access.aal, rotated.access.amr), (1, crate::token::Amr::password()));
    }

    async fn a_ticket_is_void_after_five_wrong_codes(backend) {
        let auth = AuthFixture::default().build(&backend.store().await).await;
        let (_, secret, _) = enrolled(&auth).await;
        let ticket = ticket(&auth).await;
        let wrong = totp::code_at(&secret, now() + 10 * totp::PERIOD);
        for _ in 0..5 {
            let err = auth.verify_second_factor(&ticket, MfaMethod::Totp, &wrong, &client()).await;
            assert!(matches!(err, Err(AuthError::MfaInvalid)), "{err:?}");
        }
        let right = totp::code_at(&secret, now());
        let err = auth.verify_second_factor(&ticket, MfaMethod::Totp, &right, &client()).await;
        assert!(matches!(err, Err(AuthError::MfaInvalid)), "void: {err:?}");
        assert_eq!(recorded(&auth, Kind::MfaFailed).await, 5);
        // A new ticket, and the code still works (it was never accepted).
        let ticket = self::ticket(&auth).await;
        auth.verify_second_factor(&ticket, MfaMethod::Totp, &right, &client()).await.unwrap();
    }

    async fn a_recovery_code_signs_in_once(backend) {
        let auth = AuthFixture::default().build(&backend.store().await).await;
        let (_, _, codes) = enrolled(&auth).await;
        let ticket = self::ticket(&auth).await;
        let login = auth
            .verify_second_factor(&ticket, MfaMethod::RecoveryCode, &codes[0], &client())
            .await
            .unwrap();
        assert_eq!(login.access.claims.aal, 2);
        assert_eq!(recorded(&auth, Kind::RecoveryCodeUsed).await, 1);
        let ticket = self::ticket(&auth).await;
        let again = auth.verify_second_factor(&ticket, MfaMethod::RecoveryCode, &codes[0], &client()).await;
        assert!(matches!(again, Err(AuthError::MfaInvalid)), "{again:?}");
    }

    async fn wrong_codes_count_against_the_account_across_tickets(backend) {
        let auth = AuthFixture {
            policies: vec![crate::ratelimit::Policy::parse(
                "name=mfa-user,key=user,algorithm=sliding-log,limit=3,window=15m,fail=closed",
            )
            .unwrap()],
            ..AuthFixture::default()
        }
        .build(&backend.store().await)
        .await;
        let (_, secret, _) = enrolled(&auth).await;
        let wrong = totp::code_at(&secret, now() + 10 * totp::PERIOD);
        for _ in 0..3 {
            let ticket = self::ticket(&auth).await;
            let err = auth.verify_second_factor(&ticket, MfaMethod::Totp, &wrong, &client()).await;
            assert!(matches!(err, Err(AuthError::MfaInvalid)), "{err:?}");
        }
        let ticket = self::ticket(&auth).await;
        let right = totp::code_at(&secret, now());
        let err = auth.verify_second_factor(&ticket, MfaMethod::Totp, &right, &client()).await;
        assert!(
            matches!(&err, Err(AuthError::RateLimited(outcome)) if &*outcome.policy == MFA_FAILURES),
            "{err:?}"
        );
    }
}
