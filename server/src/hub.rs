//! The hub: where finished frames are published. It assigns each topic
//! frame its `seq`, serializes it once, records what snapshots are built
//! from, keeps the most recent frames for catch-up, and puts the shared
//! bytes into one bounded broadcast ring that every connection reads at its
//! own pace.
//!
//! Producers hand the hub finished values (the aggregation happens before,
//! in the producer's task). Publishing a frame takes two short locks: the
//! topic's own lock while its frame is serialized (so publishers of other
//! topics never wait for that), then the shared state lock for a few
//! pointer pushes. Snapshots copy reference-counted parts under the shared
//! lock and serialize outside it ([`crate::snapshot`]).

use crate::config::Config;
use crate::limits::Limits;
use crate::metrics::{Fanout, Metrics};
use crate::presence::Presence;
use crate::series::{Pending, Recent};
use crate::snapshot::SnapshotCache;
use crate::sources::Inbox;
use crate::streams::StreamSwitches;
use livedash_shared::{
    Clients, Event, KpiPoint, Level, Orders, Seqs, Series, SeriesPoint, ServerMessage, Snapshot,
    Streams, System, Topic,
};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// Activity-feed entries kept for snapshots (the page shows 20).
pub const EVENTS_KEPT: usize = 20;

/// One published frame: serialized once, shared by every client.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Its topic, for per-client subscription filters; `None` for control
    /// frames that every live connection gets (`streams`).
    pub topic: Option<Topic>,
    /// Its topic `seq`, to skip what a snapshot already covered (0 for
    /// control frames).
    pub seq: u64,
    /// The JSON text; cloning is a refcount increment.
    pub text: Utf8Bytes,
    /// For `orders` frames with records: the same frame with `records`
    /// empty, for clients that asked for `?records=0` (pages draw the
    /// aggregates only). Also serialized once per publish.
    pub lite: Option<Utf8Bytes>,
    /// For topic frames: counts the connections still writing it, for
    /// `livedash_fanout_seconds` (shared by every clone of the frame).
    pub fanout: Option<Arc<Fanout>>,
    /// For topic frames: the permessage-deflate bytes, made by the first
    /// connection that negotiated it and written by all that did.
    pub deflated: Option<Arc<crate::deflate::Deflated>>,
    /// The stream's epoch changed (Redis lost its data): seqs start over,
    /// so every connection takes a fresh snapshot. A control frame.
    pub reset: bool,
}

/// What snapshots are made of. Items are shared (`Arc`) or small `Copy`
/// values, so copying the parts out under the lock is cheap.
#[derive(Default, Clone)]
pub struct History {
    /// The newest `orders` body, without records (a new tab needs the
    /// aggregate, not one tick's raw rows).
    pub latest_orders: Option<Arc<Orders>>,
    /// KPI points, oldest first, at most `--history`.
    pub kpis: VecDeque<KpiPoint>,
    /// System samples, oldest first, at most `--history`.
    pub system: VecDeque<Arc<System>>,
    /// Last feed entries, oldest first.
    pub events: VecDeque<Arc<Event>>,
    /// Client count as last published in a `clients` frame.
    pub clients: u64,
    /// Each stream's status as last published in a `streams` frame.
    pub streams: Streams,
    /// The published points of every named series (newest
    /// `--series-points` of each).
    pub series: Recent,
}

/// Everything guarded by the shared lock. Never held across an `.await`,
/// never held while serializing.
#[derive(Default)]
struct Published {
    /// Last published seq of each topic.
    seq: Seqs,
    /// What snapshots are built from.
    history: History,
    /// The newest frames of every topic, oldest first, for catch-up after
    /// a cached snapshot and resume by seq (`--resume-frames` of them).
    recent: VecDeque<Frame>,
    /// The epoch the seqs belong to: a fresh one per process (seqs start
    /// at 1 again after a restart, so old seqs mean nothing here).
    epoch: Arc<str>,
}

