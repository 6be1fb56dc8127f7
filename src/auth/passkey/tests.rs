//! Security keys and passkeys end to end in the core, with a software
//! authenticator that signs real assertions (`testing::SoftAuthenticator`).

use super::*;
use crate::api::assurance::Method as AmrMethod;
use crate::mfa::MfaError;
use crate::testing::fixtures::{AuthFixture, PASSWORD, client};
use crate::testing::{SoftAuthenticator, raw};
use crate::user::Role;

/// `ann`, with `authenticator`'s credential registered as her first
/// factor (the recovery codes come with it).
async fn registered(auth: &Auth, authenticator: &mut SoftAuthenticator) -> String {
    let user = auth
        .users()
        .create("ann", PASSWORD, &[Role::User])
        .await
        .unwrap();
    let started = auth
        .factors()
        .start_webauthn_registration(&user.id, "ann", None)
        .await
        .unwrap();
    let answer = authenticator.create(&started.options);
    let confirmed = auth
        .factors()
        .finish_webauthn_registration(&user.id, &started.ceremony_id, &raw(&answer))
        .await
        .unwrap();
    assert_eq!(confirmed.recovery_codes.map(|codes| codes.len()), Some(10));
    user.id
}

async fn passkey_sign_in(
    auth: &Auth,
    authenticator: &mut SoftAuthenticator,
) -> Result<Login, AuthError> {
    let started = auth.start_passkey().await?;
    let answer = authenticator.get(&started.options);
    auth.sign_in_with_passkey(&started.ceremony_id, &raw(&answer), &client())
        .await
}

