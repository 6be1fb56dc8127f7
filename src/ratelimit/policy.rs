//! Rate-limit policies: configuration, not code.
//!
//! A policy is one line: `name=api-user,key=user,algorithm=gcra,limit=600,
//! window=1m,burst=100,routes=/api/*,fail=open`. Operators pass policies with
//! `--rate-limit` (repeatable) or `GATEHOUSE_RATE_LIMITS` (`;`-separated);
//! a policy with the name of a default replaces it, `limit=0` removes it.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a policy counts per.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// The client address.
    Ip,
    /// The signed-in user.
    User,
    /// The session (used by the refresh policy).
    Session,
    /// The user and the request path.
    UserRoute,
    /// The address and the username being signed in to (brute-force lockout).
    IpUsername,
    /// The username being signed in to, from anywhere (when sign-in to it
    /// needs a proof-of-work challenge).
    Username,
    /// A key chosen by a service calling `/api/v1/ratelimit/check`.
    Key,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Ip => "ip",
            KeyKind::User => "user",
            KeyKind::Session => "session",
            KeyKind::UserRoute => "user+route",
            KeyKind::IpUsername => "ip+username",
            KeyKind::Username => "username",
            KeyKind::Key => "key",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            KeyKind::Ip,
            KeyKind::User,
            KeyKind::Session,
            KeyKind::UserRoute,
            KeyKind::IpUsername,
            KeyKind::Username,
            KeyKind::Key,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

pub use crate::api::ratelimit::Algorithm;

impl Algorithm {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "sliding-log" | "log" => Some(Algorithm::SlidingLog),
            "sliding-counter" | "counter" => Some(Algorithm::SlidingCounter),
            "gcra" => Some(Algorithm::Gcra),
            _ => None,
        }
    }
}

/// What happens when Redis cannot be asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// Let the request through, with a warning in the log.
    Open,
    /// Refuse it with 503.
    Closed,
}

/// One rate-limit policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Shared: every decision names its policy, and a name is cloned into
    /// each one (a reference count, not a string).
    pub name: Arc<str>,
    pub key: KeyKind,
    pub algorithm: Algorithm,
    /// Requests allowed per `window` (for GCRA: the sustained rate).
    pub limit: u64,
    pub window: Duration,
    /// GCRA only: requests allowed at once.
    pub burst: u64,
    /// Paths this policy guards: exact paths, prefixes ending in `*`, or
    /// `*` for everything. Empty: applied by name inside Gatehouse's own
    /// flows (sign-in lockout, refresh) or through the check API.
    pub routes: Vec<String>,
    pub fail: FailMode,
    /// Requests it guards must carry `X-Request-Nonce` and
    /// `X-Request-Timestamp` (replay protection).
    pub replay: bool,
}

/// Why a policy line was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("rate-limit policy `{spec}`: {reason}")]
pub struct PolicyError {
    pub spec: String,
    pub reason: String,
}

/// Names of the policies Gatehouse applies inside its own flows.
pub const LOGIN_LOCKOUT: &str = "login-lockout";
pub const REFRESH: &str = "refresh";

