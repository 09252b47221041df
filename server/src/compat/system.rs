//! `/compat/system/ws`: the system-dashboard tutorial's messages, made from
//! livedash's own data (pure builders; the task lives in [`super`]):
//!
//! - `connection` — first, to the new client: `message`, `client_id`.
//! - `metrics` — from each system sample, at most one a second: `cpu` and
//!   `memory` in percent, `network_sent` / `network_recv` cumulative bytes
//!   since livedash started (integrated from the sampled rates), and
//!   `timestamp` (RFC 3339, UTC) with `ts` (epoch ms).
//! - `data` — every 2 s: label `Orders`, value the orders that arrived in
//!   those 2 s, clamped to the page's 1–100 (so a quiet 2 s reads 1).
//! - `client_count` — viewers of every kind (`/ws` and `/compat/...`),
//!   when it changed, at most one a second.
//! - `pong` — the answer to `{"type":"ping"}`.

use livedash_shared::System;
use serde_json::json;
use std::time::{Duration, UNIX_EPOCH};

/// Period of `data` frames, as in the tutorial.
pub const DATA_PERIOD: Duration = Duration::from_secs(2);
/// Least time between two `metrics` frames (system samples may come faster).
pub const METRICS_MIN_GAP: Duration = Duration::from_millis(900);
/// Least time between two `client_count` frames.
pub const COUNT_MIN_GAP: Duration = Duration::from_secs(1);
/// The label of `data` frames.
pub const DATA_LABEL: &str = "Orders";

/// The answer to a `ping`.
pub const PONG: &str = r#"{"type":"pong"}"#;

/// Cumulative network bytes, integrated from the samples' rates.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct NetTotals {
    /// Bytes sent since the first sample.
    pub sent: f64,
    /// Bytes received since the first sample.
    pub recv: f64,
    /// `ts` of the previous sample; `None` before the first.
    last_ts: Option<u64>,
}

impl NetTotals {
    /// Add what was sent and received since the previous sample.
    pub fn add(&mut self, s: &System) {
        if let Some(prev) = self.last_ts {
            let dt = s.ts.saturating_sub(prev) as f64 / 1000.0;
            self.sent += s.net_tx_bps.max(0.0) * dt;
            self.recv += s.net_rx_bps.max(0.0) * dt;
        }
        self.last_ts = Some(s.ts);
    }
}

/// RFC 3339 UTC time of epoch milliseconds.
fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// The `connection` frame for client `id`.
pub fn connection(id: u64, now_ms: u64) -> String {
    json!({
        "type": "connection",
        "message": format!("Connected to livedash (client {id})"),
        "client_id": id,
        "timestamp": rfc3339(now_ms),
    })
    .to_string()
}

/// The `metrics` frame of a sample.
pub fn metrics(s: &System, net: &NetTotals) -> String {
    let memory = match s.mem_total_bytes {
        0 => 0.0,
        t => s.mem_used_bytes as f64 * 100.0 / t as f64,
    };
    json!({
        "type": "metrics",
        "cpu": round1(s.cpu_percent as f64),
        "memory": round1(memory),
        "network_sent": net.sent.round() as u64,
        "network_recv": net.recv.round() as u64,
        "timestamp": rfc3339(s.ts),
        "ts": s.ts,
    })
    .to_string()
}

fn round1(x: f64) -> f64 {
    if x.is_finite() {
        (x * 10.0).round() / 10.0
    } else {
        0.0
    }
}

/// The `data` frame for `orders` new orders in the last period.
pub fn data(orders: u64, now_ms: u64) -> String {
    json!({
        "type": "data",
        "label": DATA_LABEL,
        "value": orders.clamp(1, 100),
        "timestamp": rfc3339(now_ms),
    })
    .to_string()
}

/// The `client_count` frame.
pub fn client_count(count: u64) -> String {
    json!({ "type": "client_count", "count": count }).to_string()
}

/// What a client frame asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Ask {
    /// `{"type":"ping"}`: a `pong`.
    Ping,
    /// `{"type":"request_metrics"}`: one `metrics` frame.
    Metrics,
    /// Anything else: ignored, as the tutorial's server does.
    Nothing,
}

/// Read a client frame.
pub fn ask(text: &str) -> Ask {
    #[derive(serde::Deserialize)]
    struct Typed<'a> {
        #[serde(rename = "type", borrow)]
        ty: Option<std::borrow::Cow<'a, str>>,
    }
    match serde_json::from_str::<Typed>(text).ok().and_then(|t| t.ty) {
        Some(t) if t == "ping" => Ask::Ping,
        Some(t) if t == "request_metrics" => Ask::Metrics,
        _ => Ask::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn sample(ts: u64, rx: f64, tx: f64) -> System {
        System {
            seq: 1,
            ts,
            cpu_percent: 12.345,
            per_core: vec![],
            mem_used_bytes: 1 << 30,
            mem_total_bytes: 4 << 30,
            swap_used_bytes: 0,
            swap_total_bytes: 0,
            net_rx_bps: rx,
            net_tx_bps: tx,
            load_avg: Default::default(),
        }
    }

    #[test]
    fn metrics_are_numbers_and_network_accumulates() {
        let mut net = NetTotals::default();
        net.add(&sample(1_000, 100.0, 50.0));
        net.add(&sample(3_000, 100.0, 50.0));
        net.add(&sample(3_500, 1000.0, 0.0));
        let v: Value = serde_json::from_str(&metrics(&sample(3_500, 0.0, 0.0), &net)).unwrap();
        assert_eq!(v["type"], "metrics");
        assert_eq!(v["cpu"], 12.3);
        assert_eq!(v["memory"], 25.0);
        assert_eq!(v["network_recv"], 200 + 500);
        assert_eq!(v["network_sent"], 100);
        assert_eq!(v["timestamp"], "1970-01-01T00:00:03.500Z");
    }

    #[test]
    fn data_values_stay_in_the_pages_range() {
        let v = |n| serde_json::from_str::<Value>(&data(n, 0)).unwrap()["value"].clone();
        assert_eq!(v(0), 1);
        assert_eq!(v(7), 7);
        assert_eq!(v(5000), 100);
        let d: Value = serde_json::from_str(&data(3, 0)).unwrap();
        assert_eq!(
            (d["type"].as_str(), d["label"].as_str()),
            (Some("data"), Some("Orders"))
        );
    }

    #[test]
    fn client_frames() {
        assert_eq!(ask(r#"{"type":"ping"}"#), Ask::Ping);
        assert_eq!(ask(r#"{"type":"request_metrics","x":1}"#), Ask::Metrics);
        assert_eq!(ask(r#"{"type":"subscribe"}"#), Ask::Nothing);
        assert_eq!(ask("not json"), Ask::Nothing);
        assert_eq!(ask(r#"{"type":7}"#), Ask::Nothing);
        let c: Value = serde_json::from_str(&connection(3, 0)).unwrap();
        assert_eq!(c["type"], "connection");
        assert!(c["message"].as_str().unwrap().contains("livedash"));
        let n: Value = serde_json::from_str(&client_count(4)).unwrap();
        assert_eq!(n, serde_json::json!({"type": "client_count", "count": 4}));
    }
}
