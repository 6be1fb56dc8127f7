//! What a user's factors look like from outside: kind, label, times,
//! never a secret.

use super::{Factors, Kind, MfaError};
use crate::store::keys;

/// A confirmed factor, as its owner and admins see it (never its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Factor {
    pub factor_id: String,
    pub kind: Kind,
    pub label: String,
    pub created_at_ms: u64,
    pub last_used_at_ms: Option<u64>,
    /// A discoverable WebAuthn credential (signs in without a password).
    pub passkey: bool,
    /// A WebAuthn credential that may be synced to other devices.
    pub backup_eligible: bool,
}

/// A user's factors and how many recovery codes are left.
#[derive(Clone, Debug, Default)]
pub struct Enrolled {
    pub factors: Vec<Factor>,
    pub recovery_codes_left: u64,
    pub remembered_devices: Vec<super::RememberedDevice>,
}

impl From<Enrolled> for crate::api::mfa::FactorList {
    fn from(enrolled: Enrolled) -> Self {
        Self {
            factors: enrolled
                .factors
                .into_iter()
                .map(|factor| crate::api::mfa::FactorView {
                    factor_id: factor.factor_id,
                    kind: factor.kind,
                    label: factor.label,
                    created_at_ms: factor.created_at_ms,
                    last_used_at_ms: factor.last_used_at_ms,
                    passkey: factor.passkey,
                    backup_eligible: factor.backup_eligible,
                })
                .collect(),
            recovery_codes_left: enrolled.recovery_codes_left,
            remembered_devices: enrolled.remembered_devices,
        }
    }
}

impl Factors {
    /// The user's confirmed factors, oldest first, how many recovery codes
    /// are left, and the browsers that skip the second factor.
    pub async fn list(&self, user_id: &str) -> Result<Enrolled, MfaError> {
        let ids = self.factor_ids(user_id).await?;
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("HMGET")
                .arg(keys::mfa_factor(user_id, id))
                .arg(&["k", "l", "c", "u", "pk", "be"]);
        }
        pipe.cmd("SCARD").arg(keys::mfa_recovery(user_id));
        let mut replies: Vec<redis::Value> = pipe.query_async(&mut self.store.conn()).await?;
        let left = replies.pop();
        let recovery_codes_left = redis::from_redis_value(left.unwrap_or(redis::Value::Int(0)))
            .map_err(|err| MfaError::Corrupt(err.to_string()))?;
        let mut factors = Vec::with_capacity(ids.len());
        for (factor_id, reply) in ids.into_iter().zip(replies) {
            let fields: Vec<Option<String>> =
                redis::from_redis_value(reply).map_err(|err| MfaError::Corrupt(err.to_string()))?;
            let [
                Some(kind),
                Some(label),
                Some(created),
                used,
                passkey,
                backup,
            ] = <[Option<String>; 6]>::try_from(fields)
                .map_err(|_| MfaError::Corrupt("a factor has the wrong fields".to_owned()))?
            else {
                // Removed between the two reads.
                continue;
            };
            let corrupt = || MfaError::Corrupt(format!("factor {factor_id} is malformed"));
            factors.push(Factor {
                kind: Kind::parse(&kind).ok_or_else(corrupt)?,
                label,
                created_at_ms: created.parse().map_err(|_| corrupt())?,
                last_used_at_ms: used.map(|u| u.parse()).transpose().map_err(|_| corrupt())?,
                passkey: passkey.as_deref() == Some("1"),
                backup_eligible: backup.as_deref() == Some("1"),
                factor_id,
            });
        }
        factors.sort_by(|a, b| {
            a.created_at_ms
                .cmp(&b.created_at_ms)
                .then(a.factor_id.cmp(&b.factor_id))
        });
        Ok(Enrolled {
            factors,
            recovery_codes_left,
            remembered_devices: self.devices(user_id).await?,
        })
    }
}
