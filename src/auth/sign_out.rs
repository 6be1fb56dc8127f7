//! Signing out while Redis does not answer: journaled, refused here at
//! once, and replayed as soon as Redis answers (see [`crate::signouts`]).

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::broadcast;

use super::{Auth, AuthError, Inner};
use crate::blacklist::Reason;
use crate::signouts::{Journal, JournalError, SignOut};
use crate::store::{BreakerChange, StoreError};
use crate::token::TokenError;

/// How often journaled sign-outs are tried again while Redis refuses them
/// (besides at once whenever a circuit breaker changes).
const RETRY: Duration = Duration::from_millis(500);

impl Auth {
    /// Signs out the holder of `token`, whom admission could not confirm
    /// because Redis is unavailable. The token is verified here (an
    /// expired one too: its session may live on); if Redis answers by now
    /// the session ends as usual, else the sign-out is journaled, refused
    /// on this instance from now on, and replayed when Redis is back.
    /// Without a journal, Redis' error. Returns the sessions ended (or to
    /// be ended: 1).
    pub async fn logout_unconfirmed(&self, token: &str) -> Result<u64, AuthError> {
        let tokens = &self.inner.tokens;
        let claims = match tokens.verify_access(token) {
            Err(TokenError::Expired) => tokens.verify_access_expired(token)?,
            verified => verified?,
        };
        let err = match self
            .revoke_session(&claims.sub, &claims.sid, Reason::Logout)
            .await
        {
            Ok(ended) => return Ok(u64::from(ended.is_some())),
            Err(AuthError::Store(err @ StoreError::Unavailable(_))) => err,
            Err(err) => return Err(err),
        };
        let Some(journal) = self.inner.signouts.clone() else {
            return Err(err.into());
        };
        let sign_out = SignOut {
            user_id: claims.sub,
            session_id: claims.sid,
            at_ms: crate::duration::epoch_ms(),
        };
        let session_id = sign_out.session_id.clone();
        blocking(&journal, move |journal| journal.record(sign_out)).await?;
        tracing::warn!(
            %session_id, journal = %journal.path().display(),
            "Redis is unavailable: the sign-out is journaled and will be replayed when it answers"
        );
        Ok(1)
    }

    /// Whether this instance journaled a sign-out of `session_id` that
    /// Redis has not taken yet (such a session is refused).
    pub(super) fn signed_out_here(&self, session_id: &str) -> bool {
        self.inner
            .signouts
            .as_ref()
            .is_some_and(|journal| journal.is_signed_out(session_id))
    }

    /// Starts replaying the journal: now (what a previous run left), at
    /// once whenever a circuit breaker changes (Redis answering again lets
    /// a breaker half-open), and every [`RETRY`] while sign-outs wait.
    pub(super) fn replay_sign_outs(&self) {
        let Some(journal) = self.inner.signouts.clone() else {
            return;
        };
        let changes = self.inner.store.breaker_changes();
        tokio::spawn(replay(Arc::downgrade(&self.inner), journal, changes));
    }
}

/// The replay task; ends with the last handle on the core.
async fn replay(
    inner: Weak<Inner>,
    journal: Arc<Journal>,
    mut changes: Option<broadcast::Receiver<BreakerChange>>,
) {
    loop {
        let pending = journal.pending();
        if !pending.is_empty() {
            let Some(inner) = inner.upgrade() else { return };
            let auth = Auth { inner };
            let mut done = Vec::with_capacity(pending.len());
            for sign_out in pending {
                match auth
                    .revoke_session(&sign_out.user_id, &sign_out.session_id, Reason::Logout)
                    .await
                {
                    Ok(_) => done.push(sign_out),
                    // Still away: the rest waits for the next try.
                    Err(AuthError::Store(err)) => {
                        tracing::debug!(error = %err, "journaled sign-outs wait for Redis");
                        break;
                    }
                    // Not a matter of Redis being away: trying again cannot help.
                    Err(err) => {
                        tracing::error!(session_id = %sign_out.session_id, error = %err, "a journaled sign-out cannot be replayed and is dropped");
                        done.push(sign_out);
                    }
                }
            }
            if !done.is_empty() {
                let count = done.len();
                match blocking(&journal, move |journal| journal.replayed(&done)).await {
                    Ok(()) => tracing::info!(count, "journaled sign-outs replayed"),
                    Err(err) => {
                        tracing::error!(error = %err, "replayed sign-outs stay in the journal")
                    }
                }
            }
        } else if inner.strong_count() == 0 {
            return;
        }
        breaker_change_or(&mut changes, RETRY).await;
    }
}

/// Waits for the next change of a circuit breaker, or `wait`, whichever
/// comes first (only `wait` once the breakers are gone: `changes` becomes
/// `None`).
pub(super) async fn breaker_change_or(
    changes: &mut Option<broadcast::Receiver<BreakerChange>>,
    wait: Duration,
) {
    let wait = tokio::time::sleep(wait);
    match changes.as_mut() {
        Some(receiver) => {
            tokio::select! {
                changed = receiver.recv() => {
                    if matches!(changed, Err(broadcast::error::RecvError::Closed)) {
                        *changes = None;
                    }
                }
                () = wait => {}
            }
        }
        None => wait.await,
    }
}

/// Runs a journal write off the runtime (it syncs the disk).
async fn blocking<T: Send + 'static>(
    journal: &Arc<Journal>,
    write: impl FnOnce(&Journal) -> Result<T, JournalError> + Send + 'static,
) -> Result<T, JournalError> {
    let journal = Arc::clone(journal);
    let path = journal.path().to_owned();
    tokio::task::spawn_blocking(move || write(&journal))
        .await
        .unwrap_or_else(|join| Err(JournalError::new(path, std::io::Error::other(join))))
}

#[cfg(test)]
mod tests;
