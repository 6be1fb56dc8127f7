//! Background chores of a running instance: the heartbeat the console
//! lists instances by, and pruning the console's session index of
//! sessions that idled out.

use std::time::Duration;

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
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0)),
            last_seen_ms: 0,
        };
        tokio::spawn(async move {
            loop {
                if let Err(err) = instances::heartbeat(&store, &info).await {
                    tracing::debug!(error = %err, "heartbeat not written");
                }
                tokio::time::sleep(every.heartbeat).await;
            }
        })
    };
    let prune = {
        let sessions = state.auth.sessions().clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every.prune).await;
                let mut cursor = 0;
                loop {
                    match sessions.prune_index(cursor, 1_000).await {
                        Ok((0, _)) => break,
                        Ok((next, _)) => cursor = next,
                        Err(err) => {
                            tracing::debug!(error = %err, "session index not pruned");
                            break;
                        }
                    }
                }
            }
        })
    };
    Upkeep {
        tasks: vec![heartbeat, prune],
    }
}
