//! The page's state: a pure reducer over server frames and connection
//! events, tested natively.

use crate::connection::Incompat;
use livedash_shared::{
    Event, KpiDelta, KpiPoint, OrderRecord, Orders, Seqs, SeriesPoint, ServerMessage, Streams,
    System, Topic,
};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use yew::Reducible;

/// Points kept per chart series.
pub const POINTS: usize = 50;
/// Feed entries kept.
pub const FEED: usize = 20;
/// Recent order records kept (for `records` tables), when the connection
/// asks for them.
pub const RECORDS: usize = 200;
/// Points kept per named series (the custom series chart draws them all).
pub const SERIES_POINTS: usize = 120;
/// Named series this page keeps at most (the server's default bound);
/// frames of further series are ignored.
pub const MAX_SERIES: usize = 10_000;

/// The named series this tab holds: each one's newest points. Shared
/// (`Rc`) so that cloning the state per action copies a pointer, and each
/// ring shared so that a frame copies only its own series.
pub type SeriesMap = BTreeMap<String, Rc<Ring<SeriesPoint>>>;

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

    /// Keep only the items `keep` says yes to, in order.
    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.items.retain(keep);
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
    /// Swap in use, percent (a `system` query may chart it).
    pub swap: f64,
    /// Network receive and transmit, bytes per second.
    pub rx: f64,
    /// See `rx`.
    pub tx: f64,
    /// Load averages over 1, 5 and 15 minutes.
    pub load: [f64; 3],
}

impl SysPoint {
    /// A point with only CPU and memory (the rest zero).
    pub fn cpu_mem(ts: u64, cpu: f64, mem: f64) -> SysPoint {
        SysPoint {
            ts,
            cpu,
            mem,
            swap: 0.0,
            rx: 0.0,
            tx: 0.0,
            load: [0.0; 3],
        }
    }

    /// The figure a `system` query names ([`livedash_shared::dashboard::SYSTEM_FIGURES`]).
    pub fn figure(&self, name: &str) -> Option<f64> {
        Some(match name {
            "cpu_percent" => self.cpu,
            "memory_percent" => self.mem,
            "swap_percent" => self.swap,
            "net_rx_bps" => self.rx,
            "net_tx_bps" => self.tx,
            "load_1" => self.load[0],
            "load_5" => self.load[1],
            "load_15" => self.load[2],
            _ => return None,
        })
    }
}

