//! livedash wire protocol v1.
//!
//! Every WebSocket frame is one JSON text object tagged by `"type"`, with
//! snake_case fields and times as Unix epoch milliseconds in `ts`. These
//! enums are the single definition: the server serializes [`ServerMessage`]
//! and decodes [`ClientMessage`], the Yew client does the reverse.
//! `PROTOCOL.md` documents every frame with an example; a test in this crate
//! decodes each of those examples so the document cannot drift from the code.

use serde::{Deserialize, Serialize};

pub mod alerts;
pub mod dashboard;
pub mod decode;
pub mod series;
pub mod time;
pub use alerts::{Alert, AlertRule, AlertState, Op};
pub use dashboard::{
    Dashboard, DashboardSummary, Filters, GridPos, Query, QuerySource, Widget, WidgetKind,
    WidgetOptions,
};
pub use decode::decode_server;

/// Version of the wire protocol spoken by this crate. Sent in `hello`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Unix epoch milliseconds.
pub type Ts = u64;

/// A topic a client can subscribe to. Each topic has its own `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// `orders` frames: the KPI aggregate of every tick.
    Orders,
    /// `system` frames: host metrics samples.
    System,
    /// `clients` frames: the connected-client count.
    Clients,
    /// `event` frames: the activity feed.
    Events,
    /// `series` frames: points of named series pushed by clients (the
    /// InfluxDB write API).
    Series,
    /// `alert` frames: alert rules firing and resolving.
    Alerts,
}

impl Topic {
    /// Every topic, in a fixed order. A new connection is subscribed to all.
    pub const ALL: [Topic; 6] = [
        Topic::Orders,
        Topic::System,
        Topic::Clients,
        Topic::Events,
        Topic::Series,
        Topic::Alerts,
    ];

    /// The wire name of the topic.
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Orders => "orders",
            Topic::System => "system",
            Topic::Clients => "clients",
            Topic::Events => "events",
            Topic::Series => "series",
            Topic::Alerts => "alerts",
        }
    }

    /// Its position in [`Topic::ALL`], for per-topic arrays.
    pub fn index(self) -> usize {
        match self {
            Topic::Orders => 0,
            Topic::System => 1,
            Topic::Clients => 2,
            Topic::Events => 3,
            Topic::Series => 4,
            Topic::Alerts => 5,
        }
    }
}

/// Each topic's current sequence number, as sent in `snapshot`.
///
/// A topic's `seq` grows by exactly one per frame of that topic; the
/// snapshot carries the `seq` of the newest frame it already contains, so the
/// next live frame of a topic has `seq + 1`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seqs {
    /// Last `orders` seq included in the snapshot. Every field defaults
    /// to 0 so a `resume {since}` may name only some topics.
    #[serde(default)]
    pub orders: u64,
    /// Last `system` seq included in the snapshot.
    #[serde(default)]
    pub system: u64,
    /// Last `clients` seq included in the snapshot.
    #[serde(default)]
    pub clients: u64,
    /// Last `event` seq included in the snapshot.
    #[serde(default)]
    pub events: u64,
    /// Last `series` seq included in the snapshot (absent from servers
    /// before the topic existed).
    #[serde(default)]
    pub series: u64,
    /// Last `alert` seq included in the snapshot (absent from servers
    /// before the topic existed).
    #[serde(default)]
    pub alerts: u64,
}

impl Seqs {
    /// The seq of one topic.
    pub fn get(&self, topic: Topic) -> u64 {
        match topic {
            Topic::Orders => self.orders,
            Topic::System => self.system,
            Topic::Clients => self.clients,
            Topic::Events => self.events,
            Topic::Series => self.series,
            Topic::Alerts => self.alerts,
        }
    }

    /// A mutable reference to one topic's seq.
    pub fn get_mut(&mut self, topic: Topic) -> &mut u64 {
        match topic {
            Topic::Orders => &mut self.orders,
            Topic::System => &mut self.system,
            Topic::Clients => &mut self.clients,
            Topic::Events => &mut self.events,
            Topic::Series => &mut self.series,
            Topic::Alerts => &mut self.alerts,
        }
    }

