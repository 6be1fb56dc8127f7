//! The application layer without HTTP, on a real Redis: who may do what,
//! the rules each operation keeps, and the audit event each admin action
//! leaves.

use std::time::Duration;

use crate::api::Page;
use crate::api::events::{EventKind, Kind};
use crate::auth::{Auth, Principal};
use crate::events::{Filter, Stream};
use crate::ops::{LockRef, OpError};
use crate::ratelimit::Subject;
use crate::testing::fixtures::{AuthFixture, client, signed_in};
use crate::user::Role;

async fn principal(auth: &Auth, username: &str, roles: &[Role]) -> Principal {
    let login = signed_in(auth, username, roles).await;
    auth.authenticate(&login.access.token)
        .await
        .expect("the fresh token is admitted")
}

/// The audit events of `kind`, newest first (after the writer drained).
async fn audited(auth: &Auth, kind: Kind) -> Vec<crate::events::Event> {
    auth.events().flush().await;
    let filter = Filter {
        kind: Some(kind.as_str().to_owned()),
        ..Filter::default()
    };
    auth.events()
        .recent_in(Stream::Audit, &filter, 10, 1_000)
        .await
        .expect("read the audit stream")
}

fn cheap() -> AuthFixture {
    AuthFixture {
        cheap_hashing: true,
        ..AuthFixture::default()
    }
}

crate::both_topologies! {
    async fn every_admin_action_is_audited_with_who_and_from_where(backend) {
        let auth = cheap().build(&backend.store().await).await;
        let admin = principal(&auth, "ada", &[Role::Admin]).await;
        let from = client();
        let ops = auth.admin(&admin, &from).expect("ada is an admin");

        let user = ops
            .create_user("bob", crate::testing::fixtures::PASSWORD, &["user".to_owned()])
            .await
            .expect("create bob");
        let bob = auth
            .login("bob", crate::testing::fixtures::PASSWORD, &client())
            .await
            .expect("bob signs in");
        ops.revoke_session(&user.user_id, &bob.session_id).await.expect("revoke");
        ops.set_roles(&user.user_id, &["user".to_owned(), "service".to_owned()])
            .await
            .expect("set roles");
        ops.set_password(&user.user_id, "another long enough password", true)
            .await
            .expect("reset the password");
        ops.reset_lockout("bob").await.expect("reset the lockout");
        ops.reset_windows(Subject::Ip { ip: "192.0.2.1".into() })
            .await
            .expect("reset windows");
        assert_eq!(ops.set_disabled(&user.user_id, true).await.expect("disable"), 0);
        ops.sign_out_everywhere(&user.user_id).await.expect("sign out");
        let lease = ops.demo_lock().await.expect("demo lock");
        let released = ops.force_release(lease.name.clone()).await.expect("force release");
        assert!(released.released);

        for kind in [
            Kind::UserCreated,
            Kind::AdminSessionRevoked,
            Kind::RolesChanged,
            Kind::PasswordReset,
            Kind::LockoutReset,
            Kind::WindowsReset,
            Kind::UserDisabled,
            Kind::AdminSignedOutEverywhere,
            Kind::AdminLockForceReleased,
        ] {
            let events = audited(&auth, kind).await;
            assert_eq!(events.len(), 1, "one {} event", kind.as_str());
            let event = &events[0];
            assert_eq!(event.ip.as_deref(), Some(from.ip.as_str()), "{}", kind.as_str());
            let details = serde_json::to_value(&event.kind).expect("serialize the kind");
            assert_eq!(details["details"]["by"], "ada", "{}", kind.as_str());
        }
        let roles = audited(&auth, Kind::RolesChanged).await;
        assert!(matches!(&roles[0].kind, EventKind::RolesChanged(r) if r.roles == "user,service"));
        assert_eq!(roles[0].user_id.as_deref(), Some(user.user_id.as_str()));
    }

    async fn only_admins_get_the_admin_capability(backend) {
        let auth = cheap().build(&backend.store().await).await;
        let user = principal(&auth, "uma", &[Role::User]).await;
        let service = principal(&auth, "svc", &[Role::Service]).await;
        for caller in [&user, &service] {
            let refused = auth.admin(caller, &client()).map(|_| ()).unwrap_err();
            assert!(matches!(refused, OpError::Forbidden(_)), "{refused:?}");
        }
        // Nothing was done, so nothing was audited.
        assert!(audited(&auth, Kind::UserCreated).await.is_empty());
    }

    async fn an_admin_cannot_lock_themself_out(backend) {
        let auth = cheap().build(&backend.store().await).await;
        let admin = principal(&auth, "ada", &[Role::Admin]).await;
        let from = client();
        let ops = auth.admin(&admin, &from).expect("ada is an admin");
        let disable = ops.set_disabled(&admin.user_id, true).await.unwrap_err();
        assert!(matches!(disable, OpError::Invalid(_)), "{disable:?}");
        let demote = ops
            .set_roles(&admin.user_id, &["user".to_owned()])
            .await
            .unwrap_err();
        assert!(matches!(demote, OpError::Invalid(_)), "{demote:?}");
        let unknown = ops
            .set_roles(&admin.user_id, &["admin".to_owned(), "root".to_owned()])
            .await
            .unwrap_err();
        assert!(matches!(&unknown, OpError::Invalid(m) if m.contains("root")), "{unknown:?}");
        // Still an admin, still enabled: the next request is admitted.
        let again = auth.admin(&admin, &from).expect("still an admin");
        let users = again.users(Page::default()).await.expect("list users");
        assert!(users.users.iter().any(|u| u.user_id == admin.user_id && !u.disabled));
        assert!(audited(&auth, Kind::UserDisabled).await.is_empty());
        assert!(audited(&auth, Kind::RolesChanged).await.is_empty());
    }

    async fn a_service_s_locks_and_keys_are_its_own(backend) {
        let auth = cheap().build(&backend.store().await).await;
        let svc = principal(&auth, "svc", &[Role::Service]).await;
        let user = principal(&auth, "uma", &[Role::User]).await;
        let admin = principal(&auth, "ada", &[Role::Admin]).await;

        let refused = auth.lock_service(&user).map(|_| ()).unwrap_err();
        assert!(matches!(refused, OpError::Forbidden(_)), "{refused:?}");
        let refused = auth.limit_service(&user).map(|_| ()).unwrap_err();
        assert!(matches!(refused, OpError::Forbidden(_)), "{refused:?}");

        let locks = auth.lock_service(&svc).expect("a service may lock");
        let job = LockRef { name: "job", global: false };
        let lease = locks
            .acquire(job, None, Duration::ZERO, None)
            .await
            .expect("take svc/job");
        assert_eq!(lease.name, "svc/job");
        let global = LockRef { name: "job", global: true };
        let refused = locks.acquire(global, None, Duration::ZERO, None).await.unwrap_err();
        assert!(matches!(refused, OpError::Forbidden(_)), "{refused:?}");
        let internal = LockRef { name: "gatehouse:refresh", global: false };
        let refused = locks.acquire(internal, None, Duration::ZERO, None).await.unwrap_err();
        assert!(matches!(refused, OpError::Invalid(_)), "{refused:?}");
        let too_long = Duration::from_millis(crate::ops::MAX_WAIT_MS + 1);
        let refused = locks.acquire(job, None, too_long, None).await.unwrap_err();
        assert!(matches!(refused, OpError::Invalid(_)), "{refused:?}");

        // An admin's global name is the name itself, another lock.
        let admin_locks = auth.lock_service(&admin).expect("an admin may lock");
        let taken = admin_locks
            .acquire(global, None, Duration::ZERO, None)
            .await
            .expect("take the global job");
        assert_eq!(taken.name, "job");
        let released = locks.release(job, &lease.owner).await.expect("release svc/job");
        assert_eq!(released.name, "svc/job");

        let limits = auth.limit_service(&svc).expect("a service may ask");
        let answer = limits.check("api-user", "reports", 1).await.expect("check");
        assert!(answer.allowed);
        let refused = limits.check("no-such-policy", "reports", 1).await.unwrap_err();
        assert!(matches!(&refused, OpError::Invalid(m) if m.contains("no-such-policy")));
        let refused = limits.check("api-user", "", 1).await.unwrap_err();
        assert!(matches!(refused, OpError::Invalid(_)), "{refused:?}");
    }
}

