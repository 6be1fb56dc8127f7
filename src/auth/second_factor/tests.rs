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

/// How many events of `kind` the audit stream has, once it has at least
/// `expected` (events are written in the background; more than expected
/// is returned as found, for the caller's assertion to catch).
async fn recorded(auth: &Auth, kind: Kind, expected: usize) -> usize {
    crate::testing::wait_for(
        "the events written",
        std::time::Duration::from_secs(5),
        || async {
            let events = auth
                .events()
                .recent_in(Stream::Audit, &Filter::default(), 100, 1_000)
                .await
                .ok()?;
            let found = events.iter().filter(|e| e.kind.kind() == kind).count();
            (found >= expected).then_some(found)
        },
    )
    .await
}

/// A sign-in's second step: the session it opened.
async fn verify(
    auth: &Auth,
    ticket: &str,
    method: MfaMethod,
    code: &str,
) -> Result<Login, AuthError> {
    match auth
        .verify_second_factor(ticket, method, code, &client(), None)
        .await?
    {
        Proved::SignedIn(login) => Ok(login),
        Proved::SteppedUp(_) => panic!("a sign-in's ticket stepped a session up"),
    }
}

crate::both_topologies! {
    async fn a_password_alone_opens_no_session_and_a_code_opens_one_at_aal_2(backend) {
        let auth = AuthFixture::default().build(&backend.store().await).await;
        let (user_id, secret, _) = enrolled(&auth).await;
        let ticket = ticket(&auth).await;
        assert!(auth.sessions().list(&user_id).await.unwrap().is_empty(), "no session yet");

        let code = totp::code_at(&secret, now());
        let login = verify(&auth, &ticket, MfaMethod::Totp, &code)
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
        assert_eq!(recorded(&auth, Kind::MfaSucceeded, 1).await, 1);

        // The ticket opened its one session.
        let again = verify(&auth, &ticket, MfaMethod::Totp, &code).await;
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
            let err = verify(&auth, &ticket, MfaMethod::Totp, &wrong).await;
            assert!(matches!(err, Err(AuthError::MfaInvalid)), "{err:?}");
        }
        let right = totp::code_at(&secret, now());
        let err = verify(&auth, &ticket, MfaMethod::Totp, &right).await;
        assert!(matches!(err, Err(AuthError::MfaInvalid)), "void: {err:?}");
        assert_eq!(recorded(&auth, Kind::MfaFailed, 5).await, 5);
        // A new ticket, and the code still works (it was never accepted).
        let ticket = self::ticket(&auth).await;
        verify(&auth, &ticket, MfaMethod::Totp, &right).await.unwrap();
    }

    async fn a_recovery_code_signs_in_once(backend) {
        let auth = AuthFixture::default().build(&backend.store().await).await;
        let (_, _, codes) = enrolled(&auth).await;
        let ticket = self::ticket(&auth).await;
        let login = verify(&auth, &ticket, MfaMethod::RecoveryCode, &codes[0])
            .await
            .unwrap();
        assert_eq!(login.access.claims.aal, 2);
        assert_eq!(recorded(&auth, Kind::RecoveryCodeUsed, 1).await, 1);
        let ticket = self::ticket(&auth).await;
        let again = verify(&auth, &ticket, MfaMethod::RecoveryCode, &codes[0]).await;
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
            let err = verify(&auth, &ticket, MfaMethod::Totp, &wrong).await;
            assert!(matches!(err, Err(AuthError::MfaInvalid)), "{err:?}");
        }
        let ticket = self::ticket(&auth).await;
        let right = totp::code_at(&secret, now());
        let err = verify(&auth, &ticket, MfaMethod::Totp, &right).await;
        assert!(
            matches!(&err, Err(AuthError::RateLimited(outcome)) if &*outcome.policy == MFA_FAILURES),
            "{err:?}"
        );
    }

    async fn a_step_up_raises_its_own_session_and_opens_none(backend) {
        let auth = AuthFixture::default().build(&backend.store().await).await;
        let (user_id, secret, codes) = enrolled(&auth).await;
        let ticket = self::ticket(&auth).await;
        let first = verify(&auth, &ticket, MfaMethod::RecoveryCode, &codes[0]).await.unwrap();
        let ticket = self::ticket(&auth).await;
        let other = verify(&auth, &ticket, MfaMethod::RecoveryCode, &codes[1]).await.unwrap();
        let caller = auth.authenticate(&first.access.token).await.unwrap();
        let step = auth.issue_step_up(&caller).await.unwrap();
        let code = totp::code_at(&secret, now());

        // Only its own session proves it, and before any code is spent.
        for token in [None, Some(other.access.token.as_str())] {
            let err = auth
                .verify_second_factor(&step.ticket, MfaMethod::Totp, &code, &client(), token)
                .await;
            assert!(matches!(err, Err(AuthError::MfaInvalid)), "{err:?}");
        }
        let proved = auth
            .verify_second_factor(&step.ticket, MfaMethod::Totp, &code, &client(), Some(&first.access.token))
            .await
            .unwrap();
        let Proved::SteppedUp(raised) = proved else {
            panic!("a step-up's ticket opened a session: {proved:?}");
        };
        assert_eq!(raised.principal.session_id, first.session_id);
        assert_eq!(raised.access.aal, 2);
        assert_eq!(
            raised.access.amr.methods().collect::<Vec<_>>(),
            vec![AmrMethod::Pwd, AmrMethod::Otp]
        );
        assert!(raised.access.auth_time >= caller.assurance.auth_time);
        assert_eq!(auth.sessions().list(&user_id).await.unwrap().len(), 2, "no session opened");
        assert_eq!(recorded(&auth, Kind::StepUp, 1).await, 1);
        // The session goes on with the new pair; the ticket is spent.
        let refreshed = auth
            .refresh(raised.refresh_token.as_deref().unwrap(), &client())
            .await
            .unwrap();
        assert_eq!(refreshed.access.auth_time, raised.access.auth_time);
        let again = auth
            .verify_second_factor(&step.ticket, MfaMethod::Totp, &code, &client(), Some(&refreshed.access_token))
            .await;
        assert!(matches!(again, Err(AuthError::MfaInvalid)), "{again:?}");

        // Without a factor there is nothing to step up with.
        auth.users().create("bob", PASSWORD, &[Role::User]).await.unwrap();
        let bob = auth.login("bob", PASSWORD, &client()).await.unwrap();
        let bob = auth.authenticate(&bob.access.token).await.unwrap();
        let none = auth.issue_step_up(&bob).await;
        assert!(matches!(none, Err(AuthError::Mfa(crate::mfa::MfaError::NoFactor))), "{none:?}");
    }

    async fn a_step_up_never_hands_out_another_rotation_s_tokens(backend) {
        let auth = AuthFixture::default().build(&backend.store().await).await;
        let (_, _, codes) = enrolled(&auth).await;
        let ticket = self::ticket(&auth).await;
        let first = verify(&auth, &ticket, MfaMethod::RecoveryCode, &codes[0]).await.unwrap();
        let caller = auth.authenticate(&first.access.token).await.unwrap();
        // The browser renewed the session meanwhile: its old token still
        // works for the grace window, but the step-up may not be answered
        // with the renewal's tokens (which carry the old auth_time).
        auth.renew_session(&first.access.token, false, &client()).await.unwrap().unwrap();
        let step = auth.issue_step_up(&caller).await.unwrap();
        let err = auth
            .verify_second_factor(&step.ticket, MfaMethod::RecoveryCode, &codes[1], &client(), Some(&first.access.token))
            .await;
        assert!(matches!(err, Err(AuthError::StepUpRaced)), "{err:?}");
    }

    async fn a_remembered_browser_skips_only_the_second_factor_and_only_for_its_user(backend) {
        let auth = AuthFixture::default().build(&backend.store().await).await;
        let (user_id, _, codes) = enrolled(&auth).await;
        let ticket = self::ticket(&auth).await;
        let login = verify(&auth, &ticket, MfaMethod::RecoveryCode, &codes[0]).await.unwrap();
        let token = auth.remember_device(&login, &client()).await.unwrap();

        let skipped = auth.login_with("ann", PASSWORD, &client(), None, Some(&token)).await.unwrap();
        assert_eq!(skipped.access.claims.aal, 1, "it skips the factor, it does not prove one");
        let wrong = auth.login_with("ann", "not the password at all", &client(), None, Some(&token)).await;
        assert!(matches!(wrong, Err(AuthError::InvalidCredentials)), "{wrong:?}");
        let forged = "0".repeat(32);
        let forged = auth.login_with("ann", PASSWORD, &client(), None, Some(&forged)).await;
        assert!(matches!(forged, Err(AuthError::MfaRequired(_))), "{forged:?}");
        assert!(!auth.factors().is_remembered("someone-else", &token).await.unwrap());
        // Only a sign-in that proved a factor can remember its browser.
        let refused = auth.remember_device(&skipped, &client()).await;
        assert!(matches!(refused, Err(AuthError::InvalidInput(_))), "{refused:?}");

        // Listed (never the token), forgotten: the factor is asked again.
        let devices = auth.factors().list(&user_id).await.unwrap().remembered_devices;
        assert_eq!(devices.len(), 1);
        assert_ne!(devices[0].device_id, token);
        auth.factors().forget_device(&user_id, &devices[0].device_id).await.unwrap();
        let again = auth.login_with("ann", PASSWORD, &client(), None, Some(&token)).await;
        assert!(matches!(again, Err(AuthError::MfaRequired(_))), "{again:?}");

        // An admin's reset forgets them all.
        let ticket = self::ticket(&auth).await;
        let login = verify(&auth, &ticket, MfaMethod::RecoveryCode, &codes[1]).await.unwrap();
        let token = auth.remember_device(&login, &client()).await.unwrap();
        auth.factors().reset(&user_id).await.unwrap();
        assert!(auth.factors().devices(&user_id).await.unwrap().is_empty());
        assert!(!auth.factors().is_remembered(&user_id, &token).await.unwrap());
        assert_eq!(recorded(&auth, Kind::DeviceRemembered, 2).await, 2);
    }
}
