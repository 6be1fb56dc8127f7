//! The core value for tests and benchmarks, built one way: a fixed HS256
//! secret, the default lifetimes and policies unless a test says
//! otherwise, and people signed in with one call.
//!
//! Each suite used to assemble [`Auth`] from its parts by hand; a part
//! added to [`AuthParts`] now changes this one place.

use crate::Store;
use crate::auth::challenge::ChallengeConfig;
use crate::auth::{Auth, AuthParts, Client, Login, RotationConfig};
use crate::blacklist::Blacklist;
use crate::events::Events;
use crate::lock::Locks;
use crate::password::{Cost, Hasher};
use crate::ratelimit::{Limiter, Policy, default_policies, merge};
use crate::session::{SessionConfig, Sessions};
use crate::token::{Keyring, TokenConfig, Tokens};
use crate::user::Role;

/// What a test wants of its [`Auth`]; [`Default`] is production's
/// settings with a fixed secret.
#[derive(Clone, Debug)]
pub struct AuthFixture {
    pub sessions: SessionConfig,
    pub tokens: TokenConfig,
    pub rotation: RotationConfig,
    pub challenges: ChallengeConfig,
    /// Policies replacing the defaults of the same name (or added).
    pub policies: Vec<Policy>,
    /// Only these policies, not merged with the defaults.
    pub only_policies: bool,
    /// Argon2 at its cheapest, for tests about something else.
    pub cheap_hashing: bool,
    /// Events each stream keeps.
    pub events_kept: u64,
    /// The instance name in events and lock registries.
    pub instance: &'static str,
    /// The sign-out journal's file, if sign-outs may outlast Redis.
    pub signouts: Option<std::path::PathBuf>,
    /// Degraded mode's bound (zero: off, the default here).
    pub degraded_max: std::time::Duration,
    /// Roles that must have a second factor (none by default).
    pub mfa_required_roles: Vec<crate::user::Role>,
    /// The second-factor key (`--mfa-key-file`); none: derived from the
    /// signing key.
    pub mfa_key: Option<[u8; 32]>,
}

impl Default for AuthFixture {
    fn default() -> Self {
        Self {
            sessions: SessionConfig::default(),
            tokens: TokenConfig::default(),
            rotation: RotationConfig::default(),
            challenges: ChallengeConfig::default(),
            policies: Vec::new(),
            only_policies: false,
            cheap_hashing: false,
            events_kept: 10_000,
            instance: "test",
            signouts: None,
            degraded_max: std::time::Duration::ZERO,
            mfa_required_roles: Vec::new(),
            mfa_key: None,
        }
    }
}

impl AuthFixture {
    /// Policies from their specs (`name=…,key=…`), replacing defaults.
    pub fn with_policies(mut self, specs: &[&str]) -> Self {
        self.policies = specs
            .iter()
            .map(|spec| Policy::parse(spec).expect("a valid policy spec"))
            .collect();
        self
    }

    pub async fn build(self, store: &Store) -> Auth {
        let store = store.clone();
        let hasher = if self.cheap_hashing {
            let cost = Cost {
                memory_kib: 64,
                iterations: 1,
            };
            Hasher::with_cost(2, cost).await
        } else {
            Hasher::new(4).await
        }
        .expect("start the password hasher");
        let policies = if self.only_policies {
            self.policies
        } else {
            merge(default_policies(), self.policies)
        };
        Auth::new(AuthParts {
            users: crate::user::Users::new(store.clone(), hasher),
            sessions: Sessions::new(store.clone(), self.sessions),
            tokens: Tokens::new(
                Keyring::from_secret(b"0123456789abcdef0123456789abcdef")
                    .expect("a 32-byte secret"),
                self.tokens,
            ),
            locks: Locks::new(store.clone(), self.instance),
            blacklist: Blacklist::new(store.clone()),
            limiter: Limiter::new(store.clone(), policies),
            events: Events::new(store.clone(), self.instance, self.events_kept),
            rotation: self.rotation,
            challenges: self.challenges,
            signouts: self.signouts.map(|path| {
                std::sync::Arc::new(
                    crate::signouts::Journal::open(path).expect("open the sign-out journal"),
                )
            }),
            degraded_max: self.degraded_max,
            step_up_max_age: std::time::Duration::from_secs(600),
            mfa_required_roles: self.mfa_required_roles.clone(),
            relying_party: relying_party(),
            mfa_key: self.mfa_key,
            store,
        })
    }
}

/// The WebAuthn relying party of the fixtures: `http://localhost:3000`.
pub fn relying_party() -> std::sync::Arc<crate::mfa::RelyingParty> {
    std::sync::Arc::new(
        crate::mfa::RelyingParty::new("http://localhost:3000").expect("a valid public URL"),
    )
}

/// The client every fixture signs in from.
pub fn client() -> Client {
    Client {
        ip: "198.51.100.4".into(),
        limit_key: "198.51.100.4".into(),
        user_agent: "curl/8.5.0".into(),
    }
}

/// The password fixtures give people.
pub const PASSWORD: &str = "a long enough password";

/// A new user `username` with `roles` (an admin with `&[Role::Admin]`),
/// signed in from [`client`].
pub async fn signed_in(auth: &Auth, username: &str, roles: &[Role]) -> Login {
    auth.users()
        .create(username, PASSWORD, roles)
        .await
        .expect("create the fixture's user");
    auth.login(username, PASSWORD, &client())
        .await
        .expect("sign the fixture's user in")
}