crate::both_topologies! {
    async fn a_users_factor_changes_are_audited_and_need_a_recent_second_factor(backend) {
        let auth = cheap().build(&backend.store().await).await;
        let weak = principal(&auth, "ann", &[Role::User]).await;
        let account = auth.account(&weak);
        let enrolment = account.enroll_totp(Some("Phone")).await.unwrap();
        let secret = crate::mfa::totp::from_base32(&enrolment.secret).unwrap();
        let now = crate::duration::epoch_ms() / 1000;
        let code = crate::mfa::totp::code_at(&secret, now);
        let confirmed = account.confirm_totp(&enrolment.factor_id, &code).await.unwrap();
        assert_eq!(confirmed.recovery_codes.map(|codes| codes.len()), Some(10));
        let enrolled = audited(&auth, Kind::MfaEnrolled).await;
        assert_eq!(enrolled.len(), 1);
        assert_eq!(enrolled[0].user_id.as_deref(), Some(weak.user_id.as_str()));
        assert!(
            !serde_json::to_string(&enrolled[0]).unwrap().contains(&enrolment.secret),
            "no secret in events"
        );

        // The same session, password only: no more changes.
        let err = account.remove_factor(&enrolment.factor_id).await.unwrap_err();
        assert!(matches!(err, OpError::StepUpRequired), "{err:?}");
        // aal 2, but proved longer ago than the step-up window.
        let mut stale = weak.clone();
        stale.assurance.aal = 2;
        stale.assurance.auth_time = now - auth.step_up_max_age().as_secs() - 5;
        let err = auth.account(&stale).new_recovery_codes().await.unwrap_err();
        assert!(matches!(err, OpError::StepUpRequired), "{err:?}");
        let mut fresh = stale.clone();
        fresh.assurance.auth_time = now;
        auth.account(&fresh).remove_factor(&enrolment.factor_id).await.unwrap();
        assert_eq!(audited(&auth, Kind::MfaRemoved).await.len(), 1);
    }
}