impl From<&System> for SysPoint {
    fn from(s: &System) -> Self {
        SysPoint {
            ts: s.ts,
            cpu: s.cpu_percent as f64,
            mem: crate::format::share(s.mem_used_bytes, s.mem_total_bytes),
            swap: crate::format::share(s.swap_used_bytes, s.swap_total_bytes),
            rx: s.net_rx_bps,
            tx: s.net_tx_bps,
            load: [s.load_avg.one, s.load_avg.five, s.load_avg.fifteen],
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
    /// The server speaks another protocol: no reconnecting, reload.
    Incompatible,
}

impl ConnStatus {
    /// The machine name used in `data-state`.
    pub fn key(self) -> &'static str {
        match self {
            ConnStatus::Connecting => "connecting",
            ConnStatus::Live => "live",
            ConnStatus::Reconnecting { .. } => "reconnecting",
            ConnStatus::Offline => "offline",
            ConnStatus::Incompatible => "incompatible",
        }
    }

    /// The text shown in the status pill.
    pub fn label(self) -> String {
        match self {
            ConnStatus::Connecting => "Connecting…".into(),
            ConnStatus::Live => "Live".into(),
            ConnStatus::Reconnecting { in_secs } => format!("Reconnecting in {in_secs} s"),
            ConnStatus::Offline => "Offline".into(),
            ConnStatus::Incompatible => "Incompatible server".into(),
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

/// Per-topic seq bookkeeping of the connection loop. It outlives each
/// socket, so a reconnect can resume (`?since=`) where the page stands.
#[derive(Debug, Clone, Default)]
pub struct SeqTracker {
    /// Last seq applied per topic; `None` until the first snapshot.
    have: Option<Seqs>,
    /// The epoch those seqs belong to (from `hello` or the snapshot): seqs
    /// of another epoch (another server process, Redis that lost its data)
    /// mean nothing.
    epoch: Option<String>,
}

impl SeqTracker {
    /// Judge a frame, and advance when it applies. A `hello` of another
    /// epoch than the seqs held drops them (a snapshot follows).
    pub fn check(&mut self, msg: &ServerMessage) -> SeqVerdict {
        match msg {
            ServerMessage::Snapshot(s) => {
                self.have = Some(s.seq);
                self.epoch = s.epoch.clone();
                return SeqVerdict::Apply;
            }
            ServerMessage::Hello(h) => {
                if h.epoch.is_some() && h.epoch != self.epoch {
                    self.have = None;
                }
                self.epoch = h.epoch.clone();
                return SeqVerdict::Apply;
            }
            _ => {}
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

    /// Whether a snapshot was applied (frames can be judged).
    pub fn synced(&self) -> bool {
        self.have.is_some()
    }

    /// Where to resume from on a reconnect: the seqs applied and their
    /// epoch, once both are known.
    pub fn resume_point(&self) -> Option<(Seqs, &str)> {
        Some((self.have?, self.epoch.as_deref()?))
    }
}

/// Everything the page draws.
#[derive(Debug, Clone, PartialEq)]
pub struct DashState {
    /// Connection status.
    pub conn: ConnStatus,
    /// Pause pressed: the numbers stay as they are.
    pub paused: bool,
    /// The Connect toggle, as the connection task sees it.
    pub enabled: bool,
    /// The token form is shown (the server refused the token, or wants one).
    pub need_token: bool,
    /// The server speaks another protocol.
    pub incompatible: Option<Incompat>,
    /// Frames this page could not decode (shown, never silent).
    pub undecodable: u64,
    /// The latest orders aggregate this tab displayed.
    pub orders: Option<Orders>,
    /// Each KPI's change since the values this tab displayed before (not
    /// since a server tick it never showed, after a pause or a resync).
    pub delta: KpiDelta,
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
    /// Snapshots applied since the page loaded (`data-snapshots`): one per
    /// connection, one more per resync; a test of a seamless return from
    /// playback checks that none came.
    pub snapshots: u64,
    /// Each stream's status (running / stopped by an admin / failed), so a
    /// stopped stream is not mistaken for a lost connection.
    pub streams: Streams,
    /// Named series (the `series` topic): newest points of each.
    pub series: Rc<SeriesMap>,
    /// The series names, sorted: rebuilt only when a name appears, so the
    /// picker re-renders only then (`Rc` equality is a pointer compare).
    pub series_names: Rc<Vec<String>>,
    /// The series the person picked (kept across snapshots: not server data).
    pub series_selected: Option<String>,
    /// The newest order records, oldest first: only filled while the
    /// dashboard has a `records` table (the connection asks for them then).
    pub records: Rc<Ring<OrderRecord>>,
    /// The filter the person just switched to, until the snapshot over it
    /// arrives: that snapshot keeps the records that match it (when the
    /// snapshot itself carries none: an older server's, or an empty window).
    pub refilter: Option<livedash_shared::dashboard::Filters>,
    /// The newest `alert` frame (the toast shows it).
    pub last_alert: Option<livedash_shared::Alert>,
}

impl Default for DashState {
    fn default() -> Self {
        DashState {
            conn: ConnStatus::Connecting,
            paused: false,
            enabled: true,
            need_token: false,
            incompatible: None,
            undecodable: 0,
            orders: None,
            delta: KpiDelta::default(),
            kpis: Ring::new(POINTS),
            system: None,
            sys_points: Ring::new(POINTS),
            clients: None,
            feed: Ring::new(FEED),
            seq: Seqs::default(),
            items_total: 0,
            frames: 0,
            snapshots: 0,
            streams: Streams::default(),
            series: Rc::default(),
            series_names: Rc::default(),
            series_selected: None,
            records: Rc::new(Ring::new(RECORDS)),
            refilter: None,
            last_alert: None,
        }
    }
}

/// The header badge of a data source that cannot deliver.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceBadge {
    /// What it says: "postgres source offline".
    pub text: String,
    /// Why, on hover (the server's error text).
    pub title: String,
}

/// A badge while the orders stream's source is not ok (its database is
/// unreachable, say): the page then tells "no new orders because the source
/// is down" from "no new orders because the connection is lost" or "none
/// came". Nothing while it is ok.
pub fn source_badge(s: &livedash_shared::SourceStatus) -> Option<SourceBadge> {
    if s.ok {
        return None;
    }
    let kind = if s.kind.is_empty() {
        "data"
    } else {
        s.kind.as_str()
    };
    Some(SourceBadge {
        text: format!("{kind} source offline"),
        title: s
            .error
            .clone()
            .unwrap_or_else(|| "the data source is unreachable".into()),
    })
}

/// Everything that changes the state.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The connection changed.
    Conn(ConnStatus),
    /// Pause (true) or resume (false) pressed.
    Paused(bool),
    /// The Connect toggle as the connection task sees it.
    Enabled(bool),
    /// Show (true) or hide the token form.
    NeedToken(bool),
    /// The server speaks another protocol (also sets the status).
    Incompatible(Incompat),
    /// A frame this page could not decode.
    Undecodable,
    /// A frame from the server, already judged [`SeqVerdict::Apply`].
    Frame(Rc<ServerMessage>),
    /// The person picked a series to chart.
    SelectSeries(String),
    /// The person changed the page's filter: the records that do not
    /// match it go now, the others stay through the coming snapshot.
    Refilter(livedash_shared::dashboard::Filters),
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

    /// The header's source badge: see [`source_badge`].
    pub fn source_badge(&self) -> Option<SourceBadge> {
        source_badge(&self.streams.source)
    }

    /// Apply one action in place.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::Conn(c) => {
                self.conn = c;
                if c != ConnStatus::Incompatible {
                    self.incompatible = None;
                }
            }
            Action::Paused(p) => self.paused = p,
            Action::Enabled(e) => self.enabled = e,
            Action::NeedToken(t) => self.need_token = t,
            Action::Incompatible(i) => {
                self.conn = ConnStatus::Incompatible;
                self.incompatible = Some(i);
            }
            Action::Undecodable => self.undecodable += 1,
            Action::Frame(msg) => self.apply_frame(&msg),
            Action::SelectSeries(name) => self.series_selected = Some(name),
            Action::Refilter(f) => {
                Rc::make_mut(&mut self.records).retain(|r| f.matches(r));
                self.refilter = Some(f);
            }
        }
    }

    /// The series the custom chart shows: the picked one while the server
    /// has it, else the first by name; with its points, oldest first.
    pub fn series_shown(&self) -> Option<(&str, Vec<SeriesPoint>)> {
        let picked = self
            .series_selected
            .as_ref()
            .and_then(|n| self.series.get_key_value(n));
        let (name, ring) = picked.or_else(|| self.series.iter().next())?;
        Some((name.as_str(), ring.iter().copied().collect()))
    }

    /// Add a frame's points to its series (a new series while under
    /// [`MAX_SERIES`]).
    fn add_series_points(&mut self, name: &str, points: &[SeriesPoint]) {
        let map = Rc::make_mut(&mut self.series);
        if !map.contains_key(name) {
            if map.len() >= MAX_SERIES {
                return;
            }
            let at = self.series_names.binary_search_by(|n| n.as_str().cmp(name));
            if let Err(i) = at {
                Rc::make_mut(&mut self.series_names).insert(i, name.to_string());
            }
            map.insert(name.to_string(), Rc::new(Ring::new(SERIES_POINTS)));
        }
        let Some(ring) = map.get_mut(name) else {
            return;
        };
        let ring = Rc::make_mut(ring);
        let skip = points.len().saturating_sub(SERIES_POINTS);
        for p in &points[skip..] {
            ring.push(*p);
        }
    }

    fn apply_frame(&mut self, msg: &ServerMessage) {
        // Paused: the numbers stay as displayed. Frames still in flight when
        // Pause was pressed (or a snapshot from a server that ignores
        // `?paused=1`) are dropped; `resume` brings a fresh snapshot.
        if self.paused && (msg.topic_seq().is_some() || matches!(msg, ServerMessage::Snapshot(_))) {
            return;
        }
        self.frames += 1;
        if let Some((topic, seq)) = msg.topic_seq() {
            *self.seq.get_mut(topic) = seq;
        }
        match msg {
            ServerMessage::Hello(_) => {}
            ServerMessage::Snapshot(s) => {
                // Replace, never mix: everything comes from the snapshot,
                // except what is not server data.
                let shown = self.orders.take();
                let old = std::mem::take(self);
                // After a filter change, the rows that match it stay
                // (frames of the old filter may have come meanwhile).
                let kept = old.refilter.as_ref().map(|f| {
                    let mut r = (*old.records).clone();
                    r.retain(|x| f.matches(x));
                    Rc::new(r)
                });
                *self = DashState {
                    conn: old.conn,
                    paused: old.paused,
                    enabled: old.enabled,
                    need_token: old.need_token,
                    incompatible: old.incompatible,
                    undecodable: old.undecodable,
                    frames: old.frames,
                    snapshots: old.snapshots + 1,
                    series_selected: old.series_selected,
                    ..DashState::default()
                };
                if let Some(r) = kept {
                    self.records = r;
                }
                for h in s.series.iter().take(MAX_SERIES) {
                    self.add_series_points(&h.name, &h.points);
                }
                self.seq = s.seq;
                self.clients = Some(s.clients);
                self.streams = s.streams.clone();
                if let Some(o) = &s.orders {
                    self.items_total = o.items_total;
                    self.delta = delta_since(shown.as_ref(), o);
                    let mut o = o.clone();
                    // The server's newest records (for a connection that
                    // asked for records): the table is full at once. They
                    // match the filter, so they replace any kept rows.
                    if !o.records.is_empty() {
                        let mut ring = Ring::new(RECORDS);
                        let skip = o.records.len().saturating_sub(RECORDS);
                        for r in o.records.drain(..).skip(skip) {
                            ring.push(r);
                        }
                        self.records = Rc::new(ring);
                    }
                    self.orders = Some(o);
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
                self.delta = delta_since(self.orders.as_ref(), o);
                let mut o = o.clone();
                // Raw rows are kept in their own ring (a records table
                // shows them), not in the aggregate.
                if !o.records.is_empty() {
                    let ring = Rc::make_mut(&mut self.records);
                    let skip = o.records.len().saturating_sub(RECORDS);
                    for r in o.records.drain(..).skip(skip) {
                        ring.push(r);
                    }
                }
                self.orders = Some(o);
            }
            ServerMessage::System(s) => {
                self.sys_points.push(SysPoint::from(s));
                self.system = Some(s.clone());
            }
            ServerMessage::Clients(c) => self.clients = Some(c.count),
            ServerMessage::Event(e) => self.feed.push(e.clone()),
            ServerMessage::Streams(st) => self.streams = st.clone(),
            ServerMessage::Series(x) => self.add_series_points(&x.name, &x.points),
            // The feed gets its own `event` entry for each alert; the
            // toast is drawn from `last_alert`.
            ServerMessage::Alert(a) => self.last_alert = Some(a.clone()),
            ServerMessage::Pong { .. } | ServerMessage::Error { .. } => {}
        }
    }

    /// The seq attribute value of a topic.
    pub fn seq_of(&self, t: Topic) -> u64 {
        self.seq.get(t)
    }
}

/// The change from what this tab displayed (`shown`) to `new`; the server's
/// own delta when nothing was displayed yet.
pub fn delta_since(shown: Option<&Orders>, new: &Orders) -> KpiDelta {
    match shown {
        None => new.delta,
        Some(old) => KpiDelta {
            num_orders: new.num_orders as i64 - old.num_orders as i64,
            num_order_items: new.num_order_items as i64 - old.num_order_items as i64,
            total_sales: ((new.total_sales - old.total_sales) * 100.0).round() / 100.0,
        },
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
    use livedash_shared::{
        Clients, KpiDelta, Level, LoadAvg, Revenue, Series, SeriesHistory, Snapshot,
    };

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
                series: 2,
                alerts: 0,
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
            epoch: None,
            clients: 2,
            events: vec![Event {
                seq: 1,
                ts: 1,
                level: Level::Info,
                text: "hi".into(),
            }],
            streams: Streams::default(),
            series: vec![
                SeriesHistory {
                    name: "mem.used{host=a}".into(),
                    points: vec![pt(1, 40.0)],
                },
                SeriesHistory {
                    name: "cpu.usage{host=a}".into(),
                    points: (0..150).map(|i| pt(i, i as f64)).collect(),
                },
            ],
        })
    }

