//! Counters about the server itself, rendered as Prometheus text.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Process-wide counters. Plain atomics: incrementing one never blocks.
#[derive(Debug, Default)]
pub struct Metrics {
    /// WebSocket connections open now.
    pub connections: AtomicU64,
    /// WebSocket connections accepted since start.
    pub connections_total: AtomicU64,
    /// Frames written to clients (all types).
    pub frames_sent: AtomicU64,
    /// Bytes of frame payload written to clients.
    pub bytes_sent: AtomicU64,
    /// Broadcast frames a lagging client never got (replaced by a snapshot).
    pub frames_dropped: AtomicU64,
    /// Snapshots sent because a client lagged behind the broadcast ring.
    pub lag_resyncs: AtomicU64,
    /// Clients closed for being too slow.
    pub slow_clients_closed: AtomicU64,
    /// Clients closed for missing the heartbeat.
    pub heartbeat_timeouts: AtomicU64,
    /// Frames received from clients.
    pub client_messages: AtomicU64,
    /// Client frames answered with an `error` frame.
    pub client_errors: AtomicU64,
    /// Clients closed for abuse (rate, size, garbage).
    pub clients_closed_abuse: AtomicU64,
    /// Upgrades refused with 403 for a foreign Origin.
    pub origin_rejected: AtomicU64,
    /// Requests or connections refused for a missing or wrong token.
    pub unauthorized: AtomicU64,
    /// Upgrades refused with 503 (connection limits).
    pub limit_rejected: AtomicU64,
    /// `orders` frames published.
    pub orders_ticks: AtomicU64,
    /// `system` frames published.
    pub system_samples: AtomicU64,
    /// `event` frames published.
    pub events: AtomicU64,
    /// Snapshots serialized (cache misses).
    pub snapshots_built: AtomicU64,
    /// Snapshots sent (WebSocket and /api/snapshot).
    pub snapshots_sent: AtomicU64,
    /// `resync`/`resume` asks merged into a snapshot already owed to the
    /// same connection (at most one snapshot per 2 s per connection).
    pub resyncs_merged: AtomicU64,
    /// Stream producers restarted after a failure.
    pub producer_restarts: AtomicU64,
    /// Order records ignored because their item id was already in the
    /// window (a source that re-sent a row).
    pub duplicate_items: AtomicU64,
    /// Total nanoseconds spent aggregating + serializing orders ticks.
    pub tick_nanos: AtomicU64,
    /// `POST /api/ingest/orders` answers, by status code ([`INGEST_CODES`]).
    pub ingest_requests: [AtomicU64; INGEST_CODES.len()],
    /// Records accepted by ingest (202), expired ones included.
    pub ingest_records: AtomicU64,
    /// Pushed records dropped because their `created_at` was already
    /// outside the lookback window (at the request or at the tick).
    pub ingest_expired: AtomicU64,
    /// PostgreSQL source: 1 while connected and polling, else 0.
    pub source_up: AtomicU64,
    /// PostgreSQL source: new rows read from the outbox and handed on.
    pub source_rows: AtomicU64,
    /// PostgreSQL source: rows read by the lookback fill at start.
    pub source_fill_rows: AtomicU64,
    /// PostgreSQL source: poll queries run (one per poll, never per client).
    pub source_polls: AtomicU64,
    /// PostgreSQL source: capture-to-read lag of the last batch's newest
    /// row, milliseconds (rendered in seconds).
    pub source_lag_ms: AtomicU64,
    /// PostgreSQL source: reconnect attempts after a failure.
    pub source_reconnects: AtomicU64,
    /// PostgreSQL source: rows sent without their user or product after
    /// the grace period.
    pub source_incomplete: AtomicU64,
    /// PostgreSQL source: outbox rows pruned.
    pub source_pruned: AtomicU64,
}

/// The status codes `POST /api/ingest/orders` answers with.
pub const INGEST_CODES: [u16; 10] = [202, 400, 401, 404, 408, 413, 415, 422, 429, 503];

