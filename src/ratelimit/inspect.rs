//! What the console reads and clears: each subject's live windows, the
//! index of subjects that have some, and resets (unblocking a subject,
//! ending a sign-in lockout).

use serde::{Deserialize, Serialize};

use super::{Algorithm, Check, LimitError, Limiter, Subject, millis};
use crate::store::keys;

/// A subject's current window under one policy, for the console.
pub use crate::api::ratelimit::Window;

/// A subject with live windows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveSubject {
    pub subject: Subject,
    /// When its longest window runs out if it makes no more requests.
    pub until_ms: u64,
}

impl Limiter {
    /// A subject's windows under every policy keyed like it.
    pub async fn windows(&self, subject: &Subject) -> Result<Vec<Window>, LimitError> {
        let checks: Vec<Check<'_>> = self
            .policies
            .iter()
            .filter(|p| p.key == subject.kind())
            .map(|policy| Check {
                policy,
                subject: subject.clone(),
                cost: 0,
            })
            .collect();
        let decision = self.check(&checks, false).await?;
        let now = crate::duration::epoch_ms();
        let mut windows = Vec::with_capacity(checks.len());
        for (check, outcome) in checks.iter().zip(decision.outcomes) {
            let requests_ms = if check.policy.algorithm == Algorithm::SlidingLog {
                let scores: Vec<(String, f64)> = redis::cmd("ZRANGE")
                    .arg(check.subject.key(&check.policy.name))
                    .arg(now.saturating_sub(millis(check.policy.window)))
                    .arg("+inf")
                    .arg("BYSCORE")
                    .arg("WITHSCORES")
                    .query_async(&mut self.store.conn())
                    .await?;
                scores.into_iter().map(|(_, at)| at as u64).collect()
            } else {
                Vec::new()
            };
            windows.push(Window {
                policy: outcome.policy.to_string(),
                algorithm: check.policy.algorithm,
                limit: outcome.limit,
                used: outcome.limit.saturating_sub(outcome.remaining),
                remaining: outcome.remaining,
                window_ms: outcome.window_ms,
                reset_ms: outcome.reset_ms,
                requests_ms,
                now_ms: now,
            });
        }
        Ok(windows)
    }

    /// Clears a subject's windows under every policy keyed like it
    /// (unblocks it). Returns how many windows existed.
    pub async fn reset(&self, subject: &Subject) -> Result<u64, LimitError> {
        let mut cmd = redis::cmd("DEL");
        let mut any = false;
        for policy in self.policies.iter().filter(|p| p.key == subject.kind()) {
            cmd.arg(subject.key(&policy.name));
            any = true;
        }
        if !any {
            return Ok(0);
        }
        let deleted: u64 = cmd.query_async(&mut self.store.conn()).await?;
        self.listings.forget(subject);
        if let Some(member) = subject.index_member() {
            let _: () = redis::cmd("ZREM")
                .arg(keys::rate_limit_index())
                .arg(member)
                .query_async(&mut self.store.conn())
                .await?;
        }
        if deleted > 0 {
            tracing::info!(subject = ?subject, deleted, "rate-limit windows reset");
        }
        Ok(deleted)
    }

    /// Ends every sign-in lockout of `username` (from any address).
    pub async fn reset_lockouts(&self, username: &str) -> Result<u64, LimitError> {
        let username = username.trim().to_lowercase();
        let members: Vec<String> = redis::cmd("ZRANGE")
            .arg(keys::rate_limit_index())
            .arg(0)
            .arg(-1)
            .query_async(&mut self.store.conn())
            .await?;
        let mut cleared = 0;
        for member in members {
            if let Ok(subject @ Subject::IpUsername { .. }) =
                serde_json::from_str::<Subject>(&member)
                && matches!(&subject, Subject::IpUsername { username: name, .. } if *name == username)
            {
                cleared += self.reset(&subject).await?;
            }
        }
        Ok(cleared)
    }

    /// Subjects with live windows, most recently active first.
    pub async fn active(
        &self,
        offset: u64,
        limit: u64,
    ) -> Result<(u64, Vec<ActiveSubject>), LimitError> {
        let (total, members) = self
            .store
            .live_index_page(&keys::rate_limit_index(), offset, limit)
            .await?;
        let subjects = members
            .into_iter()
            .filter_map(|(member, until)| {
                serde_json::from_str(&member)
                    .ok()
                    .map(|subject| ActiveSubject {
                        subject,
                        until_ms: until,
                    })
            })
            .collect();
        Ok((total, subjects))
    }
}
