//! Refresh-token rotation and silent renewal, serialised per session.
//!
//! The problem: a browser tab fires ten requests at once just as its token
//! nears expiry, possibly through different Gatehouse instances. Each wants
//! a fresh token; naive rotation would rotate ten times and reject nine
//! callers as replaying a used refresh token.
//!
//! The solution has three parts:
//! - a per-session distributed lock (`gatehouse:refresh/<session id>`) serialises
//!   rotations, so the tokens are signed once;
//! - the rotation itself is one Lua script that checks the presented token
//!   against the session, advances the generation, blacklists the replaced
//!   access token (usable for a short grace period), and stores the new pair
//!   for the grace window under the replaced token's id, sealed with a key
//!   derived from the signing key;
//! - every caller first looks for that stored result, and the script does
//!   too, so callers that lost the race, on any instance, get the same pair.
//!
//! A refresh token presented after its rotation's grace window is *reuse*:
//! someone kept an old token. The script ends the session at once (all its
//! tokens) and the event is logged with the session and address.
//!
//! Silent renewal comes in two forms, both under the same lock with the
//! same coalescing: a browser's (cookie) renewal is a full rotation driven
//! by its current access token, and both cookies are replaced; an API
//! client's (bearer) renewal replaces only the access token, since the
//! client keeps its refresh token itself.

use std::time::Duration;

use super::{Auth, AuthError, Client, Principal, principal};
use crate::api::events::{Device, Rotation, RotationVia};
use crate::blacklist::Reason;
use crate::events::{Event, EventKind};
use crate::lock::{LockError, LockOptions};
use crate::store::keys;
use crate::token::{AccessClaims, Issued};

mod bearer;
mod reply;
mod scripts;
mod sealed;

use reply::{Replaced, Reply, Rotate, Settled};
use scripts::ROTATE;
use sealed::Stored;

/// How rotation behaves.
#[derive(Clone, Debug)]
pub struct RotationConfig {
    /// How long a replaced token keeps working, and how long concurrent
    /// callers presenting it get the same new pair.
    pub grace: Duration,
    /// Renew an access token during a request once less than this share
    /// of its lifetime is left.
    pub renew_window: f64,
    /// TTL of the per-session rotation lock (a crashed holder blocks
    /// rotation of its session at most this long).
    pub lock_ttl: Duration,
    /// How long a caller waits for the rotation lock.
    pub lock_wait: Duration,
}

impl Default for RotationConfig {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(10),
            renew_window: 0.2,
            lock_ttl: Duration::from_secs(5),
            lock_wait: Duration::from_secs(10),
        }
    }
}

/// New tokens from a refresh or a renewal.
#[derive(Clone, Debug)]
pub struct Rotated {
    pub access_token: String,
    /// Present after a refresh; renewal keeps the refresh token.
    pub refresh_token: Option<String>,
    pub access: AccessClaims,
    pub principal: Principal,
    /// Another caller did the rotation; this one got its result.
    pub coalesced: bool,
}

impl Rotated {
    /// Tokens this caller issued (not another caller's result).
    fn issued(access: Issued<AccessClaims>, refresh_token: Option<String>) -> Self {
        Self {
            principal: principal(access.claims.clone()),
            access_token: access.token,
            refresh_token,
            access: access.claims,
            coalesced: false,
        }
    }
}

fn via(presented: &Presented<'_>) -> RotationVia {
    match presented {
        Presented::Refresh(_) => RotationVia::Refresh,
        Presented::Access(_) => RotationVia::Renewal,
        Presented::AccessOnly(..) => RotationVia::ApiRenewal,
        Presented::StepUp(..) => RotationVia::StepUp,
    }
}

