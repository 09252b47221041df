//! One aggregator per active filter set, shared by every connection that
//! uses it.
//!
//! The orders task hands every tick's accepted records to
//! [`FilterSets::tick`] after the unfiltered aggregate is published. The
//! registry keeps the records of the lookback window (so a new filter set
//! starts with the right numbers at once) and the active sets, keyed by
//! their canonical [`FilterSet::key`]. Each set has its own incremental
//! [`Aggregator`], its own `seq`, its own snapshot parts (latest aggregate,
//! KPI history) and its own broadcast ring: its frames are serialized once
//! per tick and shared by its subscribers, and connections without a
//! filter never see them (the main ring, and so the unfiltered fan-out, is
//! untouched).
//!
//! A [`Subscription`] counts as one user; the last one dropped removes the
//! set. At most `--max-filter-sets` sets exist at once.

use super::FilterSet;
use crate::aggregate::Aggregator;
use crate::hub::{lock, Frame};
use crate::snapshot::SNAPSHOT_RECORDS;
use livedash_shared::{KpiPoint, OrderRecord, Orders, ServerMessage, Topic};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// Frames buffered per filter set for its slowest subscriber; one behind
/// by more gets a fresh snapshot, like on the main ring.
const SET_RING: usize = 64;

/// The registry: the window's records and the active sets.
pub struct FilterSets {
    /// Most sets at once (`--max-filter-sets`); 0 turns filters off.
    max: usize,
    /// KPI points kept per set for snapshots (`--history`).
    history: usize,
    /// The lookback window, ms: what the window keeps and each set sums.
    lookback_ms: u64,
    /// The window and the sets, under one lock so a set created during a
    /// tick is filled either before or after the tick's records, never both.
    inner: Mutex<Inner>,
    /// Sets created since the start, for `/metrics`.
    created: AtomicU64,
}

/// What the registry lock guards.
#[derive(Default)]
struct Inner {
    /// Accepted records of the lookback window, in arrival order (expired
    /// from the front like the aggregator's own window).
    window: VecDeque<Arc<OrderRecord>>,
    /// Canonical key → the set and its number of subscriptions.
    sets: HashMap<String, (Arc<Entry>, usize)>,
    /// The next set's id.
    next_id: u64,
}

/// One active filter set.
pub struct Entry {
    /// Distinct for every set ever created (a set dropped and created again
    /// gets a new id and starts its seq again).
    pub id: u64,
    /// Its filter.
    pub filter: FilterSet,
    /// Its canonical key (the registry's map key).
    pub key: String,
    /// Its own ring of `orders` frames.
    tx: broadcast::Sender<Frame>,
    /// Aggregator, seq and snapshot parts; frames are sent under this lock
    /// so a subscriber that subscribes and then reads the parts misses
    /// nothing and gets nothing twice (it skips by seq).
    state: Mutex<State>,
}

/// A set's aggregate state.
struct State {
    /// The filtered window.
    agg: Aggregator,
    /// Seq of the newest frame (the fill is seq 1).
    seq: u64,
    /// The newest aggregate without records, for snapshots.
    latest: Arc<Orders>,
    /// KPI points, oldest first, at most `history`.
    kpis: VecDeque<KpiPoint>,
    /// The newest matching records (window fill and frames), oldest
    /// first, at most [`SNAPSHOT_RECORDS`]: a snapshot's recent orders.
    recent: VecDeque<Arc<OrderRecord>>,
}

/// A set's snapshot parts at one instant.
pub struct Parts {
    /// The set's seq then.
    pub seq: u64,
    /// Its newest aggregate (no records).
    pub latest: Arc<Orders>,
    /// Its newest `cap` KPI points (all kept for `None`).
    pub kpis: Vec<KpiPoint>,
    /// Its newest records, oldest first (at most [`SNAPSHOT_RECORDS`]).
    pub recent: Vec<OrderRecord>,
}

/// The registry is full: the error names the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full(pub usize);

impl std::fmt::Display for Full {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 == 0 {
            f.write_str("filters are turned off on this server (--max-filter-sets 0)")
        } else {
            write!(
                f,
                "{} distinct filter sets are in use, the most this server keeps \
                 (--max-filter-sets); use one of them or try again later",
                self.0
            )
        }
    }
}

