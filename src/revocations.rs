//! The revocation mirror: what every instance must still refuse when
//! Redis cannot be asked.
//!
//! Admission normally asks Redis whether a token's session is alive, its
//! user enabled and its roles current. While Redis does not answer, the
//! degraded mode (see `Auth::admit`) answers a few read-only requests from
//! the token alone, which is only safe if this instance knows every
//! revocation made up to the moment Redis went away. So every revocation
//! is first appended to one Redis Stream (`gh:revocations`), *before* the
//! script that performs it runs: a crash in between can only leave an
//! entry for a revocation that did not happen (over-refusing in degraded
//! mode), never a revocation without its entry. Each instance follows the
//! stream with a resume id on a connection of its own (a Stream, not
//! pub/sub, which loses what is published while a subscriber reconnects),
//! starting `--access-ttl` back at start-up, into a bounded set in memory
//! ([`Mirror`]) whose entries expire when no token they revoke can still
//! be valid.
//!
//! Three kinds of entry cover every revocation: a session ended (its
//! tokens die), a token blacklisted (by its id), and a user cut (every
//! token of the user issued up to then dies, except the session the
//! change was made from): a user disabled, roles changed, a password
//! reset or changed, every session signed out. A cut compares against a
//! token's issue time with a margin for clocks ([`CLOCK_MARGIN`]), so it
//! errs towards refusing.

mod follow;
mod mirror;

use std::time::Duration;

pub use follow::{BLOCK as FOLLOW_BLOCK, follow};
pub use mirror::Mirror;

use crate::store::{Store, StoreError, keys};

/// How long the stream keeps entries. Degraded mode needs the last
/// `--access-ttl` of them, so it is refused for longer token lifetimes.
pub const RETAIN: Duration = Duration::from_secs(24 * 60 * 60);

/// A token issued up to this long after a user cut (by another
/// instance's clock) is still refused by it.
pub const CLOCK_MARGIN: Duration = Duration::from_secs(5);

/// One revocation, as the stream records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revoked<'a> {
    /// A session ended: every token naming it is dead.
    Session {
        user_id: &'a str,
        session_id: &'a str,
    },
    /// One access token was blacklisted.
    Token { jti: &'a str },
    /// Every token of the user issued until now is dead, except those of
    /// session `keep` (where a password was just changed).
    User {
        user_id: &'a str,
        keep: Option<&'a str>,
    },
}

/// Appends `revoked` to the stream (one round trip; the stream's length
/// is bounded by time, [`RETAIN`]). Called before the revocation itself.
pub async fn publish(store: &Store, revoked: &[Revoked<'_>]) -> Result<(), StoreError> {
    if revoked.is_empty() {
        return Ok(());
    }
    let key = keys::revocations();
    let at_ms = crate::duration::epoch_ms();
    let oldest = at_ms.saturating_sub(crate::duration::millis(RETAIN));
    let mut pipe = redis::pipe();
    pipe.atomic();
    for entry in revoked {
        let cmd = pipe
            .cmd("XADD")
            .arg(&key)
            .arg("MINID")
            .arg("~")
            .arg(oldest)
            .arg("*")
            .arg("at")
            .arg(at_ms);
        match *entry {
            Revoked::Session {
                user_id,
                session_id,
            } => cmd
                .arg("k")
                .arg("s")
                .arg("u")
                .arg(user_id)
                .arg("s")
                .arg(session_id),
            Revoked::Token { jti } => cmd.arg("k").arg("t").arg("j").arg(jti),
            Revoked::User { user_id, keep } => {
                cmd.arg("k").arg("u").arg("u").arg(user_id);
                if let Some(keep) = keep {
                    cmd.arg("s").arg(keep);
                }
                cmd
            }
        }
        .ignore();
    }
    pipe.cmd("PEXPIRE")
        .arg(&key)
        .arg(crate::duration::millis(RETAIN))
        .ignore();
    let _: () = pipe.query_async(&mut store.conn()).await?;
    Ok(())
}

#[cfg(test)]
mod tests;
