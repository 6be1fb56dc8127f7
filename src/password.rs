//! Password hashing with Argon2id, off the async runtime.
//!
//! Hashes use OWASP's Argon2id parameters (19 MiB, 2 passes, 1 lane; the
//! `argon2` crate's defaults, [`Cost::default`]) and the PHC string
//! format, which records the parameters with each hash: the cost can be
//! changed without invalidating stored hashes, each verifying with its own.
//!
//! Invariants:
//! - hashing never runs on an async worker thread: each one takes ~20 ms
//!   of CPU and 19 MiB, so it runs on the hasher's own threads, as many as
//!   the configured concurrency (a login flood cannot exhaust memory);
//! - those threads run at the lowest scheduling priority (nice 19), so a
//!   storm of sign-ins uses the CPU that requests leave idle instead of
//!   delaying them: `/health` and protected requests keep their latency
//!   (measured by the HTTP benchmark's sign-in storm);
//! - a login for an unknown user verifies against a dummy hash with the
//!   same parameters ([`Hasher::verify_dummy`]), so it costs the same time
//!   as a wrong password and reveals nothing about which usernames exist.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

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
    #[error("the password hashing threads could not be started: {0}")]
    Threads(#[from] std::io::Error),
    #[error("the password hashing thread stopped before it answered")]
    Stopped,
}

/// How much work one new hash takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cost {
    /// Memory, in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
}

impl Default for Cost {
    fn default() -> Self {
        Self {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
        }
    }
}

impl Cost {
    fn params(self) -> Result<Params, PasswordError> {
        Params::new(self.memory_kib, self.iterations, 1, None)
            .map_err(|e| PasswordError::Hash(e.to_string()))
    }
}

/// Hashes and verifies passwords. Cheap to clone.
#[derive(Clone)]
pub struct Hasher {
    inner: Arc<Inner>,
}

struct Inner {
    permits: Semaphore,
    /// Work for the hashing threads; they end when this is dropped.
    jobs: mpsc::Sender<Job>,
    dummy_hash: String,
    params: Params,
    verifications: AtomicU64,
}

type Job = Box<dyn FnOnce() + Send>;

/// Starts `count` hashing threads at the lowest priority, taking jobs
/// from one queue until its sender is dropped.
fn start_threads(count: usize) -> Result<mpsc::Sender<Job>, PasswordError> {
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    for i in 0..count {
        let queue = queue.clone();
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                lower_priority();
                loop {
                    let job = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            })?;
    }
    Ok(jobs)
}

/// nice 19 for the calling thread (on Linux, `setpriority` with
/// `PRIO_PROCESS` and 0 applies to the calling thread only).
#[allow(unsafe_code)]
fn lower_priority() {
    // SAFETY: setpriority takes plain integers and touches no memory of ours.
    let failed = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) } != 0;
    if failed {
        tracing::warn!("could not lower the priority of a password hashing thread");
    }
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher").finish_non_exhaustive()
    }
}

/// Argon2id with `params` (verification takes each hash's own).
fn argon2(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &[u8], params: Params) -> Result<String, PasswordError> {
    let salt = SaltString::encode_b64(&crate::random::bytes::<16>())
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    argon2(params)
        .hash_password(password, &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

fn verify_blocking(password: &[u8], stored: &str) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(stored).map_err(|e| PasswordError::StoredHash(e.to_string()))?;
    Ok(argon2(Params::DEFAULT)
        .verify_password(password, &parsed)
        .is_ok())
}

impl Hasher {
    /// A hasher running at most `concurrency` hashes at once, on as many
    /// threads of its own, at the default cost. Computes the dummy hash now.
    pub async fn new(concurrency: usize) -> Result<Self, PasswordError> {
        Self::with_cost(concurrency, Cost::default()).await
    }

    /// A hasher whose new hashes (and dummy hash) take `cost`.
    pub async fn with_cost(concurrency: usize, cost: Cost) -> Result<Self, PasswordError> {
        let concurrency = concurrency.max(1);
        let params = cost.params()?;
        let jobs = start_threads(concurrency)?;
        let secret = crate::random::hex::<16>();
        let dummy_params = params.clone();
        let dummy_hash = run(&jobs, move || {
            hash_blocking(secret.as_bytes(), dummy_params)
        })
        .await??;
        Ok(Self {
            inner: Arc::new(Inner {
                permits: Semaphore::new(concurrency),
                jobs,
                dummy_hash,
                params,
                verifications: AtomicU64::new(0),
            }),
        })
    }

    /// Hashes a new password (PHC string).
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let password = password.as_bytes().to_vec();
        let params = self.inner.params.clone();
        let _permit = self.inner.permits.acquire().await;
        run(&self.inner.jobs, move || hash_blocking(&password, params)).await?
    }

    /// Whether `password` matches the stored hash.
    pub async fn verify(&self, password: &str, stored: &str) -> Result<bool, PasswordError> {
        let password = password.as_bytes().to_vec();
        let stored = stored.to_owned();
        let _permit = self.inner.permits.acquire().await;
        self.inner.verifications.fetch_add(1, Ordering::Relaxed);
        run(&self.inner.jobs, move || {
            verify_blocking(&password, &stored)
        })
        .await?
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

/// Runs `work` on a hashing thread and waits for its answer.
async fn run<T: Send + 'static>(
    jobs: &mpsc::Sender<Job>,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PasswordError> {
    let (done, answer) = tokio::sync::oneshot::channel();
    jobs.send(Box::new(move || {
        let _ = done.send(work());
    }))
    .map_err(|_| PasswordError::Stopped)?;
    answer.await.map_err(|_| PasswordError::Stopped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashing_threads_run_at_the_lowest_priority() {
        let hasher = Hasher::new(1).await.unwrap();
        let nice = run(&hasher.inner.jobs, || {
            std::fs::read_to_string("/proc/thread-self/stat").unwrap()
        })
        .await
        .unwrap();
        // Field 19 of stat is the nice value; the name (field 2) may hold spaces.
        let after_name = nice.rsplit_once(')').unwrap().1;
        let nice: i32 = after_name
            .split_whitespace()
            .nth(16)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(nice, 19);
    }

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
        assert!(matches!(
            hasher.verify("x", "not-a-phc-string").await,
            Err(PasswordError::StoredHash(_))
        ));
    }
}