impl FilterSets {
    /// An empty registry.
    pub fn new(max: usize, history: usize, lookback_ms: u64) -> Arc<FilterSets> {
        Arc::new(FilterSets {
            max,
            history,
            lookback_ms,
            inner: Mutex::new(Inner::default()),
            created: AtomicU64::new(0),
        })
    }

    /// Active sets now (`livedash_filter_sets`).
    pub fn count(&self) -> usize {
        lock(&self.inner).sets.len()
    }

    /// Sets created since the start (`livedash_filter_sets_created_total`).
    pub fn created(&self) -> u64 {
        self.created.load(Relaxed)
    }

    /// The registry's lines of `/metrics`.
    pub fn render_metrics(&self) -> String {
        format!(
            "# HELP livedash_filter_sets Distinct filter sets aggregated now.\n\
             # TYPE livedash_filter_sets gauge\n\
             livedash_filter_sets {}\n\
             # HELP livedash_filter_sets_created_total Filter sets created.\n\
             # TYPE livedash_filter_sets_created_total counter\n\
             livedash_filter_sets_created_total {}\n",
            self.count(),
            self.created()
        )
    }

    /// Records kept for filling new sets.
    pub fn window_len(&self) -> usize {
        lock(&self.inner).window.len()
    }

    /// Use the set for `filter` (not empty): the existing one, or a new one
    /// filled from the window as of `now_ms`.
    pub fn acquire(
        self: &Arc<Self>,
        filter: &FilterSet,
        now_ms: u64,
    ) -> Result<Subscription, Full> {
        let key = filter.key();
        let mut inner = lock(&self.inner);
        if let Some((entry, users)) = inner.sets.get_mut(&key) {
            *users += 1;
            let entry = entry.clone();
            return Ok(Subscription {
                sets: self.clone(),
                entry,
            });
        }
        if inner.sets.len() >= self.max {
            return Err(Full(self.max));
        }
        inner.next_id += 1;
        let id = inner.next_id;
        let matching: Vec<OrderRecord> = inner
            .window
            .iter()
            .filter(|r| filter.matches(r))
            .map(|r| (**r).clone())
            .collect();
        let entry = Arc::new(self.fill(id, filter.clone(), key.clone(), now_ms, matching));
        inner.sets.insert(key, (entry.clone(), 1));
        self.created.fetch_add(1, Relaxed);
        Ok(Subscription {
            sets: self.clone(),
            entry,
        })
    }

    /// A new set whose aggregate is the window's matching records (seq 1).
    fn fill(
        &self,
        id: u64,
        filter: FilterSet,
        key: String,
        now: u64,
        recs: Vec<OrderRecord>,
    ) -> Entry {
        let mut agg = Aggregator::new(self.lookback_ms);
        let mut first = agg.tick(1, now, recs);
        let mut recent = VecDeque::new();
        remember_newest(&mut recent, &std::mem::take(&mut first.records));
        let kpis = VecDeque::from([kpi_point(&first)]);
        let (tx, _) = broadcast::channel(SET_RING);
        Entry {
            id,
            filter,
            key,
            tx,
            state: Mutex::new(State {
                agg,
                seq: 1,
                latest: Arc::new(first),
                kpis,
                recent,
            }),
        }
    }

    /// One subscription fewer; the set goes with its last one.
    fn release(&self, key: &str) {
        let mut inner = lock(&self.inner);
        if let Some((_, users)) = inner.sets.get_mut(key) {
            *users -= 1;
            if *users == 0 {
                inner.sets.remove(key);
            }
        }
    }

