//! The result of a rotation, kept for the grace window under the id of the
//! token it replaced, so that callers who lost the race (on any instance)
//! get the same pair. Sealed (ChaCha20-Poly1305, with a key derived from the
//! signing key): whoever reads Redis does not get usable tokens from it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use serde::{Deserialize, Serialize};

use super::super::{Auth, AuthError, principal};
use super::Rotated;
use crate::events::{Event, EventKind};
use crate::store::keys;

/// What is stored (sealed) under the replaced token's id.
#[derive(Serialize, Deserialize)]
pub(super) struct Stored {
    pub(super) access: String,
    pub(super) refresh: Option<String>,
}

impl Auth {
    /// The sealed result of rotating `jti`, if one is stored.
    pub(super) async fn stored(
        &self,
        user_id: &str,
        jti: &str,
    ) -> Result<Option<String>, AuthError> {
        Ok(redis::cmd("GET")
            .arg(keys::rotation_result(user_id, jti))
            .query_async(&mut self.inner.store.conn())
            .await
            .map_err(crate::store::StoreError::from)?)
    }

    pub(super) fn seal(&self, stored: &Stored) -> Result<String, AuthError> {
        let plaintext =
            serde_json::to_vec(stored).map_err(|e| AuthError::Corrupt(e.to_string()))?;
        let nonce = crate::random::bytes::<12>();
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.inner.sealing_key));
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_slice())
            .map_err(|_| AuthError::Corrupt("sealing failed".to_owned()))?;
        Ok(STANDARD.encode([nonce.as_slice(), &ciphertext].concat()))
    }

    pub(super) fn unseal(&self, sealed: &str) -> Result<Rotated, AuthError> {
        let bytes = STANDARD
            .decode(sealed)
            .map_err(|_| AuthError::Corrupt("stored rotation is not base64".to_owned()))?;
        if bytes.len() < 12 {
            return Err(AuthError::Corrupt(
                "stored rotation is truncated".to_owned(),
            ));
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.inner.sealing_key));
        let plaintext = cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| AuthError::Corrupt("stored rotation does not unseal".to_owned()))?;
        let stored: Stored =
            serde_json::from_slice(&plaintext).map_err(|e| AuthError::Corrupt(e.to_string()))?;
        let access = self.inner.tokens.verify_access(&stored.access)?;
        self.inner.events.emit(
            Event::new(EventKind::RefreshCoalesced)
                .user(&access.sub)
                .session(&access.sid),
        );
        Ok(Rotated {
            principal: principal(access.clone()),
            access_token: stored.access,
            refresh_token: stored.refresh,
            access,
            coalesced: true,
        })
    }
}
