//! Security alerts: what an admin should act on, raised by rules over the
//! event stream, without anyone watching the feed.
//!
//! Each event is seen by exactly one instance, the one that emitted it,
//! and its event writer asks [`Alerts::raise`] about the events it has
//! just written. A rule's match ([`rules::candidate`]) goes to one script
//! (`raise.lua`) that applies everything shared between instances at
//! once: whether the rule is on (admins turn rules on and off for every
//! instance), its per-minute threshold, the addresses an admin used, and
//! deduplication, so that a match of a rule and subject with an alert
//! still open (and active within [`DEDUP_WINDOW`]) adds to that alert's
//! count instead of raising another. However many instances match at
//! once, one alert is raised; the instance whose script raised it writes
//! the `alert_raised` event (also to the audit stream), which the
//! consoles' live feed carries.
//!
//! Alerts are kept in Redis, all under one hash tag: at most [`KEPT`],
//! for [`RETENTION`] after their latest match.

pub mod rules;

use std::sync::LazyLock;
use std::time::Duration;

use redis::{Script, Value};

use crate::api::alerts::{
    Alert, AlertList, AlertQuery, AlertRule, AlertRules, AlertState, SetAlertRuleRequest,
};
use crate::api::events::AlertRaised;
use crate::events::{Event, EventKind};
use crate::store::{Store, StoreError, keys};
use rules::{About, Candidate, Gate};

/// A match within this long of an open alert's latest adds to it.
pub const DEDUP_WINDOW: Duration = Duration::from_secs(3600);
/// How long an alert is kept after its latest match.
pub const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// How many alerts are kept at most (the oldest go first).
pub const KEPT: u64 = 1000;
/// How long an admin's address counts as known.
pub const ADDRESS_MEMORY: Duration = Duration::from_secs(30 * 24 * 3600);
/// The most a list answers.
const MAX_LIST: u64 = 1000;

static RAISE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("raise.lua")));
static ACK: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("ack.lua")));

/// Why an alert operation was not done.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("No alert has that id (it may have expired).")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Redis returned an alert Gatehouse cannot read: {0}")]
    Corrupt(String),
}

impl From<redis::RedisError> for AlertError {
    fn from(err: redis::RedisError) -> Self {
        AlertError::Store(err.into())
    }
}

/// The alerts in Redis. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Alerts {
    store: Store,
}

