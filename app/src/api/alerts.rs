//! Security alerts: `/api/v1/admin/alerts/*`. Each function is one
//! operation of the core's admin capability, which audits what changes.

use gatehouse::api::alerts::{
    Alert, AlertId, AlertList, AlertQuery, AlertRule, AlertRules, SetAlertRuleRequest,
};
use leptos::prelude::*;
use server_fn::codec::Json;

use crate::error::FnError;

/// `POST /api/v1/admin/alerts/list` `{"state"?,"limit"?}`: the alerts
/// kept, open ones first, and how many are open.
#[server(prefix = "/api/v1", endpoint = "admin/alerts/list", input = Json)]
pub async fn list_alerts(#[server(flatten)] query: AlertQuery) -> Result<AlertList, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.admin()?.alerts_list(&query).await?)
}

/// `POST /api/v1/admin/alerts/ack` `{"alert_id"}`: acknowledges an alert
/// (404 `not_found` for an unknown id).
#[server(prefix = "/api/v1", endpoint = "admin/alerts/ack", input = Json)]
pub async fn acknowledge_alert(#[server(flatten)] body: AlertId) -> Result<Alert, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.admin()?.acknowledge_alert(&body.alert_id).await?)
}

/// `POST /api/v1/admin/alerts/rules`: every rule with its settings.
#[server(prefix = "/api/v1", endpoint = "admin/alerts/rules")]
pub async fn list_alert_rules() -> Result<AlertRules, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.admin()?.alert_rules().await?)
}

/// `POST /api/v1/admin/alerts/rules/set` `{"rule","enabled","threshold"?}`:
/// turns a rule on or off for every instance (422 `validation_failed` for
/// a threshold on a rule that has none).
#[server(prefix = "/api/v1", endpoint = "admin/alerts/rules/set", input = Json)]
pub async fn set_alert_rule(
    #[server(flatten)] body: SetAlertRuleRequest,
) -> Result<AlertRule, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.admin()?.set_alert_rule(&body).await?)
}

/// `POST /api/v1/ui/alerts/open`: how many alerts are open, for the
/// console's navigation and app badge (the number alone, so that the
/// bundle every page loads does not carry the alert type).
#[server(prefix = "/api/v1", endpoint = "ui/alerts/open")]
pub async fn open_alerts() -> Result<u64, FnError> {
    let caller = crate::caller::signed_in()?;
    Ok(caller.admin()?.open_alert_count().await?)
}