/// The token a caller presented, and what it asks for.
enum Presented<'a> {
    /// A refresh token: rotate the session.
    Refresh(&'a crate::token::RefreshClaims),
    /// A browser's access token: rotate the session.
    Access(&'a AccessClaims),
    /// An API client's access token: replace just the access token,
    /// issuing it with these (current) roles.
    AccessOnly(&'a AccessClaims, &'a [crate::user::Role]),
    /// A session's current access token whose user proved a second factor
    /// again: rotate the session with this (raised) assurance. Never
    /// served another caller's result, which would not carry it.
    StepUp(&'a AccessClaims, crate::token::Assurance),
}

impl Presented<'_> {
    fn user_id(&self) -> &str {
        match self {
            Presented::Refresh(c) => &c.sub,
            Presented::Access(c) | Presented::AccessOnly(c, _) | Presented::StepUp(c, _) => &c.sub,
        }
    }

    fn session_id(&self) -> &str {
        match self {
            Presented::Refresh(c) => &c.sid,
            Presented::Access(c) | Presented::AccessOnly(c, _) | Presented::StepUp(c, _) => &c.sid,
        }
    }

    /// Copied into the new tokens: only a step-up raises it.
    fn assurance(&self) -> crate::token::Assurance {
        match self {
            Presented::Refresh(c) => c.assurance(),
            Presented::Access(c) | Presented::AccessOnly(c, _) => c.assurance(),
            Presented::StepUp(_, raised) => *raised,
        }
    }

    /// Whether another caller's rotation of the same token may answer.
    fn coalesces(&self) -> bool {
        !matches!(self, Presented::StepUp(..))
    }

    fn jti(&self) -> &str {
        match self {
            Presented::Refresh(c) => &c.jti,
            Presented::Access(c) | Presented::AccessOnly(c, _) | Presented::StepUp(c, _) => &c.jti,
        }
    }
}

impl Auth {
    /// Rotates the session of `claims` (its current access token) into
    /// tokens carrying `raised`: a step-up, after the user proved a second
    /// factor again. The session, its id and its devices' cookies carry
    /// on; only its assurance changes.
    pub(super) async fn step_up_session(
        &self,
        claims: &AccessClaims,
        raised: crate::token::Assurance,
        client: &Client,
    ) -> Result<Rotated, AuthError> {
        self.rotate_locked(Presented::StepUp(claims, raised), client)
            .await?
            .ok_or(AuthError::StepUpRaced)
    }

    /// Exchanges a refresh token for a new pair (rotation).
    #[tracing::instrument(skip_all, fields(session_id, ip = %client.ip), err(level = "info"))]
    pub async fn refresh(
        &self,
        refresh_token: &str,
        client: &Client,
    ) -> Result<Rotated, AuthError> {
        let claims = self.inner.tokens.verify_refresh(refresh_token)?;
        tracing::Span::current().record("session_id", claims.sid.as_str());
        self.rotate_locked(Presented::Refresh(&claims), client)
            .await?
            .ok_or(AuthError::SessionEnded)
    }

    /// Silent renewal for a browser: rotates the session (new access and
    /// refresh tokens, both set as cookies) on the strength of its current
    /// access token, which may have expired if `allow_expired` (the
    /// session, not the token, decides how long a browser stays signed
    /// in). `None` when the token is not the session's current one: a newer
    /// one exists, nothing to do.
    #[tracing::instrument(skip_all, fields(session_id), err(level = "info"))]
    pub async fn renew_session(
        &self,
        access_token: &str,
        allow_expired: bool,
        client: &Client,
    ) -> Result<Option<Rotated>, AuthError> {
        let claims = if allow_expired {
            self.inner.tokens.verify_access_expired(access_token)?
        } else {
            self.inner.tokens.verify_access(access_token)?
        };
        tracing::Span::current().record("session_id", claims.sid.as_str());
        self.rotate_locked(Presented::Access(&claims), client).await
    }

    /// Rotates under the session's lock, unless another caller's rotation
    /// of the same token is in flight or done: then waits for its result
    /// instead of queueing for the lock.
    async fn rotate_locked(
        &self,
        presented: Presented<'_>,
        client: &Client,
    ) -> Result<Option<Rotated>, AuthError> {
        let lock = lock_name(presented.session_id());
        let options = self.lock_options(presented.session_id());
        let deadline = tokio::time::Instant::now() + self.inner.rotation.lock_wait;
        let mut releases = self.inner.locks.releases();
        loop {
            if presented.coalesces()
                && let Some(done) = self.stored(presented.user_id(), presented.jti()).await?
            {
                return self.unseal(&done).map(Some);
            }
            match self.inner.locks.acquire_lease(&lock, &options).await {
                Ok(lease) => {
                    let result = self.rotate(&presented, client).await;
                    self.release_lock(&lock, &lease.owner).await;
                    return result;
                }
                Err(LockError::Busy) if tokio::time::Instant::now() < deadline => {
                    let left = deadline - tokio::time::Instant::now();
                    releases
                        .wait(&lock, left.min(Duration::from_millis(50)))
                        .await;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    async fn rotate(
        &self,
        presented: &Presented<'_>,
        client: &Client,
    ) -> Result<Option<Rotated>, AuthError> {
        // Checked again under the lock: a caller that looked before the
        // holder stored its result, and got the lock right after it was
        // released, is served that result and counts against nothing.
        if presented.coalesces()
            && let Some(done) = self.stored(presented.user_id(), presented.jti()).await?
        {
            return self.unseal(&done).map(Some);
        }
        if let Presented::AccessOnly(claims, roles) = presented {
            return self.rotate_access(claims, roles).await;
        }
        let (user_id, session_id) = (presented.user_id(), presented.session_id());
        // Roles come from the user record: a role change applies at the next rotation.
        let Some(user) = self.inner.users.get(user_id).await? else {
            return Err(AuthError::SessionEnded);
        };
        if user.disabled {
            self.disabled_token_presented(&user.id);
            self.revoke_session(
                &user.id,
                session_id,
                crate::blacklist::Reason::SessionRevoked,
            )
            .await?;
            return Err(AuthError::AccountDisabled);
        }
        let generation = match presented {
            Presented::Refresh(claims) => claims.generation + 1,
            Presented::Access(_) | Presented::AccessOnly(..) | Presented::StepUp(..) => {
                match self.inner.sessions.get(user_id, session_id).await? {
                    Some(session) => session.generation + 1,
                    None => return Err(AuthError::SessionEnded),
                }
            }
        };
        self.limit_rotation(&user.id, session_id).await?;
        let roles = user.roles.iter().map(|r| r.as_str().to_owned()).collect();
        let pending = self.pending_for(&user, presented.assurance()).await?;
        let access = self.inner.tokens.issue_access(
            &user.id,
            &user.username,
            session_id,
            roles,
            pending,
            presented.assurance(),
        )?;
        let refresh = self.inner.tokens.issue_refresh(
            &user.id,
            session_id,
            generation,
            presented.assurance(),
        )?;
        let sealed = self.seal(&Stored {
            access: access.token.clone(),
            refresh: Some(refresh.token.clone()),
        })?;
        let kind = match presented {
            Presented::Refresh(_) => "r",
            Presented::Access(_) | Presented::AccessOnly(..) | Presented::StepUp(..) => "a",
        };
        let mut write = self.inner.store.durable();
        let reply: Reply<Rotate> = self
            .replacing(&ROTATE, presented, &access, sealed)
            .key(keys::rotation_result_prefix(&user.id))
            .arg(&refresh.claims.jti)
            .arg(kind)
            .invoke_async(write.conn())
            .await?;
        write.confirm("refresh_rotated").await;
        match reply.0 {
            Ok(Rotate::Rotated {
                generation,
                replaced,
            }) => {
                self.inner
                    .blacklist
                    .index(
                        &user.id,
                        session_id,
                        &replaced.jti,
                        replaced.expires_at_ms,
                        Reason::Rotated,
                    )
                    .await?;
                tracing::info!(generation = %generation, "session tokens rotated");
                self.inner.events.emit(
                    Event::new(EventKind::RefreshRotated(Rotation {
                        generation,
                        via: via(presented),
                    }))
                    .user(&user.id)
                    .username(&user.username)
                    .session(session_id)
                    .ip(&client.ip),
                );
                Ok(Some(Rotated::issued(access, Some(refresh.token))))
            }
            Ok(Rotate::Reused(revoked)) => {
                self.reused(&user, session_id, revoked, client).await?;
                Err(AuthError::RefreshReused)
            }
            Err(settled) if presented.coalesces() || settled == Settled::Ended => {
                self.settled(settled)
            }
            Err(_) => Err(AuthError::StepUpRaced),
        }
    }

    /// A used refresh token came back: the script ended the session;
    /// index its revoked access token and raise the alarm.
    async fn reused(
        &self,
        user: &crate::user::User,
        session_id: &str,
        revoked: Replaced,
        client: &Client,
    ) -> Result<(), AuthError> {
        self.inner
            .blacklist
            .index(
                &user.id,
                session_id,
                &revoked.jti,
                revoked.expires_at_ms,
                Reason::ReuseDetected,
            )
            .await?;
        tracing::warn!(
            user_id = %user.id,
            session_id = %session_id,
            ip = %client.ip,
            user_agent = %client.user_agent,
            "security: refresh token reuse detected; session revoked"
        );
        self.inner.events.emit(
            Event::new(EventKind::RefreshReuseDetected(Device {
                device: crate::session::device::label(&client.user_agent),
            }))
            .user(&user.id)
            .username(&user.username)
            .session(session_id)
            .ip(&client.ip),
        );
        Ok(())
    }

    /// Whether a principal's access token is in its renewal window.
    pub fn wants_renewal(&self, principal: &Principal, now_secs: u64) -> bool {
        let lifetime = principal
            .token_expires_at
            .saturating_sub(principal.token_issued_at);
        let left = principal.token_expires_at.saturating_sub(now_secs);
        (left as f64) < self.inner.rotation.renew_window * lifetime as f64
    }

    /// The per-session rotation limit (policy `refresh`). Callers served a
    /// stored result never get here: only real rotations count.
    pub(super) async fn limit_rotation(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> Result<(), AuthError> {
        let Some(policy) = self.inner.limiter.policy(crate::ratelimit::policy::REFRESH) else {
            return Ok(());
        };
        let check = crate::ratelimit::Check {
            policy,
            subject: crate::ratelimit::Subject::Session {
                user_id: user_id.to_owned(),
                session_id: session_id.to_owned(),
            },
            cost: 1,
        };
        let checks = std::slice::from_ref(&check);
        match self.inner.limiter.check(checks, true).await {
            Ok(decision) => match decision.rejection() {
                Some(rejected) => Err(AuthError::RateLimited(rejected.clone())),
                None => Ok(()),
            },
            Err(err) if !crate::ratelimit::Limiter::refuses_unavailable(checks, &err) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// One attempt (no waiting): callers wait in [`Auth::rotate_locked`],
    /// watching for the winner's result.
    pub(super) fn lock_options(&self, session_id: &str) -> LockOptions {
        LockOptions {
            ttl: self.inner.rotation.lock_ttl,
            wait: Duration::ZERO,
            label: format!("refresh of session {session_id}"),
            holder: None,
            watchdog: false,
            // The lock only coalesces rotations; the script decides.
            fencing: false,
        }
    }

    async fn release_lock(&self, lock: &str, owner: &str) {
        if let Err(err) = self.inner.locks.release(lock, owner).await {
            tracing::warn!(lock, error = %err, "rotation lock not released; it expires by itself");
        }
    }
}

/// The per-session lock that serialises rotations: an internal name, out of
/// reach of the lock API.
pub(super) fn lock_name(session_id: &str) -> String {
    format!("{}refresh/{session_id}", crate::lock::INTERNAL_PREFIX)
}

#[cfg(test)]
mod tests;