/// A copy of the snapshot parts at one instant, taken under the lock.
pub struct SnapshotParts {
    /// Each topic's seq at that instant.
    pub seq: Seqs,
    /// The history at that instant (`cap` newest points).
    pub history: History,
    /// The points of history asked for (`None` = all kept).
    pub cap: Option<usize>,
    /// The epoch of `seq`.
    pub epoch: Arc<str>,
}

/// The hub, shared by producers, connections and routes.
pub struct Hub {
    /// Server configuration.
    pub config: Config,
    /// Counters for /metrics.
    pub metrics: Metrics,
    /// When the server started, for /healthz and /metrics.
    pub started: Instant,
    /// Viewers connected now and the coalesced `clients` frames' inputs.
    pub presence: Presence,
    /// Each stream's admin switch and producer health.
    pub streams: StreamSwitches,
    /// Serialized snapshots, built outside the publish path.
    pub snapshots: SnapshotCache,
    /// Connection slots (`--max-connections`, `--max-per-ip`).
    pub limits: Arc<Limits>,
    /// Where pushed records (`POST /api/ingest/orders`) wait for the next
    /// orders tick; `None` without `--ingest-token`.
    pub inbox: Option<Arc<Inbox>>,
    /// What the tutorials' own clients get (`/compat/...`): the orders
    /// and system tasks hand their data here.
    pub compat: crate::compat::Feed,
    /// Named series written through `POST /api/v2/write`: known names and
    /// the points waiting for the next `series` flush.
    pub series: Mutex<Pending>,
    /// Whether the `series` flusher task runs (started by the first write).
    pub series_flusher: std::sync::atomic::AtomicBool,
    /// Where the PostgreSQL tailer's rows wait for the orders task; `None`
    /// unless the source is `postgres`.
    pub pg: Option<Arc<crate::sources::postgres::Feed>>,
    /// Every series over time (`/api/history`) and the alert rules: the
    /// hub offers it each published value without waiting.
    pub history: crate::history::History,
    /// The active filter sets (`?var-...`), each with its own aggregator
    /// and ring, fed by the orders task.
    pub filters: Arc<crate::filters::registry::FilterSets>,
    /// Where `seq`s come from: this process, or Redis (`--redis`).
    pub broker: crate::broker::Broker,
    /// The broadcast ring.
    tx: broadcast::Sender<Frame>,
    /// One lock per topic, held while a frame of that topic is built and
    /// serialized: frames of one topic enter the ring in `seq` order, and
    /// publishers of different topics never wait for each other.
    topic_locks: [Mutex<()>; Topic::ALL.len()],
    /// Seqs, history, recent frames: the shared state.
    state: Mutex<Published>,
}

/// A new epoch: unique per process start (time in nanoseconds and a
/// random part), short enough for a URL.
pub fn new_epoch() -> Arc<str> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    Arc::from(format!("{nanos:x}-{:x}", rand::random::<u32>()))
}

/// A topic frame's text, and for `orders` with records the records-free
/// copy (`?records=0`).
fn serialize(mut msg: ServerMessage) -> (Utf8Bytes, Option<Utf8Bytes>) {
    let text = Utf8Bytes::from(msg.to_json());
    let lite = match &mut msg {
        ServerMessage::Orders(o) if !o.records.is_empty() => {
            o.records = Vec::new();
            Some(Utf8Bytes::from(msg.to_json()))
        }
        _ => None,
    };
    (text, lite)
}

/// A frame read back from a Redis stream for one client's resume (not
/// filed anywhere): the entry's JSON with its seq put in.
pub fn frame_from_entry(topic: Topic, seq: u64, json: &str) -> Option<Frame> {
    let mut msg: ServerMessage = serde_json::from_str(json).ok()?;
    match &mut msg {
        ServerMessage::Orders(o) => o.seq = seq,
        ServerMessage::System(s) => s.seq = seq,
        ServerMessage::Event(e) => e.seq = seq,
        ServerMessage::Series(s) => s.seq = seq,
        ServerMessage::Clients(c) => c.seq = seq,
        ServerMessage::Alert(a) => a.seq = seq,
        _ => return None,
    }
    let (text, lite) = serialize(msg);
    Some(Frame {
        topic: Some(topic),
        seq,
        text,
        lite,
        fanout: None,
        deflated: Some(Arc::default()),
        reset: false,
    })
}

