//! The hub: assigns each topic frame its `seq`, serializes it once, keeps the
//! history snapshots are built from, and puts the shared bytes into one
//! bounded broadcast ring that every connection reads at its own pace.

use crate::config::Config;
use crate::metrics::Metrics;
use livedash_shared::{
    Clients, Event, KpiPoint, Level, Orders, Seqs, ServerMessage, Snapshot, System, Topic,
};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{broadcast, Notify};
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// Capacity of the broadcast ring. A client more than this many frames
/// behind is not buffered for: it gets a fresh snapshot instead.
pub const RING_CAPACITY: usize = 256;

/// Activity-feed entries kept for snapshots (the page shows 20).
pub const EVENTS_KEPT: usize = 20;

/// Distinct `?history=` values whose snapshot stays cached between publishes.
const SNAPSHOT_CACHE_MAX: usize = 8;

/// One published frame: serialized once, shared by every client.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Its topic, for per-client subscription filters.
    pub topic: Topic,
    /// Its topic `seq`, to skip what a snapshot already covered.
    pub seq: u64,
    /// The JSON text; cloning is a refcount increment.
    pub text: Utf8Bytes,
    /// For `orders` frames with records: the same frame with `records`
    /// empty, for clients that asked for `?records=0` (pages draw the
    /// aggregates only). Also serialized once per publish.
    pub lite: Option<Utf8Bytes>,
}

/// A serialized snapshot and the seqs it covers.
#[derive(Clone, Debug)]
pub struct SnapshotBytes {
    /// The `snapshot` frame's JSON text.
    pub text: Utf8Bytes,
    /// Each topic's last seq included in it.
    pub seq: Seqs,
}

/// Everything guarded by the hub's lock. Never held across an `.await`.
#[derive(Default)]
struct State {
    /// Last published seq of each topic.
    seq: Seqs,
    /// The newest `orders` frame body.
    latest_orders: Option<Orders>,
    /// KPI points, oldest first, at most `history`.
    kpi_history: VecDeque<KpiPoint>,
    /// System samples, oldest first, at most `history`.
    system_history: VecDeque<System>,
    /// Last feed entries, oldest first.
    events: VecDeque<Event>,
    /// Client count as last published in a `clients` frame.
    published_clients: u64,
    /// Serialized snapshots by `?history=` cap; cleared on every publish.
    snapshot_cache: HashMap<Option<usize>, SnapshotBytes>,
}

/// The hub, shared by producers, connections and routes.
pub struct Hub {
    /// Server configuration.
    pub config: Config,
    /// Counters for /metrics.
    pub metrics: Metrics,
    /// When the server started, for /healthz and /metrics.
    pub started: Instant,
    /// The broadcast ring.
    tx: broadcast::Sender<Frame>,
    /// History, seqs, snapshot cache.
    state: Mutex<State>,
    /// Connected clients now (the live value; `clients` frames are coalesced).
    clients: AtomicU64,
    /// Connects and disconnects since the last connection feed entry.
    joined: AtomicU64,
    left: AtomicU64,
    /// Wakes the client-count coalescer when the count changes.
    count_changed: Notify,
    /// Next connection id.
    next_id: AtomicU64,
    /// The orders stream runs (admins can stop it).
    pub orders_on: AtomicBool,
    /// The system stream runs (admins can stop it).
    pub system_on: AtomicBool,
}

