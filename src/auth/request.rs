//! The Redis part of admitting a request, in one round trip.
//!
//! A protected request needs four answers from Redis: is the session alive
//! (and its idle timeout slid), is the token blacklisted, what may the user
//! do *now* (roles and the disabled flag, never trusted from the token
//! alone), and do the rate limits allow it (and, with replay protection,
//! was its nonce seen before). On one Redis server they come from one call
//! of the `admit` function (admit.lua: the session's `touch`, then the
//! rate limiter's `check`), whose keys and arguments are written straight
//! into the command. A Redis Cluster cannot run one call across slots;
//! there the session part (with the nonce, which lives in the user's slot)
//! and each policy run concurrently instead.

use redis::{FromRedisValue, ParsingError, Value};

use super::{Auth, AuthError, Principal, principal_with_roles};
use crate::api::events::Repeats;
use crate::events::{Event, EventKind};
use crate::ratelimit::{ADMIT, Check, Checked, Decision};
use crate::session::{SessionError, Touch, Touched};
use crate::store::keys::{self, Key};
use crate::store::reply::{items, malformed};
use crate::token::AccessClaims;
use crate::user::Role;

/// The admission script, as Lua.
pub(crate) const ADMIT_LUA: &str = include_str!("admit.lua");

/// What Redis confirmed about a token's caller: the user's current
/// roles, and what the session must do first.
pub(super) struct Confirmed {
    roles: Vec<Role>,
    pending: crate::token::Pending,
}

impl Confirmed {
    /// The caller, as `claims` name them and Redis confirmed them.
    pub(super) fn principal(self, claims: AccessClaims) -> Principal {
        principal_with_roles(claims, self.roles, self.pending)
    }
}

/// `admit`'s reply: the session's verdict and, for a live session, the
/// limits' (decoded only then: an ended session's reply has none).
struct Admitted {
    touch: Touch,
    limits: Option<Checked>,
}

impl FromRedisValue for Admitted {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        let items = items("admit.lua", value)?;
        let touch = Touch::from_items(items.get(..5.min(items.len())).unwrap_or_default())?;
        let limits = match &touch {
            Touch::Alive(_) => Some(Checked::from_items(items.get(5..).unwrap_or_default())?),
            _ if items.len() == 1 => None,
            _ => return Err(malformed("admit.lua", format_args!("{items:?}"))),
        };
        Ok(Self { touch, limits })
    }
}

