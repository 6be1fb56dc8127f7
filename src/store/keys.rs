//! Every Redis key Gatehouse uses. Nothing else builds key names.
//!
//! Hash tags (the part in braces) decide the Cluster slot: all keys of one
//! user share `{u:<user id>}`, so the session scripts can touch a user's
//! sessions, index and markers atomically; user records and the username
//! index share `{users}`, so creating a user and claiming its name is one
//! script. Ids embedded here are hex strings produced by [`crate::random`]
//! or checked by [`is_id`] first, so they cannot break out of the layout.

use std::fmt::{self, Display, Write as _};

use super::PREFIX;

/// A key on the request path, written where it is needed: straight into
/// a command's buffer (as [`redis::ToRedisArgs`], no allocation) or into
/// a `String` (`to_string`). Its layout is written once, here; the
/// `String` builders of the same keys below use it.
#[derive(Clone, Copy)]
pub enum Key<'a> {
    /// See [`session`].
    Session {
        user_id: &'a str,
        session_id: &'a str,
    },
    /// See [`user_sessions`].
    UserSessions(&'a str),
    /// See [`blacklisted`].
    Blacklisted { user_id: &'a str, jti: &'a str },
    /// See [`user_roles`].
    UserRoles(&'a str),
    /// See [`user_disabled`].
    UserDisabled(&'a str),
    /// See [`replay_nonce`].
    ReplayNonce { user_id: &'a str, nonce: &'a str },
    /// See [`rate_limit`]: `tag` and `extra` are written as they display.
    RateLimit {
        tag: &'a dyn Display,
        policy: &'a str,
        extra: Option<&'a dyn Display>,
    },
    /// See [`rate_limit_index`].
    RateLimitIndex,
}

impl Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Session {
                user_id,
                session_id,
            } => write!(f, "{PREFIX}:{{u:{user_id}}}:s:{session_id}"),
            Key::UserSessions(user_id) => write!(f, "{PREFIX}:{{u:{user_id}}}:sessions"),
            Key::Blacklisted { user_id, jti } => write!(f, "{PREFIX}:{{u:{user_id}}}:bl:{jti}"),
            Key::UserRoles(user_id) => write!(f, "{PREFIX}:{{u:{user_id}}}:roles"),
            Key::UserDisabled(user_id) => write!(f, "{PREFIX}:{{u:{user_id}}}:disabled"),
            Key::ReplayNonce { user_id, nonce } => {
                write!(f, "{PREFIX}:{{u:{user_id}}}:nonce:{nonce}")
            }
            Key::RateLimit { tag, policy, extra } => {
                write!(f, "{PREFIX}:{{{tag}}}:rl:{policy}")?;
                match extra {
                    Some(extra) => write!(f, ":{extra}"),
                    None => Ok(()),
                }
            }
            Key::RateLimitIndex => write!(f, "{PREFIX}:rl:index"),
        }
    }
}

impl fmt::Debug for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl redis::ToRedisArgs for Key<'_> {
    fn write_redis_args<W: ?Sized + redis::RedisWrite>(&self, out: &mut W) {
        // Writing into a command's buffer cannot fail.
        let _ = std::io::Write::write_fmt(&mut out.writer_for_next_arg(), format_args!("{self}"));
    }
}

/// Writes `text` keeping only characters that are safe in a key (ASCII
/// letters and digits, `.`, `:`, `-`), at most 64 of them: for text a
/// client chose (addresses, ids) that a key embeds.
pub struct KeySafe<'a>(pub &'a str);

impl Display for KeySafe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-'))
            .take(64)
            .try_for_each(|c| f.write_char(c))
    }
}

/// Whether `id` is a well-formed Gatehouse id (lower-case hex).
pub fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// A user's record (hash).
pub fn user(user_id: &str) -> String {
    format!("{PREFIX}:{{users}}:u:{user_id}")
}

/// Lower-cased username to user id (hash).
pub fn usernames() -> String {
    format!("{PREFIX}:{{users}}:names")
}

/// All user ids by creation time (sorted set), for paging.
pub fn user_index() -> String {
    format!("{PREFIX}:{{users}}:index")
}

/// The user's roles, comma-separated, in the user's own slot so that
/// admission reads them in the same script as the session: a role
/// change applies to the very next request. The user record keeps a
/// copy for display.
pub fn user_roles(user_id: &str) -> String {
    Key::UserRoles(user_id).to_string()
}

