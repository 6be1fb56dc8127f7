//! Redis memory stays bounded: after a crowd has signed in, made requests,
//! refreshed, been rate-limited and signed out, and its windows and
//! lifetimes have run out, only the keys that have owners remain.

use std::collections::BTreeSet;
use std::time::Duration;

use super::*;
use crate::auth::{Client, Credential, Facts, RotationConfig, TokenSource};
use crate::ratelimit::Policy;
use crate::route::RouteClass;
use crate::session::SessionConfig;
use crate::testing::TestBackend;
use crate::testing::fixtures::AuthFixture;
use crate::token::TokenConfig;
use crate::user::Role;

const USERS: usize = 1_000;
const SESSIONS: usize = 5_000;

/// Every policy of the defaults, with one-second windows.
fn short_policies() -> Vec<Policy> {
    [
        "name=ip,key=ip,algorithm=sliding-counter,limit=100000,window=1s,routes=*,fail=open",
        "name=api-user,key=user,algorithm=sliding-log,limit=600,window=1s,routes=/api/*,fail=open",
        "name=api-burst,key=user,algorithm=gcra,limit=600,window=1s,burst=100,routes=/api/*,fail=open",
        "name=login-lockout,key=ip+username,algorithm=sliding-log,limit=5,window=1s,fail=closed",
        "name=refresh,key=session,algorithm=sliding-log,limit=30,window=1s,fail=open",
    ]
    .into_iter()
    .map(|spec| Policy::parse(spec).unwrap())
    .collect()
}

async fn short_lived_auth(backend: &TestBackend) -> Auth {
    AuthFixture {
        sessions: SessionConfig {
            idle_timeout: Duration::from_secs(2),
            absolute_lifetime: Duration::from_secs(3),
            max_per_user: 100,
        },
        tokens: TokenConfig {
            access_ttl: Duration::from_secs(2),
            refresh_ttl: Duration::from_secs(3),
            leeway: Duration::ZERO,
            ..TokenConfig::default()
        },
        rotation: RotationConfig {
            grace: Duration::from_millis(500),
            lock_ttl: Duration::from_secs(1),
            ..RotationConfig::default()
        },
        policies: short_policies(),
        only_policies: true,
        // Cheap hashes: this test is about keys, not Argon2.
        cheap_hashing: true,
        events_kept: 1_000,
        ..AuthFixture::default()
    }
    .build(&backend.store().await)
    .await
}

/// One person's day: a wrong password, a sign-in, a request, a refresh,
/// and (every other time) a sign-out.
async fn a_day(auth: Auth, i: usize) {
    let user = format!("crowd-{}", i % USERS);
    let ip = format!("198.51.{}.{}", i / 250, i % 250);
    let client = Client {
        limit_key: ip.clone(),
        ip,
        user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0".to_owned(),
    };
    assert!(matches!(
        auth.login(&user, "wrong password", &client).await,
        Err(crate::auth::AuthError::InvalidCredentials)
    ));
    let login = auth
        .login(&user, "a crowd password", &client)
        .await
        .unwrap();
    let facts = Facts {
        path: "/api/v1/auth/me",
        route: RouteClass::Ordinary,
        state_changing: false,
        client: &client,
        credential: Some(Credential {
            token: &login.access.token,
            source: TokenSource::Bearer,
        }),
        nonce: None,
        timestamp: None,
        now_secs: crate::duration::epoch_ms() / 1000,
    };
    let admitted = auth.admit(&facts).await;
    assert!(admitted.refusal.is_none(), "{:?}", admitted.refusal);
    let rotated = auth.refresh(&login.refresh.token, &client).await.unwrap();
    if i.is_multiple_of(2) {
        auth.logout(&rotated.principal).await.unwrap();
    }
}

/// Every key in Redis (all nodes of a Cluster).
async fn all_keys(backend: &TestBackend) -> BTreeSet<String> {
    backend.scan("*").await.into_iter().collect()
}

crate::both_topologies! {
    async fn every_key_expires_or_has_an_owner(backend) {
        let auth = short_lived_auth(&backend).await;
        let users: Vec<_> = (0..USERS)
            .map(|i| {
                let auth = auth.clone();
                tokio::spawn(async move {
                    auth.users()
                        .create(&format!("crowd-{i}"), "a crowd password", &[Role::User])
                        .await
                        .unwrap();
                })
            })
            .collect();
        for user in users {
            user.await.unwrap();
        }
        let baseline = all_keys(&backend).await;

        let mut days = Vec::new();
        for worker in 0..50 {
            let auth = auth.clone();
            days.push(tokio::spawn(async move {
                for i in (worker..SESSIONS).step_by(50) {
                    a_day(auth.clone(), i).await;
                }
            }));
        }
        for day in days {
            day.await.unwrap();
        }
        auth.events().flush().await;
        assert!(auth.sessions().counts().await.unwrap().0 > 0, "sessions were live");

        // Every lifetime here is at most 3 s.
        tokio::time::sleep(Duration::from_millis(3_500)).await;
        let pruned = prune(&auth).await.unwrap();
        assert!(pruned.expired > 0, "{pruned:?}");

        let after = all_keys(&backend).await;
        // The capped event and audit streams, the revocation stream
        // (trimmed by age, with a TTL, checked below) and the per-minute
        // counters (each with a 2 h TTL) are bounded by construction;
        // nothing else may stay.
        let left: Vec<&String> = after
            .difference(&baseline)
            .filter(|key| !["gh:events", "gh:audit", "gh:revocations"].contains(&key.as_str()) && !key.starts_with("gh:stats:"))
            .collect();
        let revocations_ttl: i64 = redis::cmd("PTTL")
            .arg("gh:revocations")
            .query_async(&mut backend.store().await.conn())
            .await
            .unwrap();
        assert!(revocations_ttl > 0, "the revocation stream expires ({revocations_ttl})");
        assert!(left.is_empty(), "{} keys outlived their lifetimes: {:?}", left.len(), &left[..left.len().min(20)]);
        assert!(after.is_superset(&baseline), "the users' own keys stay");
    }
}
