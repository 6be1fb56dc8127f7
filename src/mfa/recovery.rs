//! Recovery codes: ten single-use codes that stand in for a lost factor,
//! shown once and kept as keyed hashes. A set exists only while its user
//! has a factor (see `recovery.lua` and `remove.lua`).

use std::sync::LazyLock;

use redis::Script;

use super::{Factors, MfaError, RECOVERY_CODES, secret};
use crate::store::keys;

static RECOVERY: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("recovery.lua")));

impl Factors {
    /// Uses one of the user's recovery codes: true once per code.
    pub async fn use_recovery_code(&self, user_id: &str, code: &str) -> Result<bool, MfaError> {
        if code.len() > 64 {
            return Ok(false);
        }
        let mut write = self.store.durable();
        let removed: u64 = redis::cmd("SREM")
            .arg(keys::mfa_recovery(user_id))
            .arg(self.keys.recovery_hash(code))
            .query_async(write.conn())
            .await?;
        write.confirm("recovery_code_used").await;
        Ok(removed == 1)
    }

    /// A new set of recovery codes (the old ones stop working), shown once.
    pub async fn new_recovery_codes(&self, user_id: &str) -> Result<Vec<String>, MfaError> {
        let codes: Vec<String> = (0..RECOVERY_CODES)
            .map(|_| secret::recovery_code())
            .collect();
        let hashes: Vec<String> = codes.iter().map(|c| self.keys.recovery_hash(c)).collect();
        let replaced: u64 = self
            .durably(
                "mfa_recovery_codes",
                RECOVERY
                    .key(keys::mfa_factors(user_id))
                    .key(keys::mfa_recovery(user_id))
                    .arg(&hashes),
            )
            .await?;
        if replaced == 1 {
            Ok(codes)
        } else {
            Err(MfaError::NoFactor)
        }
    }

    /// A new set of codes and their hashes.
    pub(super) fn recovery_set(&self) -> (Vec<String>, Vec<String>) {
        let codes: Vec<String> = (0..RECOVERY_CODES)
            .map(|_| secret::recovery_code())
            .collect();
        let hashes = codes.iter().map(|c| self.keys.recovery_hash(c)).collect();
        (codes, hashes)
    }
}
