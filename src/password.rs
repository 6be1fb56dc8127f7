//! Password hashing with Argon2id, off the async runtime.
//!
//! Hashes use OWASP's Argon2id parameters (19 MiB, 2 passes, 1 lane; the
//! `argon2` crate's defaults) and the PHC string format, so parameters can
//! be raised later without invalidating stored hashes.
//!
//! Invariants:
//! - hashing never runs on an async worker thread: each one takes ~20 ms
//!   of CPU and 19 MiB, so it goes to `spawn_blocking`, and a semaphore caps
//!   how many run at once (a login flood cannot exhaust memory);
//! - a login for an unknown user verifies against a dummy hash with the
//!   same parameters ([`Hasher::verify_dummy`]), so it costs the same time
//!   as a wrong password and reveals nothing about which usernames exist.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// Why a hash could not be made or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the stored password hash is malformed: {0}")]
    StoredHash(String),
    #[error("the password hashing task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Hashes and verifies passwords. Cheap to clone.
#[derive(Clone)]
pub struct Hasher {
    inner: Arc<Inner>,
}

struct Inner {
    permits: Semaphore,
    dummy_hash: String,
    verifications: AtomicU64,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher").finish_non_exhaustive()
    }
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

fn hash_blocking(password: &[u8]) -> Result<String, PasswordError> {
    let salt = SaltString::encode_b64(&crate::random::bytes::<16>())
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    argon2()
        .hash_password(password, &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

fn verify_blocking(password: &[u8], stored: &str) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(stored).map_err(|e| PasswordError::StoredHash(e.to_string()))?;
    Ok(argon2().verify_password(password, &parsed).is_ok())
}

impl Hasher {
    /// A hasher running at most `concurrency` hashes at once. Computes the
    /// dummy hash now (one hash, on a blocking thread).
    pub async fn new(concurrency: usize) -> Result<Self, PasswordError> {
        let secret = crate::random::hex::<16>();
        let dummy_hash =
            tokio::task::spawn_blocking(move || hash_blocking(secret.as_bytes())).await??;
        Ok(Self {
            inner: Arc::new(Inner {
                permits: Semaphore::new(concurrency.max(1)),
                dummy_hash,
                verifications: AtomicU64::new(0),
            }),
        })
    }

    /// Hashes a new password (PHC string).
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let password = password.as_bytes().to_vec();
        let _permit = self.inner.permits.acquire().await;
        tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
    }

    /// Whether `password` matches the stored hash.
    pub async fn verify(&self, password: &str, stored: &str) -> Result<bool, PasswordError> {
        let password = password.as_bytes().to_vec();
        let stored = stored.to_owned();
        let _permit = self.inner.permits.acquire().await;
        self.inner.verifications.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || verify_blocking(&password, &stored)).await?
    }

    /// Spends exactly the work of a failed [`Hasher::verify`], for logins
    /// naming a user that does not exist. Always "no match".
    pub async fn verify_dummy(&self, password: &str) -> Result<(), PasswordError> {
        let dummy = self.inner.dummy_hash.clone();
        self.verify(password, &dummy).await.map(|_| ())
    }

    /// How many Argon2 verifications this hasher has run; lets tests prove
    /// that unknown users and wrong passwords take the same path.
    pub fn verifications(&self) -> u64 {
        self.inner.verifications.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let hasher = Hasher::new(2).await.unwrap();
        let hash = hasher.hash("correct horse").await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(hasher.verify("correct horse", &hash).await.unwrap());
        assert!(!hasher.verify("wrong horse", &hash).await.unwrap());
        assert_ne!(
            hash,
            hasher.hash("correct horse").await.unwrap(),
            "salts differ"
        );
    }

    #[tokio::test]
    async fn dummy_verification_counts_like_a_real_one() {
        let hasher = Hasher::new(1).await.unwrap();
        let before = hasher.verifications();
        hasher.verify_dummy("anything").await.unwrap();
        assert_eq!(hasher.verifications(), before + 1);
    }

    #[tokio::test]
    async fn malformed_stored_hash_is_an_error_not_a_match() {
        let hasher = Hasher::new(1).await.unwrap();
        assert!(hasher.verify("x", "not-a-phc-string").await.is_err());
    }
}