impl Policy {
    /// Parses one policy line (see the module docs).
    pub fn parse(spec: &str) -> Result<Policy, PolicyError> {
        let error = |reason: String| PolicyError {
            spec: spec.to_owned(),
            reason,
        };
        let mut name = None;
        let mut key = None;
        let mut algorithm = Algorithm::SlidingLog;
        let mut limit = None;
        let mut window = Duration::from_secs(60);
        let mut burst = None;
        let mut routes = Vec::new();
        let mut fail = FailMode::Open;
        let mut replay = false;
        for field in spec.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            let (field, value) = field
                .split_once('=')
                .ok_or_else(|| error(format!("`{field}` is not `field=value`")))?;
            let value = value.trim();
            match field.trim() {
                "name" => name = Some(value.to_owned()),
                "key" => {
                    key = Some(KeyKind::parse(value).ok_or_else(|| {
                        error(format!(
                            "key `{value}`: use ip, user, session, user+route, ip+username, username or key"
                        ))
                    })?);
                }
                "algorithm" => {
                    algorithm = Algorithm::parse(value).ok_or_else(|| {
                        error(format!(
                            "algorithm `{value}`: use sliding-log, sliding-counter or gcra"
                        ))
                    })?;
                }
                "limit" => {
                    limit = Some(
                        value
                            .parse::<u64>()
                            .map_err(|_| error(format!("limit `{value}`")))?,
                    )
                }
                "window" => window = crate::duration::parse(value).map_err(error)?,
                "burst" => {
                    burst = Some(
                        value
                            .parse::<u64>()
                            .map_err(|_| error(format!("burst `{value}`")))?,
                    )
                }
                "routes" => {
                    routes = value
                        .split('|')
                        .map(str::trim)
                        .filter(|r| !r.is_empty())
                        .map(String::from)
                        .collect()
                }
                "fail" => {
                    fail = match value {
                        "open" => FailMode::Open,
                        "closed" => FailMode::Closed,
                        other => return Err(error(format!("fail `{other}`: use open or closed"))),
                    };
                }
                "replay" => replay = matches!(value, "true" | "yes" | "1" | "required"),
                other => return Err(error(format!("unknown field `{other}`"))),
            }
        }
        let name: String = name
            .filter(|n| !n.is_empty())
            .ok_or_else(|| error("needs a name".to_owned()))?;
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(error("use letters, digits, - _ . in the name".to_owned()));
        }
        let limit = limit.ok_or_else(|| error("needs a limit".to_owned()))?;
        if window < Duration::from_millis(1) {
            return Err(error("the window must be at least 1ms".to_owned()));
        }
        // `name=…,limit=0` only removes a policy (see `merge`): no key needed.
        let key = match (key, limit) {
            (Some(key), _) => key,
            (None, 0) => KeyKind::Ip,
            (None, _) => return Err(error("needs a key".to_owned())),
        };
        Ok(Policy {
            key,
            algorithm,
            burst: burst.unwrap_or(limit).max(1),
            limit,
            window,
            routes,
            fail,
            replay,
            name: name.into(),
        })
    }

    /// What `RateLimit` headers and the console call the quota: the burst
    /// for GCRA (requests allowed at once), else the limit per window.
    pub fn quota(&self) -> u64 {
        match self.algorithm {
            Algorithm::Gcra => self.burst,
            Algorithm::SlidingLog | Algorithm::SlidingCounter => self.limit,
        }
    }

    /// Whether this policy guards `path`.
    pub fn guards(&self, path: &str) -> bool {
        self.routes
            .iter()
            .any(|route| match route.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => path == route,
            })
    }

    /// Whether this policy lists `path` itself (not through a wildcard).
    pub fn names(&self, path: &str) -> bool {
        self.routes.iter().any(|route| route == path)
    }

    /// The policy as a line that [`Policy::parse`] reads back.
    pub fn to_spec(&self) -> String {
        format!(
            "name={},key={},algorithm={},limit={},window={},burst={},routes={},fail={},replay={}",
            self.name,
            self.key.as_str(),
            self.algorithm.as_str(),
            self.limit,
            crate::duration::format(self.window),
            self.burst,
            self.routes.join("|"),
            match self.fail {
                FailMode::Open => "open",
                FailMode::Closed => "closed",
            },
            self.replay
        )
    }
}