/// The user's password generation (how many times the password was
/// set), in the user's slot, where session creation checks it: a
/// sign-in that verified an older password opens no session.
pub fn user_password_generation(user_id: &str) -> String {
    format!("{PREFIX}:{{u:{user_id}}}:pwgen")
}

/// Present while the user is disabled; checked when sessions are made.
pub fn user_disabled(user_id: &str) -> String {
    Key::UserDisabled(user_id).to_string()
}

/// One session (hash), expiring with the session.
pub fn session(user_id: &str, session_id: &str) -> String {
    Key::Session {
        user_id,
        session_id,
    }
    .to_string()
}

/// The common prefix of a user's session keys, for scripts that walk
/// the user's session index.
pub fn session_prefix(user_id: &str) -> String {
    format!("{PREFIX}:{{u:{user_id}}}:s:")
}

/// A user's live sessions: session id scored by expiry time (sorted set).
pub fn user_sessions(user_id: &str) -> String {
    Key::UserSessions(user_id).to_string()
}

/// A revoked access token (hash, expiring with the token), in its
/// user's slot so request validation checks it in the same script as
/// the session.
pub fn blacklisted(user_id: &str, jti: &str) -> String {
    Key::Blacklisted { user_id, jti }.to_string()
}

/// The prefix of a user's blacklist entries.
pub fn blacklist_prefix(user_id: &str) -> String {
    format!("{PREFIX}:{{u:{user_id}}}:bl:")
}

/// All blacklist entries, `<user id>:<jti>` scored by expiry (sorted
/// set), for the admin view. Advisory: pruned as entries expire.
pub fn blacklist_index() -> String {
    format!("{PREFIX}:blacklist")
}

/// Every revocation, in order (a stream every instance follows; see
/// [`crate::revocations`]). Trimmed by age, expires when idle.
pub fn revocations() -> String {
    format!("{PREFIX}:revocations")
}

/// The token pair a rotation produced, kept for the grace window under
/// the id of the token it replaced, so concurrent callers get the same.
pub fn rotation_result(user_id: &str, replaced_jti: &str) -> String {
    format!("{}{replaced_jti}", rotation_result_prefix(user_id))
}

/// The prefix of a user's rotation results.
pub fn rotation_result_prefix(user_id: &str) -> String {
    format!("{PREFIX}:{{u:{user_id}}}:rot:")
}

/// A rate-limit window: `<tag>` places it with its subject (a user's
/// windows in the user's slot), `<policy>` names the policy and
/// `<extra>` (possibly empty) narrows it (a session, a route).
pub fn rate_limit(tag: &str, policy: &str, extra: &str) -> String {
    Key::RateLimit {
        tag: &tag,
        policy,
        extra: (!extra.is_empty()).then_some(&extra as &dyn Display),
    }
    .to_string()
}

/// Subjects with live rate-limit windows (sorted set scored by when
/// their longest window ends), for the console.
pub fn rate_limit_index() -> String {
    Key::RateLimitIndex.to_string()
}

/// A replay-protection nonce already seen from this user.
pub fn replay_nonce(user_id: &str, nonce: &str) -> String {
    Key::ReplayNonce { user_id, nonce }.to_string()
}

/// The security event stream.
pub fn events() -> String {
    format!("{PREFIX}:events")
}

/// One second factor of a user (hash): kind, label, sealed secret,
/// times, the last accepted TOTP step. Owned by the user; an
/// unconfirmed one expires.
pub fn mfa_factor(user_id: &str, factor_id: &str) -> String {
    format!("{}{factor_id}", mfa_factor_prefix(user_id))
}

/// The prefix of a user's factor keys, for scripts that walk them.
pub fn mfa_factor_prefix(user_id: &str) -> String {
    format!("{PREFIX}:{{u:{user_id}}}:mfa:f:")
}

/// The ids of a user's confirmed factors (set).
pub fn mfa_factors(user_id: &str) -> String {
    format!("{PREFIX}:{{u:{user_id}}}:mfa:factors")
}

/// The ids of a user's factors awaiting confirmation (set, expiring with
/// the latest of them).
pub fn mfa_pending(user_id: &str) -> String {
    format!("{PREFIX}:{{u:{user_id}}}:mfa:pending")
}

/// A user's unused recovery codes, keyed hashes (set; gone with the
/// user's last factor).
pub fn mfa_recovery(user_id: &str) -> String {
    format!("{PREFIX}:{{u:{user_id}}}:mfa:rc")
}

