//! The page's state: a pure reducer over server frames and connection
//! events, tested natively.

use livedash_shared::{Event, KpiPoint, Orders, Seqs, ServerMessage, Streams, System, Topic};
use std::collections::VecDeque;
use std::rc::Rc;
use yew::Reducible;

/// Points kept per chart series.
pub const POINTS: usize = 50;
/// Feed entries kept.
pub const FEED: usize = 20;

/// A bounded ring: O(1) push, oldest dropped first.
#[derive(Debug, Clone, PartialEq)]
pub struct Ring<T> {
    items: VecDeque<T>,
    cap: usize,
}

impl<T> Ring<T> {
    /// An empty ring holding at most `cap` items.
    pub fn new(cap: usize) -> Self {
        Ring {
            items: VecDeque::with_capacity(cap),
            cap,
        }
    }

    /// Append, dropping the oldest when full.
    pub fn push(&mut self, x: T) {
        if self.items.len() == self.cap {
            self.items.pop_front();
        }
        self.items.push_back(x);
    }

    /// Oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn last(&self) -> Option<&T> {
        self.items.back()
    }

    /// Drop everything (the snapshot replaces history).
    pub fn clear(&mut self) {
        self.items.clear();
    }
}

/// One point of the system line chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SysPoint {
    pub ts: u64,
    pub cpu: f64,
    pub mem: f64,
}

impl From<&System> for SysPoint {
    fn from(s: &System) -> Self {
        SysPoint {
            ts: s.ts,
            cpu: s.cpu_percent as f64,
            mem: crate::format::share(s.mem_used_bytes, s.mem_total_bytes),
        }
    }
}

/// The connection as a person sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnStatus {
    /// Opening the socket, or open and waiting for the first frames.
    Connecting,
    /// Frames are flowing.
    Live,
    /// Lost; the next try is in `in_secs` seconds.
    Reconnecting { in_secs: u32 },
    /// The Connect toggle is off.
    Offline,
}

impl ConnStatus {
    /// The machine name used in `data-state`.
    pub fn key(self) -> &'static str {
        match self {
            ConnStatus::Connecting => "connecting",
            ConnStatus::Live => "live",
            ConnStatus::Reconnecting { .. } => "reconnecting",
            ConnStatus::Offline => "offline",
        }
    }

    /// The text shown in the status pill.
    pub fn label(self) -> String {
        match self {
            ConnStatus::Connecting => "Connecting…".into(),
            ConnStatus::Live => "Live".into(),
            ConnStatus::Reconnecting { in_secs } => format!("Reconnecting in {in_secs} s"),
            ConnStatus::Offline => "Offline".into(),
        }
    }
}

/// What a frame's `seq` means for the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqVerdict {
    /// The next frame of its topic (or not a topic frame): apply it.
    Apply,
    /// Already covered (by a snapshot or an earlier frame): ignore it.
    Duplicate,
    /// Frames are missing: ask for `resync` and wait for the snapshot.
    Gap,
}

/// Per-topic seq bookkeeping of the connection loop.
#[derive(Debug, Clone, Default)]
pub struct SeqTracker {
    /// Last seq applied per topic; `None` until the first snapshot.
    have: Option<Seqs>,
}

impl SeqTracker {
    /// Judge a frame, and advance when it applies.
    pub fn check(&mut self, msg: &ServerMessage) -> SeqVerdict {
        if let ServerMessage::Snapshot(s) = msg {
            self.have = Some(s.seq);
            return SeqVerdict::Apply;
        }
        let Some((topic, seq)) = msg.topic_seq() else {
            return SeqVerdict::Apply;
        };
        let Some(have) = self.have.as_mut() else {
            // Before the snapshot nothing can be judged: wait for it.
            return SeqVerdict::Duplicate;
        };
        let last = have.get(topic);
        if seq <= last {
            SeqVerdict::Duplicate
        } else if seq == last + 1 {
            *have.get_mut(topic) = seq;
            SeqVerdict::Apply
        } else {
            // Until the snapshot arrives, topic frames are not judged.
            self.have = None;
            SeqVerdict::Gap
        }
    }

    /// Forget everything (a new connection).
    pub fn reset(&mut self) {
        self.have = None;
    }
}

/// Everything the page draws.
#[derive(Debug, Clone, PartialEq)]
pub struct DashState {
    /// Connection status.
    pub conn: ConnStatus,
    /// Pause pressed: the numbers stay as they are.
    pub paused: bool,
    /// The latest orders aggregate.
    pub orders: Option<Orders>,
    /// KPI history (last 50 ticks).
    pub kpis: Ring<KpiPoint>,
    /// The latest system sample.
    pub system: Option<System>,
    /// System chart points (last 50).
    pub sys_points: Ring<SysPoint>,
    /// Connected clients, as the server last said.
    pub clients: Option<u64>,
    /// Feed entries, oldest first (rendered newest first).
    pub feed: Ring<Event>,
    /// Last applied seq per topic (shown in data attributes).
    pub seq: Seqs,
    /// Order items streamed since the server started.
    pub items_total: u64,
    /// Frames applied since the page loaded (debug panel).
    pub frames: u64,
    /// Each stream's status (running / stopped by an admin / failed), so a
    /// stopped stream is not mistaken for a lost connection.
    pub streams: Streams,
}

