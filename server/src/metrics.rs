//! Counters about the server itself, rendered as Prometheus text.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Upper bounds (seconds) of the fan-out histogram's buckets.
pub const FANOUT_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24,
];

/// A Prometheus histogram of durations with fixed buckets; observing is a
/// few relaxed atomic adds.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative; the last one is +Inf).
    counts: [AtomicU64; FANOUT_BUCKETS.len() + 1],
    /// Sum of observations in nanoseconds.
    sum_ns: AtomicU64,
}

impl Histogram {
    /// Record one duration.
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let i = FANOUT_BUCKETS
            .iter()
            .position(|&le| s <= le)
            .unwrap_or(FANOUT_BUCKETS.len());
        self.counts[i].fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(d.as_nanos() as u64, Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// Append the histogram as Prometheus text (cumulative buckets).
    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP livedash_{name} {help}");
        let _ = writeln!(out, "# TYPE livedash_{name} histogram");
        let mut acc = 0;
        for (i, c) in self.counts.iter().enumerate() {
            acc += c.load(Relaxed);
            match FANOUT_BUCKETS.get(i) {
                Some(le) => {
                    let _ = writeln!(out, "livedash_{name}_bucket{{le=\"{le}\"}} {acc}");
                }
                None => {
                    let _ = writeln!(out, "livedash_{name}_bucket{{le=\"+Inf\"}} {acc}");
                }
            }
        }
        let sum = self.sum_ns.load(Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "livedash_{name}_sum {sum:.6}");
        let _ = writeln!(out, "livedash_{name}_count {acc}");
    }
}

/// The fan-out of one broadcast frame: from its publication until the last
/// receiving connection has written it (or decided to skip it). Receivers
/// count down; the publisher adds how many receivers the ring gave it to,
/// after the send (a connection may already be done by then: the count may
/// go below zero first and reaches zero exactly once, when all are done).
/// A receiver that closes with the frame unread never counts down: such a
/// frame is not observed.
#[derive(Debug)]
pub struct Fanout {
    /// When the frame was handed to the ring.
    published: Instant,
    /// Receivers given the frame minus receivers done with it.
    remaining: AtomicI64,
}

impl Fanout {
    /// A frame published now.
    pub fn new() -> Fanout {
        Fanout {
            published: Instant::now(),
            remaining: AtomicI64::new(0),
        }
    }

    /// The publisher: the ring delivered the frame to `n` receivers.
    pub fn sent(&self, n: usize, h: &Histogram) {
        let n = n as i64;
        if n > 0 && self.remaining.fetch_add(n, Relaxed) + n == 0 {
            h.observe(self.published.elapsed());
        }
    }

    /// A receiver wrote (and flushed) the frame, or skipped it.
    pub fn done(&self, h: &Histogram) {
        if self.remaining.fetch_sub(1, Relaxed) == 1 {
            h.observe(self.published.elapsed());
        }
    }
}

impl Default for Fanout {
    fn default() -> Self {
        Fanout::new()
    }
}

