//! The tutorials' own clients, served from livedash's streams:
//! `/compat/thelook/ws` ([`thelook`]: the producer's `/ws` that the
//! Streamlit and Next.js pages read) and `/compat/system/ws` ([`system`]:
//! the system-dashboard tutorial's messages for its `app.js`).
//!
//! Nothing here is computed per client. The orders task hands each tick's
//! accepted records to the [`Feed`] (a short lock and a copy; the window
//! itself lives in the thelook task), the system task hands each sample;
//! two tasks turn them into frames once per period and share the bytes
//! with every socket: a `watch` for the thelook frame (a slow socket only
//! ever has the newest one waiting) and a small `broadcast` ring for the
//! system messages (a socket that falls behind skips what it missed).

pub mod socket;
pub mod system;
pub mod thelook;

use crate::hub::Hub;
use livedash_shared::{OrderRecord, System};
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::{broadcast, watch, Notify};
use tokio::time::MissedTickBehavior;
use tokio_tungstenite::tungstenite::Utf8Bytes;

pub use socket::routes;

/// System-dashboard frames a socket may be behind before it skips some.
const SYSTEM_RING: usize = 16;

/// A built thelook frame.
#[derive(Debug)]
pub struct Built {
    /// The frame text, shared by every socket.
    pub text: Utf8Bytes,
    /// Records in it.
    pub records: usize,
    /// When it was built: a socket that finds it older than a period asks
    /// for a fresh one (nobody was listening, so none was built).
    pub at: Instant,
}

/// Orders ticks not yet taken by the thelook task.
#[derive(Default)]
struct Pending {
    /// (tick time, that tick's accepted records), oldest first.
    ticks: VecDeque<(u64, Vec<OrderRecord>)>,
    /// Records in `ticks`.
    records: usize,
    /// Time of the newest tick (records or not): expiry goes on without
    /// new records.
    last_now: u64,
    /// The orders task restarted with an empty window: so must ours.
    reset: bool,
}

/// What the compat endpoints are made from; a field of the hub.
pub struct Feed {
    /// Ticks waiting for the thelook task.
    pending: Mutex<Pending>,
    /// Most records the thelook window keeps (`--compat-max-records`).
    max_records: usize,
    /// Window length, ms (`--lookback`).
    lookback_ms: u64,
    /// Orders seen in ticks since the start (for `data` frames).
    orders_seen: AtomicU64,
    /// The newest thelook frame.
    pub thelook: watch::Sender<Option<Arc<Built>>>,
    /// A socket found the thelook frame stale: build one now.
    pub rebuild: Notify,
    /// The newest system sample.
    sample: watch::Sender<Option<Arc<System>>>,
    /// System-dashboard frames for every socket.
    pub system: broadcast::Sender<Utf8Bytes>,
    /// The newest `metrics` frame: for new sockets and `request_metrics`.
    latest_metrics: Mutex<Option<Utf8Bytes>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Feed {
    /// A feed for a window of `lookback_ms` holding at most `max_records`.
    pub fn new(lookback_ms: u64, max_records: usize) -> Feed {
        Feed {
            pending: Mutex::new(Pending::default()),
            max_records: max_records.max(1),
            lookback_ms,
            orders_seen: AtomicU64::new(0),
            thelook: watch::channel(None).0,
            rebuild: Notify::new(),
            sample: watch::channel(None).0,
            system: broadcast::channel(SYSTEM_RING).0,
            latest_metrics: Mutex::new(None),
        }
    }

    /// The orders task (re)started: its window is empty.
    pub fn orders_restarted(&self) {
        let mut p = lock(&self.pending);
        p.ticks.clear();
        p.records = 0;
        p.reset = true;
    }

    /// One orders tick at `now_ms` with the records the aggregator
    /// accepted. Ticks the window would trim anyway (more than
    /// `max_records` newer records behind them) are dropped here, so
    /// pending work is bounded too.
    pub fn orders_tick(&self, now_ms: u64, records: &[OrderRecord]) {
        let orders: HashSet<u64> = records.iter().map(|r| r.order_id).collect();
        self.orders_seen.fetch_add(orders.len() as u64, Relaxed);
        let mut p = lock(&self.pending);
        p.last_now = now_ms;
        if records.is_empty() {
            return;
        }
        p.ticks.push_back((now_ms, records.to_vec()));
        p.records += records.len();
        while p
            .ticks
            .front()
            .is_some_and(|(_, r)| p.records - r.len() >= self.max_records)
        {
            let (_, r) = p.ticks.pop_front().expect("front exists");
            p.records -= r.len();
        }
    }

    /// A new system sample.
    pub fn system_sample(&self, s: &System) {
        self.sample.send_replace(Some(Arc::new(s.clone())));
    }

    /// The newest `metrics` frame, if any sample came yet.
    pub fn latest_metrics(&self) -> Option<Utf8Bytes> {
        lock(&self.latest_metrics).clone()
    }

    /// Move the pending ticks into `window`.
    fn drain_into(&self, window: &mut thelook::Window) {
        let (ticks, last_now, reset) = {
            let mut p = lock(&self.pending);
            p.records = 0;
            (
                std::mem::take(&mut p.ticks),
                p.last_now,
                std::mem::take(&mut p.reset),
            )
        };
        if reset {
            window.clear();
        }
        for (now, records) in &ticks {
            window.tick(*now, records);
        }
        window.tick(last_now, &[]);
    }
}

/// Start the two compat tasks; they end when `stop` turns true.
pub fn spawn(hub: Arc<Hub>, stop: watch::Receiver<bool>) {
    tokio::spawn(thelook_task(hub.clone(), stop.clone()));
    tokio::spawn(system_task(hub, stop));
}

/// Every [`thelook::PERIOD`] (or at once when a socket asks): take the
/// pending ticks into the window and, if anyone listens, build the frame.
/// Both run on a blocking thread: at high rates a period brings tens of
/// thousands of records to serialize, which must not hold up a runtime
/// worker (and the sockets on it).
async fn thelook_task(hub: Arc<Hub>, mut stop: watch::Receiver<bool>) {
    let feed = &hub.compat;
    let mut window = Some(thelook::Window::new(feed.lookback_ms, feed.max_records));
    let mut tick = tokio::time::interval(thelook::PERIOD);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let asked = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tick.tick() => false,
            _ = feed.rebuild.notified() => true,
        };
        let build = asked || feed.thelook.receiver_count() > 0;
        let (h, mut w) = (hub.clone(), window.take().expect("the window is back"));
        let (w, built) = match tokio::task::spawn_blocking(move || {
            h.compat.drain_into(&mut w);
            let built = build.then(|| Built {
                text: Utf8Bytes::from(w.frame()),
                records: w.len(),
                at: Instant::now(),
            });
            (w, built)
        })
        .await
        {
            Ok(done) => done,
            Err(e) => {
                // Only a panic gets here; start over from an empty window.
                tracing::error!("compat thelook build failed: {e}");
                (
                    thelook::Window::new(feed.lookback_ms, feed.max_records),
                    None,
                )
            }
        };
        window = Some(w);
        if let Some(b) = built {
            tracing::debug!(
                records = b.records,
                bytes = b.text.len(),
                "compat thelook frame"
            );
            feed.thelook.send_replace(Some(Arc::new(b)));
            if asked {
                tick.reset(); // the next one a whole period later
            }
        }
    }
}