    fn pt(ts: u64, value: f64) -> SeriesPoint {
        SeriesPoint { ts, value }
    }

    fn series_frame(seq: u64, name: &str, points: Vec<SeriesPoint>) -> Action {
        frame(ServerMessage::Series(Series {
            seq,
            ts: 0,
            name: name.into(),
            points,
        }))
    }

    fn with_records(seq: u64, countries: &[&str]) -> Action {
        let mut o = orders(seq, 1);
        o.records = countries
            .iter()
            .enumerate()
            .map(|(i, c)| OrderRecord {
                user_id: 1,
                age: 30,
                gender: "F".into(),
                country: c.to_string(),
                traffic_source: "Search".into(),
                order_id: seq * 10 + i as u64,
                item_id: 1,
                category: "Jeans".into(),
                cost: 1.0,
                item_status: "Shipped".into(),
                sale_price: 2.0,
                created_at: 0,
            })
            .collect();
        Action::Frame(Rc::new(ServerMessage::Orders(o)))
    }

    #[test]
    fn a_filter_change_keeps_the_matching_records_through_its_snapshot() {
        let countries = |s: &DashState| -> Vec<String> {
            s.records.iter().map(|r| r.country.clone()).collect()
        };
        let mut s = DashState::default();
        s.apply(Action::Frame(Rc::new(snapshot(1, 1))));
        s.apply(with_records(2, &["China", "Japan", "China"]));
        let china = livedash_shared::dashboard::Filters {
            country: vec!["China".into()],
            ..Default::default()
        };
        s.apply(Action::Refilter(china));
        assert_eq!(countries(&s), ["China", "China"]);
        // A frame of the old filter, then the snapshot over the new one.
        s.apply(with_records(3, &["Brasil", "China"]));
        s.apply(Action::Frame(Rc::new(snapshot(1, 1))));
        assert_eq!(countries(&s), ["China", "China", "China"]);
        assert_eq!(s.refilter, None);
        // Any other snapshot (a resync, a reconnect) starts afresh.
        s.apply(Action::Frame(Rc::new(snapshot(1, 1))));
        assert!(s.records.is_empty());
    }

