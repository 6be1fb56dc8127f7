//! Background chores of a running instance: the heartbeat the console
//! lists instances by, and pruning the console's indexes of entries whose
//! keys are gone ([`gatehouse::upkeep::prune`]), which keeps Redis memory
//! bounded. Pruning is needed once, not once per instance: each round,
//! the instance that takes the `gatehouse:upkeep` lock does it.

use std::time::Duration;

use gatehouse::api::console::InstanceMode;
use gatehouse::instances::{self, InstanceInfo};
use gatehouse_app::state::AppState;
use tokio::task::JoinHandle;

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

/// Starts the chores for this instance.
pub fn start(state: &AppState, every: Intervals) -> Upkeep {
    let heartbeat = {
        let store = state.store.clone();
        let info = InstanceInfo {
            id: state.instance.id.clone(),
            version: state.instance.version.to_owned(),
            started_at_ms: state
                .instance
                .started_at
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, gatehouse::duration::millis),
            last_seen_ms: 0,
            mode: InstanceMode::Normal,
            degraded_since_ms: None,
        };
        let auth = state.auth.clone();
        tokio::spawn(async move {
            let mut info = info;
            loop {
                (info.mode, info.degraded_since_ms) = auth.mode().wire();
                if let Err(err) = instances::heartbeat(&store, &info).await {
                    tracing::debug!(error = %err, "heartbeat not written");
                }
                refresh_gauges(&auth).await;
                tokio::time::sleep(every.heartbeat).await;
            }
        })
    };
    let prune = {
        let auth = state.auth.clone();
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
async fn refresh_gauges(auth: &gatehouse::auth::Auth) {
    use gatehouse::observe;
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
async fn prune_once(auth: &gatehouse::auth::Auth, interval: Duration) {
    let name = format!("{}upkeep", gatehouse::lock::INTERNAL_PREFIX);
    let options = gatehouse::lock::LockOptions {
        ttl: interval,
        wait: Duration::ZERO,
        label: "pruning the console's indexes".to_owned(),
        holder: None,
        watchdog: false,
        fencing: false,
    };
    match auth.locks().acquire_lease(&name, &options).await {
        Ok(_lease) => match gatehouse::upkeep::prune(auth).await {
            // The lease is not released: it expires at the next round.
            Ok(pruned) => tracing::debug!(?pruned, "indexes pruned"),
            Err(err) => tracing::debug!(error = %err, "indexes not pruned"),
        },
        Err(gatehouse::lock::LockError::Busy) => {}
        Err(err) => tracing::debug!(error = %err, "upkeep lock unavailable"),
    }
}