    /// The `?since=` form: `orders:N,system:M,...`, every topic.
    pub fn to_since(&self) -> String {
        Topic::ALL
            .iter()
            .map(|&t| format!("{}:{}", t.as_str(), self.get(t)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Parse the `?since=` form (`orders:N,system:M,...`); topics not
    /// named are 0. An unknown topic, a repeated one or a bad number is an
    /// error that says which.
    pub fn parse_since(text: &str) -> Result<Seqs, String> {
        let mut seqs = Seqs::default();
        let mut seen = [false; Topic::ALL.len()];
        for part in text.split(',').filter(|p| !p.is_empty()) {
            let (name, n) = part
                .split_once(':')
                .ok_or_else(|| format!("`{part}` is not topic:seq"))?;
            let topic = Topic::ALL
                .into_iter()
                .find(|t| t.as_str() == name)
                .ok_or_else(|| format!("unknown topic `{name}`"))?;
            if std::mem::replace(&mut seen[topic.index()], true) {
                return Err(format!("topic `{name}` given twice"));
            }
            *seqs.get_mut(topic) = n
                .parse()
                .map_err(|_| format!("`{n}` is not a seq (an integer >= 0)"))?;
        }
        Ok(seqs)
    }
}

/// One order item as the tutorial streams it (its SQL join of users, orders
/// and order items). Money is in dollars with two decimals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderRecord {
    pub user_id: u64,
    pub age: u8,
    /// `"M"` or `"F"`.
    pub gender: String,
    pub country: String,
    /// Search, Organic, Facebook, Email or Display.
    pub traffic_source: String,
    pub order_id: u64,
    pub item_id: u64,
    pub category: String,
    pub cost: f64,
    /// Shipped, Complete, Processing, Cancelled or Returned.
    pub item_status: String,
    pub sale_price: f64,
    /// When the order was created, Unix epoch milliseconds.
    pub created_at: Ts,
}

/// The three KPIs over the lookback window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Kpis {
    /// Distinct orders in the window.
    pub num_orders: u64,
    /// Order items in the window.
    pub num_order_items: u64,
    /// Sum of `sale_price` in the window, dollars.
    pub total_sales: f64,
}

/// The change of each KPI since the previous `orders` frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct KpiDelta {
    pub num_orders: i64,
    pub num_order_items: i64,
    pub total_sales: f64,
}

/// Revenue of one bar of a breakdown chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revenue {
    /// The country or traffic source.
    pub name: String,
    /// Sum of `sale_price` in the window, dollars.
    pub revenue: f64,
}

/// The `orders` frame body: the aggregate of one tick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Orders {
    pub seq: u64,
    pub ts: Ts,
    /// Length of the KPI window, milliseconds.
    pub window_ms: u64,
    pub num_orders: u64,
    pub num_order_items: u64,
    pub total_sales: f64,
    /// Change of each KPI since the previous `orders` frame.
    pub delta: KpiDelta,
    /// Revenue by country over the window, sorted descending.
    pub by_country: Vec<Revenue>,
    /// Revenue by traffic source over the window, sorted descending.
    pub by_traffic_source: Vec<Revenue>,
    /// Order items that arrived since the previous `orders` frame.
    pub records: Vec<OrderRecord>,
    /// Distinct order items received since the server started (re-sent
    /// item ids not counted): the live counter.
    pub items_total: u64,
}

impl Orders {
    /// The three KPIs of this frame.
    pub fn kpis(&self) -> Kpis {
        Kpis {
            num_orders: self.num_orders,
            num_order_items: self.num_order_items,
            total_sales: self.total_sales,
        }
    }
}

/// One point of the KPI history kept for snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KpiPoint {
    /// The `seq` of the `orders` frame this point came from.
    pub seq: u64,
    pub ts: Ts,
    pub num_orders: u64,
    pub num_order_items: u64,
    pub total_sales: f64,
}

/// Load average over 1, 5 and 15 minutes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadAvg {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
}

/// The `system` frame body: one host metrics sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct System {
    pub seq: u64,
    pub ts: Ts,
    /// Total CPU usage, 0–100.
    pub cpu_percent: f32,
    /// Usage of each core, 0–100.
    pub per_core: Vec<f32>,
    pub mem_used_bytes: u64,
    pub mem_total_bytes: u64,
    pub swap_used_bytes: u64,
    pub swap_total_bytes: u64,
    /// Network receive rate over all interfaces, bytes per second.
    pub net_rx_bps: f64,
    /// Network transmit rate over all interfaces, bytes per second.
    pub net_tx_bps: f64,
    pub load_avg: LoadAvg,
}