    /// A tick of the orders stream, first half: `fill` (history from a
    /// source, into the windows only) and `records` (this tick's accepted
    /// records) enter the window. Cheap (a shared pointer per record), so
    /// it may run before the unfiltered frame is published; the sets'
    /// work waits in the returned [`Pending`].
    pub fn remember(&self, now_ms: u64, fill: &[OrderRecord], records: &[OrderRecord]) -> Pending {
        if self.max == 0 {
            return Pending::default();
        }
        let arc = |rs: &[OrderRecord]| -> Vec<Arc<OrderRecord>> {
            rs.iter().map(|r| Arc::new(r.clone())).collect()
        };
        let (fill, records) = (arc(fill), arc(records));
        let mut inner = lock(&self.inner);
        inner.window.extend(fill.iter().chain(&records).cloned());
        let cutoff = now_ms.saturating_sub(self.lookback_ms);
        while inner.window.front().is_some_and(|r| r.created_at <= cutoff) {
            inner.window.pop_front();
        }
        Pending {
            now_ms,
            history: self.history,
            entries: inner.sets.values().map(|(e, _)| e.clone()).collect(),
            fill,
            records,
        }
    }

    /// Both halves at once (tests, benchmarks); the number of sets ticked.
    pub fn tick(&self, now_ms: u64, fill: &[OrderRecord], records: &[OrderRecord]) -> usize {
        self.remember(now_ms, fill, records).run()
    }
}

/// A tick of the orders stream, second half: every set active when the
/// records entered the window aggregates them and publishes one frame. A
/// set created after [`FilterSets::remember`] was filled with them already.
#[derive(Default)]
pub struct Pending {
    /// The tick's time.
    now_ms: u64,
    /// KPI points kept per set.
    history: usize,
    /// The sets to tick.
    entries: Vec<Arc<Entry>>,
    /// History from a source: into the sets' windows, not into a frame.
    fill: Vec<Arc<OrderRecord>>,
    /// The tick's accepted records.
    records: Vec<Arc<OrderRecord>>,
}

impl Pending {
    /// Tick every set; how many there were.
    pub fn run(self) -> usize {
        for e in &self.entries {
            e.tick(self.now_ms, &self.fill, &self.records, self.history);
        }
        self.entries.len()
    }
}

/// Add `records` (oldest first) to the newest kept, at most
/// [`SNAPSHOT_RECORDS`].
fn remember_newest(recent: &mut VecDeque<Arc<OrderRecord>>, records: &[OrderRecord]) {
    let skip = records.len().saturating_sub(SNAPSHOT_RECORDS);
    recent.extend(records[skip..].iter().cloned().map(Arc::new));
    crate::snapshot::keep_newest(recent, SNAPSHOT_RECORDS);
}

/// The KPI point of an aggregate.
fn kpi_point(o: &Orders) -> KpiPoint {
    KpiPoint {
        seq: o.seq,
        ts: o.ts,
        num_orders: o.num_orders,
        num_order_items: o.num_order_items,
        total_sales: o.total_sales,
    }
}

impl Entry {
    /// Aggregate the matching records, serialize the frame (with and
    /// without records) once, file it and send it.
    fn tick(
        &self,
        now: u64,
        fill: &[Arc<OrderRecord>],
        records: &[Arc<OrderRecord>],
        history: usize,
    ) {
        let pick = |rs: &[Arc<OrderRecord>]| -> Vec<OrderRecord> {
            rs.iter()
                .filter(|r| self.filter.matches(r))
                .map(|r| (**r).clone())
                .collect()
        };
        let (fill, records) = (pick(fill), pick(records));
        let mut st = lock(&self.state);
        if !fill.is_empty() {
            let filled = st.agg.tick(0, now, fill).records;
            remember_newest(&mut st.recent, &filled);
        }
        let seq = st.seq + 1;
        let mut orders = st.agg.tick(seq, now, records);
        let recs = std::mem::take(&mut orders.records);
        remember_newest(&mut st.recent, &recs);
        let lite_body = Arc::new(orders);
        let lite = Utf8Bytes::from(ServerMessage::Orders((*lite_body).clone()).to_json());
        let (text, lite) = if recs.is_empty() {
            (lite, None)
        } else {
            let mut full = (*lite_body).clone();
            full.records = recs;
            (
                Utf8Bytes::from(ServerMessage::Orders(full).to_json()),
                Some(lite),
            )
        };
        st.seq = seq;
        st.kpis.push_back(kpi_point(&lite_body));
        while st.kpis.len() > history {
            st.kpis.pop_front();
        }
        st.latest = lite_body;
        let _ = self.tx.send(Frame {
            topic: Some(Topic::Orders),
            seq,
            text,
            lite,
            fanout: None,
            deflated: Some(Arc::default()),
            reset: false,
        });
    }

