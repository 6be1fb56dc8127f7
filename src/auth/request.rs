//! Authenticating a request and applying its rate limits in one round
//! trip.
//!
//! A protected request needs three answers from Redis: is the session
//! alive (and its idle timeout slid), is the token blacklisted, and do the
//! rate limits allow it (and, with replay protection, was its nonce seen
//! before). On one Redis server they come from one script that combines the
//! session's `touch` function and the rate limiter's `check` function, so
//! the whole guard costs a single round trip. A Redis Cluster cannot run
//! one script across slots; there the parts run concurrently instead.

use std::sync::LazyLock;

use redis::Script;

use super::{Auth, AuthError, Principal, principal};
use crate::ratelimit::{Decision, Limiter};
use crate::store::keys;

static GUARD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{}\n{}\nlocal t = touch(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2])\n\
         if t[1] ~= 1 then return {{ t, {{}} }} end\n\
         return {{ t, check(KEYS, 4, ARGV, 3) }}",
        crate::session::TOUCH_LUA,
        crate::ratelimit::LUA
    ))
});

/// What the guard knows about a request.
#[derive(Clone, Copy, Debug)]
pub struct RequestInfo<'a> {
    pub path: &'a str,
    pub ip: &'a str,
    /// A replay-protection nonce to remember (already checked for format
    /// and timestamp).
    pub nonce: Option<&'a str>,
}

impl Auth {
    /// Validates an access token and applies the rate limits guarding the
    /// request, in one Redis round trip. A session that ended or a revoked
    /// token is an error; a rate-limited or replayed request is a
    /// [`Decision`] that does not allow it.
    pub async fn authenticate_limited(
        &self,
        token: &str,
        request: &RequestInfo<'_>,
    ) -> Result<(Principal, Decision), AuthError> {
        let claims = self.tokens.verify_access(token)?;
        let checks =
            self.limiter
                .checks_for(request.path, request.ip, Some((&claims.sub, &claims.sid)));
        let nonce_key = request
            .nonce
            .map(|nonce| keys::replay_nonce(&claims.sub, nonce));
        if self.store.is_cluster() {
            let (touched, decision) = tokio::join!(
                self.sessions.touch(&claims.sub, &claims.sid, &claims.jti),
                self.cluster_limits(&checks, nonce_key)
            );
            touched?;
            return Ok((principal(claims), decision?));
        }
        let invocation = self.limiter.invocation(&checks, true, nonce_key);
        let mut call = GUARD.prepare_invoke();
        call.key(keys::session(&claims.sub, &claims.sid))
            .key(keys::user_sessions(&claims.sub))
            .key(keys::blacklisted(&claims.sub, &claims.jti))
            .arg(&claims.sid)
            .arg(
                u64::try_from(self.sessions.config().idle_timeout.as_millis()).unwrap_or(u64::MAX),
            );
        for key in &invocation.keys {
            call.key(key);
        }
        for arg in &invocation.args {
            call.arg(arg);
        }
        let (touched, limits): (Vec<i64>, Vec<i64>) =
            call.invoke_async(&mut self.store.conn()).await?;
        match touched.first() {
            Some(1) => Ok((principal(claims), Limiter::decision(&checks, &limits)?)),
            Some(2) => Err(AuthError::TokenRevoked),
            _ => Err(AuthError::SessionEnded),
        }
    }

    async fn cluster_limits(
        &self,
        checks: &[crate::ratelimit::Check<'_>],
        nonce_key: Option<String>,
    ) -> Result<Decision, AuthError> {
        if let Some(nonce_key) = nonce_key {
            let fresh: Option<String> = redis::cmd("SET")
                .arg(nonce_key)
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(
                    u64::try_from((2 * crate::ratelimit::REPLAY_WINDOW).as_millis())
                        .unwrap_or(u64::MAX),
                )
                .query_async(&mut self.store.conn())
                .await?;
            if fresh.is_none() {
                return Ok(Decision {
                    replayed: true,
                    outcomes: Vec::new(),
                });
            }
        }
        Ok(self.limiter.check(checks, true).await?)
    }
}

#[cfg(test)]
mod tests;
