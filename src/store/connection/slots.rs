//! Test builds check every script and function call sent to a Cluster
//! for keys in more than one slot, and record which were checked.
//!
//! The Cluster would refuse such a call too (`CROSSSLOT`), but only for
//! the calls a test happens to make, and without saying which keys. Here,
//! at the one connection every call goes through, the error names the
//! keys, and the record lets a test prove that every script of the crate
//! was sent to a Cluster and passed. (On one server the rate-limit and
//! admission scripts span slots on purpose, to check several subjects
//! atomically; on a Cluster they are split by slot instead.)

use std::collections::HashSet;
use std::sync::Mutex;

use redis::cluster_routing::Slot;
use redis::{Arg, Cmd, ErrorKind, RedisError, RedisResult};

/// The SHA1 of every script, and the name of every function, sent so far
/// in this process (and checked).
static CHECKED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// `EVALSHA <sha> <numkeys> <key>…` (or `FCALL <function> …`): all keys
/// in one slot, or an error saying which keys are where.
pub(super) fn check(cmd: &Cmd) -> RedisResult<()> {
    let mut args = cmd.args_iter().map(|arg| match arg {
        Arg::Simple(bytes) => bytes,
        _ => b"".as_slice(),
    });
    let is_script = args.next().is_some_and(|name| {
        [b"EVALSHA".as_slice(), b"EVAL", b"FCALL"]
            .iter()
            .any(|script| name.eq_ignore_ascii_case(script))
    });
    if !is_script {
        return Ok(());
    }
    let script = String::from_utf8_lossy(args.next().unwrap_or_default()).into_owned();
    let count: usize = std::str::from_utf8(args.next().unwrap_or_default())
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let keys: Vec<&[u8]> = args.take(count).collect();
    if let Some(first) = keys.first() {
        let slot = Slot::for_key(first);
        if let Some(other) = keys.iter().find(|key| Slot::for_key(key) != slot) {
            return Err(RedisError::from((
                ErrorKind::Client,
                "CROSSSLOT (checked in test builds)",
                format!(
                    "a script's keys are in different Cluster slots: {} and {}",
                    String::from_utf8_lossy(first),
                    String::from_utf8_lossy(other)
                ),
            )));
        }
    }
    if script.len() == 40 || script.starts_with("gh_") {
        let mut checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
        checked.get_or_insert_with(HashSet::new).insert(script);
    }
    Ok(())
}

/// The scripts (by SHA1) checked so far in this process.
#[cfg(test)]
pub(crate) fn checked() -> HashSet<String> {
    CHECKED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evalsha(keys: &[&str]) -> Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg("0123456789012345678901234567890123456789")
            .arg(keys.len());
        for key in keys {
            cmd.arg(*key);
        }
        cmd.arg("an argument");
        cmd
    }

    #[test]
    fn keys_sharing_a_hash_tag_pass_and_others_fail() {
        assert!(check(&evalsha(&["gh:{u:1}:session:a", "gh:{u:1}:sessions"])).is_ok());
        assert!(check(&evalsha(&[])).is_ok());
        assert!(check(&redis::cmd("GET").arg("x").arg("y").clone()).is_ok());
        let err = check(&evalsha(&["gh:{u:1}:session:a", "gh:{u:2}:sessions"])).unwrap_err();
        assert!(err.to_string().contains("different Cluster slots"), "{err}");
    }
}