/// Severity of an activity-feed entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Info,
    Warn,
    Alert,
}

/// The `event` frame body: one activity-feed entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub ts: Ts,
    pub level: Level,
    pub text: String,
}

/// The `clients` frame body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clients {
    pub seq: u64,
    pub ts: Ts,
    /// Connected WebSocket clients.
    pub count: u64,
}

/// One point of a named series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// When the point was measured (the line's timestamp), Unix epoch
    /// milliseconds.
    pub ts: Ts,
    /// Its value: always a finite number.
    pub value: f64,
}

/// The `series` frame body: new points of one named series
/// (`measurement.field{tag=value,...}`), in the order they were written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub seq: u64,
    /// When the frame was published.
    pub ts: Ts,
    /// The series name.
    pub name: String,
    /// The points written since the previous frame of this series.
    pub points: Vec<SeriesPoint>,
}

/// The recent points of one series, as a snapshot carries them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesHistory {
    /// The series name.
    pub name: String,
    /// Its newest points, oldest first.
    pub points: Vec<SeriesPoint>,
}

/// The `hello` frame body: always the first frame on a connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`].
    pub protocol: u32,
    /// The server's crate version.
    pub server_version: String,
    /// Unique id of this connection on this server process.
    pub client_id: u64,
    /// Period of `orders` frames, milliseconds.
    pub tick_ms: u64,
    /// Period of `system` frames, milliseconds.
    pub system_ms: u64,
    /// Length of the KPI window, milliseconds.
    pub lookback_ms: u64,
    /// The stream's epoch: seqs are comparable only within one epoch (a
    /// server process without `--redis`, or one Redis data set). A client
    /// resumes with `since` only with the epoch it got them in. Absent
    /// from servers before resume existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
}

/// The `snapshot` frame body: everything a new tab needs to draw the whole
/// dashboard at once. Also served as JSON by `GET /api/snapshot`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub ts: Ts,
    /// Each topic's `seq` as of this snapshot.
    pub seq: Seqs,
    /// The latest `orders` aggregate; `null` before the first tick.
    pub orders: Option<Orders>,
    /// Recent KPI history, oldest first.
    pub kpi_history: Vec<KpiPoint>,
    /// Recent system samples, oldest first.
    pub system_history: Vec<System>,
    /// Connected clients now.
    pub clients: u64,
    /// The last activity-feed entries, oldest first.
    pub events: Vec<Event>,
    /// Whether each stream runs (absent from servers before it existed).
    #[serde(default)]
    pub streams: Streams,
    /// Every named series the server has, sorted by name, with its recent
    /// points (absent from servers before the `series` topic existed).
    #[serde(default)]
    pub series: Vec<SeriesHistory>,
    /// The epoch these seqs belong to (see [`Hello::epoch`]); absent from
    /// servers before resume existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
}

/// What a stream is doing, so a page can tell "no new data because the
/// stream is stopped or broken" from "no new data because the connection
/// is lost".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamState {
    /// Producing frames.
    #[default]
    Running,
    /// Stopped on purpose by an admin (`POST /api/streams/NAME/stop`).
    Stopped,
    /// Its producer failed (a panic, a lost source); the server restarts it
    /// with backoff. `error` says why.
    Failed,
}

/// One stream's status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamStatus {
    pub state: StreamState,
    /// Why it failed, when it did (the last failure while it is `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How many times the server restarted its producer since start.
    #[serde(default)]
    pub restarts: u32,
}

/// The `streams` frame body (also inside `snapshot`): the status of each
/// stream. A control frame without `seq`, sent to every live connection
/// whenever a status changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Streams {
    pub orders: StreamStatus,
    pub system: StreamStatus,
    /// Where the `orders` records come from and whether it is reachable
    /// (absent from servers before it existed: a healthy generator). Boxed
    /// to keep `ServerMessage::Snapshot` small.
    #[serde(default)]
    pub source: Box<SourceStatus>,
}