/// Process-wide counters. Plain atomics: incrementing one never blocks.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Viewer connections open now (WebSocket and Server-Sent Events).
    pub connections: AtomicU64,
    /// Viewer connections accepted since start.
    pub connections_total: AtomicU64,
    /// Server-Sent Events streams opened since start (`/api/stream`), to
    /// tell how many viewers came over the fallback.
    pub sse_streams: AtomicU64,
    /// Frames written to clients (all types).
    pub frames_sent: AtomicU64,
    /// Bytes of frame payload written to clients (compressed size for
    /// permessage-deflate frames).
    pub bytes_sent: AtomicU64,
    /// Frames written permessage-deflated (the hub's shared bytes).
    pub deflated_frames_sent: AtomicU64,
    /// Write system calls on accepted sockets that moved bytes (every
    /// connection: HTTP, `/ws`, `/api/stream`); frames that fall in the
    /// same instant share one per client, so this grows slower than
    /// `frames_sent`.
    pub socket_writes: AtomicU64,
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
    /// Connections resumed by seq (`?since=`, `resume {since}`) with the
    /// frames they missed instead of a snapshot.
    pub resumes: AtomicU64,
    /// Resume asks answered with a snapshot: the frames were gone, or the
    /// epoch was another's.
    pub resumes_failed: AtomicU64,
    /// Frames produced here that got no seq: Redis was unreachable or the
    /// publisher's queue was full (`--redis`).
    pub broker_dropped: AtomicU64,
    /// Stream producers restarted after a failure.
    pub producer_restarts: AtomicU64,
    /// Order records ignored because their item id was already in the
    /// window (a source that re-sent a row).
    pub duplicate_items: AtomicU64,
    /// Total nanoseconds spent aggregating + serializing orders ticks.
    pub tick_nanos: AtomicU64,
    /// Total nanoseconds the filter sets' aggregators spent on ticks
    /// (aggregating and serializing every set's frame).
    pub filter_tick_nanos: AtomicU64,
    /// `POST /api/ingest/orders` answers, by status code ([`INGEST_CODES`]).
    pub ingest_requests: [AtomicU64; INGEST_CODES.len()],
    /// Records accepted by ingest (202), expired ones included.
    pub ingest_records: AtomicU64,
    /// Pushed records dropped because their `created_at` was already
    /// outside the lookback window (at the request or at the tick).
    pub ingest_expired: AtomicU64,
    /// Seconds from a topic frame's publication to its last socket write
    /// (the spread the server itself causes; a load generator on the same
    /// cores cannot see it at 10k clients).
    pub fanout: Histogram,
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
            "Viewer connections (WebSocket and Server-Sent Events) open now.",
            g(&self.connections),
        );
        m(
            "connections_total",
            "counter",
            "Viewer connections (WebSocket and Server-Sent Events) accepted.",
            g(&self.connections_total),
        );
        m(
            "deflated_frames_sent_total",
            "counter",
            "Frames written permessage-deflated (compressed once, shared).",
            g(&self.deflated_frames_sent),
        );
        m(
            "socket_writes_total",
            "counter",
            "Write system calls on accepted sockets that moved bytes.",
            g(&self.socket_writes),
        );
        m(
            "sse_streams_total",
            "counter",
            "Server-Sent Events streams opened (/api/stream).",
            g(&self.sse_streams),
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
            "resumes_total",
            "counter",
            "Connections resumed by seq with the frames they missed.",
            g(&self.resumes),
        );
        m(
            "broker_frames_dropped_total",
            "counter",
            "Frames produced while Redis was unreachable (never given a seq).",
            g(&self.broker_dropped),
        );
        m(
            "resumes_failed_total",
            "counter",
            "Resume asks answered with a snapshot (frames gone or another epoch).",
            g(&self.resumes_failed),
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
            "filter_tick_seconds_total",
            "counter",
            "Time the filter sets' aggregators spent on orders ticks.",
            format!("{:.6}", self.filter_tick_nanos.load(Relaxed) as f64 / 1e9),
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
        self.fanout.render(
            &mut out,
            "fanout_seconds",
            "From a topic frame's publication to its last socket write.",
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
            let mut parts = line.rsplitn(2, ' ').collect::<Vec<_>>().into_iter().rev();
            assert!(parts.next().unwrap().starts_with("livedash_"));
            parts.next().unwrap().parse::<f64>().unwrap();
        }
    }

    #[test]
    fn a_fanout_is_observed_once_when_the_last_receiver_is_done() {
        let h = Histogram::default();
        // Receivers may finish before the publisher adds their number.
        let f = Fanout::new();
        f.done(&h);
        f.sent(3, &h);
        assert_eq!(h.count(), 0);
        f.done(&h);
        assert_eq!(h.count(), 0);
        f.done(&h);
        assert_eq!(h.count(), 1);
        // All done before the publisher's add: the add observes it.
        let g = Fanout::new();
        g.done(&h);
        g.done(&h);
        g.sent(2, &h);
        assert_eq!(h.count(), 2);
        // Nobody connected: nothing to observe.
        Fanout::new().sent(0, &h);
        assert_eq!(h.count(), 2);
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(30));
        h.observe(Duration::from_secs(60));
        let mut out = String::new();
        h.render(&mut out, "x_seconds", "help");
        assert!(
            out.contains("livedash_x_seconds_bucket{le=\"0.001\"} 1\n"),
            "{out}"
        );
        assert!(out.contains("livedash_x_seconds_bucket{le=\"0.02\"} 1\n"));
        assert!(out.contains("livedash_x_seconds_bucket{le=\"0.04\"} 2\n"));
        assert!(out.contains("livedash_x_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(out.contains("livedash_x_seconds_count 3\n"));
    }
}