crate::both_topologies! {
    async fn an_admin_reset_of_second_factors_ends_the_users_sessions(backend) {
        let auth = cheap().build(&backend.store().await).await;
        let admin = principal(&auth, "ada", &[Role::Admin]).await;
        let ann = principal(&auth, "ann", &[Role::User]).await;
        let other_device = auth
            .login("ann", crate::testing::fixtures::PASSWORD, &client())
            .await
            .unwrap();
        let account = auth.account(&ann);
        let enrolment = account.enroll_totp(None).await.unwrap();
        let secret = crate::mfa::totp::from_base32(&enrolment.secret).unwrap();
        let code = crate::mfa::totp::code_at(&secret, crate::duration::epoch_ms() / 1000);
        account.confirm_totp(&enrolment.factor_id, &code).await.unwrap();

        let from = client();
        let ops = auth.admin(&admin, &from).expect("ada is an admin");
        let report = ops.user_report(&ann.user_id).await.unwrap();
        assert_eq!(report.mfa.factors.len(), 1);
        assert_eq!(report.mfa.recovery_codes_left, 10);

        let reset = ops.reset_mfa(&ann.user_id).await.unwrap();
        assert_eq!(reset.factors_removed, 1);
        assert_eq!(reset.revoked_sessions, 2);
        let report = ops.user_report(&ann.user_id).await.unwrap();
        assert!(report.mfa.factors.is_empty());
        assert_eq!(report.mfa.recovery_codes_left, 0);
        assert!(report.sessions.is_empty());
        assert!(matches!(
            auth.authenticate(&other_device.access.token).await,
            Err(crate::auth::AuthError::SessionEnded | crate::auth::AuthError::TokenRevoked)
        ));
        // The password alone signs in again (no ticket).
        auth.login("ann", crate::testing::fixtures::PASSWORD, &client())
            .await
            .expect("no second factor is asked for");
        let events = audited(&auth, Kind::MfaReset).await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].user_id.as_deref(), Some(ann.user_id.as_str()));
        assert!(matches!(
            &events[0].kind,
            EventKind::MfaReset(reset) if reset.by == "ada" && reset.factors_removed == 1
        ));
        let unknown = ops.reset_mfa("no-such-user").await.unwrap_err();
        assert!(matches!(unknown, OpError::NotFound(_)), "{unknown:?}");
    }
}

crate::both_topologies! {
    async fn admin_writes_and_password_changes_need_a_recent_second_factor(backend) {
        let auth = cheap().build(&backend.store().await).await;
        let admin = principal(&auth, "ada", &[Role::Admin]).await;
        let from = client();
        // Without a factor nothing asks for one.
        let ops = auth.admin(&admin, &from).expect("ada is an admin");
        ops.create_user("bob", crate::testing::fixtures::PASSWORD, &["user".to_owned()])
            .await
            .unwrap();
        let account = auth.account(&admin);
        let enrolment = account.enroll_totp(None).await.unwrap();
        let secret = crate::mfa::totp::from_base32(&enrolment.secret).unwrap();
        let now = crate::duration::epoch_ms() / 1000;
        let code = crate::mfa::totp::code_at(&secret, now);
        account.confirm_totp(&enrolment.factor_id, &code).await.unwrap();

        // Now this password-only session changes nothing that matters.
        let err = ops
            .create_user("cyd", crate::testing::fixtures::PASSWORD, &["user".to_owned()])
            .await
            .unwrap_err();
        assert!(matches!(err, OpError::StepUpRequired), "{err:?}");
        let err = ops.reset_lockout("bob").await.unwrap_err();
        assert!(matches!(err, OpError::StepUpRequired), "{err:?}");
        let err = account
            .change_password(crate::testing::fixtures::PASSWORD, "a brand new long password", &from)
            .await
            .unwrap_err();
        assert!(matches!(err, OpError::StepUpRequired), "{err:?}");
        // Reading is not a change.
        ops.users(Page::default()).await.unwrap();

        let mut fresh = admin.clone();
        fresh.assurance.aal = 2;
        fresh.assurance.auth_time = now;
        let ops = auth.admin(&fresh, &from).expect("still an admin");
        ops.create_user("cyd", crate::testing::fixtures::PASSWORD, &["user".to_owned()])
            .await
            .unwrap();
        auth.account(&fresh)
            .change_password(crate::testing::fixtures::PASSWORD, "a brand new long password", &from)
            .await
            .unwrap();
    }
}
