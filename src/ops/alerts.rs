//! What an admin does with alerts: read them, acknowledge them, and set
//! the rules that raise them. Acknowledging and changing a rule are
//! audited here.

use super::{Admin, OpError};
use crate::alerts::{AlertError, Alerts};
use crate::api::alerts::{
    Alert, AlertList, AlertQuery, AlertRule, AlertRules, SetAlertRuleRequest,
};
use crate::api::events::{AlertAcknowledged, AlertRuleChanged};
use crate::events::EventKind;

impl From<AlertError> for OpError {
    fn from(err: AlertError) -> Self {
        match err {
            AlertError::NotFound => {
                OpError::NotFound("No alert has that id (it may have expired).")
            }
            AlertError::Invalid(message) => OpError::Invalid(message),
            AlertError::Store(err) => OpError::Store(err),
            AlertError::Corrupt(message) => OpError::Auth(crate::auth::AuthError::Corrupt(message)),
        }
    }
}

impl Admin<'_> {
    fn alerts(&self) -> Alerts {
        Alerts::new(self.auth.store().clone())
    }

    /// The alerts kept (open first) and how many are open.
    pub async fn alerts_list(&self, query: &AlertQuery) -> Result<AlertList, OpError> {
        Ok(self.alerts().list(query).await?)
    }

    /// How many alerts are open (the console's badge).
    pub async fn open_alert_count(&self) -> Result<u64, OpError> {
        Ok(self.alerts().open_count().await?)
    }

    /// Acknowledges an alert (again is no change and no new audit event).
    pub async fn acknowledge_alert(&self, alert_id: &str) -> Result<Alert, OpError> {
        let (alert, now) = self
            .alerts()
            .acknowledge(alert_id, &self.admin.username)
            .await?;
        if now {
            let alert_id = alert.alert_id.clone();
            self.audit(
                |by| EventKind::AlertAcknowledged(AlertAcknowledged { by, alert_id }),
                |event| event,
            );
        }
        Ok(alert)
    }

    /// Every rule with its settings.
    pub async fn alert_rules(&self) -> Result<AlertRules, OpError> {
        Ok(self.alerts().rules().await?)
    }

    /// Turns a rule on or off and sets its threshold, for every instance.
    /// Needs a recent second factor, like every admin change: turning a
    /// rule off hides attacks.
    pub async fn set_alert_rule(&self, set: &SetAlertRuleRequest) -> Result<AlertRule, OpError> {
        self.step_up().await?;
        let alerts = self.alerts();
        alerts.set_rule(set).await?;
        self.audit(
            |by| {
                EventKind::AlertRuleChanged(AlertRuleChanged {
                    by,
                    rule: set.rule,
                    enabled: set.enabled,
                    threshold: set.threshold,
                })
            },
            |event| event,
        );
        let rules = alerts.rules().await?;
        rules
            .rules
            .into_iter()
            .find(|rule| rule.rule == set.rule)
            .ok_or(OpError::NotFound("No such alert rule."))
    }
}
