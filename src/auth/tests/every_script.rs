//! Every script of the crate on a real Cluster, each call checked for keys
//! in one slot (see `store::slots`).

use super::*;

/// Every script of the crate runs here once on a real Cluster, through the
/// connection's test-build check that a script's keys share one slot (see
/// `store::slots`), which records each script it passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_script_is_checked_for_keys_in_one_slot() {
    use crate::lock::LockOptions;
    let cluster = crate::testing::TestCluster::start().await;
    let store = cluster.store().await;
    let auth = auth_with(&store, TokenConfig::default(), RotationConfig::default()).await;
    let password = "a long enough password";
    let users = auth.users();
    let user = users
        .create("slotty", password, &[Role::User])
        .await
        .unwrap();
    users.find("slotty").await.unwrap().unwrap();
    users.list(0, 10).await.unwrap();
    users
        .set_roles(&user.id, &[Role::User, Role::Service])
        .await
        .unwrap();
    auth.reset_password(&user.id, password, false)
        .await
        .unwrap();

    let login = auth.login("slotty", password, &client()).await.unwrap();
    auth.authenticate(&login.access.token).await.unwrap();
    let facts = Facts {
        path: "/api/v1/auth/me",
        route: crate::route::RouteClass::Ordinary,
        state_changing: false,
        client: &client(),
        credential: Some(Credential {
            token: &login.access.token,
            source: TokenSource::Bearer,
        }),
        nonce: None,
        timestamp: None,
        now_secs: crate::duration::epoch_ms() / 1000,
    };
    assert!(auth.admit(&facts).await.refusal.is_none());
    auth.renew_access(&login.access.token, &[Role::User])
        .await
        .unwrap();
    let rotated = auth.refresh(&login.refresh.token, &client()).await.unwrap();
    auth.revoke_session(&user.id, &rotated.access.sid, Reason::SessionRevoked)
        .await
        .unwrap();
    auth.login("slotty", password, &client()).await.unwrap();
    auth.logout_all(&user.id).await.unwrap();

    // Failures from many addresses call for a challenge; redeeming one
    // takes it out of Redis.
    let mut challenge = None;
    for i in 0..20 {
        let from = Client {
            ip: format!("203.0.113.{i}"),
            limit_key: format!("203.0.113.{i}"),
            user_agent: "curl/8.5.0".into(),
        };
        if let Err(AuthError::ChallengeRequired(issued)) =
            auth.login("slotty", "not the password", &from).await
        {
            challenge = Some(issued);
            break;
        }
    }
    let challenge = challenge.expect("failures from many addresses call for a challenge");
    let solution = crate::auth::challenge::Solution {
        challenge_id: &challenge.challenge_id,
        solution: "wrong",
    };
    let _ = auth
        .login_with("slotty", password, &client(), Some(solution), None)
        .await;

    let locks = Locks::new(store.clone(), "test");
    let options = LockOptions {
        watchdog: false,
        ..LockOptions::default()
    };
    let lease = locks.acquire_lease("slot/check", &options).await.unwrap();
    locks
        .extend(
            "slot/check",
            &lease.owner,
            std::time::Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(locks.list().await.unwrap().len(), 1);
    locks
        .fenced_write("slot/check", lease.fencing_token, "v")
        .await
        .unwrap();
    locks.release("slot/check", &lease.owner).await.unwrap();
    locks.acquire_lease("slot/check", &options).await.unwrap();
    locks.force_release("slot/check").await.unwrap();

    // Second factors: enroll, accept, recovery, attempt, remove, reset.
    let factors = auth.factors();
    let enrolment = factors.enroll_totp("u9", "nine", None).await.unwrap();
    let secret = crate::mfa::totp::from_base32(&enrolment.secret).unwrap();
    let code = crate::mfa::totp::code_at(&secret, crate::duration::epoch_ms() / 1000);
    factors
        .confirm_totp("u9", &enrolment.factor_id, &code)
        .await
        .unwrap()
        .unwrap();
    factors.new_recovery_codes("u9").await.unwrap();
    let ticket = factors.issue_ticket("u9").await.unwrap();
    factors.attempt_ticket(&ticket.ticket).await.unwrap();
    factors.remove("u9", &enrolment.factor_id).await.unwrap();
    factors.reset("u9").await.unwrap();
    // A passkey: added (add.lua), then used (used.lua).
    let key_user = "00112233445566778899aabbccddeeff";
    let mut key = crate::testing::SoftAuthenticator::passkey();
    let started = factors
        .start_webauthn_registration(key_user, "ten", None)
        .await
        .unwrap();
    let answer = crate::testing::raw(&key.create(&started.options));
    factors
        .finish_webauthn_registration(key_user, &started.ceremony_id, &answer)
        .await
        .unwrap();
    let started = factors.start_passkey().await.unwrap();
    let answer = crate::testing::raw(&key.get(&started.options));
    let used = factors.finish_passkey(&started.ceremony_id, &answer).await;
    assert!(matches!(used, Ok(Some(_))), "{used:?}");

    // Alerts: raised by the event writer, acknowledged by an admin.
    auth.events().emit(
        crate::events::Event::new(crate::events::EventKind::RefreshReuseDetected(
            crate::api::events::Device {
                device: "test".to_owned(),
            },
        ))
        .user(&user.id),
    );
    auth.events().flush().await;
    let alerts = crate::alerts::Alerts::new(store.clone());
    let raised = alerts.list(&Default::default()).await.unwrap();
    alerts
        .acknowledge(&raised.alerts[0].alert_id, "slotty")
        .await
        .unwrap();

    // As many scripts checked as the crate defines (no test defines one),
    // and the rate limiter's function; the admission function never goes
    // to a Cluster.
    let defined = count_scripts(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    )));
    let checked = crate::store::slots::checked();
    let library = auth.inner.limiter.library();
    assert!(defined >= 20, "found only {defined} scripts");
    let scripts = checked.iter().filter(|sha| sha.len() == 40).count();
    assert!(
        scripts >= defined,
        "{scripts} of {defined} scripts were checked"
    );
    let check = library.name(crate::ratelimit::CHECK).unwrap();
    assert!(checked.contains(check), "{check} was not checked");
    let admit = library.name(crate::ratelimit::ADMIT).unwrap();
    assert!(!checked.contains(admit), "{admit} went to a Cluster");
}

/// `Script::new(` in the crate's sources, outside tests.
fn count_scripts(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .map(|path| {
            if path.is_dir() {
                count_scripts(&path)
            } else if path.extension().is_some_and(|e| e == "rs")
                && !path.ends_with("tests.rs")
                && !path.iter().any(|part| part == "tests")
            {
                std::fs::read_to_string(&path)
                    .unwrap()
                    .matches("Script::new(")
                    .count()
            } else {
                0
            }
        })
        .sum()
}
