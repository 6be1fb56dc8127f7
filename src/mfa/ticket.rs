//! Second-factor tickets: a sign-in whose password was right, waiting for
//! its second factor, or a signed-in session proving its factor again
//! (step-up). The ticket is all the client holds (no token, no cookie); it
//! names its user (and session) in Redis only, lives [`TTL`], and is void
//! after [`ATTEMPTS`] attempts, counted before each code is checked.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use super::{Factors, MfaError};
use crate::store::keys;

/// How long a ticket waits for its second factor.
pub const TTL: Duration = Duration::from_secs(5 * 60);
/// Codes a ticket may be tried with.
pub const ATTEMPTS: u64 = 5;

static ATTEMPT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("attempt.lua")));

/// A way to prove the second factor, and a ticket as the client gets it:
/// the wire types.
pub use crate::api::auth::{MfaMethod as Method, MfaTicket as Ticket};

/// A ticket an attempt was counted against: whose it is, and how it may
/// be proved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub user_id: String,
    pub methods: Vec<Method>,
    /// The session a step-up ticket raises; `None` for a sign-in's.
    pub session_id: Option<String>,
}

impl Factors {
    /// A ticket for `user_id`, who has proved the password and has a
    /// factor: the methods are those the user has.
    pub async fn issue_ticket(&self, user_id: &str) -> Result<Ticket, MfaError> {
        self.issue(user_id, "").await
    }

    /// A step-up ticket: proving it raises `session_id`'s assurance
    /// instead of opening a session.
    pub async fn issue_step_up_ticket(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> Result<Ticket, MfaError> {
        self.issue(user_id, session_id).await
    }

    async fn issue(&self, user_id: &str, session_id: &str) -> Result<Ticket, MfaError> {
        let methods = self.methods(user_id).await?;
        if methods.is_empty() {
            return Err(MfaError::NoFactor);
        }
        let ticket = crate::random::hex::<16>();
        let joined = methods
            .iter()
            .map(|method| method.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let _: () = redis::pipe()
            .atomic()
            .cmd("HSET")
            .arg(keys::mfa_ticket(&ticket))
            .arg(&["u", user_id, "m", &joined, "n", "0", "s", session_id])
            .ignore()
            .cmd("PEXPIRE")
            .arg(keys::mfa_ticket(&ticket))
            .arg(crate::duration::millis(self.ticket_ttl))
            .ignore()
            .query_async(&mut self.store.conn())
            .await?;
        Ok(Ticket {
            ticket,
            methods,
            expires_in_ms: crate::duration::millis(self.ticket_ttl),
        })
    }

    /// The ways the user can prove a factor: those of the kinds they
    /// have, and recovery codes while some are left.
    ///
    /// Reads only each factor's kind and the number of codes left: this
    /// runs on every password step of an account with a factor.
    async fn methods(&self, user_id: &str) -> Result<Vec<Method>, MfaError> {
        let ids = self.factor_ids(user_id).await?;
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("HGET").arg(keys::mfa_factor(user_id, id)).arg("k");
        }
        pipe.cmd("SCARD").arg(keys::mfa_recovery(user_id));
        let corrupt = |err: redis::ParsingError| MfaError::Corrupt(err.to_string());
        let mut replies: Vec<redis::Value> = pipe.query_async(&mut self.store.conn()).await?;
        let codes_left: u64 =
            redis::from_redis_value(replies.pop().unwrap_or(redis::Value::Int(0)))
                .map_err(corrupt)?;
        // A factor removed between the two reads has no kind.
        let kinds = replies
            .into_iter()
            .map(|reply| redis::from_redis_value::<Option<String>>(reply).map_err(corrupt))
            .collect::<Result<Vec<_>, _>>()?;
        let has = |kind: super::Kind| {
            kinds
                .iter()
                .flatten()
                .any(|k| super::Kind::parse(k) == Some(kind))
        };
        Ok(Method::ALL
            .into_iter()
            .filter(|method| match method {
                Method::Totp => has(super::Kind::Totp),
                Method::Webauthn => has(super::Kind::Webauthn),
                Method::RecoveryCode => codes_left > 0,
            })
            .collect())
    }

    /// Whose `ticket` is, if it is live and may be proved by `method`
    /// (counting no attempt: starting a WebAuthn ceremony proves nothing).
    pub async fn ticket_user(
        &self,
        ticket: &str,
        method: Method,
    ) -> Result<Option<String>, MfaError> {
        if !keys::is_id(ticket) || ticket.len() != 32 {
            return Ok(None);
        }
        let (user_id, methods): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(keys::mfa_ticket(ticket))
            .arg(&["u", "m"])
            .query_async(&mut self.store.conn())
            .await?;
        let allowed = methods.is_some_and(|m| m.split(',').any(|m| m == method.as_str()));
        Ok(user_id.filter(|_| allowed))
    }

    /// Counts an attempt at `ticket` and says whose it is; `None` when it
    /// is unknown, expired, taken or used up (the attempt past the limit
    /// voids it).
    pub async fn attempt_ticket(&self, ticket: &str) -> Result<Option<Attempt>, MfaError> {
        if !keys::is_id(ticket) || ticket.len() != 32 {
            return Ok(None);
        }
        let fields: Vec<String> = ATTEMPT
            .key(keys::mfa_ticket(ticket))
            .arg(ATTEMPTS)
            .invoke_async(&mut self.store.conn())
            .await?;
        match <[String; 3]>::try_from(fields) {
            Ok([user_id, methods, session_id]) => Ok(Some(Attempt {
                user_id,
                methods: methods.split(',').filter_map(Method::parse).collect(),
                session_id: (!session_id.is_empty()).then_some(session_id),
            })),
            Err(fields) if fields.is_empty() => Ok(None),
            Err(fields) => Err(MfaError::Corrupt(format!("attempt.lua replied {fields:?}"))),
        }
    }

    /// Takes `ticket` once its second factor is proved: true for exactly
    /// one caller, so one ticket opens at most one session.
    pub async fn take_ticket(&self, ticket: &str) -> Result<bool, MfaError> {
        let taken: u64 = redis::cmd("DEL")
            .arg(keys::mfa_ticket(ticket))
            .query_async(&mut self.store.conn())
            .await?;
        Ok(taken == 1)
    }
}
