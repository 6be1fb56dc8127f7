//! Silent renewal for API clients (bearer tokens): only the access token is
//! replaced, with the user's current roles; the client keeps its refresh
//! token. Same lock and coalescing as a full rotation.

use super::super::{Auth, AuthError, Client};
use super::reply::{Renewed, Reply};
use super::scripts::RENEW;
use super::{Presented, Rotated, Stored};
use crate::blacklist::Reason;
use crate::events::{Event, EventKind};
use crate::token::AccessClaims;

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
            claims.pending(),
            claims.assurance(),
        )?;
        let sealed = self.seal(&Stored {
            access: access.token.clone(),
            refresh: None,
        })?;
        let presented = Presented::AccessOnly(claims, roles);
        let reply: Reply<Renewed> = self
            .replacing(&RENEW, &presented, &access, sealed)
            .invoke_async(&mut self.inner.store.conn())
            .await?;
        match reply.0 {
            Ok(Renewed {
                replaced_expires_at_ms,
            }) => {
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
                Ok(Some(Rotated::issued(access, None)))
            }
            Err(settled) => self.settled(settled),
        }
    }
}
