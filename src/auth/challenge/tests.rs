//! Challenges: solving, single use, binding to a username, expiry, and
//! the thresholds that turn them on.

use std::time::Duration;

use super::super::tests::client;
use super::*;
use crate::testing::TestBackend;
use crate::testing::fixtures::AuthFixture;
use crate::user::Role;

/// Challenges after 3 failures per username or 6 per address, easy ones.
async fn guarded(backend: &TestBackend, ttl: Duration) -> Auth {
    AuthFixture {
        challenges: ChallengeConfig { difficulty: 8, ttl },
        only_policies: true,
        cheap_hashing: true,
        ..AuthFixture::default()
    }
    .with_policies(&[
        "name=challenge-user,key=username,algorithm=sliding-log,limit=3,window=1m,fail=closed",
        "name=challenge-ip,key=ip,algorithm=sliding-log,limit=6,window=1m,fail=closed",
    ])
    .build(&backend.store().await)
    .await
}

fn from(ip: &str) -> Client {
    Client {
        ip: ip.to_owned(),
        limit_key: ip.to_owned(),
        user_agent: String::new(),
    }
}

/// Fails `n` sign-ins to `username`, each from its own address.
async fn fail(auth: &Auth, username: &str, n: usize) {
    for i in 0..n {
        let result = auth
            .login(
                username,
                "not the password",
                &from(&format!("203.0.113.{i}")),
            )
            .await;
        assert!(
            matches!(result, Err(AuthError::InvalidCredentials)),
            "{result:?}"
        );
    }
}

fn required(result: Result<crate::auth::Login, AuthError>) -> Challenge {
    match result {
        Err(AuthError::ChallengeRequired(challenge)) => *challenge,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

#[test]
fn solutions_need_the_leading_zero_bits() {
    let salt = "0f1e2d3c";
    let solution = solve(salt, 12);
    assert!(solves(salt, &solution, 12));
    // 19 leading zero bits meet a difficulty of 19, not 20.
    let digest = [0, 0, 0b0001_0000];
    assert!(crate::api::auth::meets_difficulty(&digest, 19));
    assert!(!crate::api::auth::meets_difficulty(&digest, 20));
    assert!(crate::api::auth::meets_difficulty(&[0xff], 0));
    assert!(!crate::api::auth::meets_difficulty(&[0xff], 1));
}

crate::both_topologies! {
    async fn failures_to_one_username_from_anywhere_require_a_challenge(backend) {
        let auth = guarded(&backend, Duration::from_secs(60)).await;
        auth.users().create("vic", "the right password", &[Role::User]).await.unwrap();
        fail(&auth, "vic", 3).await;
        let verified = auth.users().hasher().verifications();
        // The right password, without a challenge: refused before Argon2.
        let challenge = required(auth.login("vic", "the right password", &client()).await);
        assert_eq!(auth.users().hasher().verifications(), verified, "no password work");
        assert_eq!(challenge.algorithm, ALGORITHM);
        assert_eq!(challenge.difficulty, 8);
        assert!(challenge.expires_in_ms <= 60_000);
        let solution = solve(&challenge.salt, challenge.difficulty);
        let answer = Solution { challenge_id: &challenge.challenge_id, solution: &solution };
        auth.login_with("vic", "the right password", &client(), Some(answer), None).await.unwrap();
        // Used once only.
        let again = auth.login_with("vic", "the right password", &client(), Some(answer), None).await;
        required(again);
        // Other usernames from other places are not affected.
        auth.users().create("wes", "the right password", &[Role::User]).await.unwrap();
        auth.login("wes", "the right password", &from("198.51.100.1")).await.unwrap();
    }
}

crate::both_topologies! {
    async fn failures_from_one_address_to_many_usernames_require_a_challenge(backend) {
        let auth = guarded(&backend, Duration::from_secs(60)).await;
        auth.users().create("xia", "the right password", &[Role::User]).await.unwrap();
        let sprayer = from("198.51.100.9");
        for i in 0..6 {
            let result = auth.login(&format!("guess{i}"), "password123", &sprayer).await;
            assert!(matches!(result, Err(AuthError::InvalidCredentials)), "{result:?}");
        }
        required(auth.login("xia", "the right password", &sprayer).await);
        auth.login("xia", "the right password", &from("198.51.100.10")).await.unwrap();
    }
}

crate::both_topologies! {
    async fn wrong_reused_misdirected_and_expired_challenges_are_refused(backend) {
        let auth = guarded(&backend, Duration::from_millis(400)).await;
        auth.users().create("yan", "the right password", &[Role::User]).await.unwrap();
        auth.users().create("zed", "the right password", &[Role::User]).await.unwrap();
        fail(&auth, "yan", 3).await;
        fail(&auth, "zed", 3).await;

        let c = required(auth.login("yan", "the right password", &client()).await);
        let wrong = (0u64..).map(|n| n.to_string()).find(|s| !solves(&c.salt, s, c.difficulty)).unwrap();
        let answer = Solution { challenge_id: &c.challenge_id, solution: &wrong };
        required(auth.login_with("yan", "the right password", &client(), Some(answer), None).await);

        // Issued for yan, presented for zed.
        let c = required(auth.login("yan", "the right password", &client()).await);
        let solution = solve(&c.salt, c.difficulty);
        let answer = Solution { challenge_id: &c.challenge_id, solution: &solution };
        required(auth.login_with("zed", "the right password", &client(), Some(answer), None).await);

        let c = required(auth.login("yan", "the right password", &client()).await);
        let solution = solve(&c.salt, c.difficulty);
        // A TTL must pass: the challenge expires while it is being solved.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let answer = Solution { challenge_id: &c.challenge_id, solution: &solution };
        required(auth.login_with("yan", "the right password", &client(), Some(answer), None).await);
        let unknown = Solution { challenge_id: "not-an-id", solution: &solution };
        required(auth.login_with("yan", "the right password", &client(), Some(unknown), None).await);
    }
}

crate::both_topologies! {
    /// 40 concurrent sign-ins with one solved challenge: one gets in.
    async fn one_solved_challenge_admits_one_sign_in(backend) {
        let auth = guarded(&backend, Duration::from_secs(60)).await;
        auth.users().create("ada", "the right password", &[Role::User]).await.unwrap();
        fail(&auth, "ada", 3).await;
        let c = required(auth.login("ada", "the right password", &client()).await);
        let solution = solve(&c.salt, c.difficulty);
        let attempts: Vec<_> = (0..40)
            .map(|_| {
                let (auth, id, solution) = (auth.clone(), c.challenge_id.clone(), solution.clone());
                tokio::spawn(async move {
                    let answer = Solution { challenge_id: &id, solution: &solution };
                    auth.login_with("ada", "the right password", &client(), Some(answer), None).await.is_ok()
                })
            })
            .collect();
        let mut admitted = 0;
        for attempt in attempts {
            admitted += usize::from(attempt.await.unwrap());
        }
        assert_eq!(admitted, 1);
    }
}