impl Hub {
    /// A hub with empty history.
    pub fn new(config: Config) -> Arc<Self> {
        let (tx, _) = broadcast::channel(RING_CAPACITY);
        Arc::new(Hub {
            config,
            metrics: Metrics::default(),
            started: Instant::now(),
            tx,
            state: Mutex::new(State::default()),
            clients: AtomicU64::new(0),
            joined: AtomicU64::new(0),
            left: AtomicU64::new(0),
            count_changed: Notify::new(),
            next_id: AtomicU64::new(1),
            orders_on: AtomicBool::new(true),
            system_on: AtomicBool::new(true),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated
        // in a way that matters more than stopping the stream would.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A receiver of every frame published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.tx.subscribe()
    }

    /// Frames waiting in the ring for the slowest receiver.
    pub fn queue_depth(&self) -> usize {
        self.tx.len()
    }

    /// Publish one topic frame: assign the next seq of `topic`, let `build`
    /// make the message with it, record it in the history, serialize it once
    /// and broadcast the bytes. Runs under the lock so that history, seqs and
    /// the ring always agree (a connection subscribes, then snapshots).
    fn publish(&self, topic: Topic, build: impl FnOnce(u64, &mut State) -> ServerMessage) {
        let mut st = self.lock();
        let seq = st.seq.get(topic) + 1;
        *st.seq.get_mut(topic) = seq;
        let mut msg = build(seq, &mut st);
        st.snapshot_cache.clear();
        let text = Utf8Bytes::from(msg.to_json());
        let lite = match &mut msg {
            ServerMessage::Orders(o) if !o.records.is_empty() => {
                o.records = Vec::new();
                Some(Utf8Bytes::from(msg.to_json()))
            }
            _ => None,
        };
        // No receivers is fine: nobody is connected.
        let _ = self.tx.send(Frame {
            topic,
            seq,
            text,
            lite,
        });
    }

    /// Publish an `orders` frame; `tick` computes it from the seq.
    pub fn publish_orders(&self, tick: impl FnOnce(u64) -> Orders) {
        let history = self.config.history as usize;
        let t0 = Instant::now();
        self.publish(Topic::Orders, |seq, st| {
            let o = tick(seq);
            st.kpi_history.push_back(KpiPoint {
                seq,
                ts: o.ts,
                num_orders: o.num_orders,
                num_order_items: o.num_order_items,
                total_sales: o.total_sales,
            });
            while st.kpi_history.len() > history {
                st.kpi_history.pop_front();
            }
            // The snapshot's latest aggregate keeps no records: a new tab
            // needs the aggregate, not one tick's raw rows.
            let mut latest = o.clone();
            latest.records = Vec::new();
            st.latest_orders = Some(latest);
            ServerMessage::Orders(o)
        });
        Metrics::add(&self.metrics.tick_nanos, t0.elapsed().as_nanos() as u64);
        Metrics::add(&self.metrics.orders_ticks, 1);
    }

    /// Publish a `system` frame (its seq is replaced by the hub's).
    pub fn publish_system(&self, mut sample: System) {
        let history = self.config.history as usize;
        self.publish(Topic::System, |seq, st| {
            sample.seq = seq;
            st.system_history.push_back(sample.clone());
            while st.system_history.len() > history {
                st.system_history.pop_front();
            }
            ServerMessage::System(sample)
        });
        Metrics::add(&self.metrics.system_samples, 1);
    }

    /// Publish an `event` frame for the activity feed.
    pub fn publish_event(&self, level: Level, text: String) {
        self.publish(Topic::Events, |seq, st| {
            let e = Event {
                seq,
                ts: livedash_shared::now_ms(),
                level,
                text,
            };
            st.events.push_back(e.clone());
            while st.events.len() > EVENTS_KEPT {
                st.events.pop_front();
            }
            ServerMessage::Event(e)
        });
        Metrics::add(&self.metrics.events, 1);
    }

    /// Publish a `clients` frame if the count differs from the last one
    /// published. Returns whether it published.
    pub fn publish_clients_if_changed(&self) -> bool {
        let count = self.clients();
        {
            let st = self.lock();
            if st.published_clients == count && st.seq.clients > 0 {
                return false;
            }
        }
        self.publish(Topic::Clients, |seq, st| {
            st.published_clients = count;
            ServerMessage::Clients(Clients {
                seq,
                ts: livedash_shared::now_ms(),
                count,
            })
        });
        true
    }

    /// The snapshot, serialized at most once per publish for each distinct
    /// `cap` (points of history to include; `None` = all kept).
    pub fn snapshot(&self, cap: Option<usize>) -> SnapshotBytes {
        let mut st = self.lock();
        if let Some(s) = st.snapshot_cache.get(&cap) {
            return s.clone();
        }
        let take = |len: usize| cap.map_or(0, |c| len.saturating_sub(c));
        let snap = Snapshot {
            ts: livedash_shared::now_ms(),
            seq: st.seq,
            orders: st.latest_orders.clone(),
            kpi_history: st
                .kpi_history
                .iter()
                .skip(take(st.kpi_history.len()))
                .copied()
                .collect(),
            system_history: st
                .system_history
                .iter()
                .skip(take(st.system_history.len()))
                .cloned()
                .collect(),
            clients: st.published_clients,
            events: st.events.iter().cloned().collect(),
        };
        let bytes = SnapshotBytes {
            text: Utf8Bytes::from(ServerMessage::Snapshot(snap).to_json()),
            seq: st.seq,
        };
        if st.snapshot_cache.len() >= SNAPSHOT_CACHE_MAX {
            st.snapshot_cache.clear();
        }
        st.snapshot_cache.insert(cap, bytes.clone());
        Metrics::add(&self.metrics.snapshots_built, 1);
        bytes
    }

    /// Connected clients now.
    pub fn clients(&self) -> u64 {
        self.clients.load(Relaxed)
    }

    /// Register a new connection; returns its id. Pair with [`Hub::leave`].
    pub fn join(&self) -> u64 {
        self.clients.fetch_add(1, Relaxed);
        self.joined.fetch_add(1, Relaxed);
        Metrics::add(&self.metrics.connections, 1);
        Metrics::add(&self.metrics.connections_total, 1);
        self.count_changed.notify_one();
        self.next_id.fetch_add(1, Relaxed)
    }

    /// A connection ended.
    pub fn leave(&self) {
        self.clients.fetch_sub(1, Relaxed);
        self.left.fetch_add(1, Relaxed);
        self.metrics.connections.fetch_sub(1, Relaxed);
        self.count_changed.notify_one();
    }

    /// Wait until the client count may have changed.
    pub async fn count_changed(&self) {
        self.count_changed.notified().await
    }

    /// Connects and disconnects since the previous call, for the feed.
    pub fn take_join_leave(&self) -> (u64, u64) {
        (self.joined.swap(0, Relaxed), self.left.swap(0, Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orders(seq: u64) -> Orders {
        let mut a = crate::aggregate::Aggregator::new(1000);
        a.tick(seq, 5, vec![])
    }

    #[test]
    fn seq_grows_by_one_per_topic_and_history_is_bounded() {
        let hub = Hub::new(<Config as clap::Parser>::parse_from([
            "livedash",
            "--history",
            "3",
        ]));
        let mut rx = hub.subscribe();
        for _ in 0..5 {
            hub.publish_orders(orders);
        }
        hub.publish_event(Level::Info, "hi".into());
        let seqs: Vec<(Topic, u64)> = (0..6)
            .map(|_| {
                let f = rx.try_recv().unwrap();
                (f.topic, f.seq)
            })
            .collect();
        assert_eq!(seqs[0], (Topic::Orders, 1));
        assert_eq!(seqs[4], (Topic::Orders, 5));
        assert_eq!(seqs[5], (Topic::Events, 1));
        let snap = hub.snapshot(None);
        let v: serde_json::Value = serde_json::from_str(snap.text.as_str()).unwrap();
        assert_eq!(v["type"], "snapshot");
        assert_eq!(v["kpi_history"].as_array().unwrap().len(), 3);
        assert_eq!(v["kpi_history"][2]["seq"], 5);
        assert_eq!(snap.seq.orders, 5);
        let capped = hub.snapshot(Some(1));
        let v: serde_json::Value = serde_json::from_str(capped.text.as_str()).unwrap();
        assert_eq!(v["kpi_history"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn snapshot_is_cached_until_the_next_publish() {
        let hub = Hub::new(Config::default());
        let a = hub.snapshot(None);
        let b = hub.snapshot(None);
        assert!(std::ptr::eq(
            a.text.as_str().as_ptr(),
            b.text.as_str().as_ptr()
        ));
        hub.publish_event(Level::Warn, "x".into());
        let c = hub.snapshot(None);
        assert_eq!(c.seq.events, 1);
        assert_eq!(hub.metrics.snapshots_built.load(Relaxed), 2);
    }

    #[test]
    fn clients_frames_only_when_the_count_changed() {
        let hub = Hub::new(Config::default());
        hub.join();
        assert!(hub.publish_clients_if_changed());
        assert!(!hub.publish_clients_if_changed());
        hub.join();
        hub.leave();
        assert!(!hub.publish_clients_if_changed(), "1 → 2 → 1 is no change");
        hub.leave();
        assert!(hub.publish_clients_if_changed());
        assert_eq!(hub.take_join_leave(), (2, 2));
    }
}