impl Alerts {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Raises the alerts of rules' `matches` in events this instance has
    /// just written, and answers the `alert_raised` events of the alerts that are new. A
    /// failure is logged, not returned: the events are written already.
    pub(crate) async fn raise(
        &self,
        matches: impl IntoIterator<Item = (Candidate, Event)>,
    ) -> Vec<Event> {
        // A batch's matches of a counting rule are counted at once: a
        // flood of refusals costs one script per batch, not one per event.
        let mut batch: Vec<(Candidate, Event)> = Vec::new();
        for (candidate, event) in matches {
            let counted = batch.iter_mut().find(|(c, _)| {
                c.gate == Gate::PerMinute && c.rule == candidate.rule && c.about == candidate.about
            });
            match counted {
                Some((c, _)) if candidate.gate == Gate::PerMinute => c.weight += candidate.weight,
                _ => batch.push((candidate, event)),
            }
        }
        let mut raised = Vec::new();
        for (candidate, event) in batch {
            match self.raise_one(candidate, &event).await {
                Ok(Some(alert)) => raised.push(alert),
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(error = %err, kind = event.kind.name(), "an alert rule could not be applied")
                }
            }
        }
        raised
    }

    async fn raise_one(
        &self,
        candidate: Candidate,
        event: &Event,
    ) -> Result<Option<Event>, AlertError> {
        let rule = rules::rule(candidate.rule);
        let subject = self.subject(candidate.about).await?;
        let link = rules::link(candidate.rule, &subject);
        let now = crate::duration::epoch_ms();
        let (gate, gate_key, address) = match &candidate.gate {
            Gate::Always => ("always", keys::alert_rules(), ""),
            Gate::PerMinute => ("per_minute", keys::alert_storm(now / 60_000), ""),
            Gate::NewAddress(ip) => (
                "new_address",
                keys::alert_seen(event.user_id.as_deref().unwrap_or_default()),
                ip.as_str(),
            ),
        };
        let template = serde_json::json!({
            "rule": candidate.rule,
            "severity": rule.severity,
            "title": candidate.title,
            "subject": subject,
            "link": link,
        });
        let alert_id = crate::random::hex::<16>();
        let reply: Vec<Value> = RAISE
            .key(keys::alert_rules())
            .key(keys::alert_data())
            .key(keys::alert_index())
            .key(keys::alert_dedup())
            .key(keys::alert_open())
            .key(gate_key)
            .arg(candidate.rule.as_str())
            .arg(&subject)
            .arg(u8::from(rule.enabled_by_default))
            .arg(rule.threshold.unwrap_or(1))
            .arg(gate)
            .arg(candidate.weight.max(1))
            .arg(now)
            .arg(&alert_id)
            .arg(template.to_string())
            .arg(crate::duration::millis(DEDUP_WINDOW))
            .arg(crate::duration::millis(RETENTION))
            .arg(KEPT)
            .arg(address)
            .arg(crate::duration::millis(ADDRESS_MEMORY))
            .invoke_async(&mut self.store.conn())
            .await?;
        if !matches!(reply.first(), Some(Value::Int(1))) {
            return Ok(None);
        }
        tracing::warn!(rule = candidate.rule.as_str(), %subject, alert_id, "security alert raised");
        let mut raised = Event::new(EventKind::AlertRaised(AlertRaised {
            alert_id,
            rule: candidate.rule,
            severity: rule.severity,
            title: candidate.title,
            subject: subject.clone(),
            link,
        }));
        if let Some(user_id) = subject.strip_prefix("user:") {
            raised = raised.user(user_id);
        }
        if let Some(ip) = subject.strip_prefix("ip:") {
            raised = raised.ip(ip);
        }
        if let Some(username) = &event.username {
            raised = raised.username(username);
        }
        Ok(Some(raised))
    }

    /// `user:<id>` for an account that exists, else the address.
    async fn subject(&self, about: About) -> Result<String, AlertError> {
        Ok(match about {
            About::User(user_id) => format!("user:{user_id}"),
            About::Other(subject) => subject,
            About::Account { username, ip } => {
                let id: Option<String> = redis::cmd("HGET")
                    .arg(keys::usernames())
                    .arg(username.trim().to_lowercase())
                    .query_async(&mut self.store.conn())
                    .await?;
                match id {
                    Some(id) => format!("user:{id}"),
                    None => format!("ip:{ip}"),
                }
            }
        })
    }

    /// The alerts kept: open ones first (most urgent, then latest), then
    /// acknowledged ones (latest first), and how many are open. A list of
    /// open ones reads only those.
    pub async fn list(&self, query: &AlertQuery) -> Result<AlertList, AlertError> {
        let oldest = oldest_kept();
        let values: Vec<Option<String>> = if query.state == Some(AlertState::Open) {
            let ids: Vec<String> = redis::cmd("ZRANGEBYSCORE")
                .arg(keys::alert_open())
                .arg(oldest)
                .arg("+inf")
                .query_async(&mut self.store.conn())
                .await?;
            if ids.is_empty() {
                Vec::new()
            } else {
                redis::cmd("HMGET")
                    .arg(keys::alert_data())
                    .arg(&ids)
                    .query_async(&mut self.store.conn())
                    .await?
            }
        } else {
            redis::cmd("HVALS")
                .arg(keys::alert_data())
                .query_async(&mut self.store.conn())
                .await?
        };
        let mut alerts: Vec<Alert> = values
            .iter()
            .flatten()
            .filter_map(|json| match parse(json) {
                Ok(alert) => Some(alert),
                Err(err) => {
                    tracing::warn!(error = %err, "an unreadable alert was skipped");
                    None
                }
            })
            .filter(|alert| alert.last_at_ms >= oldest)
            .collect();
        let open = alerts
            .iter()
            .filter(|a| a.state == AlertState::Open)
            .count() as u64;
        alerts.retain(|a| query.state.is_none_or(|state| a.state == state));
        alerts.sort_by(|a, b| {
            let open = |alert: &Alert| alert.state == AlertState::Open;
            open(b)
                .cmp(&open(a))
                .then_with(|| {
                    if open(a) {
                        b.severity.cmp(&a.severity)
                    } else {
                        std::cmp::Ordering::Equal
                    }
                })
                .then_with(|| b.last_at_ms.cmp(&a.last_at_ms))
        });
        alerts.truncate(query.limit.unwrap_or(100).clamp(1, MAX_LIST) as usize);
        Ok(AlertList { alerts, open })
    }

    /// How many alerts are open: one count, whatever the alerts hold.
    pub async fn open_count(&self) -> Result<u64, AlertError> {
        Ok(redis::cmd("ZCOUNT")
            .arg(keys::alert_open())
            .arg(oldest_kept())
            .arg("+inf")
            .query_async(&mut self.store.conn())
            .await?)
    }

    /// Acknowledges `alert_id` as `by`: the alert, and whether this call
    /// acknowledged it (not an earlier one).
    pub async fn acknowledge(&self, alert_id: &str, by: &str) -> Result<(Alert, bool), AlertError> {
        if !keys::is_id(alert_id) {
            return Err(AlertError::NotFound);
        }
        let reply: Option<(u8, String)> = ACK
            .key(keys::alert_data())
            .key(keys::alert_dedup())
            .key(keys::alert_open())
            .arg(alert_id)
            .arg(by)
            .arg(crate::duration::epoch_ms())
            .invoke_async(&mut self.store.conn())
            .await?;
        let (now, json) = reply.ok_or(AlertError::NotFound)?;
        Ok((parse(&json)?, now == 1))
    }

    /// Every rule with its settings.
    pub async fn rules(&self) -> Result<AlertRules, AlertError> {
        let settings: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
            .arg(keys::alert_rules())
            .query_async(&mut self.store.conn())
            .await?;
        let rules = rules::RULES
            .iter()
            .map(|rule| {
                let field = |name: &str| settings.get(&format!("{}:{name}", rule.id.as_str()));
                AlertRule {
                    rule: rule.id,
                    severity: rule.severity,
                    description: rule.description.to_owned(),
                    enabled: field("enabled").map_or(rule.enabled_by_default, |v| v == "1"),
                    enabled_by_default: rule.enabled_by_default,
                    threshold: rule.threshold.map(|default| {
                        field("threshold")
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(default)
                    }),
                }
            })
            .collect();
        Ok(AlertRules { rules })
    }

    /// Turns a rule on or off (for every instance, from its next match)
    /// and sets its threshold, for a rule that counts.
    pub async fn set_rule(&self, set: &SetAlertRuleRequest) -> Result<(), AlertError> {
        let rule = rules::rule(set.rule);
        let mut cmd = redis::cmd("HSET");
        cmd.arg(keys::alert_rules())
            .arg(format!("{}:enabled", set.rule.as_str()))
            .arg(u8::from(set.enabled));
        match (rule.threshold, set.threshold) {
            (_, None) => {}
            (None, Some(_)) => {
                return Err(AlertError::Invalid(format!(
                    "The rule `{}` has no threshold: leave `threshold` out.",
                    set.rule.as_str()
                )));
            }
            (Some(_), Some(0)) => {
                return Err(AlertError::Invalid(
                    "`threshold` must be at least 1.".to_owned(),
                ));
            }
            (Some(_), Some(threshold)) => {
                cmd.arg(format!("{}:threshold", set.rule.as_str()))
                    .arg(threshold);
            }
        }
        let () = cmd.query_async(&mut self.store.conn()).await?;
        Ok(())
    }
}

/// The earliest latest match of an alert still kept: older ones are
/// trimmed when the next alert is raised, and not shown until then.
fn oldest_kept() -> u64 {
    crate::duration::epoch_ms().saturating_sub(crate::duration::millis(RETENTION))
}

fn parse(json: &str) -> Result<Alert, AlertError> {
    serde_json::from_str(json).map_err(|err| AlertError::Corrupt(err.to_string()))
}

#[cfg(test)]
mod tests;