/// The defaults: sign-in per IP 20/min and a lockout after 5 failed
/// passwords per IP and username in 15 minutes; a proof-of-work challenge
/// for sign-ins to a username after 10 failures from anywhere, and from an
/// address after 20 failures to any usernames, in 15 minutes; 30 refresh rotations per
/// session per minute; the API per user 600/min, counted by a sliding
/// counter (two buckets: a few Redis calls per request whatever the rate,
/// where an exact sliding log costs about twice as much; the console draws
/// it as the user's request window) and smoothed by GCRA to bursts of 100;
/// everything per IP 3000/min; and
/// forward-auth, which a proxy asks for every request of a page, 6000/min
/// per user with bursts of 1000, on its own budget.
#[allow(clippy::expect_used)] // fixed, tested strings
pub fn default_policies() -> Vec<Policy> {
    [
        "name=ip,key=ip,algorithm=sliding-counter,limit=3000,window=1m,routes=*,fail=open",
        "name=api-user,key=user,algorithm=sliding-counter,limit=600,window=1m,routes=/api/*,fail=open",
        "name=api-burst,key=user,algorithm=gcra,limit=600,window=1m,burst=100,routes=/api/*,fail=open",
        "name=login-ip,key=ip,algorithm=sliding-log,limit=20,window=1m,routes=/api/v1/auth/login|/api/v1/ui/sign-in|/api/v1/auth/challenge|/api/v1/auth/mfa/verify|/api/v1/ui/sign-in-code|/api/v1/auth/mfa/webauthn/finish|/api/v1/ui/sign-in-code/key|/api/v1/auth/passkey/finish,fail=closed",
        "name=challenge-user,key=username,algorithm=sliding-log,limit=10,window=15m,fail=closed",
        "name=challenge-ip,key=ip,algorithm=sliding-log,limit=20,window=15m,fail=closed",
        "name=mfa-user,key=user,algorithm=sliding-log,limit=10,window=15m,fail=closed",
        "name=login-lockout,key=ip+username,algorithm=sliding-log,limit=5,window=15m,fail=closed",
        "name=refresh,key=session,algorithm=sliding-log,limit=30,window=1m,fail=open",
        "name=verify,key=user,algorithm=gcra,limit=6000,window=1m,burst=1000,routes=/api/v1/auth/verify,fail=open",
    ]
    .into_iter()
    .map(|spec| Policy::parse(spec).expect("default policies parse"))
    .collect()
}

/// The defaults with the operator's policies applied: a policy named like
/// a default replaces it; `limit=0` removes it.
pub fn merge(defaults: Vec<Policy>, overrides: Vec<Policy>) -> Vec<Policy> {
    let mut policies = defaults;
    for policy in overrides {
        policies.retain(|p| p.name != policy.name);
        if policy.limit > 0 {
            policies.push(policy);
        }
    }
    policies
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_round_trip_and_match_routes() {
        let policy = Policy::parse(
            "name=api,key=user,algorithm=gcra,limit=600,window=1m,burst=100,routes=/api/*|/x",
        )
        .unwrap();
        assert_eq!(policy.algorithm, Algorithm::Gcra);
        assert_eq!(policy.burst, 100);
        assert!(policy.guards("/api/v1/auth/me"));
        assert!(policy.guards("/x"));
        assert!(!policy.guards("/xy") && !policy.guards("/account"));
        assert_eq!(Policy::parse(&policy.to_spec()).unwrap(), policy);
        for policy in default_policies() {
            assert_eq!(Policy::parse(&policy.to_spec()).unwrap(), policy);
        }
    }

    #[test]
    fn bad_policies_say_what_is_wrong() {
        for (spec, expected) in [
            ("key=ip,limit=1", "needs a name"),
            ("name=x,limit=1", "needs a key"),
            ("name=x,key=ip", "needs a limit"),
            ("name=x,key=planet,limit=1", "key `planet`"),
            ("name=x,key=ip,limit=1,algorithm=magic", "algorithm `magic`"),
            ("name=x,key=ip,limit=1,window=soon", "not a duration"),
            ("name=x,key=ip,limit=1,colour=red", "unknown field"),
        ] {
            let err = Policy::parse(spec).unwrap_err().to_string();
            assert!(err.contains(expected), "{spec}: {err}");
        }
    }

    #[test]
    fn overrides_replace_or_remove_defaults() {
        let merged = merge(
            default_policies(),
            vec![
                Policy::parse("name=ip,key=ip,limit=10,routes=*").unwrap(),
                Policy::parse("name=api-user,key=user,limit=0").unwrap(),
            ],
        );
        assert_eq!(merged.iter().find(|p| &*p.name == "ip").unwrap().limit, 10);
        assert!(merged.iter().all(|p| &*p.name != "api-user"));
    }
}
