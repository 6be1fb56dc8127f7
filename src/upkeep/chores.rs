//! Background chores of a running instance: the heartbeat the console
//! lists instances by (with the instance's mode), the gauges read from
//! Redis, and pruning the console's indexes of entries whose keys are
//! gone ([`super::prune`]). Pruning is needed once, not once per
//! instance: each round, the instance that takes the `gatehouse:upkeep`
//! lock does it.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::auth::Auth;
use crate::instances::{self, InstanceInfo};
use crate::lock::{INTERNAL_PREFIX, LockError, LockOptions};

/// How often each chore runs.
#[derive(Clone, Copy, Debug)]
pub struct Intervals {
    pub heartbeat: Duration,
    pub prune: Duration,
}

impl Default for Intervals {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(5),
            prune: Duration::from_secs(30),
        }
    }
}

/// The chores; stopped when dropped.
pub struct Upkeep {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Upkeep {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts the chores of the instance `info` describes (its `mode` and
/// `last_seen_ms` are filled in at each heartbeat).
pub fn start(auth: &Auth, info: InstanceInfo, every: Intervals) -> Upkeep {
    let heartbeat = {
        let auth = auth.clone();
        tokio::spawn(async move {
            let mut info = info;
            loop {
                (info.mode, info.degraded_since_ms) = auth.mode().wire();
                if let Err(err) = instances::heartbeat(auth.store(), &info).await {
                    tracing::debug!(error = %err, "heartbeat not written");
                }
                refresh_gauges(&auth).await;
                tokio::time::sleep(every.heartbeat).await;
            }
        })
    };
    let prune = {
        let auth = auth.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every.prune).await;
                prune_once(&auth, every.prune).await;
            }
        })
    };
    Upkeep {
        tasks: vec![heartbeat, prune],
    }
}

/// The gauges read from Redis (sessions, active users, event stream
/// length), two cheap commands per heartbeat rather than work per scrape.
async fn refresh_gauges(auth: &Auth) {
    use crate::observe;
    if let Ok((sessions, users)) = auth.sessions().counts().await {
        metrics::gauge!(observe::SESSIONS).set(sessions as f64);
        metrics::gauge!(observe::ACTIVE_USERS).set(users as f64);
    }
    if let Ok(length) = auth.events().stream_length().await {
        metrics::gauge!(observe::EVENT_STREAM_LENGTH).set(length as f64);
    }
}

/// One pruning round, if no other instance is doing it: the lock lives a
/// whole interval, so other instances skip this round.
async fn prune_once(auth: &Auth, interval: Duration) {
    let name = format!("{INTERNAL_PREFIX}upkeep");
    let options = LockOptions {
        ttl: interval,
        wait: Duration::ZERO,
        label: "pruning the console's indexes".to_owned(),
        holder: None,
        watchdog: false,
        fencing: false,
    };
    match auth.locks().acquire_lease(&name, &options).await {
        Ok(_lease) => match super::prune(auth).await {
            // The lease is not released: it expires at the next round.
            Ok(pruned) => tracing::debug!(?pruned, "indexes pruned"),
            Err(err) => tracing::debug!(error = %err, "indexes not pruned"),
        },
        Err(LockError::Busy) => {}
        Err(err) => tracing::debug!(error = %err, "upkeep lock unavailable"),
    }
}
