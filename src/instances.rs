//! Which Gatehouse instances are running, as the console shows them.
//!
//! Each instance writes a heartbeat (its id, version, start time and the
//! time of the beat) into one Redis hash every few seconds; the console
//! lists them and marks an instance stale when its beats stop. Entries of
//! instances gone for an hour are removed when listed.

use std::collections::HashMap;
use std::time::Duration;

use crate::store::{Store, StoreError, keys};

/// How long after its last heartbeat an instance is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(3600);

pub use crate::api::console::InstanceInfo;

/// Records that `info`'s instance is alive now.
pub async fn heartbeat(store: &Store, info: &InstanceInfo) -> Result<(), StoreError> {
    let mut info = info.clone();
    info.last_seen_ms = crate::duration::epoch_ms();
    let json = serde_json::to_string(&info).map_err(|e| {
        StoreError::Command(redis::RedisError::from((
            redis::ErrorKind::Client,
            "serialise",
            e.to_string(),
        )))
    })?;
    let _: () = redis::cmd("HSET")
        .arg(keys::instances())
        .arg(&info.id)
        .arg(json)
        .query_async(&mut store.conn())
        .await?;
    Ok(())
}

/// Known instances, most recently seen first (forgetting long-gone ones).
pub async fn list(store: &Store) -> Result<Vec<InstanceInfo>, StoreError> {
    let all: HashMap<String, String> = redis::cmd("HGETALL")
        .arg(keys::instances())
        .query_async(&mut store.conn())
        .await?;
    let now = crate::duration::epoch_ms();
    let forget = crate::duration::millis(FORGET_AFTER);
    let mut gone = Vec::new();
    let mut instances: Vec<InstanceInfo> = all
        .into_iter()
        .filter_map(
            |(id, json)| match serde_json::from_str::<InstanceInfo>(&json) {
                Ok(info) if now.saturating_sub(info.last_seen_ms) < forget => Some(info),
                _ => {
                    gone.push(id);
                    None
                }
            },
        )
        .collect();
    if !gone.is_empty() {
        let _: () = redis::cmd("HDEL")
            .arg(keys::instances())
            .arg(&gone)
            .query_async(&mut store.conn())
            .await?;
    }
    instances.sort_by_key(|i| std::cmp::Reverse(i.last_seen_ms));
    Ok(instances)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestRedis;

    #[tokio::test]
    async fn instances_report_and_are_listed() {
        let redis = TestRedis::start().await;
        let store = redis.store().await;
        for id in ["gh-a", "gh-b"] {
            heartbeat(
                &store,
                &InstanceInfo {
                    id: id.into(),
                    version: "0.1.0".into(),
                    started_at_ms: 1,
                    last_seen_ms: 0,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        }
        let listed = list(&store).await.unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().all(|i| i.last_seen_ms > 0));
    }
}
