//! Building the application state from configuration: keys, the auth
//! service, and the first admin.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gatehouse::Store;
use gatehouse::auth::{Auth, AuthParts, RotationConfig};
use gatehouse::blacklist::Blacklist;
use gatehouse::events::Events;
use gatehouse::lock::Locks;
use gatehouse::password::{Hasher, PasswordError};
use gatehouse::ratelimit::{self, Limiter};
use gatehouse::session::{SessionConfig, Sessions};
use gatehouse::signouts::Journal;
use gatehouse::token::{KeyError, Keyring, TokenConfig, Tokens};
use gatehouse::user::{Role, Users};
use gatehouse_app::cookies::CookiePolicy;
use gatehouse_app::state::{AppState, Instance, Shared};
use leptos::config::LeptosOptions;

use crate::config::Config;

/// Why the state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("--jwt-key-file (GATEHOUSE_JWT_KEY_FILES): {0}")]
    KeyFiles(#[source] KeyError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(
        "no --jwt-key-file is configured and the shared default key could not be read from Redis: {0}"
    )]
    DefaultKey(gatehouse::StoreError),
    #[error("cannot set up password hashing: {0}")]
    Hasher(#[from] PasswordError),
    #[error("--data-dir (GATEHOUSE_DATA_DIR): {0}")]
    Journal(#[from] gatehouse::signouts::JournalError),
    #[error("--public-url (GATEHOUSE_PUBLIC_URL): {0}")]
    PublicUrl(String),
    #[error("--mfa-key-file (GATEHOUSE_MFA_KEY_FILE): {0}")]
    MfaKey(String),
}

/// How long startup waits for Redis to hand out the shared default key.
const DEFAULT_KEY_WAIT: Duration = Duration::from_secs(30);

/// The state every request sees, and the event stream (which the live
/// hub tails and shutdown flushes).
pub async fn app_state(config: &Config, store: Store) -> Result<(AppState, Events), StartupError> {
    let keyring = keyring(config, &store).await?;
    tracing::info!(signing_kid = keyring.signing_kid(), "JWT keys loaded");
    let tokens = Tokens::new(
        keyring,
        TokenConfig {
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            access_ttl: config.access_ttl,
            refresh_ttl: config.refresh_ttl,
            leeway: config.jwt_leeway,
        },
    );
    let instance_id = config
        .instance_id
        .clone()
        .unwrap_or_else(default_instance_id);
    let concurrency = config
        .hash_concurrency
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let users = Users::new(store.clone(), Hasher::new(concurrency).await?);
    let sessions = Sessions::new(
        store.clone(),
        SessionConfig {
            idle_timeout: config.session_idle_timeout,
            absolute_lifetime: config.session_lifetime,
            max_per_user: config.max_sessions_per_user,
        },
    );
    let events = Events::with_retention(
        store.clone(),
        instance_id.as_str(),
        gatehouse::events::Retention {
            events: config.event_stream_max_len,
            audit: config.audit_stream_max_len,
        },
    );
    let locks = Locks::new(store.clone(), instance_id.as_str()).with_events(events.clone());
    let signouts = Journal::open(config.data_dir().join(gatehouse::signouts::FILE))?;
    let limiter = Limiter::new(
        store.clone(),
        ratelimit::merge(ratelimit::default_policies(), config.rate_limits.clone()),
    );
    for policy in limiter.policies() {
        tracing::info!(policy = %policy.to_spec(), "rate-limit policy");
    }
    // Now rather than on the first request; a Redis that is not answering
    // yet gets them on the first call that finds them missing.
    if let Err(err) = limiter.load_functions().await {
        tracing::warn!(error = %err, "the Redis functions will be loaded on first use");
    }
    let auth = Auth::new(AuthParts {
        store: store.clone(),
        users,
        sessions,
        tokens,
        locks,
        blacklist: Blacklist::new(store.clone()).with_events(events.clone()),
        events: events.clone(),
        limiter,
        rotation: RotationConfig {
            grace: config.refresh_grace,
            renew_window: config.renew_window.clamp(0.0, 1.0),
            lock_ttl: config.refresh_lock_ttl,
            lock_wait: config.refresh_lock_ttl * 2,
        },
        challenges: gatehouse::auth::challenge::ChallengeConfig {
            difficulty: config.challenge_difficulty,
            ttl: config.challenge_ttl,
        },
        signouts: Some(Arc::new(signouts)),
        degraded_max: config.degraded_max,
        step_up_max_age: config.step_up_max_age,
        mfa_required_roles: config.mfa_required_roles.clone(),
        relying_party: Arc::new(
            gatehouse::mfa::RelyingParty::new(&config.public_url())
                .map_err(StartupError::PublicUrl)?,
        ),
        mfa_key: mfa_key(config)?,
    });
    let instance = Instance {
        id: instance_id,
        version: env!("CARGO_PKG_VERSION"),
        started_at: SystemTime::now(),
    };
    let leptos_options = LeptosOptions::builder()
        .output_name("gatehouse")
        .site_root(config.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(config.addr)
        .build();
    let state = AppState::new(Shared {
        auth,
        cookies: CookiePolicy {
            secure: config.cookie_secure,
            access_max_age: config.session_lifetime,
            refresh_max_age: config.refresh_ttl,
        },
        instance,
        leptos_options,
    });
    Ok((state, events))
}

/// The key of `--mfa-key-file`, if one is configured.
fn mfa_key(config: &Config) -> Result<Option<[u8; 32]>, StartupError> {
    let Some(path) = &config.mfa_key_file else {
        return Ok(None);
    };
    let contents = std::fs::read(path)
        .map_err(|err| StartupError::MfaKey(format!("{}: {err}", path.display())))?;
    gatehouse::mfa::key_from_file(&contents)
        .map(Some)
        .map_err(|err| StartupError::MfaKey(format!("{}: {err}", path.display())))
}

async fn keyring(config: &Config, store: &Store) -> Result<Keyring, StartupError> {
    if !config.jwt_key_files.is_empty() {
        return Keyring::from_files(&config.jwt_key_files).map_err(StartupError::KeyFiles);
    }
    let deadline = tokio::time::Instant::now() + DEFAULT_KEY_WAIT;
    loop {
        match gatehouse::token::shared_default_secret(store).await {
            Ok(secret) => {
                tracing::warn!(
                    "no --jwt-key-file configured: signing with an HS256 secret generated once and \
                     kept in Redis; configure key files for production"
                );
                return Ok(Keyring::from_secret(&secret)?);
            }
            Err(err) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %err, "waiting for Redis to load the shared JWT key");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(err) => return Err(StartupError::DefaultKey(err)),
        }
    }
}

/// Creates the configured admin, or on a first run with no users at all
/// an `admin` with a random password printed once. Retries in the
/// background while Redis is unreachable; `readiness` says provisioning
/// until it is done (or has failed for good), so `/ready` waits for the
/// admin a deployment script is about to sign in as.
pub fn bootstrap_admin(
    config: &Config,
    auth: Auth,
    readiness: &crate::health::Readiness,
) -> Result<tokio::task::JoinHandle<()>, std::io::Error> {
    let configured = match (&config.admin_user, &config.admin_password_file) {
        (Some(user), Some(file)) => {
            let password = std::fs::read_to_string(file).map_err(|err| {
                std::io::Error::new(
                    err.kind(),
                    format!(
                        "cannot read --admin-password-file {}: {err}",
                        file.display()
                    ),
                )
            })?;
            Some((
                user.clone(),
                password.trim_end_matches(['\n', '\r']).to_owned(),
            ))
        }
        _ => None,
    };
    let initial_admin = config.initial_admin;
    if configured.is_none() && !initial_admin {
        // Nothing to create: readiness is not held back at all.
        return Ok(tokio::spawn(async {}));
    }
    let readiness = readiness.clone();
    readiness.set_provisioning(true);
    Ok(tokio::spawn(async move {
        loop {
            let result = match &configured {
                Some((user, password)) => ensure_configured_admin(&auth, user, password).await,
                None => ensure_initial_admin(&auth).await,
            };
            match result {
                Ok(()) => {
                    readiness.set_provisioning(false);
                    return;
                }
                Err(gatehouse::auth::AuthError::Store(err)) => {
                    tracing::warn!(error = %err, "cannot create the admin yet; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                // Not worth holding the instance back for: it serves
                // everyone else, and the log says what to fix.
                Err(err) => {
                    tracing::error!(error = %err, "cannot create the admin user");
                    readiness.set_provisioning(false);
                    return;
                }
            }
        }
    }))
}

async fn ensure_configured_admin(
    auth: &Auth,
    user: &str,
    password: &str,
) -> Result<(), gatehouse::auth::AuthError> {
    match auth
        .ensure_user(user, password, &[Role::Admin, Role::User])
        .await?
    {
        Some(created) => {
            tracing::info!(user_id = %created.id, username = user, "created the configured admin")
        }
        None => tracing::info!(
            username = user,
            "the configured admin exists; left unchanged"
        ),
    }
    Ok(())
}

async fn ensure_initial_admin(auth: &Auth) -> Result<(), gatehouse::auth::AuthError> {
    if let Some((created, password)) = auth.create_first_admin().await? {
        // Printed once, on purpose: this is the only way into a fresh
        // install; the admin must choose a new password on first sign-in
        // (or configure --admin-user/--admin-password-file instead).
        tracing::warn!(
            user_id = %created.id,
            "first run: created user `admin` with password `{password}` (shown only this once; \
             you will be asked to choose a new one when you sign in)"
        );
    }
    Ok(())
}

/// This instance as its heartbeat lists it (mode and last contact are
/// filled in at each beat).
pub fn instance_info(instance: &Instance) -> gatehouse::instances::InstanceInfo {
    gatehouse::instances::InstanceInfo {
        id: instance.id.clone(),
        version: instance.version.to_owned(),
        started_at_ms: instance
            .started_at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, gatehouse::duration::millis),
        last_seen_ms: 0,
        mode: gatehouse::api::console::InstanceMode::Normal,
        degraded_since_ms: None,
    }
}

/// `<hostname>-<6 random hex digits>`: unique per process.
fn default_instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "gatehouse".to_owned());
    format!("{host}-{}", gatehouse::random::hex::<3>())
}