/// Memory in use, percent of the total (0 when the total is unknown).
fn mem_percent(s: &System) -> f64 {
    match s.mem_total_bytes {
        0 => 0.0,
        total => s.mem_used_bytes as f64 * 100.0 / total as f64,
    }
}

/// Lock, ignoring poisoning.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock cannot leave the state half-updated in a
    // way that matters more than stopping the stream would.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hub {
    /// A hub with empty history.
    pub fn new(config: Config) -> Arc<Self> {
        // A client more than `--ring-capacity` frames behind is not buffered
        // for: it gets a fresh snapshot instead.
        let (tx, _) = broadcast::channel(config.ring_capacity as usize);
        let limits = Limits::new(
            config.max_connections,
            config.max_per_ip,
            config.limit_loopback,
        );
        let inbox = config
            .ingest_token
            .as_ref()
            .map(|_| Inbox::new(config.ingest_queue));
        let compat = crate::compat::Feed::new(
            config.lookback.as_millis() as u64,
            config.compat_max_records as usize,
        );
        let series = Mutex::new(Pending::new(
            config.max_series as usize,
            crate::sources::influx::MAX_WAITING_POINTS,
        ));
        let pg = (config.source == crate::config::SourceKind::Postgres)
            .then(crate::sources::postgres::Feed::new);
        let streams = StreamSwitches::default();
        streams.set_source(livedash_shared::SourceStatus {
            kind: config.source.name().into(),
            ok: pg.is_none(),
            error: pg.as_ref().map(|_| "connecting".to_string()),
        });
        let history = crate::history::History::new(&config);
        let filters = crate::filters::registry::FilterSets::new(
            config.max_filter_sets as usize,
            config.history as usize,
            config.lookback.as_millis() as u64,
        );
        let broker = crate::broker::Broker::new(&config);
        Arc::new(Hub {
            filters,
            broker,
            history,
            compat,
            limits,
            inbox,
            series,
            series_flusher: Default::default(),
            pg,
            config,
            metrics: Metrics::default(),
            started: Instant::now(),
            presence: Presence::default(),
            streams,
            snapshots: SnapshotCache::default(),
            tx,
            topic_locks: Default::default(),
            state: Mutex::new(Published {
                epoch: new_epoch(),
                ..Published::default()
            }),
        })
    }

    /// A receiver of every frame published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.tx.subscribe()
    }

    /// Frames waiting in the ring for the slowest receiver.
    pub fn queue_depth(&self) -> usize {
        self.tx.len()
    }

    /// Each topic's last published seq.
    pub fn seqs(&self) -> Seqs {
        lock(&self.state).seq
    }

    /// The epoch the seqs belong to (`hello`, snapshots).
    pub fn epoch(&self) -> Arc<str> {
        lock(&self.state).epoch.clone()
    }

    /// The seqs now, if `epoch` is the stream's (one lock: consistent).
    pub fn seqs_in(&self, epoch: &str) -> Option<Seqs> {
        let st = lock(&self.state);
        (*st.epoch == *epoch).then_some(st.seq)
    }

    /// The `streams` control frame for the status now (sent first when a
    /// connection resumes without a snapshot).
    pub fn streams_frame(&self) -> Utf8Bytes {
        let now = lock(&self.state).history.streams.clone();
        Utf8Bytes::from(ServerMessage::Streams(now).to_json())
    }

    /// Publish one topic frame. `make` builds the message for the assigned
    /// seq and serializes nothing; `record` files it into the history.
    /// Serialization happens under the topic's lock only. `given`: the seq
    /// Redis assigned (a frame read from the stream); `None` for a frame
    /// produced here, which with `--redis` goes to Redis instead (and comes
    /// back through the tail). Whether it was filed here.
    fn publish<T>(
        &self,
        topic: Topic,
        given: Option<u64>,
        make: impl FnOnce(u64) -> (ServerMessage, T),
        record: impl FnOnce(&mut History, u64, T),
    ) -> bool {
        if given.is_none() {
            if let crate::broker::Broker::Redis(r) = &self.broker {
                r.offer(topic, || make(0).0.to_json(), &self.metrics);
                return false;
            }
        }
        let _topic = lock(&self.topic_locks[topic.index()]);
        let seq = given.unwrap_or_else(|| lock(&self.state).seq.get(topic) + 1);
        let (msg, extra) = make(seq);
        let (text, lite) = serialize(msg);
        let fanout = Arc::new(Fanout::new());
        let frame = Frame {
            topic: Some(topic),
            seq,
            text,
            lite,
            fanout: Some(fanout.clone()),
            deflated: Some(Arc::default()),
            reset: false,
        };
        let mut st = lock(&self.state);
        *st.seq.get_mut(topic) = seq;
        record(&mut st.history, seq, extra);
        if st.recent.len() >= self.config.resume_frames as usize {
            st.recent.pop_front();
        }
        st.recent.push_back(frame.clone());
        // Sent under the state lock so the ring, the seqs and the recent
        // frames always agree (a connection subscribes, then catches up).
        // No receivers is fine: nobody is connected.
        let receivers = self.tx.send(frame).unwrap_or(0);
        drop(st);
        fanout.sent(receivers, &self.metrics.fanout);
        true
    }

    /// Publish an `orders` frame (its seq is replaced by the hub's). The
    /// aggregate was computed by the producer, outside the hub.
    pub fn publish_orders(&self, orders: Orders) {
        self.orders_at(orders, None)
    }

    fn orders_at(&self, mut orders: Orders, given: Option<u64>) {
        let history = self.config.history as usize;
        let mut filed = None;
        let here = self.publish(
            Topic::Orders,
            given,
            |seq| {
                orders.seq = seq;
                // Copy everything but the records (which may be many).
                let records = std::mem::take(&mut orders.records);
                let latest = Arc::new(orders.clone());
                orders.records = records;
                filed = Some(latest.clone());
                (ServerMessage::Orders(orders), latest)
            },
            |h, seq, latest| {
                h.kpis.push_back(KpiPoint {
                    seq,
                    ts: latest.ts,
                    num_orders: latest.num_orders,
                    num_order_items: latest.num_order_items,
                    total_sales: latest.total_sales,
                });
                while h.kpis.len() > history {
                    h.kpis.pop_front();
                }
                h.latest_orders = Some(latest);
            },
        );
        if let Some(o) = filed.filter(|_| here) {
            self.history.offer(crate::history::Sample::Orders(o));
        }
        Metrics::add(&self.metrics.orders_ticks, 1);
    }

    /// Publish a `system` frame (its seq is replaced by the hub's).
    pub fn publish_system(&self, sample: System) {
        if let crate::broker::Broker::Redis(r) = &self.broker {
            // The `system` topic is the lease holder's host; every replica
            // publishes its own host as series (`system.cpu_percent{host=H}`).
            for (field, value) in [
                ("cpu_percent", f64::from(sample.cpu_percent)),
                ("mem_used_percent", mem_percent(&sample)),
            ] {
                let name = format!("system.{field}{{host={}}}", r.host());
                let point = SeriesPoint {
                    ts: sample.ts,
                    value,
                };
                self.publish_series(Arc::from(name), vec![point]);
            }
        }
        self.system_at(sample, None)
    }

    fn system_at(&self, mut sample: System, given: Option<u64>) {
        let history = self.config.history as usize;
        let mut filed = None;
        let here = self.publish(
            Topic::System,
            given,
            |seq| {
                sample.seq = seq;
                let shared = Arc::new(sample.clone());
                filed = Some(shared.clone());
                (ServerMessage::System(sample), shared)
            },
            |h, _, shared| {
                h.system.push_back(shared);
                while h.system.len() > history {
                    h.system.pop_front();
                }
            },
        );
        if let Some(s) = filed.filter(|_| here) {
            self.history.offer(crate::history::Sample::System(s));
        }
        Metrics::add(&self.metrics.system_samples, 1);
    }

    /// Publish an `event` frame for the activity feed.
    pub fn publish_event(&self, level: Level, text: String) {
        self.event_at(level, text, livedash_shared::now_ms(), None)
    }

    fn event_at(&self, level: Level, text: String, ts: u64, given: Option<u64>) {
        self.publish(
            Topic::Events,
            given,
            |seq| {
                let e = Event {
                    seq,
                    ts,
                    level,
                    text,
                };
                let shared = Arc::new(e.clone());
                (ServerMessage::Event(e), shared)
            },
            |h, _, e| {
                h.events.push_back(e);
                while h.events.len() > EVENTS_KEPT {
                    h.events.pop_front();
                }
            },
        );
        Metrics::add(&self.metrics.events, 1);
    }

    /// Publish a `series` frame: the points of one named series written
    /// since its previous frame.
    pub fn publish_series(&self, name: Arc<str>, points: Vec<SeriesPoint>) {
        self.series_at(name, points, livedash_shared::now_ms(), None)
    }

    fn series_at(&self, name: Arc<str>, points: Vec<SeriesPoint>, ts: u64, given: Option<u64>) {
        let keep = self.config.series_points as usize;
        let mut offered = None;
        self.publish(
            Topic::Series,
            given,
            |seq| {
                let msg = Series {
                    seq,
                    ts,
                    name: name.to_string(),
                    points,
                };
                let filed = (name, msg.points.clone());
                (ServerMessage::Series(msg), filed)
            },
            |h, _, (name, points)| {
                h.series.record(&name, &points, keep);
                offered = Some((name, points));
            },
        );
        if let Some((name, points)) = offered {
            self.history
                .offer(crate::history::Sample::Series(name, points));
        }
    }

    /// Publish an `alert` frame (its seq is replaced by the hub's); returns
    /// it as sent (with `--redis`, seq 0: Redis assigns it later).
    pub fn publish_alert(&self, alert: livedash_shared::Alert) -> livedash_shared::Alert {
        self.alert_at(alert, None)
    }

    fn alert_at(
        &self,
        mut alert: livedash_shared::Alert,
        given: Option<u64>,
    ) -> livedash_shared::Alert {
        let mut sent = None;
        self.publish(
            Topic::Alerts,
            given,
            |seq| {
                alert.seq = seq;
                sent = Some(alert.clone());
                (ServerMessage::Alert(alert), ())
            },
            |_, _, ()| {},
        );
        sent.expect("publish calls make")
    }

    /// Publish a `clients` frame if the count differs from the last one
    /// published. Returns whether it published.
    pub fn publish_clients_if_changed(&self) -> bool {
        // With --redis: the viewers of every replica together.
        let count = match &self.broker {
            crate::broker::Broker::Redis(r) => r.viewers().unwrap_or_else(|| self.presence.count()),
            crate::broker::Broker::InProcess => self.presence.count(),
        };
        {
            let st = lock(&self.state);
            if st.history.clients == count && st.seq.clients > 0 {
                return false;
            }
        }
        self.clients_at(count, livedash_shared::now_ms(), None);
        true
    }

    fn clients_at(&self, count: u64, ts: u64, given: Option<u64>) {
        self.publish(
            Topic::Clients,
            given,
            |seq| {
                let c = Clients { seq, ts, count };
                (ServerMessage::Clients(c), ())
            },
            |h, _, ()| h.clients = count,
        );
    }

    /// File a frame read from the Redis stream of `topic` with the `seq`
    /// Redis gave it: decoded, then published here exactly as a local
    /// frame is (serialized once, history, recent, ring). Frames of one
    /// topic arrive in seq order from one tailer task.
    pub fn apply_remote(&self, topic: Topic, seq: u64, json: &str) -> Result<(), String> {
        let msg: ServerMessage = serde_json::from_str(json).map_err(|e| e.to_string())?;
        if msg.topic_seq().map(|(t, _)| t) != Some(topic) {
            return Err(format!("not a {} frame", topic.as_str()));
        }
        match msg {
            ServerMessage::Orders(o) => {
                if let crate::broker::Broker::Redis(r) = &self.broker {
                    r.follow(&o);
                }
                self.orders_at(o, Some(seq))
            }
            ServerMessage::System(s) => self.system_at(s, Some(seq)),
            ServerMessage::Event(e) => self.event_at(e.level, e.text, e.ts, Some(seq)),
            ServerMessage::Series(s) => self.series_at(s.name.into(), s.points, s.ts, Some(seq)),
            ServerMessage::Clients(c) => self.clients_at(c.count, c.ts, Some(seq)),
            ServerMessage::Alert(a) => {
                self.alert_at(a, Some(seq));
            }
            _ => unreachable!("topic frames only"),
        }
        Ok(())
    }

    /// Adopt the stream's epoch and its seqs as they are now (`seqs`): the
    /// first read from Redis, or Redis came back with another epoch (it
    /// lost its data). On a change the recent frames are forgotten and
    /// every connection is told to take a snapshot.
    pub fn adopt_epoch(&self, epoch: &str, seqs: Seqs) {
        let mut st = lock(&self.state);
        if *st.epoch == *epoch {
            return;
        }
        st.epoch = Arc::from(epoch);
        st.seq = seqs;
        st.recent.clear();
        let text = Utf8Bytes::from(ServerMessage::Streams(st.history.streams.clone()).to_json());
        let _ = self.tx.send(Frame {
            topic: None,
            seq: 0,
            text,
            lite: None,
            fanout: None,
            deflated: None,
            reset: true,
        });
    }

    /// Publish the streams' status if it changed: a control frame every
    /// live connection gets, and the snapshot's `streams`.
    pub fn publish_streams(&self) {
        let now = self.streams.status();
        let mut st = lock(&self.state);
        if st.history.streams == now {
            return;
        }
        st.history.streams = now.clone();
        let text = Utf8Bytes::from(ServerMessage::Streams(now).to_json());
        let _ = self.tx.send(Frame {
            topic: None,
            seq: 0,
            text,
            lite: None,
            fanout: None,
            deflated: None,
            reset: false,
        });
    }

    /// The snapshot parts as of now: the `cap` newest points of history
    /// (`None` = all kept). Only reference counts and small copies happen
    /// under the lock.
    pub fn snapshot_parts(&self, cap: Option<usize>) -> SnapshotParts {
        let st = lock(&self.state);
        let skip = |len: usize| cap.map_or(0, |c| len.saturating_sub(c));
        let h = &st.history;
        SnapshotParts {
            seq: st.seq,
            history: History {
                latest_orders: h.latest_orders.clone(),
                kpis: h.kpis.iter().skip(skip(h.kpis.len())).copied().collect(),
                system: h
                    .system
                    .iter()
                    .skip(skip(h.system.len()))
                    .cloned()
                    .collect(),
                events: h.events.clone(),
                clients: h.clients,
                streams: h.streams.clone(),
                // Pointers only; trimmed to `cap` when the body is built.
                series: h.series.clone(),
            },
            cap,
            epoch: st.epoch.clone(),
        }
    }

    /// The frames published after `since` (per topic), oldest first, or
    /// `None` when some of them already left the recent buffer (or `since`
    /// is ahead of this server: another epoch's seqs). Walks back from the
    /// newest frame only as far as the oldest frame needed, so a catch-up
    /// after a cached snapshot costs what it returns, not the buffer size.
    pub fn frames_since(&self, since: &Seqs) -> Option<Vec<Frame>> {
        Self::frames_in(&lock(&self.state), since)
    }

    /// [`Hub::frames_since`] for a client's `since` from `epoch`: `None`
    /// as well when the epoch is not this stream's (checked under the
    /// same lock, so an epoch change cannot slip in between).
    pub fn frames_resume(&self, since: &Seqs, epoch: &str) -> Option<Vec<Frame>> {
        let st = lock(&self.state);
        if *st.epoch != *epoch {
            return None;
        }
        Self::frames_in(&st, since)
    }

    fn frames_in(st: &Published, since: &Seqs) -> Option<Vec<Frame>> {
        // Topics with frames the caller lacks; each is settled when the
        // walk reaches its frame `since + 1`.
        let mut open = 0usize;
        let mut pending = [false; Topic::ALL.len()];
        for t in Topic::ALL {
            let (have, last) = (since.get(t), st.seq.get(t));
            if have > last {
                return None;
            }
            if have < last {
                pending[t.index()] = true;
                open += 1;
            }
        }
        let mut out = Vec::new();
        for f in st.recent.iter().rev() {
            if open == 0 {
                break;
            }
            let Some(t) = f.topic else { continue };
            let have = since.get(t);
            if f.seq > have {
                out.push(f.clone());
                if f.seq == have + 1 && pending[t.index()] {
                    pending[t.index()] = false;
                    open -= 1;
                }
            }
        }
        if open > 0 {
            return None;
        }
        out.reverse();
        Some(out)
    }

    /// Resume after the frame `(topic, seq)` (a Server-Sent Events
    /// `Last-Event-ID`): each topic's seq now and the frames published
    /// after that one, oldest first; `None` when it is no longer (or never
    /// was) in the recent buffer.
    pub fn frames_after(&self, topic: Topic, seq: u64) -> Option<(Seqs, Vec<Frame>)> {
        let st = lock(&self.state);
        let at = st
            .recent
            .iter()
            .position(|f| f.topic == Some(topic) && f.seq == seq)?;
        Some((st.seq, st.recent.iter().skip(at + 1).cloned().collect()))
    }

    /// The newest frame a snapshot taken at `seqs` covers, as
    /// `(topic, seq)`: the position to resume from after that snapshot.
    /// `None` when it has left the recent buffer (or nothing was published).
    pub fn position_of(&self, seqs: &Seqs) -> Option<(Topic, u64)> {
        let st = lock(&self.state);
        // Seqs are a consistent cut of the publication order (taken under
        // this lock), so the frames they cover are a prefix of `recent`.
        st.recent
            .iter()
            .rev()
            .filter_map(|f| Some((f.topic?, f.seq)))
            .find(|&(t, s)| s <= seqs.get(t))
    }

    /// A snapshot body from parts (used by the cache; pure).
    pub fn snapshot_body(parts: SnapshotParts) -> Snapshot {
        let h = parts.history;
        Snapshot {
            ts: livedash_shared::now_ms(),
            seq: parts.seq,
            orders: h.latest_orders.map(|o| (*o).clone()),
            kpi_history: h.kpis.into(),
            system_history: h.system.iter().map(|s| (**s).clone()).collect(),
            clients: h.clients,
            events: h.events.iter().map(|e| (**e).clone()).collect(),
            streams: h.streams,
            series: h.series.snapshot(parts.cap),
            epoch: Some(parts.epoch.to_string()),
        }
    }
}

