//! Alerts: rules on named series, kept in the store, evaluated by the
//! history task once per sample ([`engine`], [`machine`]); each firing or
//! resolution is an `alert` frame on the `alerts` topic, an activity-feed
//! entry and a row of the alert log. [`api`] is `/api/alerts/...`.

pub mod api;
pub mod engine;
pub mod machine;
pub mod rule;

use crate::hub::Hub;
use crate::store::Store;
use engine::Transition;
use livedash_shared::{Alert, AlertState, Level};
use std::sync::Arc;

/// Announce what a sample changed: frames, feed entries, and (without
/// waiting) the log.
pub fn announce(hub: &Arc<Hub>, store: &Store, changed: Vec<Transition>) {
    // With --redis every replica evaluates the rules on the same samples;
    // only the producer lease holder announces.
    if !hub.broker.leads() {
        return;
    }
    let mut logged = Vec::with_capacity(changed.len());
    for t in changed {
        let text = rule::text(&t.rule, t.state, t.value);
        let alert = hub.publish_alert(Alert {
            seq: 0,
            ts: t.ts,
            rule_id: t.rule.id,
            state: t.state,
            value: t.value,
            series: t.rule.series.clone(),
            level: t.rule.level,
            text: text.clone(),
        });
        let level = match t.state {
            AlertState::Firing => t.rule.level,
            AlertState::Resolved => Level::Info,
        };
        hub.publish_event(level, text);
        logged.push(alert);
    }
    let store = store.clone();
    tokio::spawn(async move {
        if let Err(e) = store.append_alert_log(logged).await {
            tracing::warn!("alerts: the log entry was not stored: {e}");
        }
    });
}
