//! Remembered browsers: after a sign-in with a second factor, a user may
//! let that browser skip the second factor for [`DEVICE_TTL`].
//!
//! The browser holds a random token (an HttpOnly cookie); Redis holds
//! only its keyed hash, under the user, so a copy of Redis presents
//! nothing and a token works for its own user only. A remembered browser
//! skips the second factor and nothing else: the session it opens is at
//! `aal` 1, so changes that need a recent second factor still ask for one.
//! Users list and forget their browsers; removing the last factor or an
//! admin's reset forgets them all (they must not skip a factor enrolled
//! later). Each needs a sign-in with a second factor and lives 30 days,
//! which bounds how many a user can have.

use std::time::Duration;

use super::{Factors, MfaError};
use crate::store::keys;

/// How long a browser stays remembered.
pub const DEVICE_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// A remembered browser, as its user sees it (never its token): the wire
/// type.
pub use crate::api::mfa::RememberedDevice;

impl Factors {
    /// Remembers a browser for `user_id`: the token it presents from now
    /// on (a cookie's value), shown once.
    pub async fn remember_device(&self, user_id: &str, label: &str) -> Result<String, MfaError> {
        let token = crate::random::hex::<16>();
        let device_id = self.keys.device_id(&token);
        let ttl = crate::duration::millis(DEVICE_TTL);
        let mut pipe = redis::pipe();
        pipe.atomic();
        let device = keys::mfa_device(user_id, &device_id);
        pipe.cmd("HSET")
            .arg(&device)
            .arg(&[
                ("c", crate::duration::epoch_ms().to_string()),
                ("l", label.chars().take(super::MAX_LABEL_CHARS).collect()),
            ])
            .ignore()
            .cmd("PEXPIRE")
            .arg(&device)
            .arg(ttl)
            .ignore()
            .cmd("SADD")
            .arg(keys::mfa_devices(user_id))
            .arg(&device_id)
            .ignore()
            .cmd("PEXPIRE")
            .arg(keys::mfa_devices(user_id))
            .arg(ttl)
            .ignore();
        let mut write = self.store.durable();
        let _: () = pipe.query_async(write.conn()).await?;
        write.confirm("mfa_device_remembered").await;
        Ok(token)
    }

    /// Whether `token` is a browser `user_id` remembered (and not since
    /// forgotten or expired).
    pub async fn is_remembered(&self, user_id: &str, token: &str) -> Result<bool, MfaError> {
        if !keys::is_id(token) || token.len() != 32 {
            return Ok(false);
        }
        let device_id = self.keys.device_id(token);
        let (listed, alive): (bool, bool) = redis::pipe()
            .cmd("SISMEMBER")
            .arg(keys::mfa_devices(user_id))
            .arg(&device_id)
            .cmd("EXISTS")
            .arg(keys::mfa_device(user_id, &device_id))
            .query_async(&mut self.store.conn())
            .await?;
        Ok(listed && alive)
    }

    /// The user's remembered browsers, oldest first (ids whose record
    /// expired are dropped from the index on the way).
    pub async fn devices(&self, user_id: &str) -> Result<Vec<RememberedDevice>, MfaError> {
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(keys::mfa_devices(user_id))
            .query_async(&mut self.store.conn())
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            let key = keys::mfa_device(user_id, id);
            pipe.cmd("HMGET")
                .arg(&key)
                .arg(&["c", "l"])
                .cmd("PTTL")
                .arg(&key);
        }
        let replies: Vec<Record> = pipe
            .query_async(&mut self.store.conn())
            .await
            .map(|flat: Vec<redis::Value>| pairs(flat))??;
        let now = crate::duration::epoch_ms();
        let mut devices = Vec::new();
        let mut gone = Vec::new();
        for (id, (fields, ttl)) in ids.into_iter().zip(replies) {
            match (
                fields.first().cloned().flatten(),
                fields.get(1).cloned().flatten(),
            ) {
                (Some(created), Some(label)) if ttl > 0 => devices.push(RememberedDevice {
                    created_at_ms: created.parse().unwrap_or_default(),
                    expires_at_ms: now + ttl.unsigned_abs(),
                    label,
                    device_id: id,
                }),
                _ => gone.push(id),
            }
        }
        if !gone.is_empty() {
            let _: () = redis::cmd("SREM")
                .arg(keys::mfa_devices(user_id))
                .arg(&gone)
                .query_async(&mut self.store.conn())
                .await?;
        }
        devices.sort_by_key(|device| device.created_at_ms);
        Ok(devices)
    }

    /// Forgets one of the user's remembered browsers: it asks for the
    /// second factor again. `NotFound` if there is none by that id.
    pub async fn forget_device(&self, user_id: &str, device_id: &str) -> Result<(), MfaError> {
        if !keys::is_id(device_id) {
            return Err(MfaError::NotFound);
        }
        let (removed, _): (u64, u64) = redis::pipe()
            .atomic()
            .cmd("SREM")
            .arg(keys::mfa_devices(user_id))
            .arg(device_id)
            .cmd("DEL")
            .arg(keys::mfa_device(user_id, device_id))
            .query_async(&mut self.store.conn())
            .await?;
        if removed == 1 {
            Ok(())
        } else {
            Err(MfaError::NotFound)
        }
    }
}

/// One remembered browser's record: its fields (created, label) and TTL.
type Record = (Vec<Option<String>>, i64);

/// The pipeline's flat replies (HMGET, PTTL, HMGET, PTTL, …) in pairs.
fn pairs(flat: Vec<redis::Value>) -> Result<Vec<Record>, MfaError> {
    let corrupt = |what: &str| MfaError::Corrupt(format!("remembered browsers: {what}"));
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut items = flat.into_iter();
    while let (Some(fields), Some(ttl)) = (items.next(), items.next()) {
        let fields: Vec<Option<String>> =
            redis::from_redis_value(fields).map_err(|_| corrupt("fields"))?;
        let ttl: i64 = redis::from_redis_value(ttl).map_err(|_| corrupt("a TTL"))?;
        out.push((fields, ttl));
    }
    Ok(out)
}
