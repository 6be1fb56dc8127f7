//! Admission: everything Gatehouse decides about one request, decided
//! here and nowhere else.
//!
//! An adapter (the axum middleware, or another embedding) turns a request
//! into [`Facts`] (path, client, credential and where it came from, replay
//! headers) and the [`Admission`] back into a response. In between,
//! [`Auth::admit`] verifies the token, runs the one Redis script (session,
//! blacklist, current roles and disabled flag, every rate-limit policy
//! that applies, the replay nonce), picks the fail mode when Redis cannot
//! be asked, and decides renewal. Because the decision is one function, a
//! rule (renewal carries the user's *current* roles; forward-auth never
//! renews and spends only its own policy) holds for every adapter alike,
//! and the decision table is tested without HTTP.

mod replay;

use super::{Auth, AuthError, Client, Principal, Rotated};
use crate::api::events::{RateLimited, Repeats};
use crate::events::{Event, EventKind};
use crate::ratelimit::{Check, Decision, Limiter, Outcome};
use crate::route::RouteClass;
use crate::token::TokenError;
use crate::user::Role;

/// Where a request's access token came from; renewed tokens go back the
/// same way (cookies for browsers, `X-New-*` headers for programs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenSource {
    Bearer,
    Cookie,
}

/// The access token a request presented.
#[derive(Clone, Copy, Debug)]
pub struct Credential<'a> {
    pub token: &'a str,
    pub source: TokenSource,
}

/// What the adapter knows about a request.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    pub path: &'a str,
    pub route: RouteClass,
    /// Not GET, HEAD or OPTIONS.
    pub state_changing: bool,
    pub client: &'a Client,
    pub credential: Option<Credential<'a>>,
    /// `X-Request-Nonce` and `X-Request-Timestamp`, as sent.
    pub nonce: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    /// The adapter's clock, in seconds since the epoch.
    pub now_secs: u64,
}

/// Who is calling, as far as admission could tell.
#[derive(Debug)]
pub enum Caller {
    /// No token was presented.
    Anonymous,
    /// A valid token of a live session, with the user's current roles.
    Principal(Principal),
    /// A token was presented and rejected, or could not be checked (Redis
    /// unreachable: [`AuthError::Store`]).
    Rejected(AuthError),
}

