//! Proof-of-work challenges for sign-ins under attack.
//!
//! The per-address lockout stops one machine guessing one password; it
//! does nothing against many machines guessing one username, or one
//! machine trying many usernames. A hard lockout per username would let
//! anyone lock a victim out, so instead: after [`USER_FAILURES`] failed
//! sign-ins to a username from anywhere, or [`IP_FAILURES`] from one
//! address to any usernames, within their windows, sign-in to that
//! username / from that address needs a solved challenge. Solving costs a
//! browser about half a second once; it costs an attacker that per guess.
//! The right person still gets in; nobody is locked out.
//!
//! A challenge is a random salt and a difficulty; a solution is a string
//! `s` such that SHA-256 of `salt + s` starts with `difficulty` zero bits.
//! Challenges live in Redis for a short TTL, are bound to the username they
//! were issued for, and are single-use: redeeming one takes it out of
//! Redis atomically (`take.lua`), so of many concurrent submissions of one
//! solution, one gets through. A sign-in that needs a challenge and has no
//! valid one is answered with a fresh challenge, before any password work.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;
use sha2::{Digest, Sha256};

use super::{Auth, AuthError, Client};
use crate::ratelimit::{Check, Subject};
use crate::store::keys;

/// The policy counting failed sign-ins per username, from anywhere.
pub const USER_FAILURES: &str = "challenge-user";
/// The policy counting failed sign-ins per address, to any username.
pub const IP_FAILURES: &str = "challenge-ip";
/// The only algorithm there is, named so clients can check.
pub const ALGORITHM: &str = "sha256-leading-zero-bits";

static TAKE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("take.lua")));

/// How hard and how long-lived challenges are.
#[derive(Clone, Copy, Debug)]
pub struct ChallengeConfig {
    /// Leading zero bits a solution needs (each one doubles the work; 19
    /// is about 520 000 hashes: measured in headless Chromium, the whole
    /// sign-in with solving takes about half a second).
    pub difficulty: u8,
    /// How long a challenge can be redeemed.
    pub ttl: Duration,
}

impl Default for ChallengeConfig {
    fn default() -> Self {
        Self {
            difficulty: 19,
            ttl: Duration::from_secs(120),
        }
    }
}

pub use crate::api::auth::Challenge;

/// A client's answer to a challenge.
#[derive(Clone, Copy, Debug)]
pub struct Solution<'a> {
    pub challenge_id: &'a str,
    pub solution: &'a str,
}

/// Whether SHA-256 of `salt + solution` has `difficulty` leading zero bits.
pub fn solves(salt: &str, solution: &str, difficulty: u8) -> bool {
    let digest = Sha256::new()
        .chain_update(salt.as_bytes())
        .chain_update(solution.as_bytes())
        .finalize();
    crate::api::auth::meets_difficulty(&digest, difficulty)
}

/// Finds a solution by counting up (what a client does; for tests and
/// non-browser clients written in Rust).
pub fn solve(salt: &str, difficulty: u8) -> String {
    (0u64..)
        .map(|n| n.to_string())
        .find(|candidate| solves(salt, candidate, difficulty))
        .unwrap_or_default()
}

impl Auth {
    /// Issues a challenge for signing in to `username`.
    pub async fn issue_challenge(&self, username: &str) -> Result<Challenge, AuthError> {
        let config = self.inner.challenges;
        let id = crate::random::hex::<16>();
        let salt = crate::random::hex::<16>();
        let ttl = crate::duration::millis(config.ttl);
        let _: () = redis::pipe()
            .atomic()
            .cmd("HSET")
            .arg(keys::challenge(&id))
            .arg("u")
            .arg(username.trim().to_lowercase())
            .arg("s")
            .arg(&salt)
            .arg("d")
            .arg(config.difficulty)
            .ignore()
            .cmd("PEXPIRE")
            .arg(keys::challenge(&id))
            .arg(ttl)
            .ignore()
            .query_async(&mut self.inner.store.conn())
            .await?;
        Ok(Challenge {
            challenge_id: id,
            algorithm: ALGORITHM.to_owned(),
            salt,
            difficulty: config.difficulty,
            expires_in_ms: ttl,
        })
    }

    /// The failure windows that decide whether signing in to `username`
    /// from `client` needs a challenge (none if neither policy is set).
    pub(super) fn challenge_checks(&self, username: &str, client: &Client) -> Vec<Check<'_>> {
        let limiter = &self.inner.limiter;
        let user = limiter.policy(USER_FAILURES).map(|policy| Check {
            policy,
            subject: Subject::Username {
                username: username.trim().to_lowercase(),
            },
            cost: 1,
        });
        let ip = limiter.policy(IP_FAILURES).map(|policy| Check {
            policy,
            subject: Subject::Ip {
                ip: client.limit_key.clone(),
            },
            cost: 1,
        });
        user.into_iter().chain(ip).collect()
    }

    /// Passes when no challenge is needed or `solution` redeems a valid
    /// one for `username`; otherwise fails with a fresh challenge.
    pub(super) async fn require_challenge(
        &self,
        checks: &[Check<'_>],
        username: &str,
        client: &Client,
        solution: Option<Solution<'_>>,
    ) -> Result<(), AuthError> {
        if checks.is_empty() {
            return Ok(());
        }
        // Would one more failure fit? (Looks only; failures count later.)
        let decision = self.inner.limiter.check(checks, false).await?;
        if decision.rejection().is_none() {
            return Ok(());
        }
        if let Some(solution) = solution
            && self.redeem(solution, username).await?
        {
            return Ok(());
        }
        self.inner.events.refused(
            &format!("challenge:{}", username.trim().to_lowercase()),
            self.inner.challenges.ttl,
            crate::events::Event::new(crate::events::EventKind::LoginChallenged)
                .username(username.trim())
                .ip(&client.ip),
        );
        Err(AuthError::ChallengeRequired(Box::new(
            self.issue_challenge(username).await?,
        )))
    }

    /// Takes the challenge out of Redis (so it works once) and checks it
    /// was issued for `username` and is solved.
    async fn redeem(&self, solution: Solution<'_>, username: &str) -> Result<bool, AuthError> {
        if !keys::is_id(solution.challenge_id) || solution.solution.len() > 128 {
            return Ok(false);
        }
        let taken: Vec<String> = TAKE
            .key(keys::challenge(solution.challenge_id))
            .invoke_async(&mut self.inner.store.conn())
            .await?;
        let (owner, salt, difficulty) = match taken.as_slice() {
            [] => return Ok(false),
            [owner, salt, difficulty] => (owner, salt, difficulty),
            other => {
                return Err(AuthError::Corrupt(format!("take.lua replied {other:?}")));
            }
        };
        let difficulty = difficulty.parse().map_err(|_| {
            AuthError::Corrupt(format!("take.lua replied difficulty {difficulty:?}"))
        })?;
        Ok(*owner == username.trim().to_lowercase() && solves(salt, solution.solution, difficulty))
    }

    /// Counts a failed sign-in in the windows that decide on challenges.
    pub(super) async fn count_failure(&self, checks: &[Check<'_>]) -> Result<(), AuthError> {
        if !checks.is_empty() {
            self.inner.limiter.check(checks, true).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