    /// A receiver of this set's frames from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.tx.subscribe()
    }

    /// The set's snapshot parts now, with the `cap` newest KPI points.
    pub fn parts(&self, cap: Option<usize>) -> Parts {
        let st = lock(&self.state);
        let skip = cap.map_or(0, |c| st.kpis.len().saturating_sub(c));
        Parts {
            seq: st.seq,
            latest: st.latest.clone(),
            kpis: st.kpis.iter().skip(skip).copied().collect(),
            recent: st.recent.iter().map(|r| (**r).clone()).collect(),
        }
    }
}

/// One user of a filter set; dropping it releases the set.
pub struct Subscription {
    /// The registry, to release into.
    sets: Arc<FilterSets>,
    /// The set used.
    pub entry: Arc<Entry>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.sets.release(&self.entry.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(item: u64, country: &str, price: f64, t: u64) -> OrderRecord {
        OrderRecord {
            user_id: item,
            age: 30,
            gender: "F".into(),
            country: country.into(),
            traffic_source: "Search".into(),
            order_id: item,
            item_id: item,
            category: "Jeans".into(),
            cost: 1.0,
            item_status: "Shipped".into(),
            sale_price: price,
            created_at: t,
        }
    }

    fn china() -> FilterSet {
        FilterSet::from_vars([("country", "China")]).unwrap()
    }

    #[test]
    fn a_new_set_starts_from_the_window_and_follows_ticks() {
        let sets = FilterSets::new(10, 100, 1_000);
        sets.tick(
            1_000,
            &[],
            &[rec(1, "China", 5.0, 900), rec(2, "Spain", 7.0, 950)],
        );
        let sub = sets.acquire(&china(), 1_000).unwrap();
        let p = sub.entry.parts(None);
        assert_eq!(
            (p.seq, p.latest.total_sales, p.latest.num_orders),
            (1, 5.0, 1)
        );
        let mut rx = sub.entry.subscribe();
        assert_eq!(sets.tick(1_500, &[], &[rec(3, "China", 2.5, 1_500)]), 1);
        let f = rx.try_recv().unwrap();
        assert_eq!(f.seq, 2);
        let v: serde_json::Value = serde_json::from_str(f.text.as_str()).unwrap();
        assert_eq!(v["total_sales"], 7.5);
        assert_eq!(v["records"].as_array().unwrap().len(), 1);
        assert!(f.lite.is_some());
        // 900 expires at 1_900: only the tick's record is left.
        sets.tick(1_900, &[], &[]);
        let f = rx.try_recv().unwrap();
        let v: serde_json::Value = serde_json::from_str(f.text.as_str()).unwrap();
        assert_eq!(
            (v["total_sales"].as_f64(), f.lite.is_none()),
            (Some(2.5), true)
        );
        assert_eq!(sets.window_len(), 2, "the window expired 900 too");
        assert_eq!(sub.entry.parts(Some(1)).kpis.len(), 1);
        assert_eq!(sub.entry.parts(None).kpis.len(), 3);
    }

    #[test]
    fn shared_by_key_dropped_with_its_last_user_and_bounded() {
        let sets = FilterSets::new(2, 10, 1_000);
        let a = sets.acquire(&china(), 0).unwrap();
        let b = sets
            .acquire(
                &FilterSet::from_query_string("var-country=China").unwrap(),
                0,
            )
            .unwrap();
        assert!(Arc::ptr_eq(&a.entry, &b.entry));
        assert_eq!(sets.count(), 1);
        let spain = FilterSet::from_vars([("country", "Spain")]).unwrap();
        let c = sets.acquire(&spain, 0).unwrap();
        let japan = FilterSet::from_vars([("country", "Japan")]).unwrap();
        assert_eq!(sets.acquire(&japan, 0).err(), Some(Full(2)));
        drop(a);
        assert_eq!(sets.count(), 2);
        drop(b);
        assert_eq!(sets.count(), 1);
        let d = sets.acquire(&japan, 0).unwrap();
        assert_ne!(d.entry.id, c.entry.id);
        drop((c, d));
        assert_eq!((sets.count(), sets.created()), (0, 3));
    }
}
