//! The alert rules: which events each one watches, and what an alert of
//! it says. Pure functions of one event; counting, thresholds and
//! deduplication happen in Redis (`raise.lua`), where every instance's
//! matches meet.

use crate::api::alerts::{RuleId, Severity};
use crate::api::events::SignedIn;
use crate::events::{Event, EventKind};

/// What never changes about a rule.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub id: RuleId,
    pub severity: Severity,
    pub enabled_by_default: bool,
    /// The default threshold of a rule that counts.
    pub threshold: Option<u64>,
    /// What it watches for, and what to do about it.
    pub description: &'static str,
}

/// Every rule, in the order the console lists them.
pub const RULES: [Rule; 7] = [
    Rule {
        id: RuleId::RefreshReuse,
        severity: Severity::Critical,
        enabled_by_default: true,
        threshold: None,
        description: "A refresh token that was already used came back: someone holds a copy of it. The session was ended; check the user's other sessions and where they sign in from.",
    },
    Rule {
        id: RuleId::ChallengeOn,
        severity: Severity::Warning,
        enabled_by_default: true,
        threshold: None,
        description: "Enough sign-ins failed for a username or from an address that new ones must solve a proof-of-work challenge first: someone may be guessing passwords.",
    },
    Rule {
        id: RuleId::Lockout,
        severity: Severity::Warning,
        enabled_by_default: true,
        threshold: None,
        description: "An account was locked out after too many wrong passwords. If its owner was not the one guessing, the password is under attack; reset the lockout once it is safe.",
    },
    Rule {
        id: RuleId::AdminNewAddress,
        severity: Severity::Warning,
        enabled_by_default: true,
        threshold: None,
        description: "An admin signed in from an address not seen for them in 30 days. Confirm it was them; if not, sign them out everywhere and reset their password.",
    },
    Rule {
        id: RuleId::RateLimitStorm,
        severity: Severity::Warning,
        enabled_by_default: true,
        threshold: Some(100),
        description: "Rate-limit refusals passed the threshold in one minute (all instances together): a flood, a scraper or a client in a retry loop.",
    },
    Rule {
        id: RuleId::RedisDegraded,
        severity: Severity::Critical,
        enabled_by_default: true,
        threshold: None,
        description: "Redis stopped answering (a circuit breaker opened) or an instance went into degraded mode. Sign-ins and sign-outs fail until Redis is back; check Redis.",
    },
    Rule {
        id: RuleId::DisabledToken,
        severity: Severity::Info,
        enabled_by_default: false,
        threshold: None,
        description: "A disabled user's token was presented (and refused): a client still running with their credentials.",
    },
];

/// The rule of `id` ([`RULES`] is in the order of [`RuleId::ALL`]).
pub fn rule(id: RuleId) -> &'static Rule {
    &RULES[id as usize]
}

/// Whom an alert is about, before the username of an account is looked
/// up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum About {
    /// `user:<user id>`.
    User(String),
    /// An account named in a sign-in: `user:<id>` if it exists, else the
    /// address it was tried from (`ip:<address>`).
    Account { username: String, ip: String },
    /// `ip:<address>`, `redis:<target>`, `instance:<name>`, `all`, as is.
    Other(String),
}

/// What a rule's match needs before it raises (checked in Redis).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Every match raises (or adds to the open alert).
    Always,
    /// Matches are counted per minute; the rule's threshold raises.
    PerMinute,
    /// Only an address the user has not signed in from in 30 days.
    NewAddress(String),
}

/// One event's match of one rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub rule: RuleId,
    pub about: About,
    pub title: String,
    /// How many occurrences the event stands for.
    pub weight: u64,
    pub gate: Gate,
}

/// The rule `event` matches, if any.
pub(crate) fn candidate(event: &Event) -> Option<Candidate> {
    let who = || {
        event
            .username
            .clone()
            .or_else(|| event.user_id.clone())
            .unwrap_or_default()
    };
    let ip = || event.ip.clone().unwrap_or_default();
    let (rule, about, title, gate) = match &event.kind {
        EventKind::RefreshReuseDetected(device) => (
            RuleId::RefreshReuse,
            About::User(event.user_id.clone()?),
            format!(
                "A used refresh token of {} came back from {} ({}); the session was ended",
                who(),
                ip(),
                device.device
            ),
            Gate::Always,
        ),
        EventKind::LoginChallenged => (
            RuleId::ChallengeOn,
            About::Account {
                username: event.username.clone()?,
                ip: ip(),
            },
            format!(
                "Sign-ins as {} from {} must solve a challenge: repeated failures",
                who(),
                ip()
            ),
            Gate::Always,
        ),
        EventKind::LoginLocked(_) => (
            RuleId::Lockout,
            About::Account {
                username: event.username.clone()?,
                ip: ip(),
            },
            format!(
                "{} is locked out after too many wrong passwords from {}",
                who(),
                ip()
            ),
            Gate::Always,
        ),
        EventKind::LoginSucceeded(SignedIn {
            device,
            admin: Some(true),
        }) => (
            RuleId::AdminNewAddress,
            About::User(event.user_id.clone()?),
            format!(
                "Admin {} signed in from a new address, {} ({device})",
                who(),
                ip()
            ),
            Gate::NewAddress(event.ip.clone()?),
        ),
        EventKind::RateLimited(_) => (
            RuleId::RateLimitStorm,
            About::Other("all".to_owned()),
            "Rate-limit refusals passed the threshold for one minute".to_owned(),
            Gate::PerMinute,
        ),
        EventKind::BreakerOpened(breaker) => (
            RuleId::RedisDegraded,
            About::Other(format!("redis:{}", breaker.target)),
            format!(
                "Redis at {} stopped answering: calls to it fail at once",
                breaker.target
            ),
            Gate::Always,
        ),
        EventKind::DegradedStarted(_) => (
            RuleId::RedisDegraded,
            About::Other(format!("instance:{}", event.instance)),
            format!(
                "Instance {} is in degraded mode: Redis is away",
                event.instance
            ),
            Gate::Always,
        ),
        EventKind::DisabledTokenPresented(_) => (
            RuleId::DisabledToken,
            About::User(event.user_id.clone()?),
            format!("A token of the disabled user {} was presented", who()),
            Gate::Always,
        ),
        _ => return None,
    };
    Some(Candidate {
        rule,
        about,
        title,
        weight: event.kind.stands_for(),
        gate,
    })
}

/// The console page behind an alert about `subject`.
pub(super) fn link(rule: RuleId, subject: &str) -> String {
    if let Some(user_id) = subject.strip_prefix("user:") {
        return format!("/console/users/{user_id}");
    }
    if let Some(ip) = subject.strip_prefix("ip:") {
        return format!("/console/events?ip={ip}");
    }
    let kind = match rule {
        RuleId::RateLimitStorm => "rate_limited",
        RuleId::RedisDegraded if subject.starts_with("instance:") => "degraded_started",
        RuleId::RedisDegraded => "breaker_opened",
        _ => return "/console/events".to_owned(),
    };
    format!("/console/events?kind={kind}")
}
