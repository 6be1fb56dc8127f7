//! Fenced resources: a write carries the fencing token of the lease it was
//! made under, and a write with an older token than the newest one seen is
//! refused, so a holder that lost its lock (paused, partitioned) cannot
//! overwrite what the next holder wrote.

use std::sync::LazyLock;

use redis::Script;

use super::{LockError, Locks, validate_name};
use crate::store::keys;

static FENCED_WRITE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("fenced_write.lua")));

impl Locks {
    /// Writes `value` to a fenced resource if `fencing_token` is not older
    /// than the newest token that wrote it. Returns whether it was written.
    pub async fn fenced_write(
        &self,
        resource: &str,
        fencing_token: u64,
        value: &str,
    ) -> Result<bool, LockError> {
        validate_name(resource)?;
        let written: u8 = FENCED_WRITE
            .key(keys::fenced_value(resource))
            .key(keys::fenced_high_water(resource))
            .arg(fencing_token)
            .arg(value)
            .invoke_async(&mut self.store.conn())
            .await?;
        Ok(written == 1)
    }

    /// The current value of a fenced resource.
    pub async fn fenced_read(&self, resource: &str) -> Result<Option<String>, LockError> {
        validate_name(resource)?;
        Ok(redis::cmd("GET")
            .arg(keys::fenced_value(resource))
            .query_async(&mut self.store.conn())
            .await?)
    }
}