/// A browser a user let skip the second factor (hash: created, label;
/// expires 30 days after it was remembered).
pub fn mfa_device(user_id: &str, device_id: &str) -> String {
    format!("{}{device_id}", mfa_device_prefix(user_id))
}

/// The prefix of a user's remembered-browser keys, for scripts that walk
/// them.
pub fn mfa_device_prefix(user_id: &str) -> String {
    format!("{PREFIX}:{{u:{user_id}}}:mfa:d:")
}

/// The ids of a user's remembered browsers (set, expiring with the latest
/// of them; ids whose key expired are dropped when listed).
pub fn mfa_devices(user_id: &str) -> String {
    format!("{PREFIX}:{{u:{user_id}}}:mfa:devices")
}

/// A second-factor ticket: a sign-in whose password was right, waiting
/// for its second factor (hash, expires with its TTL).
pub fn mfa_ticket(ticket: &str) -> String {
    format!("{PREFIX}:mfa:t:{ticket}")
}

/// A WebAuthn ceremony between its start and its finish (sealed string,
/// expires with its TTL; taken by the finish).
pub fn mfa_ceremony(ceremony_id: &str) -> String {
    format!("{PREFIX}:mfa:w:{ceremony_id}")
}

/// A sign-in challenge (expires with its TTL; taken when redeemed).
pub fn challenge(id: &str) -> String {
    format!("{PREFIX}:ch:{id}")
}

/// The audit stream: the security events no flood may evict.
pub fn audit() -> String {
    format!("{PREFIX}:audit")
}

/// The alert rules' settings (hash `<rule>:enabled`, `<rule>:threshold`;
/// owned by the admins who set them). Every alert key shares `{alerts}`,
/// so raising one is one script.
pub fn alert_rules() -> String {
    format!("{PREFIX}:{{alerts}}:rules")
}

/// The alerts themselves (hash: alert id to its JSON; bounded, and
/// expiring with the latest alert).
pub fn alert_data() -> String {
    format!("{PREFIX}:{{alerts}}:data")
}

/// Alert ids by their latest occurrence (sorted set), for trimming.
pub fn alert_index() -> String {
    format!("{PREFIX}:{{alerts}}:index")
}

/// The open alerts' ids by their latest occurrence (sorted set), so that
/// the count of open alerts (every console page shows it) reads no alert.
pub fn alert_open() -> String {
    format!("{PREFIX}:{{alerts}}:open")
}

/// The open alert of each rule and subject (hash `<rule> <subject>` to
/// alert id), which later matches add to.
pub fn alert_dedup() -> String {
    format!("{PREFIX}:{{alerts}}:dedup")
}

/// How many rate-limit refusals the minute starting at `minute` (Unix
/// minutes) saw (expires after two minutes).
pub fn alert_storm(minute: u64) -> String {
    format!("{PREFIX}:{{alerts}}:storm:{minute}")
}

/// The addresses an admin signed in from, by when (sorted set; expires
/// 30 days after the latest).
pub fn alert_seen(user_id: &str) -> String {
    format!("{PREFIX}:{{alerts}}:seen:{user_id}")
}

/// How many events of `kind` happened in the minute starting at
/// `minute` (Unix minutes), for the console's time series.
pub fn event_count(kind: &str, minute: u64) -> String {
    format!("{PREFIX}:stats:{kind}:{minute}")
}

/// Live Gatehouse instances and their last heartbeat (hash).
pub fn instances() -> String {
    format!("{PREFIX}:instances")
}

/// All live sessions, `<user id>:<session id>` scored by absolute
/// expiry (sorted set), for the console. Advisory: pruned lazily.
pub fn all_sessions() -> String {
    format!("{PREFIX}:sessions:all")
}

/// Users with sessions, scored by their latest session's absolute
/// expiry (sorted set), for the console. Advisory.
pub fn active_users() -> String {
    format!("{PREFIX}:sessions:users")
}

/// Locks live in [`LOCK_SHARDS`] hash-tag shards: a lock's keys and its
/// shard's registry share a slot, so acquiring a lock and listing it
/// in the registry is one script, while locks still spread over a
/// Cluster's nodes.
pub const LOCK_SHARDS: u16 = 16;

/// The shard of a lock name (FNV-1a, stable across instances).
pub fn lock_shard(name: &str) -> u16 {
    let hash = name.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    (hash % u32::from(LOCK_SHARDS)) as u16
}

/// The lock itself (hash, expiring with the lock).
pub fn lock(name: &str) -> String {
    format!("{}{name}", lock_prefix(lock_shard(name)))
}