    #[test]
    fn a_snapshot_with_records_fills_the_table_and_frames_follow() {
        let countries = |s: &DashState| -> Vec<String> {
            s.records.iter().map(|r| r.country.clone()).collect()
        };
        let mut s = DashState::default();
        s.apply(with_records(2, &["Brasil"]));
        let Action::Frame(f) = with_records(5, &["China", "Japan"]) else {
            unreachable!()
        };
        let ServerMessage::Orders(newest) = &*f else {
            unreachable!()
        };
        let ServerMessage::Snapshot(mut snap) = snapshot(5, 1) else {
            unreachable!()
        };
        snap.orders = Some(newest.clone());
        s.apply(Action::Frame(Rc::new(ServerMessage::Snapshot(snap))));
        // The snapshot's rows replace what was there; the aggregate keeps none.
        assert_eq!(countries(&s), ["China", "Japan"]);
        assert!(s.orders.as_ref().unwrap().records.is_empty());
        s.apply(with_records(6, &["Spain"]));
        assert_eq!(countries(&s), ["China", "Japan", "Spain"]);
    }

    fn values(s: &DashState) -> Vec<f64> {
        s.series_shown()
            .unwrap()
            .1
            .iter()
            .map(|p| p.value)
            .collect()
    }

    #[test]
    fn series_come_from_the_snapshot_and_frames_and_stay_bounded() {
        let mut s = DashState::default();
        assert!(s.series_shown().is_none());
        s.apply(frame(snapshot(3, 3)));
        assert_eq!(*s.series_names, ["cpu.usage{host=a}", "mem.used{host=a}"]);
        // Nothing picked: the first by name, its newest 120 points.
        let (name, pts) = s.series_shown().unwrap();
        assert_eq!(name, "cpu.usage{host=a}");
        assert_eq!(pts.len(), SERIES_POINTS);
        assert_eq!(pts[0], pt(30, 30.0));
        s.apply(Action::SelectSeries("mem.used{host=a}".into()));
        assert_eq!(values(&s), [40.0]);
        s.apply(series_frame(
            3,
            "mem.used{host=a}",
            vec![pt(2, 41.5), pt(3, 42.0)],
        ));
        assert_eq!(values(&s), [40.0, 41.5, 42.0]);
        assert_eq!(s.seq.series, 3);
        // A new series joins the sorted names; the pick stays.
        s.apply(series_frame(4, "app.latency", vec![pt(5, 7.0)]));
        assert_eq!(s.series_names.len(), 3);
        assert_eq!(s.series_names[0], "app.latency");
        assert_eq!(s.series_shown().unwrap().0, "mem.used{host=a}");
        // A snapshot replaces the points but keeps the pick.
        s.apply(frame(snapshot(4, 4)));
        assert_eq!(values(&s), [40.0]);
        assert_eq!(s.series_names.len(), 2);
        // A pick the server no longer has falls back to the first.
        s.apply(Action::SelectSeries("gone".into()));
        assert_eq!(s.series_shown().unwrap().0, "cpu.usage{host=a}");
    }