/// System-dashboard frames: `metrics` from samples, `data` every 2 s,
/// `client_count` when the viewer count changed.
async fn system_task(hub: Arc<Hub>, mut stop: watch::Receiver<bool>) {
    let feed = &hub.compat;
    let mut samples = feed.sample.subscribe();
    let mut net = system::NetTotals::default();
    let mut last_metrics: Option<Instant> = None;
    let start = tokio::time::Instant::now();
    let mut data = tokio::time::interval_at(start + system::DATA_PERIOD, system::DATA_PERIOD);
    let mut count_check = tokio::time::interval(std::time::Duration::from_millis(250));
    count_check.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut orders_prev = feed.orders_seen.load(Relaxed);
    let mut count: Option<(u64, Instant)> = None;
    let send = |text: String| {
        let _ = feed.system.send(Utf8Bytes::from(text)); // nobody listening is fine
    };
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            r = samples.changed() => {
                if r.is_err() { return; }
                let Some(s) = samples.borrow_and_update().clone() else { continue };
                net.add(&s);
                if last_metrics.is_some_and(|t| t.elapsed() < system::METRICS_MIN_GAP) {
                    continue;
                }
                last_metrics = Some(Instant::now());
                let text = Utf8Bytes::from(system::metrics(&s, &net));
                *lock(&feed.latest_metrics) = Some(text.clone());
                let _ = feed.system.send(text);
            }
            _ = data.tick() => {
                let seen = feed.orders_seen.load(Relaxed);
                send(system::data(seen - orders_prev, livedash_shared::now_ms()));
                orders_prev = seen;
            }
            _ = count_check.tick() => {
                let now = hub.presence.count();
                let due = count.is_none_or(|(c, at)| c != now && at.elapsed() >= system::COUNT_MIN_GAP);
                if due {
                    send(system::client_count(now));
                    count = Some((now, Instant::now()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::Generator;

    fn decode(w: &thelook::Window) -> Vec<OrderRecord> {
        let inner: String = serde_json::from_str(&w.frame()).unwrap();
        serde_json::from_str(&inner).unwrap()
    }

    #[test]
    fn pending_ticks_reach_the_window_bounded_and_reset() {
        let feed = Feed::new(10_000, 50);
        let mut g = Generator::new(8, 100.0);
        g.generate(0);
        let mut all = Vec::new();
        for now in (1_000..=8_000).step_by(1_000) {
            let recs = g.generate(now);
            feed.orders_tick(now, &recs);
            all.extend(recs);
        }
        // Pending work is bounded like the window: whole old ticks dropped.
        let pending = lock(&feed.pending).records;
        assert!((50..450).contains(&pending), "pending {pending}");
        let mut w = thelook::Window::new(10_000, 50);
        feed.drain_into(&mut w);
        assert_eq!(decode(&w), all[all.len() - 50..], "the newest 50, in order");
        let orders: HashSet<u64> = all.iter().map(|r| r.order_id).collect();
        assert_eq!(feed.orders_seen.load(Relaxed), orders.len() as u64);
        // Time goes on without records: the window expires.
        feed.orders_tick(20_000, &[]);
        feed.drain_into(&mut w);
        assert!(w.is_empty());
        // A restarted orders task empties the window.
        let recs = g.generate(20_500);
        feed.orders_tick(20_500, &recs);
        feed.drain_into(&mut w);
        assert!(!w.is_empty());
        feed.orders_restarted();
        feed.drain_into(&mut w);
        assert!(w.is_empty());
    }

    /// What the orders task pays per tick for the compat feed: a copy of
    /// the tick's records (printed with --nocapture).
    #[test]
    fn the_orders_task_pays_a_copy() {
        let feed = Feed::new(u64::MAX / 2, 100_000);
        let recs = Generator::new(2, 2.0).generate_users(7_000, 1);
        let recs = &recs[..10_000];
        let t0 = Instant::now();
        feed.orders_tick(2, recs);
        println!("orders_tick with 10k records: {:?}", t0.elapsed());
        assert_eq!(lock(&feed.pending).records, 10_000);
    }
}