/// The prefix of all lock keys in a shard.
pub fn lock_prefix(shard: u16) -> String {
    format!("{PREFIX}:{{l:{shard:02}}}:lock:")
}

/// The fencing counter of a lock (never expires: tokens only grow).
pub fn lock_fence(name: &str) -> String {
    format!("{PREFIX}:{{l:{:02}}}:fence:{name}", lock_shard(name))
}

/// Callers waiting for a lock (sorted set scored by their deadline).
pub fn lock_waiters(name: &str) -> String {
    format!("{}{name}", lock_waiters_prefix(lock_shard(name)))
}

/// The prefix of all waiter sets in a shard.
pub fn lock_waiters_prefix(shard: u16) -> String {
    format!("{PREFIX}:{{l:{shard:02}}}:waiters:")
}

/// A shard's registry of held locks (sorted set: name scored by expiry).
pub fn lock_index(shard: u16) -> String {
    format!("{PREFIX}:{{l:{shard:02}}}:index")
}

/// The pub/sub channel announcing released locks.
pub fn lock_released_channel() -> String {
    format!("{PREFIX}:locks:released")
}

/// A resource protected by fencing tokens: its value...
pub fn fenced_value(resource: &str) -> String {
    format!("{PREFIX}:{{r:{resource}}}:value")
}

/// ...and the highest fencing token that wrote it.
pub fn fenced_high_water(resource: &str) -> String {
    format!("{PREFIX}:{{r:{resource}}}:fence")
}

/// The shared HS256 secret used when the operator configured no key.
pub fn jwt_default_secret() -> String {
    format!("{PREFIX}:jwt:default-secret")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same layout whichever way a key is written.
    #[test]
    fn keys_written_into_a_command_match_their_strings() {
        let tag = "u:ab";
        let extra = "s1";
        for (key, string) in [
            (
                Key::Session {
                    user_id: "ab",
                    session_id: "cd",
                },
                session("ab", "cd"),
            ),
            (Key::UserSessions("ab"), user_sessions("ab")),
            (
                Key::Blacklisted {
                    user_id: "ab",
                    jti: "ef",
                },
                blacklisted("ab", "ef"),
            ),
            (Key::UserRoles("ab"), user_roles("ab")),
            (Key::UserDisabled("ab"), user_disabled("ab")),
            (
                Key::ReplayNonce {
                    user_id: "ab",
                    nonce: "n",
                },
                replay_nonce("ab", "n"),
            ),
            (
                Key::RateLimit {
                    tag: &tag,
                    policy: "api",
                    extra: Some(&extra),
                },
                rate_limit(tag, "api", extra),
            ),
            (Key::RateLimitIndex, rate_limit_index()),
        ] {
            let mut cmd = redis::cmd("GET");
            cmd.arg(key);
            assert_eq!(
                cmd.args_iter().nth(1),
                Some(redis::Arg::Simple(string.as_bytes())),
                "{string}"
            );
        }
        assert!(session("ab", "cd").starts_with(&session_prefix("ab")));
        assert!(blacklisted("ab", "ef").starts_with(&blacklist_prefix("ab")));
        assert_eq!(rate_limit("ip:1", "ip", ""), "gh:{ip:1}:rl:ip");
        assert_eq!(KeySafe("1.2.3.4\n{x}").to_string(), "1.2.3.4x");
    }

    /// Every Lua script of the crate, by path.
    fn scripts() -> Vec<(String, String)> {
        let mut found = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "lua") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    found.push((path.display().to_string(), text));
                }
            }
        }
        found
    }

    /// A Redis Cluster checks the slot of every key a script declares; a key
    /// built from an argument escapes that check. So scripts get keys, and
    /// the prefixes they derive keys from, through `KEYS` only. (The Cluster
    /// runs of the suites then check that one call's keys share a slot.)
    #[test]
    fn scripts_take_their_keys_and_key_prefixes_through_keys() {
        let scripts = scripts();
        assert!(scripts.len() >= 20, "found only {} scripts", scripts.len());
        for (path, text) in scripts {
            for (n, line) in text.lines().enumerate() {
                let code = line.split("--").next().unwrap_or_default();
                let from_argv = code.match_indices("ARGV[").any(|(at, _)| {
                    code[at..]
                        .split_once(']')
                        .is_some_and(|(_, rest)| rest.trim_start().starts_with(".."))
                });
                assert!(
                    !from_argv,
                    "{path}:{}: a key built from ARGV: {line}",
                    n + 1
                );
            }
        }
    }
}