impl Metrics {
    /// Add `n` to a counter.
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Relaxed);
    }

    /// Count one ingest answer.
    pub fn ingest_answered(&self, code: u16) {
        if let Some(i) = INGEST_CODES.iter().position(|&c| c == code) {
            Metrics::add(&self.ingest_requests[i], 1);
        }
    }

    /// Prometheus text exposition. `queue_depth` is the broadcast ring's
    /// current length.
    pub fn render(&self, queue_depth: usize, uptime_s: f64) -> String {
        let mut out = String::with_capacity(2048);
        let mut m = |name: &str, kind: &str, help: &str, v: String| {
            let _ = writeln!(out, "# HELP livedash_{name} {help}");
            let _ = writeln!(out, "# TYPE livedash_{name} {kind}");
            let _ = writeln!(out, "livedash_{name} {v}");
        };
        let g = |c: &AtomicU64| c.load(Relaxed).to_string();
        m(
            "connections",
            "gauge",
            "WebSocket connections open now.",
            g(&self.connections),
        );
        m(
            "connections_total",
            "counter",
            "WebSocket connections accepted.",
            g(&self.connections_total),
        );
        m(
            "frames_sent_total",
            "counter",
            "Frames written to clients.",
            g(&self.frames_sent),
        );
        m(
            "bytes_sent_total",
            "counter",
            "Frame payload bytes written to clients.",
            g(&self.bytes_sent),
        );
        m(
            "frames_dropped_total",
            "counter",
            "Broadcast frames a lagging client skipped (replaced by a snapshot).",
            g(&self.frames_dropped),
        );
        m(
            "lag_resyncs_total",
            "counter",
            "Snapshots sent because a client lagged.",
            g(&self.lag_resyncs),
        );
        m(
            "slow_clients_closed_total",
            "counter",
            "Clients closed for being too slow.",
            g(&self.slow_clients_closed),
        );
        m(
            "heartbeat_timeouts_total",
            "counter",
            "Clients closed for missing the heartbeat.",
            g(&self.heartbeat_timeouts),
        );
        m(
            "client_messages_total",
            "counter",
            "Frames received from clients.",
            g(&self.client_messages),
        );
        m(
            "client_errors_total",
            "counter",
            "Client frames answered with an error frame.",
            g(&self.client_errors),
        );
        m(
            "clients_closed_abuse_total",
            "counter",
            "Clients closed for abuse.",
            g(&self.clients_closed_abuse),
        );
        m(
            "origin_rejected_total",
            "counter",
            "Upgrades refused for a foreign Origin.",
            g(&self.origin_rejected),
        );
        m(
            "unauthorized_total",
            "counter",
            "Requests or connections refused for a missing or wrong token.",
            g(&self.unauthorized),
        );
        m(
            "limit_rejected_total",
            "counter",
            "Upgrades refused by connection limits.",
            g(&self.limit_rejected),
        );
        m(
            "orders_ticks_total",
            "counter",
            "orders frames published.",
            g(&self.orders_ticks),
        );
        m(
            "system_samples_total",
            "counter",
            "system frames published.",
            g(&self.system_samples),
        );
        m(
            "events_total",
            "counter",
            "event frames published.",
            g(&self.events),
        );
        m(
            "snapshots_built_total",
            "counter",
            "Snapshots serialized.",
            g(&self.snapshots_built),
        );
        m(
            "snapshots_sent_total",
            "counter",
            "Snapshots sent.",
            g(&self.snapshots_sent),
        );
        m(
            "resyncs_merged_total",
            "counter",
            "Snapshot asks merged into one already owed to the connection.",
            g(&self.resyncs_merged),
        );
        m(
            "producer_restarts_total",
            "counter",
            "Stream producers restarted after a failure.",
            g(&self.producer_restarts),
        );
        m(
            "duplicate_items_total",
            "counter",
            "Order records ignored: their item id was already in the window.",
            g(&self.duplicate_items),
        );
        m(
            "tick_seconds_total",
            "counter",
            "Time spent aggregating orders ticks.",
            format!("{:.6}", self.tick_nanos.load(Relaxed) as f64 / 1e9),
        );
        m(
            "ingest_records_total",
            "counter",
            "Order records accepted by POST /api/ingest/orders.",
            g(&self.ingest_records),
        );
        m(
            "ingest_expired_total",
            "counter",
            "Pushed records dropped as older than the lookback window.",
            g(&self.ingest_expired),
        );
        let source: [(&str, &str, &str, &AtomicU64); 7] = [
            (
                "source_up",
                "gauge",
                "1 while the PostgreSQL source is connected.",
                &self.source_up,
            ),
            (
                "source_rows_total",
                "counter",
                "Rows the PostgreSQL source read and handed on.",
                &self.source_rows,
            ),
            (
                "source_fill_rows_total",
                "counter",
                "Rows the PostgreSQL source read to fill the lookback window at start.",
                &self.source_fill_rows,
            ),
            (
                "source_polls_total",
                "counter",
                "Outbox polls by the PostgreSQL source.",
                &self.source_polls,
            ),
            (
                "source_reconnects_total",
                "counter",
                "PostgreSQL source reconnect attempts.",
                &self.source_reconnects,
            ),
            (
                "source_incomplete_rows_total",
                "counter",
                "Rows sent without their user or product after waiting for them.",
                &self.source_incomplete,
            ),
            (
                "source_pruned_rows_total",
                "counter",
                "Outbox rows deleted behind the cursor.",
                &self.source_pruned,
            ),
        ];
        for (name, kind, help, c) in source {
            m(name, kind, help, g(c));
        }
        m(
            "source_lag_seconds",
            "gauge",
            "Capture-to-read lag of the PostgreSQL source's last batch.",
            format!("{:.3}", self.source_lag_ms.load(Relaxed) as f64 / 1000.0),
        );
        m(
            "broadcast_queue_depth",
            "gauge",
            "Frames in the broadcast ring.",
            queue_depth.to_string(),
        );
        m(
            "uptime_seconds",
            "gauge",
            "Seconds since the server started.",
            format!("{uptime_s:.3}"),
        );
        let _ = writeln!(
            out,
            "# HELP livedash_ingest_requests_total POST /api/ingest/orders answers by status code."
        );
        let _ = writeln!(out, "# TYPE livedash_ingest_requests_total counter");
        for (code, c) in INGEST_CODES.iter().zip(&self.ingest_requests) {
            let _ = writeln!(
                out,
                "livedash_ingest_requests_total{{code=\"{code}\"}} {}",
                c.load(Relaxed)
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        Metrics::add(&m.frames_sent, 3);
        let t = m.render(2, 1.5);
        assert!(
            t.contains("# TYPE livedash_frames_sent_total counter\nlivedash_frames_sent_total 3\n")
        );
        assert!(t.contains("livedash_broadcast_queue_depth 2\n"));
        for line in t.lines().filter(|l| !l.starts_with('#')) {
            let mut parts = line.split(' ');
            assert!(parts.next().unwrap().starts_with("livedash_"));
            parts.next().unwrap().parse::<f64>().unwrap();
        }
    }
}
