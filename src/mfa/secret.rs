//! What second factors keep secret in Redis, and how: TOTP secrets (and
//! WebAuthn credentials and ceremonies, so that no one who can write to
//! Redis can plant a key of their own) are sealed (ChaCha20-Poly1305, bound to their user and factor, so a
//! sealed secret copied to another factor does not open), and recovery
//! codes are kept only as keyed hashes (HMAC-SHA-256), so that a copy of
//! Redis gives neither a way in.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::MfaError;

/// Keys derived from the one second-factor key, one per use.
pub(super) struct Keys {
    seal: [u8; 32],
    recovery: [u8; 32],
    devices: [u8; 32],
}

impl Keys {
    pub(super) fn derive(master: &[u8; 32]) -> Self {
        let derive = |purpose: &str| -> [u8; 32] {
            Sha256::new()
                .chain_update(b"gatehouse mfa key:")
                .chain_update(purpose.as_bytes())
                .chain_update(b":")
                .chain_update(master)
                .finalize()
                .into()
        };
        Self {
            seal: derive("totp secrets"),
            recovery: derive("recovery codes"),
            devices: derive("remembered devices"),
        }
    }

    /// `secret`, sealed for `user_id`'s factor `factor_id`.
    pub(super) fn seal(
        &self,
        user_id: &str,
        factor_id: &str,
        secret: &[u8],
    ) -> Result<String, MfaError> {
        let nonce = crate::random::bytes::<12>();
        let aad = binding(user_id, factor_id);
        let sealed = ChaCha20Poly1305::new(Key::from_slice(&self.seal))
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| MfaError::Corrupt("a factor's data could not be sealed".to_owned()))?;
        Ok(STANDARD.encode([nonce.as_slice(), &sealed].concat()))
    }

    /// The secret sealed for `user_id`'s factor `factor_id`.
    pub(super) fn unseal(
        &self,
        user_id: &str,
        factor_id: &str,
        sealed: &str,
    ) -> Result<Vec<u8>, MfaError> {
        let corrupt = || {
            MfaError::Corrupt(format!(
                "the sealed data of {factor_id} does not open with this \
                 instance's second-factor key (was the key changed?)"
            ))
        };
        let bytes = STANDARD.decode(sealed).map_err(|_| corrupt())?;
        if bytes.len() < 12 {
            return Err(corrupt());
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let aad = binding(user_id, factor_id);
        ChaCha20Poly1305::new(Key::from_slice(&self.seal))
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| corrupt())
    }

    /// The keyed hash a recovery code is kept as (spaces, dashes and case
    /// ignored, as people type them).
    pub(super) fn recovery_hash(&self, code: &str) -> String {
        let typed: Vec<u8> = code
            .bytes()
            .filter(u8::is_ascii_alphanumeric)
            .map(|byte| byte.to_ascii_lowercase())
            .collect();
        keyed_hash(&self.recovery, &typed)
    }

    /// The id a remembered browser's token is kept under: its keyed hash,
    /// so that Redis holds nothing a browser could present.
    pub(super) fn device_id(&self, token: &str) -> String {
        let mut id = keyed_hash(&self.devices, token.as_bytes());
        id.truncate(32);
        id
    }
}

/// HMAC-SHA-256 of `data` under `key`, as hex.
fn keyed_hash(key: &[u8; 32], data: &[u8]) -> String {
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC takes a key of any length; this cannot happen.
        Err(_) => return String::new(),
    };
    mac.update(data);
    crate::random::hex_of(&mac.finalize().into_bytes())
}

/// What a sealed secret is bound to.
fn binding(user_id: &str, factor_id: &str) -> String {
    format!("gatehouse totp:{user_id}:{factor_id}")
}

/// A new recovery code: 60 random bits as `xxxx-xxxx-xxxx` (lowercase
/// base32, no 0/1/8/9 to misread).
pub(super) fn recovery_code() -> String {
    let letters = super::totp::base32(&crate::random::bytes::<8>()).to_ascii_lowercase();
    format!("{}-{}-{}", &letters[0..4], &letters[4..8], &letters[8..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_for_its_factor_and_key() {
        let keys = Keys::derive(&[7; 32]);
        let sealed = keys.seal("u1", "f1", b"secret bytes").unwrap();
        assert_eq!(keys.unseal("u1", "f1", &sealed).unwrap(), b"secret bytes");
        for (user, factor) in [("u2", "f1"), ("u1", "f2")] {
            let err = keys.unseal(user, factor, &sealed).unwrap_err();
            assert!(matches!(err, MfaError::Corrupt(_)), "{err:?}");
        }
        let other = Keys::derive(&[8; 32]);
        assert!(matches!(
            other.unseal("u1", "f1", &sealed),
            Err(MfaError::Corrupt(_))
        ));
        assert!(!sealed.contains("secret"), "sealed, not encoded");
    }

    #[test]
    fn recovery_codes_hash_alike_however_typed_and_differ_by_key() {
        let keys = Keys::derive(&[7; 32]);
        let code = recovery_code();
        assert_eq!(code.len(), 14);
        assert!(
            code.bytes()
                .all(|b| b == b'-' || b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        let typed = format!(" {} ", code.to_uppercase().replace('-', " "));
        assert_eq!(keys.recovery_hash(&code), keys.recovery_hash(&typed));
        assert_ne!(
            keys.recovery_hash(&code),
            keys.recovery_hash(&recovery_code())
        );
        assert_ne!(
            keys.recovery_hash(&code),
            Keys::derive(&[8; 32]).recovery_hash(&code)
        );
    }
}