impl Auth {
    /// Confirms the token's session in Redis and applies `checks` (plus a
    /// replay `nonce`), in one round trip on one server. The principal
    /// carries the user's roles as Redis has them now. A session that
    /// ended, a revoked token or a disabled user is an error; a
    /// rate-limited or replayed request is a [`Decision`] that does not
    /// allow it.
    pub(super) async fn authenticate_limited(
        &self,
        claims: AccessClaims,
        checks: &[Check<'_>],
        nonce: Option<&str>,
    ) -> Result<(Principal, Decision), AuthError> {
        let (confirmed, decision) = self.confirm(&claims, checks, nonce).await?;
        Ok((confirmed.principal(claims), decision))
    }

    /// [`Auth::authenticate_limited`] without building the principal, so
    /// that a caller Redis could not confirm still has its claims.
    pub(super) async fn confirm(
        &self,
        claims: &AccessClaims,
        checks: &[Check<'_>],
        nonce: Option<&str>,
    ) -> Result<(Confirmed, Decision), AuthError> {
        if self.signed_out_here(&claims.sid) {
            return Err(AuthError::TokenRevoked);
        }
        let (touched, decision) = if self.inner.store.is_cluster() {
            let nonce_key = nonce.map(|nonce| keys::replay_nonce(&claims.sub, nonce));
            let (touched, decision) = tokio::join!(
                self.inner
                    .sessions
                    .touch(&claims.sub, &claims.sid, &claims.jti),
                self.cluster_limits(checks, nonce_key)
            );
            (
                touched.map_err(|err| self.ended_if_disabled(&claims.sub, err))?,
                decision?,
            )
        } else {
            let limiter = &self.inner.limiter;
            let nonce = nonce.map(|nonce| (claims.sub.as_str(), nonce));
            let limits = limiter.call(checks, true, nonce, true)?;
            let mut call =
                limiter
                    .library()
                    .call(ADMIT, 5 + limits.key_count(), 2 + limits.arg_count());
            let user_id = claims.sub.as_str();
            call.arg(Key::Session {
                user_id,
                session_id: &claims.sid,
            })
            .arg(Key::UserSessions(user_id))
            .arg(Key::Blacklisted {
                user_id,
                jti: &claims.jti,
            })
            .arg(Key::UserRoles(user_id))
            .arg(Key::UserDisabled(user_id));
            limits.write_keys(&mut call);
            call.arg(&claims.sid).arg(crate::duration::millis(
                self.inner.sessions.config().idle_timeout,
            ));
            limits.write_args(&mut call);
            let admitted: Admitted = self.inner.store.fcall(limiter.library(), &call).await?;
            let touched = admitted
                .touch
                .into_result()
                .map_err(|err| self.ended_if_disabled(user_id, err))?;
            let limits = admitted.limits.ok_or_else(|| {
                AuthError::Corrupt("admit.lua gave a live session no limits".to_owned())
            })?;
            (touched, limiter.decision(checks, limits)?)
        };
        let pending = touched.pending;
        let roles = self.current_roles(&claims.sub, touched).await?;
        Ok((Confirmed { roles, pending }, decision))
    }

    /// Whether `principal` may still do what `role` allows, for responses
    /// that outlive their request (the console's live stream): the token
    /// has not expired at `now_secs`, its session is alive, the user is not
    /// disabled, has no pending password change and still has `role`. One
    /// round trip (the keys share the user's slot); unlike a request, it
    /// does not slide the session's idle timeout.
    pub(crate) async fn still_allowed(
        &self,
        principal: &Principal,
        role: Role,
        now_secs: u64,
    ) -> Result<bool, AuthError> {
        if now_secs >= principal.token_expires_at {
            return Ok(false);
        }
        let user = &principal.user_id;
        let (session, pending, roles, disabled): (bool, Option<String>, Option<String>, bool) =
            redis::pipe()
                .exists(keys::session(user, &principal.session_id))
                .hget(keys::session(user, &principal.session_id), "pw")
                .get(keys::user_roles(user))
                .exists(keys::user_disabled(user))
                .query_async(&mut self.inner.store.conn())
                .await?;
        let has_role =
            roles.is_some_and(|roles| crate::user::roles_from_string(&roles).contains(&role));
        Ok(session && pending.as_deref() != Some("1") && has_role && !disabled)
    }

    /// The roles `touch` read, or, for a user whose roles key predates
    /// it, the record's roles (copied into the key for next time).
    async fn current_roles(&self, user_id: &str, touched: Touched) -> Result<Vec<Role>, AuthError> {
        match touched.roles {
            Some(roles) => Ok(crate::user::roles_from_string(&roles)),
            None => self
                .inner
                .users
                .sync_roles(user_id)
                .await?
                .ok_or(AuthError::SessionEnded),
        }
    }

    async fn cluster_limits(
        &self,
        checks: &[Check<'_>],
        nonce_key: Option<String>,
    ) -> Result<Decision, AuthError> {
        if let Some(nonce_key) = nonce_key {
            let fresh: Option<String> = redis::cmd("SET")
                .arg(nonce_key)
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(crate::duration::millis(2 * crate::ratelimit::REPLAY_WINDOW))
                .query_async(&mut self.inner.store.conn())
                .await?;
            if fresh.is_none() {
                return Ok(Decision {
                    replayed: true,
                    outcomes: Vec::new(),
                });
            }
        }
        Ok(self.inner.limiter.check(checks, true).await?)
    }

    /// A disabled user's requests are unauthenticated (401), like those of
    /// a session that ended: disabling ends every session anyway, and this
    /// holds even for a request that races the sweep. The token is
    /// recorded (`disabled_token_presented`, once a minute per user).
    fn ended_if_disabled(&self, user_id: &str, err: SessionError) -> AuthError {
        match err {
            SessionError::UserDisabled => {
                self.disabled_token_presented(user_id);
                AuthError::SessionEnded
            }
            other => other.into(),
        }
    }

    /// Records that a disabled user's token came back, once per user and
    /// minute with a count of the rest.
    pub(super) fn disabled_token_presented(&self, user_id: &str) {
        self.inner.events.refused(
            &format!("disabled:{user_id}"),
            std::time::Duration::from_secs(60),
            Event::new(EventKind::DisabledTokenPresented(Repeats::default())).user(user_id),
        );
    }
}