impl Default for DashState {
    fn default() -> Self {
        DashState {
            conn: ConnStatus::Connecting,
            paused: false,
            orders: None,
            kpis: Ring::new(POINTS),
            system: None,
            sys_points: Ring::new(POINTS),
            clients: None,
            feed: Ring::new(FEED),
            seq: Seqs::default(),
            items_total: 0,
            frames: 0,
            streams: Streams::default(),
        }
    }
}

/// Everything that changes the state.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The connection changed.
    Conn(ConnStatus),
    /// Pause (true) or resume (false) pressed.
    Paused(bool),
    /// A frame from the server, already judged [`SeqVerdict::Apply`].
    Frame(Rc<ServerMessage>),
}

impl DashState {
    /// Whether anything has been received yet.
    pub fn has_data(&self) -> bool {
        self.orders.is_some() || self.system.is_some()
    }

    /// Showing last-known data while not live.
    pub fn stale(&self) -> bool {
        self.has_data() && self.conn != ConnStatus::Live
    }

    /// Apply one action in place.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::Conn(c) => self.conn = c,
            Action::Paused(p) => self.paused = p,
            Action::Frame(msg) => self.apply_frame(&msg),
        }
    }

    fn apply_frame(&mut self, msg: &ServerMessage) {
        self.frames += 1;
        if let Some((topic, seq)) = msg.topic_seq() {
            *self.seq.get_mut(topic) = seq;
        }
        match msg {
            ServerMessage::Hello(_) => {}
            ServerMessage::Snapshot(s) => {
                // Replace, never mix: everything comes from the snapshot.
                let (conn, paused, frames) = (self.conn, self.paused, self.frames);
                *self = DashState {
                    conn,
                    paused,
                    frames,
                    ..DashState::default()
                };
                self.seq = s.seq;
                self.clients = Some(s.clients);
                self.streams = s.streams.clone();
                if let Some(o) = &s.orders {
                    self.items_total = o.items_total;
                    self.orders = Some(o.clone());
                }
                let skip = s.kpi_history.len().saturating_sub(POINTS);
                for k in s.kpi_history.iter().skip(skip) {
                    self.kpis.push(*k);
                }
                let skip = s.system_history.len().saturating_sub(POINTS);
                for x in s.system_history.iter().skip(skip) {
                    self.sys_points.push(SysPoint::from(x));
                }
                self.system = s.system_history.last().cloned();
                for e in &s.events {
                    self.feed.push(e.clone());
                }
            }
            ServerMessage::Orders(o) => {
                self.items_total = o.items_total;
                self.kpis.push(KpiPoint {
                    seq: o.seq,
                    ts: o.ts,
                    num_orders: o.num_orders,
                    num_order_items: o.num_order_items,
                    total_sales: o.total_sales,
                });
                let mut o = o.clone();
                // The page shows aggregates; raw rows are not kept.
                o.records = Vec::new();
                self.orders = Some(o);
            }
            ServerMessage::System(s) => {
                self.sys_points.push(SysPoint::from(s));
                self.system = Some(s.clone());
            }
            ServerMessage::Clients(c) => self.clients = Some(c.count),
            ServerMessage::Event(e) => self.feed.push(e.clone()),
            ServerMessage::Streams(st) => self.streams = st.clone(),
            ServerMessage::Pong { .. } | ServerMessage::Error { .. } => {}
        }
    }

    /// The seq attribute value of a topic.
    pub fn seq_of(&self, t: Topic) -> u64 {
        self.seq.get(t)
    }
}