    #[test]
    fn series_names_are_shared_until_a_name_appears() {
        let mut s = DashState::default();
        s.apply(frame(snapshot(3, 3)));
        let names = s.series_names.clone();
        s.apply(series_frame(3, "cpu.usage{host=a}", vec![pt(200, 1.0)]));
        assert!(
            Rc::ptr_eq(&names, &s.series_names),
            "no new name: same list"
        );
        let before = s.clone();
        s.apply(series_frame(4, "cpu.usage{host=a}", vec![pt(201, 2.0)]));
        assert_eq!(before.series_shown().unwrap().1.last(), Some(&pt(200, 1.0)));
        assert_eq!(s.series_shown().unwrap().1.last(), Some(&pt(201, 2.0)));
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
    fn stream_status_comes_from_snapshots_and_streams_frames() {
        use livedash_shared::{StreamState, StreamStatus};
        let mut s = DashState::default();
        let mut snap = snapshot(3, 3);
        if let ServerMessage::Snapshot(body) = &mut snap {
            body.streams.system.state = StreamState::Stopped;
        }
        s.apply(frame(snap));
        assert_eq!(s.streams.system.state, StreamState::Stopped);
        assert_eq!(s.streams.orders.state, StreamState::Running);
        let failed = Streams {
            orders: StreamStatus {
                state: StreamState::Failed,
                error: Some("panicked: boom".into()),
                restarts: 0,
            },
            ..Streams::default()
        };
        s.apply(frame(ServerMessage::Streams(failed.clone())));
        assert_eq!(s.streams, failed);
    }

    #[test]
    fn source_offline_badge_follows_the_source_status() {
        use livedash_shared::SourceStatus;
        let mut s = DashState::default();
        assert_eq!(s.source_badge(), None, "a healthy generator shows nothing");
        let down = SourceStatus {
            kind: "postgres".into(),
            ok: false,
            error: Some("error connecting to server".into()),
        };
        let mut snap = snapshot(3, 3);
        if let ServerMessage::Snapshot(body) = &mut snap {
            *body.streams.source = down.clone();
        }
        s.apply(frame(snap));
        let b = s.source_badge().expect("shown while the source is down");
        assert_eq!(b.text, "postgres source offline");
        assert_eq!(b.title, "error connecting to server");
        let up = Streams {
            source: Box::new(SourceStatus {
                kind: "postgres".into(),
                ok: true,
                error: None,
            }),
            ..Streams::default()
        };
        s.apply(frame(ServerMessage::Streams(up)));
        assert_eq!(s.source_badge(), None, "cleared once it reconnects");
        s.apply(frame(ServerMessage::Streams(Streams {
            source: Box::new(down),
            ..Streams::default()
        })));
        assert!(s.source_badge().is_some(), "a streams frame sets it again");
    }

    #[test]
    fn snapshot_fills_everything_at_once() {
        let mut s = DashState::default();
        s.apply(frame(snapshot(80, 70)));
        assert_eq!(s.snapshots, 1);
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

    fn hello(epoch: Option<&str>) -> ServerMessage {
        ServerMessage::Hello(livedash_shared::Hello {
            protocol: livedash_shared::PROTOCOL_VERSION,
            server_version: "0".into(),
            client_id: 1,
            tick_ms: 1000,
            system_ms: 1000,
            lookback_ms: 1000,
            epoch: epoch.map(str::to_string),
        })
    }

    #[test]
    fn seq_tracker_resumes_within_an_epoch_only() {
        let mut t = SeqTracker::default();
        let o = |i| ServerMessage::Orders(orders(i, 1));
        t.check(&hello(Some("a")));
        assert_eq!(t.resume_point(), None, "nothing applied yet");
        let mut snap = snapshot(3, 3);
        if let ServerMessage::Snapshot(s) = &mut snap {
            s.epoch = Some("a".into());
        }
        t.check(&snap);
        assert_eq!(t.check(&o(4)), SeqVerdict::Apply);
        let (seqs, epoch) = t.resume_point().unwrap();
        assert_eq!((seqs.orders, epoch), (4, "a"));
        // Reconnected to the same stream: frames continue, no snapshot.
        t.check(&hello(Some("a")));
        assert_eq!(t.check(&o(5)), SeqVerdict::Apply);
        assert_eq!(t.check(&o(5)), SeqVerdict::Duplicate);
        // Another epoch: the old seqs are dropped until its snapshot.
        t.check(&hello(Some("b")));
        assert_eq!(t.resume_point(), None);
        assert_eq!(t.check(&o(6)), SeqVerdict::Duplicate);
        // A server without epochs never resumes.
        t.check(&snap);
        t.check(&hello(None));
        assert_eq!(t.resume_point(), None);
    }

    /// An orders frame whose server delta is against the previous tick.
    fn tick(seq: u64, n: u64, sales: f64) -> ServerMessage {
        let mut o = orders(seq, n);
        o.total_sales = sales;
        // The server's delta: against tick seq - 1, which the tab may not
        // have displayed.
        o.delta = KpiDelta {
            num_orders: 1,
            num_order_items: 2,
            total_sales: 5.0,
        };
        ServerMessage::Orders(o)
    }

    fn snapshot_with(seq: u64, n: u64, sales: f64) -> ServerMessage {
        let ServerMessage::Snapshot(mut s) = snapshot(seq, 1) else {
            unreachable!()
        };
        let ServerMessage::Orders(o) = tick(seq, n, sales) else {
            unreachable!()
        };
        s.orders = Some(o);
        ServerMessage::Snapshot(s)
    }

    #[test]
    fn deltas_compare_with_what_this_tab_displayed_after_a_pause() {
        let mut s = DashState::default();
        s.apply(frame(snapshot_with(3, 10, 100.0)));
        // First display: nothing shown before, the server's delta it is.
        assert_eq!(s.delta.num_orders, 1);
        s.apply(frame(tick(4, 12, 130.5)));
        assert_eq!(s.delta.num_orders, 2);
        assert_eq!(s.delta.num_order_items, 4);
        assert_eq!(s.delta.total_sales, 30.5);
        // Pause: ticks 5..=9 are never displayed (in-flight ones dropped).
        s.apply(Action::Paused(true));
        s.apply(frame(tick(5, 13, 140.0)));
        assert_eq!(s.orders.as_ref().unwrap().num_orders, 12, "frozen");
        assert_eq!(s.seq.orders, 4, "frozen");
        s.apply(frame(snapshot_with(9, 15, 150.0)));
        assert_eq!(s.seq.orders, 4, "a snapshot while paused is not shown");
        // Resume: the snapshot at tick 10 is compared with tick 4's values.
        s.apply(Action::Paused(false));
        s.apply(frame(snapshot_with(10, 20, 99.25)));
        assert_eq!(s.delta.num_orders, 20 - 12);
        assert_eq!(s.delta.num_order_items, 40 - 24);
        assert_eq!(s.delta.total_sales, -31.25);
        assert_eq!(s.seq.orders, 10);
    }

    #[test]
    fn deltas_after_a_resync_skip_the_missed_ticks() {
        let mut s = DashState::default();
        s.apply(frame(snapshot_with(3, 10, 100.0)));
        s.apply(frame(tick(4, 11, 110.0)));
        // Ticks 5..=7 lost (a gap): the resync snapshot is at 8.
        s.apply(frame(snapshot_with(8, 17, 110.0)));
        assert_eq!(s.delta.num_orders, 6);
        assert_eq!(s.delta.num_order_items, 12);
        assert_eq!(s.delta.total_sales, 0.0);
        s.apply(frame(tick(9, 16, 105.0)));
        assert_eq!(s.delta.num_orders, -1);
        assert_eq!(s.delta.total_sales, -5.0);
    }

    #[test]
    fn incompatible_undecodable_and_control_are_kept_across_snapshots() {
        let mut s = DashState::default();
        s.apply(Action::Undecodable);
        s.apply(Action::Enabled(false));
        s.apply(Action::NeedToken(true));
        s.apply(frame(snapshot(2, 2)));
        assert_eq!(s.undecodable, 1);
        assert!(!s.enabled);
        assert!(s.need_token);
        s.apply(Action::Incompatible(Incompat {
            server: Some(99),
            page: 1,
        }));
        assert_eq!(s.conn, ConnStatus::Incompatible);
        assert_eq!(s.conn.key(), "incompatible");
        assert!(s.conn.label().to_lowercase().contains("incompatible"));
        assert!(s.incompatible.is_some());
        s.apply(Action::Conn(ConnStatus::Connecting));
        assert!(s.incompatible.is_none(), "a new try clears the message");
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
