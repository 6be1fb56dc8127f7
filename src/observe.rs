//! Metrics: what Gatehouse counts and measures, named in one place.
//!
//! Recording goes through the `metrics` facade. With no recorder installed
//! (the library embedded elsewhere, the tests) it costs next to nothing;
//! the server installs a Prometheus recorder and serves `/metrics`. Labels
//! are bounded by construction: route classes, methods, statuses, outcome
//! names, event kinds, policy names and Redis command names, never a user
//! id, an address or a token. The dashboards and alerts in `deploy/` use
//! these names, and a test checks that each one is exported.
//!
//! Where a value would cost a lookup per request (the admission outcome,
//! a policy's decision), handles are registered once and incremented
//! directly.

use metrics::{Counter, Unit, counter, describe_counter, describe_gauge, describe_histogram};

/// HTTP requests by `class` (route class), `method` and `status`.
pub const HTTP_REQUESTS: &str = "gatehouse_http_requests_total";
/// HTTP request latency by `class`.
pub const HTTP_DURATION: &str = "gatehouse_http_request_duration_seconds";
/// Admission decisions by `outcome`.
pub const ADMISSION: &str = "gatehouse_admission_total";
/// Requests let through because rate limits could not be checked and the
/// policies fail open.
pub const FAIL_OPEN: &str = "gatehouse_rate_limit_fail_open_total";
/// Rate-limit decisions by `policy`, `algorithm` and `result`.
pub const RATE_LIMIT: &str = "gatehouse_rate_limit_decisions_total";
/// Security events by `kind` (sign-ins and their outcomes, rotations,
/// reuse, renewals, locks, admin actions); aggregated refusals count
/// every request they stand for.
pub const EVENTS: &str = "gatehouse_events_total";
/// Events dropped because Redis could not take them fast enough.
pub const EVENTS_DROPPED: &str = "gatehouse_events_dropped_total";
/// Time spent waiting for a lock (acquired or not).
pub const LOCK_WAIT: &str = "gatehouse_lock_wait_seconds";
/// Redis command latency by `command`.
pub const REDIS_DURATION: &str = "gatehouse_redis_command_duration_seconds";
/// Redis command errors by `command` and `kind` (`timeout`, `connection`,
/// `other`; a server's error reply, such as a script's, is an answer, not
/// counted here).
pub const REDIS_ERRORS: &str = "gatehouse_redis_errors_total";
/// Durable writes (sessions created or revoked) that fewer replicas
/// confirmed than `--redis-wait-replicas` asks for, by `write`.
pub const REDIS_WAIT_SHORT: &str = "gatehouse_redis_wait_short_total";
/// Each Redis target's circuit breaker by `target`: 0 closed, 1 half-open,
/// 2 open.
pub const REDIS_BREAKER_STATE: &str = "gatehouse_redis_breaker_state";
/// Breaker transitions by `target` and `to` (`closed`, `half_open`, `open`).
pub const REDIS_BREAKER_TRANSITIONS: &str = "gatehouse_redis_breaker_transitions_total";
/// Requests answered (or refused) in degraded mode, by `route_class` and
/// `outcome` (`allowed`, `revoked`, `expired`, `limited`, `refused`).
pub const DEGRADED_DECISIONS: &str = "gatehouse_degraded_decisions_total";
/// How long ago this instance's revocation mirror was last known to hold
/// every revocation (seconds).
pub const REVOCATION_MIRROR_LAG: &str = "gatehouse_revocation_mirror_lag_seconds";
/// Open live console streams on this instance.
pub const CONSOLE_STREAMS: &str = "gatehouse_console_streams";
/// Live sessions and users with one (refreshed in the background).
pub const SESSIONS: &str = "gatehouse_sessions";
pub const ACTIVE_USERS: &str = "gatehouse_active_users";
/// Entries in the event stream (refreshed in the background).
pub const EVENT_STREAM_LENGTH: &str = "gatehouse_event_stream_length";
/// Always 1, labelled with the `version`.
pub const BUILD_INFO: &str = "gatehouse_build_info";

/// Every admission outcome, in the order of [`Admissions`].
pub const ADMISSION_OUTCOMES: [&str; 11] = [
    "allowed",
    "anonymous",
    "unauthenticated",
    "forbidden",
    "rate_limited",
    "replayed",
    "bad_replay_headers",
    "unavailable",
    "password_change_required",
    "mfa_enrollment_required",
    "redis_unreachable",
];

/// Registered counters, one per admission outcome.
#[derive(Clone, Debug)]
pub struct Admissions([Counter; ADMISSION_OUTCOMES.len()]);

impl Admissions {
    pub fn register() -> Self {
        Self(ADMISSION_OUTCOMES.map(|outcome| counter!(ADMISSION, "outcome" => outcome)))
    }

    /// Counts one decision; `outcome` is one of [`ADMISSION_OUTCOMES`].
    pub fn count(&self, outcome: &str) {
        if let Some(i) = ADMISSION_OUTCOMES.iter().position(|o| *o == outcome) {
            self.0[i].increment(1);
        }
    }
}

/// Describes every metric (units and help texts) to the recorder, and
/// starts the unlabelled ones at zero, so that `rate()` and alerts see a
/// series from the start rather than none.
pub fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests by route class, method and status."
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request latency by route class."
    );
    describe_counter!(ADMISSION, "Admission decisions by outcome.");
    describe_counter!(
        FAIL_OPEN,
        "Requests let through with rate limits unavailable (fail-open policies)."
    );
    describe_counter!(
        RATE_LIMIT,
        "Rate-limit decisions by policy, algorithm and result."
    );
    describe_counter!(EVENTS, "Security events by kind.");
    describe_counter!(EVENTS_DROPPED, "Security events dropped (queue full).");
    describe_histogram!(
        LOCK_WAIT,
        Unit::Seconds,
        "Time spent acquiring a lock, waiting included."
    );
    describe_histogram!(
        REDIS_DURATION,
        Unit::Seconds,
        "Redis command latency by command."
    );
    describe_counter!(REDIS_ERRORS, "Redis command errors by command and kind.");
    describe_counter!(
        REDIS_WAIT_SHORT,
        "Durable writes fewer replicas confirmed than configured, by write."
    );
    describe_gauge!(
        REDIS_BREAKER_STATE,
        "Redis circuit breaker by target: 0 closed, 1 half-open, 2 open."
    );
    describe_counter!(
        REDIS_BREAKER_TRANSITIONS,
        "Redis circuit breaker transitions by target and new state."
    );
    describe_counter!(
        DEGRADED_DECISIONS,
        "Requests decided in degraded mode (Redis away), by route class and outcome."
    );
    describe_gauge!(
        REVOCATION_MIRROR_LAG,
        Unit::Seconds,
        "How long ago the revocation mirror was last known to be whole."
    );
    describe_gauge!(
        CONSOLE_STREAMS,
        "Open live console streams on this instance."
    );
    describe_gauge!(SESSIONS, "Live sessions.");
    describe_gauge!(ACTIVE_USERS, "Users with a live session.");
    describe_gauge!(EVENT_STREAM_LENGTH, "Entries in the security event stream.");
    describe_gauge!(BUILD_INFO, "Always 1, labelled with the version.");
    counter!(FAIL_OPEN).absolute(0);
    counter!(EVENTS_DROPPED).absolute(0);
    for gauge in [CONSOLE_STREAMS, SESSIONS, ACTIVE_USERS, EVENT_STREAM_LENGTH] {
        metrics::gauge!(gauge).increment(0.0);
    }
}