impl crate::accept::AsMetrics for Hub {
    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orders() -> Orders {
        let mut a = crate::aggregate::Aggregator::new(1000);
        a.tick(0, 5, vec![])
    }

    fn hub(args: &[&str]) -> Arc<Hub> {
        let mut argv = vec!["livedash"];
        argv.extend_from_slice(args);
        Hub::new(<Config as clap::Parser>::parse_from(argv))
    }

    #[test]
    fn seq_grows_by_one_per_topic_and_history_is_bounded() {
        let hub = hub(&["--history", "3"]);
        let mut rx = hub.subscribe();
        for _ in 0..5 {
            hub.publish_orders(orders());
        }
        hub.publish_event(Level::Info, "hi".into());
        let seqs: Vec<(Option<Topic>, u64)> = (0..6)
            .map(|_| {
                let f = rx.try_recv().unwrap();
                (f.topic, f.seq)
            })
            .collect();
        assert_eq!(seqs[0], (Some(Topic::Orders), 1));
        assert_eq!(seqs[4], (Some(Topic::Orders), 5));
        assert_eq!(seqs[5], (Some(Topic::Events), 1));
        let parts = hub.snapshot_parts(None);
        assert_eq!(parts.history.kpis.len(), 3);
        assert_eq!(parts.history.kpis[2].seq, 5);
        assert_eq!(parts.history.latest_orders.as_ref().unwrap().seq, 5);
        assert_eq!(parts.seq.orders, 5);
        assert_eq!(hub.snapshot_parts(Some(1)).history.kpis.len(), 1);
    }

