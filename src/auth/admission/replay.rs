//! Replay protection: a program's state-changing request carries a fresh
//! nonce and a timestamp, checked here before the one admission script
//! remembers the nonce (so a replayed request is refused atomically with
//! the rest of the decision).

use super::{Credential, Facts, Refusal, TokenSource};
use crate::auth::Auth;
use crate::ratelimit::REPLAY_WINDOW;

impl Auth {
    /// Replay protection for state-changing requests from programs (bearer
    /// tokens) on paths whose policy requires it: a fresh UUID nonce and a
    /// timestamp within ±300 s. The nonce is remembered by the same script
    /// that admits the request.
    pub(super) fn replay_nonce(&self, facts: &Facts<'_>) -> Result<Option<String>, Refusal> {
        let program = matches!(
            facts.credential,
            Some(Credential {
                source: TokenSource::Bearer,
                ..
            })
        );
        if !(facts.state_changing
            && program
            && self.inner.limiter.requires_replay_protection(facts.path))
        {
            return Ok(None);
        }
        let (Some(nonce), Some(timestamp)) = (facts.nonce, facts.timestamp) else {
            return Err(Refusal::BadReplayHeaders(
                "This endpoint requires replay protection: send X-Request-Nonce (a new UUID) and \
                 X-Request-Timestamp (Unix seconds) with every request.",
            ));
        };
        if !is_uuid(nonce) {
            return Err(Refusal::BadReplayHeaders("X-Request-Nonce must be a UUID."));
        }
        let timestamp: u64 = timestamp
            .trim()
            .parse()
            .map_err(|_| Refusal::BadReplayHeaders("X-Request-Timestamp must be Unix seconds."))?;
        if facts.now_secs.abs_diff(timestamp) > REPLAY_WINDOW.as_secs() {
            return Err(Refusal::Replayed(
                "X-Request-Timestamp is more than 300 s away from the server's clock.",
            ));
        }
        Ok(Some(nonce.to_ascii_lowercase()))
    }
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::is_uuid;

    #[test]
    fn nonces_must_be_uuids() {
        assert!(is_uuid("4f1c2f7e-9d3a-4c7b-8a52-0d6f5e1b2a3c"));
        assert!(!is_uuid("4f1c2f7e9d3a4c7b8a520d6f5e1b2a3c"));
        assert!(!is_uuid("zzzzzzzz-9d3a-4c7b-8a52-0d6f5e1b2a3c"));
    }
}
