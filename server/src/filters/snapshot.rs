//! The snapshot of a filtered connection: the hub's parts (system, feed,
//! series, ...) with the `orders` aggregate, the KPI history and the orders
//! seq of the filter set. Built fresh for each (re)start of a filtered
//! connection, after it subscribed to both rings, so no cache is needed to
//! be exact: only filtered connections pay for it.

use super::registry::Entry;
use crate::hub::Hub;
use crate::snapshot::HistoryCap;
use livedash_shared::{Seqs, ServerMessage};
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// A filtered snapshot's text and the seqs it covers (`orders` is the
/// filter set's seq).
pub fn build(hub: &Hub, set: &Entry, cap: HistoryCap) -> (Utf8Bytes, Seqs) {
    let parts = hub.snapshot_parts(cap.points());
    let own = set.parts(cap.points());
    let mut body = Hub::snapshot_body(parts);
    body.seq.orders = own.seq;
    let mut orders = (*own.latest).clone();
    let skip = own.recent.len().saturating_sub(cap.records());
    orders.records = own.recent.into_iter().skip(skip).collect();
    body.orders = Some(orders);
    body.kpi_history = own.kpis;
    let seq = body.seq;
    (
        Utf8Bytes::from(ServerMessage::Snapshot(body).to_json()),
        seq,
    )
}