/// The `orders` stream's data source: its kind (`generator`, `ingest`,
/// `postgres`) and whether it works now. While `ok` is false the page shows
/// "source offline" and `error` says why (never a password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStatus {
    pub kind: String,
    pub ok: bool,
    /// Why it is not ok (the last error), while it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Default for SourceStatus {
    fn default() -> Self {
        SourceStatus {
            kind: "generator".into(),
            ok: true,
            error: None,
        }
    }
}

/// Machine-readable reason of an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not valid JSON.
    BadJson,
    /// Valid JSON but not a known client message (unknown `type`, missing
    /// or mistyped field).
    BadMessage,
    /// Binary frames are not part of the protocol.
    Binary,
    /// The client sends faster than the server allows.
    RateLimited,
    /// The frame is larger than the server accepts.
    TooLarge,
    /// A token is required or the token sent is wrong.
    Unauthorized,
    /// A `filter` frame (or `?var-` parameter) named an unknown variable or
    /// carried a bad value; the connection keeps its previous filter.
    BadFilter,
    /// The server aggregates as many distinct filter sets as it allows
    /// (`--max-filter-sets`); the connection keeps its previous filter.
    TooManyFilterSets,
}

/// Every frame the server sends.
// The snapshot is the large variant; messages are built once per frame and
// serialized, never stored in bulk, so boxing it would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Hello(Hello),
    Snapshot(Snapshot),
    Orders(Orders),
    System(System),
    Clients(Clients),
    Event(Event),
    Series(Series),
    Alert(Alert),
    /// A stream's status changed (control frame: no `seq`).
    Streams(Streams),
    /// Reply to `ping`, echoing its nonce exactly as sent (any JSON value,
    /// `null` included); without a nonce in the ping, none in the pong.
    Pong {
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        nonce: Option<serde_json::Value>,
        ts: Ts,
    },
    /// A client frame the server refused; the connection stays open unless
    /// the client keeps abusing it.
    Error {
        code: ErrorCode,
        message: String,
    },
}

impl ServerMessage {
    /// The topic and `seq` of a topic frame; `None` for control frames.
    pub fn topic_seq(&self) -> Option<(Topic, u64)> {
        match self {
            ServerMessage::Orders(o) => Some((Topic::Orders, o.seq)),
            ServerMessage::System(s) => Some((Topic::System, s.seq)),
            ServerMessage::Clients(c) => Some((Topic::Clients, c.seq)),
            ServerMessage::Event(e) => Some((Topic::Events, e.seq)),
            ServerMessage::Series(s) => Some((Topic::Series, s.seq)),
            ServerMessage::Alert(a) => Some((Topic::Alerts, a.seq)),
            _ => None,
        }
    }

    /// Serialize to the JSON text of one frame.
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: no maps with non-string keys,
        // no custom Serialize impls that error.
        serde_json::to_string(self).expect("ServerMessage serializes")
    }
}

/// Every frame a client may send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Heartbeat; answered by `pong` with the same nonce. The nonce is
    /// optional and may be any JSON value: the tutorial's page sends
    /// `{"type":"ping"}`, other clients send strings.
    Ping {
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        nonce: Option<serde_json::Value>,
    },
    /// Add topics to this connection's subscription.
    Subscribe { topics: Vec<Topic> },
    /// Remove topics from this connection's subscription.
    Unsubscribe { topics: Vec<Topic> },
    /// Stop sending topic frames (control frames still flow).
    Pause,
    /// Start again: with `since` (and the `epoch` those seqs are from),
    /// the frames published after them when the server still has them;
    /// otherwise (or without `since`) a fresh `snapshot` first. Then live
    /// frames.
    Resume {
        /// Per topic, the newest seq the client has applied.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<Seqs>,
        /// The epoch of `since` (from `hello` or the snapshot).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        epoch: Option<String>,
    },
    /// Send a fresh `snapshot` (after the client saw a `seq` gap).
    Resync,
    /// The viewer token, as the first frame, when the server requires one
    /// and the URL carried no `?token=`.
    Auth { token: String },
    /// How many tabs this socket serves: the tab holding a browser's shared
    /// socket reports the tabs it relays frames to (itself included), so
    /// the client count counts tabs, not sockets. At most
    /// [`MAX_TABS_PER_SOCKET`] count; 0 counts as 1.
    Tabs { count: u32 },
    /// Replace this connection's filter (`?var-NAME=value` in the URL):
    /// variable name (`country`, `traffic_source`, `category`,
    /// `item_status`, `gender`, `age_band`) → the values, any of which a
    /// record must have; `{}` removes the filter. Answered by a fresh
    /// `snapshot` computed over the matching records, or an `error`
    /// (`bad_filter`, `too_many_filter_sets`) leaving the filter as it was.
    Filter {
        vars: std::collections::BTreeMap<String, Vec<String>>,
    },
}

