//! Wakes waiting acquirers when a lock is released.
//!
//! One pub/sub connection per process listens on the release channel and
//! fans the lock names out to local waiters through a broadcast channel,
//! so a waiter learns of a release within a network hop instead of at its
//! next poll. This is an accelerator only: waiters keep polling with
//! jittered backoff, so a lost message or a dropped connection (which is
//! re-established here) costs latency, never correctness. In a Cluster the
//! connection goes to one node: pub/sub messages reach every node.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::store::{Store, keys};

/// The process's release listener.
#[derive(Debug)]
pub(crate) struct Notifier {
    releases: broadcast::Sender<Arc<str>>,
    task: JoinHandle<()>,
}

impl Notifier {
    /// Starts listening in the background.
    pub fn start(store: Store) -> Self {
        let (releases, _) = broadcast::channel(1024);
        let sender = releases.clone();
        let task = tokio::spawn(async move {
            let channel = keys::lock_released_channel();
            let mut retry = Duration::from_millis(100);
            loop {
                match store.subscribe(&channel).await {
                    Ok(mut pubsub) => {
                        retry = Duration::from_millis(100);
                        let mut messages = pubsub.on_message();
                        while let Some(message) = messages.next().await {
                            if let Ok(name) = message.get_payload::<String>() {
                                // No receivers is fine: nobody is waiting.
                                let _ = sender.send(name.into());
                            }
                        }
                        tracing::debug!("lock release subscription ended; reconnecting");
                    }
                    Err(err) => {
                        tracing::debug!(error = %err, "cannot subscribe to lock releases")
                    }
                }
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(Duration::from_secs(5));
            }
        });
        Self { releases, task }
    }

    /// Lock names as they are released.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.releases.subscribe()
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.task.abort();
    }
}