/// Why a request is refused before it reaches its handler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A rate-limit policy refused it.
    RateLimited(Outcome),
    /// Its replay nonce was seen before, or its timestamp is too far off.
    Replayed(&'static str),
    /// Replay protection applies and its headers are missing or malformed.
    BadReplayHeaders(&'static str),
    /// Redis cannot be asked and a policy that applies fails closed.
    Unavailable,
    /// An admin route, and the caller presented no valid token (the
    /// caller's rejection, if any, says why).
    Unauthenticated,
    /// An admin route, and the caller is not an admin.
    Forbidden,
    /// The caller must change the password before anything but
    /// [`crate::route::open_during_password_change`] paths.
    PasswordChangeRequired,
    /// The caller's role requires a second factor they have not enrolled:
    /// nothing but [`crate::route::open_during_mfa_enrollment`] paths.
    MfaEnrollmentRequired,
}

impl Refusal {
    /// A pending step the account page is for: pages (not the API) go
    /// there instead of showing an error.
    pub fn wants_account_page(&self) -> bool {
        matches!(
            self,
            Refusal::PasswordChangeRequired | Refusal::MfaEnrollmentRequired
        )
    }
}

/// The decision about one request.
#[derive(Debug)]
pub struct Admission {
    pub caller: Caller,
    /// `Some`: answer with this refusal instead of running the handler.
    pub refusal: Option<Refusal>,
    /// The policies checked, for `RateLimit` headers.
    pub limits: Decision,
    /// New tokens to hand back, and how (the way the old one came).
    pub renewal: Option<(Rotated, TokenSource)>,
    /// The presented cookie holds a dead token: delete it, so the browser
    /// stops sending it. (Expired cookie tokens are kept for renewal.)
    pub clear_cookies: bool,
    /// Forward-auth only: the token is in its renewal window and expires
    /// in this many seconds; the client should refresh it.
    pub expires_in_secs: Option<u64>,
    /// Decided in degraded mode (Redis away): from the token and the
    /// revocation mirror alone (adapters say so: `X-Gatehouse-Degraded`).
    pub degraded: bool,
}

impl Admission {
    pub(super) fn new(caller: Caller, limits: Decision) -> Self {
        Self {
            caller,
            refusal: None,
            limits,
            renewal: None,
            clear_cookies: false,
            expires_in_secs: None,
            degraded: false,
        }
    }

    fn refused(refusal: Refusal) -> Self {
        Self {
            refusal: Some(refusal),
            ..Self::new(Caller::Anonymous, Decision::default())
        }
    }
}

impl Auth {
    /// Decides what happens to a request (see the module docs). Never
    /// fails: Redis being unreachable is part of the decision (fail-closed
    /// policies refuse with [`Refusal::Unavailable`]; otherwise the caller
    /// is [`Caller::Rejected`] with the store error, so protected handlers
    /// answer 503 and public ones still work).
    #[tracing::instrument(skip_all, fields(path = facts.path), level = "debug")]
    pub async fn admit(&self, facts: &Facts<'_>) -> Admission {
        let mut admission = self.admit_caller(facts).await;
        if facts.route == RouteClass::Admin && admission.refusal.is_none() {
            admission.refusal = match &admission.caller {
                Caller::Principal(principal) if principal.has_role(Role::Admin) => None,
                Caller::Principal(_) => Some(Refusal::Forbidden),
                // Redis unreachable: the handler answers 503 as everywhere.
                Caller::Rejected(AuthError::Store(_)) => None,
                Caller::Anonymous | Caller::Rejected(_) => Some(Refusal::Unauthenticated),
            };
        }
        self.inner.admissions.count(outcome(&admission));
        admission
    }

    async fn admit_caller(&self, facts: &Facts<'_>) -> Admission {
        let nonce = match self.replay_nonce(facts) {
            Ok(nonce) => nonce,
            Err(refusal) => return Admission::refused(refusal),
        };
        let Some(credential) = facts.credential else {
            return self.anonymous(facts, Caller::Anonymous).await;
        };
        let claims = match self.inner.tokens.verify_access(credential.token) {
            Ok(claims) => claims,
            Err(TokenError::Expired) if credential.source == TokenSource::Cookie => {
                return self.renew_expired(facts, credential).await;
            }
            Err(err) => return self.rejected(facts, credential, err.into()).await,
        };
        let checks = self.inner.limiter.checks_for(
            facts.route,
            facts.path,
            &facts.client.limit_key,
            Some((&claims.sub, &claims.sid)),
        );
        match self.confirm(&claims, &checks, nonce.as_deref()).await {
            Ok((confirmed, limits)) => {
                let principal = confirmed.principal(claims);
                self.admitted(facts, credential, principal, limits).await
            }
            Err(err @ AuthError::Store(_)) => self
                .admit_degraded(facts, claims, &checks, err)
                .unwrap_or_else(|err| {
                    let (limits, refusal) = self.fail_mode(facts, &checks, &err);
                    Admission {
                        refusal,
                        ..Admission::new(Caller::Rejected(err), limits)
                    }
                }),
            Err(err) => self.rejected(facts, credential, err).await,
        }
    }

    /// A live session whose limits were checked: refuse, or go on (and
    /// renew a token near its end, except for forward-auth).
    async fn admitted(
        &self,
        facts: &Facts<'_>,
        credential: Credential<'_>,
        principal: Principal,
        limits: Decision,
    ) -> Admission {
        if let Some(refusal) = self
            .limits_refusal(facts, Some(&principal), &limits)
            .or_else(|| pending_refusal(facts, &principal))
        {
            return Admission {
                refusal: Some(refusal),
                ..Admission::new(Caller::Principal(principal), limits)
            };
        }
        let renewing = self.wants_renewal(&principal, facts.now_secs);
        if facts.route == RouteClass::Verify {
            let expires_in_secs =
                renewing.then(|| principal.token_expires_at.saturating_sub(facts.now_secs));
            return Admission {
                expires_in_secs,
                ..Admission::new(Caller::Principal(principal), limits)
            };
        }
        let renewed = if renewing {
            self.renew(credential, facts.client, &principal).await
        } else {
            None
        };
        match renewed {
            Some(mut rotated) => {
                // The new token names the same session: a password change
                // it must make still stands (a fresh token cannot say so).
                rotated.principal.must_change_password = principal.must_change_password;
                rotated.principal.must_enroll_mfa = principal.must_enroll_mfa;
                let caller = Caller::Principal(rotated.principal.clone());
                Admission {
                    renewal: Some((rotated, credential.source)),
                    ..Admission::new(caller, limits)
                }
            }
            None => Admission::new(Caller::Principal(principal), limits),
        }
    }

    /// Silent renewal during a request; a failure leaves the current
    /// token in use.
    async fn renew(
        &self,
        credential: Credential<'_>,
        client: &Client,
        principal: &Principal,
    ) -> Option<Rotated> {
        let result = match credential.source {
            TokenSource::Cookie => self.renew_session(credential.token, false, client).await,
            TokenSource::Bearer => self.renew_access(credential.token, &principal.roles).await,
        };
        result.unwrap_or_else(|err| {
            tracing::warn!(session_id = %principal.session_id, error = %err, "silent renewal failed; the current token stays in use");
            None
        })
    }

    /// A browser's expired access token: the session, not the token,
    /// decides how long a browser stays signed in, so rotate if the
    /// session lives, then apply the limits as the renewed caller.
    async fn renew_expired(&self, facts: &Facts<'_>, credential: Credential<'_>) -> Admission {
        let rotated = match self
            .renew_session(credential.token, true, facts.client)
            .await
        {
            Ok(Some(rotated)) => rotated,
            Ok(None) | Err(_) => {
                let expired = AuthError::Token(TokenError::Expired);
                return self.rejected(facts, credential, expired).await;
            }
        };
        // The new token goes through the same one round trip as any other
        // (session, current roles, pending password change, limits).
        let checks = self.inner.limiter.checks_for(
            facts.route,
            facts.path,
            &facts.client.limit_key,
            Some((&rotated.principal.user_id, &rotated.principal.session_id)),
        );
        let renewal = Some((rotated.clone(), credential.source));
        match self
            .authenticate_limited(rotated.access.clone(), &checks, None)
            .await
        {
            Ok((principal, limits)) => Admission {
                refusal: self
                    .limits_refusal(facts, Some(&principal), &limits)
                    .or_else(|| pending_refusal(facts, &principal)),
                renewal,
                ..Admission::new(Caller::Principal(principal), limits)
            },
            Err(err @ AuthError::Store(_)) => {
                let (limits, refusal) = self.fail_mode(facts, &checks, &err);
                Admission {
                    refusal,
                    renewal,
                    ..Admission::new(Caller::Rejected(err), limits)
                }
            }
            Err(err) => self.rejected(facts, credential, err).await,
        }
    }

    /// A rejected token: the request goes on unauthenticated, counted per
    /// address like any anonymous request (so garbage tokens are
    /// throttled too).
    async fn rejected(
        &self,
        facts: &Facts<'_>,
        credential: Credential<'_>,
        err: AuthError,
    ) -> Admission {
        let clear_cookies = clears_cookies(&err, credential.source);
        let mut admission = self.anonymous(facts, Caller::Rejected(err)).await;
        admission.clear_cookies = clear_cookies;
        admission
    }

    async fn anonymous(&self, facts: &Facts<'_>, caller: Caller) -> Admission {
        let checks =
            self.inner
                .limiter
                .checks_for(facts.route, facts.path, &facts.client.limit_key, None);
        let (limits, refusal) = self.limits_or_fail_mode(facts, &checks).await;
        Admission {
            refusal,
            ..Admission::new(caller, limits)
        }
    }

    /// Applies `checks` (if Redis cannot be asked, see [`Auth::fail_mode`]).
    async fn limits_or_fail_mode(
        &self,
        facts: &Facts<'_>,
        checks: &[Check<'_>],
    ) -> (Decision, Option<Refusal>) {
        match self.inner.limiter.check(checks, true).await {
            Ok(decision) => {
                let refusal = self.limits_refusal(facts, None, &decision);
                (decision, refusal)
            }
            Err(err) => self.fail_mode(facts, checks, &err),
        }
    }

    /// The limits of a request Redis cannot be asked about (`err`):
    /// refused when a policy that applies fails closed, else counted on
    /// this node against its share of each policy (see
    /// [`crate::ratelimit::LocalLimits`]).
    pub(super) fn fail_mode(
        &self,
        facts: &Facts<'_>,
        checks: &[Check<'_>],
        err: &dyn std::fmt::Display,
    ) -> (Decision, Option<Refusal>) {
        if Limiter::refuses_unavailable(checks, err) {
            return (Decision::default(), Some(Refusal::Unavailable));
        }
        let decision = self
            .inner
            .local_limits
            .check(checks, crate::duration::epoch_ms());
        let refusal = self.limits_refusal(facts, None, &decision);
        (decision, refusal)
    }

    /// A replayed or rate-limited request's refusal (recorded as an event).
    pub(super) fn limits_refusal(
        &self,
        facts: &Facts<'_>,
        principal: Option<&Principal>,
        limits: &Decision,
    ) -> Option<Refusal> {
        if limits.replayed {
            return Some(Refusal::Replayed(
                "This X-Request-Nonce was used before. Send each request with a new nonce.",
            ));
        }
        let rejected = limits.rejection()?;
        tracing::info!(policy = %rejected.policy, ip = %facts.client.ip, path = facts.path, "rate limited");
        let mut event = Event::new(EventKind::RateLimited(RateLimited {
            policy: Some(rejected.policy.to_string()),
            path: Some(facts.path.to_owned()),
            subjects: None,
            repeats: Repeats::default(),
        }))
        .ip(&facts.client.ip);
        // One event per subject, policy and window, however many requests
        // a flood sends (see `events::aggregate`).
        let subject = match principal {
            Some(principal) => {
                event = event
                    .user(&principal.user_id)
                    .username(&principal.username)
                    .session(&principal.session_id);
                format!("{}:{}", rejected.policy, principal.user_id)
            }
            None => format!("{}:{}", rejected.policy, facts.client.limit_key),
        };
        let window = std::time::Duration::from_millis(rejected.window_ms);
        self.inner.events.refused(&subject, window, event);
        Some(Refusal::RateLimited(rejected.clone()))
    }
}

/// The metrics name of a decision (one of [`crate::observe::ADMISSION_OUTCOMES`]).
fn outcome(admission: &Admission) -> &'static str {
    match (&admission.refusal, &admission.caller) {
        (Some(Refusal::RateLimited(_)), _) => "rate_limited",
        (Some(Refusal::Replayed(_)), _) => "replayed",
        (Some(Refusal::BadReplayHeaders(_)), _) => "bad_replay_headers",
        (Some(Refusal::Unavailable), _) => "unavailable",
        (Some(Refusal::Unauthenticated), _) => "unauthenticated",
        (Some(Refusal::Forbidden), _) => "forbidden",
        (Some(Refusal::PasswordChangeRequired), _) => "password_change_required",
        (Some(Refusal::MfaEnrollmentRequired), _) => "mfa_enrollment_required",
        (None, Caller::Principal(_)) => "allowed",
        (None, Caller::Anonymous) => "anonymous",
        (None, Caller::Rejected(AuthError::Store(_))) => "redis_unreachable",
        (None, Caller::Rejected(_)) => "unauthenticated",
    }
}

/// Whether a token rejected for `err` is dead and, presented as a cookie,
/// should be deleted so the browser stops sending it (an expired one is
/// kept: its session may renew it).
pub(super) fn clears_cookies(err: &AuthError, source: TokenSource) -> bool {
    source == TokenSource::Cookie
        && matches!(
            err,
            AuthError::Token(TokenError::Invalid(_))
                | AuthError::TokenRevoked
                | AuthError::SessionEnded
        )
}

/// A user who must change the password may only do that (and sign out);
/// one who must enrol a second factor, only that (and the same).
pub(super) fn pending_refusal(facts: &Facts<'_>, principal: &Principal) -> Option<Refusal> {
    if principal.must_change_password && !crate::route::open_during_password_change(facts.path) {
        return Some(Refusal::PasswordChangeRequired);
    }
    (principal.must_enroll_mfa && !crate::route::open_during_mfa_enrollment(facts.path))
        .then_some(Refusal::MfaEnrollmentRequired)
}

#[cfg(test)]
mod tests;