crate::both_topologies! {
    async fn a_passkey_signs_in_alone_at_aal_2_and_its_ceremony_once(backend) {
        let auth = AuthFixture::default().build(&backend.store().await).await;
        let mut passkey = SoftAuthenticator::passkey();
        let user_id = registered(&auth, &mut passkey).await;
        let listed = auth.factors().list(&user_id).await.unwrap();
        assert_eq!(listed.factors.len(), 1);
        assert!(listed.factors[0].passkey, "a resident credential is a passkey");
        assert_eq!(listed.factors[0].label, "Passkey");

        let login = passkey_sign_in(&auth, &mut passkey).await.unwrap();
        assert_eq!(login.user.id, user_id);
        let principal = auth.authenticate(&login.access.token).await.unwrap();
        assert_eq!(principal.assurance.aal, 2);
        assert_eq!(
            principal.assurance.amr.methods().collect::<Vec<_>>(),
            vec![AmrMethod::Hwk, AmrMethod::User]
        );
        let rotated = auth.refresh(&login.refresh.token, &client()).await.unwrap();
        assert_eq!((rotated.access.aal, rotated.access.amr), (2, principal.assurance.amr));
        let used = auth.factors().list(&user_id).await.unwrap();
        assert!(used.factors[0].last_used_at_ms.is_some());

        // Six sign-ins racing with one answer: one session.
        let started = auth.start_passkey().await.unwrap();
        let answer = passkey.get(&started.options);
        let from = client();
        let answer = raw(&answer);
        let attempts = (0..6).map(|_| auth.sign_in_with_passkey(&started.ceremony_id, &answer, &from));
        let results = futures_util::future::join_all(attempts).await;
        let opened = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(opened, 1, "{results:?}");
        assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(AuthError::MfaInvalid))));
    }

    async fn a_passkey_that_does_not_verify_its_user_signs_no_one_in(backend) {
        let auth = AuthFixture::default().build(&backend.store().await).await;
        let mut passkey = SoftAuthenticator::passkey();
        let user_id = registered(&auth, &mut passkey).await;
        passkey.verifies_user = false;
        let err = passkey_sign_in(&auth, &mut passkey).await;
        assert!(matches!(err, Err(AuthError::MfaInvalid)), "{err:?}");
        assert!(auth.sessions().list(&user_id).await.unwrap().is_empty());
        // Nor does another origin's answer, or an unknown credential.
        let mut phished = SoftAuthenticator::passkey();
        phished.origin = "http://localhost.evil.example:3000".to_owned();
        passkey.verifies_user = true;
        let started = auth.start_passkey().await.unwrap();
        let mut answer = passkey.get(&started.options);
        answer["response"]["clientDataJSON"] = phished.get(&started.options)["response"]["clientDataJSON"].clone();
        let err = auth.sign_in_with_passkey(&started.ceremony_id, &raw(&answer), &client()).await;
        assert!(matches!(err, Err(AuthError::MfaInvalid)), "{err:?}");
        let mut stranger = SoftAuthenticator::passkey();
        stranger.create(&auth.factors().start_webauthn_registration(&user_id, "ann", None).await.unwrap().options);
        let err = passkey_sign_in(&auth, &mut stranger).await;
        assert!(matches!(err, Err(AuthError::MfaInvalid)), "never registered: {err:?}");
    }

    async fn a_security_key_is_a_second_factor_after_the_password(backend) {
        let auth = AuthFixture::default().build(&backend.store().await).await;
        let mut key = SoftAuthenticator::security_key();
        let user_id = registered(&auth, &mut key).await;
        let listed = auth.factors().list(&user_id).await.unwrap();
        assert!(!listed.factors[0].passkey, "kept by no authenticator: a security key");

        // Alone it signs no one in (no user handle: not discoverable).
        let err = passkey_sign_in(&auth, &mut key).await;
        assert!(matches!(err, Err(AuthError::MfaInvalid)), "{err:?}");

        let ticket = match auth.login("ann", PASSWORD, &client()).await {
            Err(AuthError::MfaRequired(ticket)) => *ticket,
            other => panic!("expected mfa_required, got {other:?}"),
        };
        assert_eq!(ticket.methods, vec![MfaMethod::Webauthn, MfaMethod::RecoveryCode]);
        let started = auth.start_webauthn(&ticket.ticket).await.unwrap();
        // A tampered answer is a wrong code: refused, counted.
        let mut forged = key.get(&started.options);
        forged["response"]["signature"] = forged["response"]["authenticatorData"].clone();
        let err = auth
            .verify_webauthn(&ticket.ticket, &started.ceremony_id, &raw(&forged), &client(), None)
            .await;
        assert!(matches!(err, Err(AuthError::MfaInvalid)), "{err:?}");
        // The ceremony went with it; a new one, answered right, signs in.
        let started = auth.start_webauthn(&ticket.ticket).await.unwrap();
        let answer = key.get(&started.options);
        let proved = auth
            .verify_webauthn(&ticket.ticket, &started.ceremony_id, &raw(&answer), &client(), None)
            .await
            .unwrap();
        let Proved::SignedIn(login) = proved else { panic!("a sign-in's ticket stepped up") };
        assert_eq!(login.access.claims.aal, 2);
        assert_eq!(
            login.access.claims.amr.methods().collect::<Vec<_>>(),
            vec![AmrMethod::Pwd, AmrMethod::Hwk]
        );
        // Another ticket's ceremony is not this one's.
        let other = match auth.login("ann", PASSWORD, &client()).await {
            Err(AuthError::MfaRequired(ticket)) => ticket.ticket,
            other => panic!("expected mfa_required, got {other:?}"),
        };
        let started = auth.start_webauthn(&other).await.unwrap();
        let answer = key.get(&started.options);
        let third = match auth.login("ann", PASSWORD, &client()).await {
            Err(AuthError::MfaRequired(ticket)) => ticket.ticket,
            other => panic!("expected mfa_required, got {other:?}"),
        };
        let err = auth
            .verify_webauthn(&third, &started.ceremony_id, &raw(&answer), &client(), None)
            .await;
        assert!(matches!(err, Err(AuthError::MfaInvalid)), "{err:?}");
    }

    async fn a_registration_is_finished_once_by_its_own_user(backend) {
        let auth = AuthFixture::default().build(&backend.store().await).await;
        let ann = auth.users().create("ann", PASSWORD, &[Role::User]).await.unwrap();
        let bob = auth.users().create("bob", PASSWORD, &[Role::User]).await.unwrap();
        let mut key = SoftAuthenticator::passkey();
        let started = auth.factors().start_webauthn_registration(&ann.id, "ann", None).await.unwrap();
        let answer = key.create(&started.options);
        let err = auth.factors().finish_webauthn_registration(&bob.id, &started.ceremony_id, &raw(&answer)).await;
        assert!(matches!(err, Err(MfaError::CeremonyUnknown)), "{err:?}");
        // Bob's attempt took the ceremony: Ann starts again.
        let err = auth.factors().finish_webauthn_registration(&ann.id, &started.ceremony_id, &raw(&answer)).await;
        assert!(matches!(err, Err(MfaError::CeremonyUnknown)), "{err:?}");
        let started = auth.factors().start_webauthn_registration(&ann.id, "ann", Some("Laptop")).await.unwrap();
        let mut wrong_challenge: serde_json::Value = serde_json::from_str(started.options.get()).unwrap();
        wrong_challenge["publicKey"]["challenge"] = serde_json::Value::String("AAAA".to_owned());
        let forged = key.create(&wrong_challenge);
        let err = auth.factors().finish_webauthn_registration(&ann.id, &started.ceremony_id, &raw(&forged)).await;
        assert!(matches!(err, Err(MfaError::CredentialRejected(_))), "{err:?}");
        let started = auth.factors().start_webauthn_registration(&ann.id, "ann", Some("Laptop")).await.unwrap();
        let answer = key.create(&started.options);
        auth.factors().finish_webauthn_registration(&ann.id, &started.ceremony_id, &raw(&answer)).await.unwrap();
        let listed = auth.factors().list(&ann.id).await.unwrap();
        assert_eq!(listed.factors[0].label, "Laptop");
        // The same authenticator again is excluded by the browser; here,
        // its options name it.
        let again = auth.factors().start_webauthn_registration(&ann.id, "ann", None).await.unwrap();
        let options: serde_json::Value = serde_json::from_str(again.options.get()).unwrap();
        assert_eq!(options["publicKey"]["excludeCredentials"].as_array().map(Vec::len), Some(1));
    }
}
