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
//!
//! Here: the state, the publish path and the snapshot parts. [`frame`]:
//! the shared frame and its serialization; `topics`: each topic's publish
//! (and frames read back from Redis); `catchup`: which recent frames a
//! resuming client still needs.

use crate::config::Config;
use crate::limits::Limits;
use crate::metrics::{Fanout, Metrics};
use crate::presence::Presence;
use crate::series::{Pending, Recent};
use crate::snapshot::SnapshotCache;
use crate::sources::Inbox;
use crate::streams::StreamSwitches;
use livedash_shared::{
    Event, KpiPoint, OrderRecord, Orders, Seqs, ServerMessage, Snapshot, Streams, System, Topic,
};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Utf8Bytes;

mod catchup;
mod frame;
mod topics;

use frame::serialize;
pub use frame::{frame_from_entry, Frame};

/// Activity-feed entries kept for snapshots (the page shows 20).
pub const EVENTS_KEPT: usize = 20;

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
    /// The newest order records of the `orders` frames, oldest first, at
    /// most [`crate::snapshot::SNAPSHOT_RECORDS`].
    pub records: VecDeque<Arc<OrderRecord>>,
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
                records: h.records.clone(),
            },
            cap,
            epoch: st.epoch.clone(),
        }
    }

    /// A snapshot body from parts (used by the cache; pure).
    pub fn snapshot_body(parts: SnapshotParts) -> Snapshot {
        let h = parts.history;
        Snapshot {
            ts: livedash_shared::now_ms(),
            seq: parts.seq,
            orders: h.latest_orders.map(|o| {
                let mut o = (*o).clone();
                o.records = h.records.iter().map(|r| (**r).clone()).collect();
                o
            }),
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
    use livedash_shared::{Level, SeriesPoint};

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