impl Reducible for DashState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut s = Rc::unwrap_or_clone(self);
        s.apply(action);
        Rc::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livedash_shared::{Clients, KpiDelta, Level, LoadAvg, Revenue, Snapshot};

    fn orders(seq: u64, n: u64) -> Orders {
        Orders {
            seq,
            ts: seq * 1000,
            window_ms: 300_000,
            num_orders: n,
            num_order_items: n * 2,
            total_sales: n as f64 * 10.0,
            delta: KpiDelta::default(),
            by_country: vec![Revenue {
                name: "China".into(),
                revenue: 1.0,
            }],
            by_traffic_source: vec![],
            records: vec![],
            items_total: n * 3,
        }
    }

    fn system(seq: u64, cpu: f32) -> System {
        System {
            seq,
            ts: seq,
            cpu_percent: cpu,
            per_core: vec![cpu],
            mem_used_bytes: 1,
            mem_total_bytes: 4,
            swap_used_bytes: 0,
            swap_total_bytes: 0,
            net_rx_bps: 0.0,
            net_tx_bps: 0.0,
            load_avg: LoadAvg::default(),
        }
    }

    fn snapshot(orders_seq: u64, sys_n: u64) -> ServerMessage {
        ServerMessage::Snapshot(Snapshot {
            ts: 1,
            seq: Seqs {
                orders: orders_seq,
                system: sys_n,
                clients: 4,
                events: 1,
            },
            orders: Some(orders(orders_seq, 7)),
            kpi_history: (1..=orders_seq)
                .map(|s| KpiPoint {
                    seq: s,
                    ts: s,
                    num_orders: s,
                    num_order_items: s,
                    total_sales: 0.0,
                })
                .collect(),
            system_history: (1..=sys_n).map(|s| system(s, 10.0)).collect(),
            clients: 2,
            events: vec![Event {
                seq: 1,
                ts: 1,
                level: Level::Info,
                text: "hi".into(),
            }],
            streams: Streams::default(),
        })
    }

    fn frame(m: ServerMessage) -> Action {
        Action::Frame(Rc::new(m))
    }

    #[test]
    fn ring_is_bounded() {
        let mut r = Ring::new(3);
        for i in 0..10 {
            r.push(i);
        }
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), [7, 8, 9]);
        assert_eq!(r.last(), Some(&9));
    }

    #[test]
    fn snapshot_fills_everything_at_once() {
        let mut s = DashState::default();
        s.apply(frame(snapshot(80, 70)));
        assert_eq!(s.kpis.len(), POINTS);
        assert_eq!(s.kpis.last().unwrap().seq, 80);
        assert_eq!(s.sys_points.len(), POINTS);
        assert_eq!(s.orders.as_ref().unwrap().num_orders, 7);
        assert_eq!(s.items_total, 21);
        assert_eq!(s.clients, Some(2));
        assert_eq!(s.feed.len(), 1);
        assert_eq!(s.seq.orders, 80);
        assert!(s.has_data());
    }

    #[test]
    fn snapshot_replaces_instead_of_mixing() {
        let mut s = DashState::default();
        s.apply(frame(snapshot(3, 3)));
        for i in 4..10 {
            s.apply(frame(ServerMessage::Orders(orders(i, i))));
        }
        s.apply(Action::Conn(ConnStatus::Reconnecting { in_secs: 2 }));
        assert!(s.stale());
        // A restarted server starts its seqs over.
        s.apply(frame(snapshot(2, 1)));
        assert_eq!(s.kpis.len(), 2);
        assert_eq!(s.seq.orders, 2);
        assert_eq!(s.sys_points.len(), 1);
        assert_eq!(
            s.conn,
            ConnStatus::Reconnecting { in_secs: 2 },
            "connection state kept"
        );
    }

    #[test]
    fn frames_update_and_feed_is_bounded() {
        let mut s = DashState::default();
        s.apply(frame(snapshot(1, 1)));
        s.apply(frame(ServerMessage::System(system(2, 55.0))));
        assert_eq!(s.system.as_ref().unwrap().cpu_percent, 55.0);
        assert_eq!(s.sys_points.last().unwrap().mem, 25.0);
        s.apply(frame(ServerMessage::Clients(Clients {
            seq: 5,
            ts: 0,
            count: 9,
        })));
        assert_eq!(s.clients, Some(9));
        for i in 2..40 {
            s.apply(frame(ServerMessage::Event(Event {
                seq: i,
                ts: i,
                level: Level::Warn,
                text: format!("e{i}"),
            })));
        }
        assert_eq!(s.feed.len(), FEED);
        assert_eq!(s.feed.last().unwrap().text, "e39");
        assert_eq!(s.seq.events, 39);
    }

    #[test]
    fn seq_tracker_finds_duplicates_and_gaps() {
        let mut t = SeqTracker::default();
        let o = |i| ServerMessage::Orders(orders(i, 1));
        assert_eq!(
            t.check(&o(1)),
            SeqVerdict::Duplicate,
            "nothing before the snapshot"
        );
        assert_eq!(t.check(&snapshot(3, 3)), SeqVerdict::Apply);
        assert_eq!(t.check(&o(3)), SeqVerdict::Duplicate);
        assert_eq!(t.check(&o(4)), SeqVerdict::Apply);
        assert_eq!(
            t.check(&ServerMessage::System(system(4, 1.0))),
            SeqVerdict::Apply
        );
        assert_eq!(t.check(&o(6)), SeqVerdict::Gap);
        assert_eq!(
            t.check(&o(7)),
            SeqVerdict::Duplicate,
            "wait for the snapshot after a gap"
        );
        assert_eq!(t.check(&snapshot(7, 4)), SeqVerdict::Apply);
        assert_eq!(t.check(&o(8)), SeqVerdict::Apply);
        assert_eq!(
            t.check(&ServerMessage::Pong { nonce: None, ts: 0 }),
            SeqVerdict::Apply
        );
    }

    #[test]
    fn status_labels() {
        assert_eq!(
            ConnStatus::Reconnecting { in_secs: 4 }.label(),
            "Reconnecting in 4 s"
        );
        assert_eq!(ConnStatus::Live.key(), "live");
        assert!(ConnStatus::Connecting
            .label()
            .to_lowercase()
            .contains("connecting"));
    }
}
