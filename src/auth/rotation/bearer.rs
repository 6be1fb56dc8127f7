//! Silent renewal for API clients (bearer tokens): only the access token is
//! replaced, with the user's current roles; the client keeps its refresh
//! token. Same lock and coalescing as a full rotation.

use std::sync::LazyLock;

use redis::Script;

use super::super::{Auth, AuthError, Client, principal};
use super::reply::Renew;
use super::{Presented, Rotated, Stored, TOKENS_LUA, millis};
use crate::blacklist::Reason;
use crate::events::{Event, EventKind};
use crate::store::keys;
use crate::token::AccessClaims;

static RENEW: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{TOKENS_LUA}{}", include_str!("../renew.lua"))));

impl Auth {
    /// Silent renewal for an API client: replaces only the access token
    /// (its refresh token stays valid), issuing it with `roles`, the
    /// user's *current* roles as admission read them (never the old
    /// token's). `None` when the token is not the session's current one.
    #[tracing::instrument(skip_all, fields(session_id), err(level = "info"))]
    pub async fn renew_access(
        &self,
        access_token: &str,
        roles: &[crate::user::Role],
    ) -> Result<Option<Rotated>, AuthError> {
        let claims = self.inner.tokens.verify_access(access_token)?;
        tracing::Span::current().record("session_id", claims.sid.as_str());
        self.rotate_locked(Presented::AccessOnly(&claims, roles), &Client::default())
            .await
    }

    pub(super) async fn rotate_access(
        &self,
        claims: &AccessClaims,
        roles: &[crate::user::Role],
    ) -> Result<Option<Rotated>, AuthError> {
        self.limit_rotation(&claims.sub, &claims.sid).await?;
        let access = self.inner.tokens.issue_access(
            &claims.sub,
            &claims.name,
            &claims.sid,
            roles.iter().map(|r| r.as_str().to_owned()).collect(),
            claims.must_change_password,
        )?;
        let sealed = self.seal(&Stored {
            access: access.token.clone(),
            refresh: None,
        })?;
        let reply: Renew = RENEW
            .key(keys::session(&claims.sub, &claims.sid))
            .key(keys::user_sessions(&claims.sub))
            .key(keys::rotation_result(&claims.sub, &claims.jti))
            .key(keys::blacklist_prefix(&claims.sub))
            .arg(&claims.sid)
            .arg(&claims.jti)
            .arg(&access.claims.jti)
            .arg(access.claims.exp * 1000)
            .arg(sealed)
            .arg(millis(self.inner.rotation.grace))
            .arg(millis(self.inner.sessions.config().idle_timeout))
            .invoke_async(&mut self.inner.store.conn())
            .await?;
        match reply {
            Renew::Renewed {
                replaced_expires_at_ms,
            } => {
                self.inner
                    .blacklist
                    .index(
                        &claims.sub,
                        &claims.sid,
                        &claims.jti,
                        replaced_expires_at_ms,
                        Reason::Renewed,
                    )
                    .await?;
                tracing::info!("access token renewed");
                self.inner.events.emit(
                    Event::new(EventKind::TokenRenewed)
                        .user(&claims.sub)
                        .session(&claims.sid),
                );
                Ok(Some(Rotated {
                    principal: principal(access.claims.clone()),
                    access_token: access.token,
                    refresh_token: None,
                    access: access.claims,
                    coalesced: false,
                }))
            }
            Renew::Coalesced(sealed) => self.unseal(&sealed).map(Some),
            Renew::NotCurrent => Ok(None),
            Renew::Ended => Err(AuthError::SessionEnded),
        }
    }
}
