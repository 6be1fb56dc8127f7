//! rotate.lua and renew.lua, and what calling them shares: both take the
//! session, its index, the result slot and the blacklist prefix, and the
//! same seven arguments first (rotate.lua's own follow), and both answer
//! [`Settled`] when they replaced nothing.

use std::sync::LazyLock;

use redis::{Script, ScriptInvocation};

use super::reply::Settled;
use super::{Auth, AuthError, Presented, Rotated};
use crate::duration::millis;
use crate::store::keys;
use crate::token::{AccessClaims, Issued};

const TOKENS_LUA: &str = include_str!("../tokens.lua");

/// Rotates a session's tokens (a refresh, or a browser's renewal).
pub(super) static ROTATE: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{TOKENS_LUA}{}", include_str!("../rotate.lua"))));

/// Replaces an API client's access token.
pub(super) static RENEW: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{TOKENS_LUA}{}", include_str!("../renew.lua"))));

impl Auth {
    /// A call of rotate.lua or renew.lua with what both take (their
    /// `KEYS[1..4]` and `ARGV[1..7]`); rotate.lua's own follow.
    pub(super) fn replacing<'s>(
        &self,
        script: &'s Script,
        presented: &Presented<'_>,
        access: &Issued<AccessClaims>,
        sealed: String,
    ) -> ScriptInvocation<'s> {
        let (user_id, session_id) = (presented.user_id(), presented.session_id());
        let mut call = script.prepare_invoke();
        call.key(keys::session(user_id, session_id))
            .key(keys::user_sessions(user_id))
            .key(keys::rotation_result(user_id, presented.jti()))
            .key(keys::blacklist_prefix(user_id))
            .arg(session_id)
            .arg(presented.jti())
            .arg(&access.claims.jti)
            .arg(access.claims.exp * 1000)
            .arg(sealed)
            .arg(millis(self.inner.rotation.grace))
            .arg(millis(self.inner.sessions.config().idle_timeout));
        call
    }

    /// What a caller gets when the script replaced nothing.
    pub(super) fn settled(&self, settled: Settled) -> Result<Option<Rotated>, AuthError> {
        match settled {
            Settled::Coalesced(sealed) => self.unseal(&sealed).map(Some),
            Settled::NotCurrent => Ok(None),
            Settled::Ended => Err(AuthError::SessionEnded),
        }
    }
}