    #[test]
    fn frames_since_catches_up_or_says_it_cannot() {
        let hub = hub(&[]);
        for _ in 0..3 {
            hub.publish_orders(orders());
        }
        hub.publish_event(Level::Info, "a".into());
        let since = Seqs {
            orders: 1,
            ..Seqs::default()
        };
        let got: Vec<(Option<Topic>, u64)> = hub
            .frames_since(&since)
            .unwrap()
            .iter()
            .map(|f| (f.topic, f.seq))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some(Topic::Orders), 2),
                (Some(Topic::Orders), 3),
                (Some(Topic::Events), 1)
            ]
        );
        for _ in 0..hub.config.resume_frames {
            hub.publish_orders(orders());
        }
        assert!(hub.frames_since(&since).is_none(), "seq 2 was trimmed");
        assert!(hub.frames_since(&hub.seqs()).unwrap().is_empty());
        let ahead = Seqs {
            orders: hub.seqs().orders + 1,
            ..hub.seqs()
        };
        assert!(hub.frames_since(&ahead).is_none(), "another epoch's seqs");
    }

    #[test]
    fn clients_frames_only_when_the_count_changed() {
        let hub = hub(&[]);
        hub.presence.join();
        assert!(hub.publish_clients_if_changed());
        assert!(!hub.publish_clients_if_changed());
        hub.presence.join();
        hub.presence.leave();
        assert!(!hub.publish_clients_if_changed(), "1 → 2 → 1 is no change");
        hub.presence.leave();
        assert!(hub.publish_clients_if_changed());
        assert_eq!(hub.presence.take_join_leave(), (2, 2));
    }

    #[test]
    fn series_frames_have_their_own_seq_and_feed_the_snapshot() {
        let hub = hub(&["--series-points", "2"]);
        let mut rx = hub.subscribe();
        let p = |ts, value| SeriesPoint { ts, value };
        let name: Arc<str> = Arc::from("cpu.usage{host=a}");
        hub.publish_series(name.clone(), vec![p(1, 1.0), p(2, 2.0), p(3, 3.0)]);
        hub.publish_series(name, vec![p(4, 4.0)]);
        hub.publish_event(Level::Info, "x".into());
        let f = rx.try_recv().unwrap();
        assert_eq!((f.topic, f.seq), (Some(Topic::Series), 1));
        let v: serde_json::Value = serde_json::from_str(f.text.as_str()).unwrap();
        assert_eq!(v["type"], "series");
        assert_eq!(v["name"], "cpu.usage{host=a}");
        assert_eq!(v["points"][2]["value"], 3.0);
        assert_eq!(rx.try_recv().unwrap().seq, 2);
        assert_eq!(rx.try_recv().unwrap().topic, Some(Topic::Events));
        let body = Hub::snapshot_body(hub.snapshot_parts(None));
        assert_eq!((body.seq.series, body.seq.events), (2, 1));
        assert_eq!(body.series.len(), 1);
        assert_eq!(body.series[0].points, vec![p(3, 3.0), p(4, 4.0)]);
        let small = Hub::snapshot_body(hub.snapshot_parts(Some(1)));
        assert_eq!(small.series[0].points, vec![p(4, 4.0)]);
    }

    #[test]
    fn a_slow_snapshot_does_not_hold_up_other_topics() {
        // The state lock is never held while serializing: a publisher of
        // one topic can run while another topic's lock is held.
        let hub = hub(&[]);
        let held = lock(&hub.topic_locks[Topic::Orders.index()]);
        hub.publish_event(Level::Info, "still flows".into());
        drop(held);
        assert_eq!(hub.seqs().events, 1);
    }
}