/// The most tabs one socket may claim with a `tabs` frame (a socket cannot
/// inflate the client count beyond this).
pub const MAX_TABS_PER_SOCKET: u32 = 64;

impl ClientMessage {
    /// Serialize to the JSON text of one frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("ClientMessage serializes")
    }
}

/// A field that is present is `Some`, even when its value is `null`; with
/// `#[serde(default)]` an absent field is `None`. So a nonce is echoed
/// exactly as sent.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

/// Why a client frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub code: ErrorCode,
    pub message: String,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl std::error::Error for DecodeError {}

/// Decode one client text frame, telling malformed JSON apart from a
/// well-formed frame that is not a known message.
pub fn decode_client(text: &str) -> Result<ClientMessage, DecodeError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| DecodeError {
        code: ErrorCode::BadJson,
        message: format!("frame is not valid JSON: {e}"),
    })?;
    serde_json::from_value(value).map_err(|e| DecodeError {
        code: ErrorCode::BadMessage,
        message: format!("not a protocol v1 client message: {e}"),
    })
}

/// Current time as Unix epoch milliseconds.
pub fn now_ms() -> Ts {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Ts)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_orders() -> Orders {
        Orders {
            seq: 7,
            ts: 1_764_000_000_000,
            window_ms: 300_000,
            num_orders: 12,
            num_order_items: 17,
            total_sales: 1234.5,
            delta: KpiDelta {
                num_orders: 1,
                num_order_items: -2,
                total_sales: -10.25,
            },
            by_country: vec![Revenue {
                name: "China".into(),
                revenue: 600.0,
            }],
            by_traffic_source: vec![Revenue {
                name: "Search".into(),
                revenue: 900.0,
            }],
            records: vec![OrderRecord {
                user_id: 1,
                age: 30,
                gender: "F".into(),
                country: "China".into(),
                traffic_source: "Search".into(),
                order_id: 2,
                item_id: 3,
                category: "Jeans".into(),
                cost: 20.5,
                item_status: "Shipped".into(),
                sale_price: 45.0,
                created_at: 1_764_000_000_000,
            }],
            items_total: 99,
        }
    }

    fn roundtrip(msg: ServerMessage) {
        let text = msg.to_json();
        let back: ServerMessage = serde_json::from_str(&text).unwrap();
        assert_eq!(back, msg, "round trip of {text}");
        // The page's decoder reads every frame the server writes the same.
        assert_eq!(decode_server(&text).unwrap(), msg, "decode_server({text})");
    }

    #[test]
    fn server_messages_round_trip() {
        let system = System {
            seq: 3,
            ts: 5,
            cpu_percent: 12.5,
            per_core: vec![10.0, 15.0],
            mem_used_bytes: 1,
            mem_total_bytes: 2,
            swap_used_bytes: 0,
            swap_total_bytes: 0,
            net_rx_bps: 10.0,
            net_tx_bps: 20.0,
            load_avg: LoadAvg {
                one: 0.5,
                five: 0.25,
                fifteen: 0.125,
            },
        };
        let event = Event {
            seq: 1,
            ts: 2,
            level: Level::Warn,
            text: "hi".into(),
        };
        roundtrip(ServerMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            server_version: "0.1.0".into(),
            client_id: 9,
            tick_ms: 1000,
            system_ms: 1000,
            lookback_ms: 300_000,
            epoch: Some("e1".into()),
        }));
        roundtrip(ServerMessage::Orders(sample_orders()));
        roundtrip(ServerMessage::System(system.clone()));
        roundtrip(ServerMessage::Clients(Clients {
            seq: 1,
            ts: 2,
            count: 3,
        }));
        roundtrip(ServerMessage::Event(event.clone()));
        roundtrip(ServerMessage::Pong {
            nonce: Some(42.into()),
            ts: 1,
        });
        roundtrip(ServerMessage::Error {
            code: ErrorCode::BadJson,
            message: "nope".into(),
        });
        roundtrip(ServerMessage::Snapshot(Snapshot {
            ts: 1,
            seq: Seqs {
                orders: 7,
                system: 3,
                clients: 1,
                events: 1,
                series: 2,
                alerts: 1,
            },
            orders: Some(sample_orders()),
            kpi_history: vec![KpiPoint {
                seq: 7,
                ts: 1,
                num_orders: 12,
                num_order_items: 17,
                total_sales: 1234.5,
            }],
            system_history: vec![system],
            clients: 3,
            events: vec![event],
            streams: Streams::default(),
            series: vec![SeriesHistory {
                name: "cpu.usage{host=a}".into(),
                points: vec![SeriesPoint { ts: 1, value: 0.5 }],
            }],
            epoch: Some("e1".into()),
        }));
        roundtrip(ServerMessage::Series(Series {
            seq: 2,
            ts: 3,
            name: "cpu.usage{host=a}".into(),
            points: vec![
                SeriesPoint { ts: 1, value: 0.5 },
                SeriesPoint {
                    ts: 2,
                    value: -1e300,
                },
            ],
        }));
    }

    #[test]
    fn resume_with_and_without_since() {
        assert_eq!(
            decode_client(r#"{"type":"resume"}"#).unwrap(),
            ClientMessage::Resume {
                since: None,
                epoch: None
            }
        );
        let m = decode_client(r#"{"type":"resume","since":{"orders":5,"system":2},"epoch":"e"}"#)
            .unwrap();
        let want = Seqs {
            orders: 5,
            system: 2,
            ..Seqs::default()
        };
        assert_eq!(
            m,
            ClientMessage::Resume {
                since: Some(want),
                epoch: Some("e".into())
            }
        );
        assert_eq!(
            decode_client(r#"{"type":"resume","since":{"orders":-1}}"#)
                .unwrap_err()
                .code,
            ErrorCode::BadMessage
        );
    }

    #[test]
    fn since_text_round_trips_and_names_what_is_wrong() {
        let s = Seqs {
            orders: 12,
            system: 3,
            alerts: 9,
            ..Seqs::default()
        };
        assert_eq!(
            s.to_since(),
            "orders:12,system:3,clients:0,events:0,series:0,alerts:9"
        );
        assert_eq!(Seqs::parse_since(&s.to_since()), Ok(s));
        assert_eq!(
            Seqs::parse_since("orders:4").unwrap(),
            Seqs {
                orders: 4,
                ..Seqs::default()
            }
        );
        assert!(Seqs::parse_since("nope:1").unwrap_err().contains("nope"));
        assert!(Seqs::parse_since("orders:x").unwrap_err().contains("`x`"));
        assert!(Seqs::parse_since("orders:1,orders:2")
            .unwrap_err()
            .contains("twice"));
        assert!(Seqs::parse_since("orders").is_err());
    }

    #[test]
    fn a_snapshot_from_a_server_without_series_still_decodes() {
        let mut v = serde_json::to_value(ServerMessage::Snapshot(Snapshot {
            ts: 1,
            seq: Seqs::default(),
            orders: None,
            kpi_history: vec![],
            system_history: vec![],
            clients: 0,
            events: vec![],
            streams: Streams::default(),
            series: vec![],
            epoch: None,
        }))
        .unwrap();
        v.as_object_mut().unwrap().remove("series");
        v["seq"].as_object_mut().unwrap().remove("series");
        v["seq"].as_object_mut().unwrap().remove("alerts");
        let ServerMessage::Snapshot(s) = serde_json::from_value(v).unwrap() else {
            panic!("not a snapshot");
        };
        assert!(s.series.is_empty());
        assert_eq!(s.seq.series, 0);
        assert_eq!(s.seq.alerts, 0);
        assert_eq!(Topic::Alerts.index(), Topic::ALL.len() - 1);
    }

    #[test]
    fn frames_are_tagged_snake_case() {
        let v: serde_json::Value =
            serde_json::from_str(&ServerMessage::Orders(sample_orders()).to_json()).unwrap();
        assert_eq!(v["type"], "orders");
        assert_eq!(v["num_orders"], 12);
        assert_eq!(v["total_sales"], 1234.5);
        assert_eq!(v["delta"]["num_order_items"], -2);
        assert_eq!(v["records"][0]["sale_price"], 45.0);
        let v: serde_json::Value = serde_json::from_str(
            &ClientMessage::Subscribe {
                topics: vec![Topic::Orders, Topic::Events],
            }
            .to_json(),
        )
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "subscribe", "topics": ["orders", "events"]})
        );
    }

    #[test]
    fn ping_nonce_is_optional_and_any_json_value() {
        let pong_of = |ping: &str| match decode_client(ping).unwrap() {
            ClientMessage::Ping { nonce } => ServerMessage::Pong { nonce, ts: 1 }.to_json(),
            other => panic!("not a ping: {other:?}"),
        };
        // The tutorial's page: no nonce at all, and none in the answer.
        assert_eq!(pong_of(r#"{"type":"ping"}"#), r#"{"type":"pong","ts":1}"#);
        assert_eq!(
            pong_of(r#"{"type":"ping","nonce":"a-1"}"#),
            r#"{"type":"pong","nonce":"a-1","ts":1}"#
        );
        assert_eq!(
            pong_of(r#"{"type":"ping","nonce":null}"#),
            r#"{"type":"pong","nonce":null,"ts":1}"#
        );
        assert_eq!(
            pong_of(r#"{"type":"ping","nonce":{"t":[1,2.5]}}"#),
            r#"{"type":"pong","nonce":{"t":[1,2.5]},"ts":1}"#
        );
        assert_eq!(
            pong_of(r#"{"type":"ping","nonce":-7}"#),
            r#"{"type":"pong","nonce":-7,"ts":1}"#
        );
    }

    #[test]
    fn client_messages_decode() {
        assert_eq!(
            decode_client(r#"{"type":"ping","nonce":5}"#).unwrap(),
            ClientMessage::Ping {
                nonce: Some(5.into())
            }
        );
        assert_eq!(
            decode_client(r#"{"type":"pause"}"#).unwrap(),
            ClientMessage::Pause
        );
        assert_eq!(
            decode_client(r#"{"type":"resync"}"#).unwrap(),
            ClientMessage::Resync
        );
        assert_eq!(decode_client("{nope").unwrap_err().code, ErrorCode::BadJson);
        assert_eq!(
            decode_client(r#"{"type":"launch_missiles"}"#)
                .unwrap_err()
                .code,
            ErrorCode::BadMessage
        );
        assert_eq!(
            decode_client(r#"{"type":"subscribe","topics":["weather"]}"#)
                .unwrap_err()
                .code,
            ErrorCode::BadMessage
        );
    }

    #[test]
    fn topic_seq_of_frames() {
        let o = ServerMessage::Orders(sample_orders());
        assert_eq!(o.topic_seq(), Some((Topic::Orders, 7)));
        assert_eq!(ServerMessage::Pong { nonce: None, ts: 0 }.topic_seq(), None);
    }

    #[test]
    fn streams_frames_carry_the_source_and_old_ones_still_parse() {
        let old = r#"{"type":"streams","orders":{"state":"running"},"system":{"state":"stopped"}}"#;
        let ServerMessage::Streams(s) = serde_json::from_str(old).unwrap() else {
            panic!("a streams frame");
        };
        assert_eq!(*s.source, SourceStatus::default());
        assert!(s.source.ok);
        let down = Streams {
            source: Box::new(SourceStatus {
                kind: "postgres".into(),
                ok: false,
                error: Some("connection refused".into()),
            }),
            ..Streams::default()
        };
        let text = ServerMessage::Streams(down.clone()).to_json();
        assert!(
            text.contains(
                r#""source":{"kind":"postgres","ok":false,"error":"connection refused"}"#
            ),
            "{text}"
        );
        assert_eq!(
            serde_json::from_str::<ServerMessage>(&text).unwrap(),
            ServerMessage::Streams(down)
        );
    }
}
