//! Where the `orders` stream's records come from, behind one seam.
//!
//! The orders task (`producers::orders`) asks its [`Sources`] for each
//! tick's records and does not care who made them. A [`Source`] is either
//! pulled on the tick (the built-in [`generator`]) or fed from outside
//! through an [`Inbox`]: a bounded queue of record batches that request
//! handlers ([`ingest`], `POST /api/ingest/orders`) or a source's own task
//! (a later `postgres` tailer) push into and the orders task drains once
//! per tick (the [`postgres`] tailer has its own bounded feed, whose push
//! waits for room instead). The inbox is bounded in records, so a producer that outruns
//! the ticks is refused (HTTP 429/503), never buffered for; pushing never
//! waits for the orders task, and the orders task never waits for a
//! pusher (it only takes what is already queued).
//!
//! Which sources run: `--source generator` (the default) runs the
//! generator, plus the ingest inbox when `--ingest-token` is set;
//! `--source ingest` runs the ingest inbox only; `--postgres URL` (or
//! `--source postgres`) runs the PostgreSQL tailer (plus the ingest inbox
//! when `--ingest-token` is set).

pub mod generator;
pub mod influx;
pub mod ingest;
pub mod postgres;

use crate::config::SourceKind;
use crate::hub::Hub;
use livedash_shared::OrderRecord;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Most records the orders task takes from one inbox in one tick (whole
/// batches; the first batch is always taken). What is left waits for the
/// next tick, and the inbox's record bound pushes back on the senders.
pub const MAX_RECORDS_PER_TICK: usize = 100_000;

/// Batches an inbox holds at most (besides its bound in records).
const INBOX_BATCHES: usize = 1024;

/// Something that delivers the records of each orders tick.
pub trait Source: Send {
    /// The records that arrived since the last call, at `now_ms`.
    fn poll(&mut self, now_ms: u64) -> Vec<OrderRecord>;

    /// A tick while the orders stream is stopped by an admin. The generator
    /// generates and drops (its clock goes on, as before); a pushed source
    /// keeps its records for when the stream runs again.
    fn idle(&mut self, now_ms: u64) {
        let _ = self.poll(now_ms);
    }

    /// Number what it makes after these ids (a replica taking the producer
    /// lease over; only the generator makes ids).
    fn continue_after(&mut self, _order_id: u64, _item_id: u64) {}

    /// Records from before this start that fill the lookback window (so
    /// the KPIs are right at once) without being sent as new records.
    /// Asked before each [`Source::poll`]; most sources have none.
    fn fill(&mut self) -> Vec<OrderRecord> {
        Vec::new()
    }

    /// Whether its whole window fill has been handed over (so a frame
    /// made now has the right KPIs). A replica taking the producer lease
    /// over waits for it, a bounded time, before its first frame.
    fn ready(&self) -> bool {
        true
    }
}

/// The sources of the orders stream, polled together once a tick.
pub struct Sources {
    list: Vec<Box<dyn Source>>,
}

/// One tick's records from every source.
pub struct Tick {
    /// Records inside the window, in `created_at` order (stable).
    pub records: Vec<OrderRecord>,
    /// Records dropped because their `created_at` was already outside the
    /// lookback window when the tick took them.
    pub expired: u64,
}

impl Sources {
    /// The sources `hub.config` asks for, starting at `now_ms`.
    pub fn for_hub(hub: &Hub, now_ms: u64) -> Sources {
        let mut list: Vec<Box<dyn Source>> = Vec::new();
        if hub.config.source == SourceKind::Generator {
            let seed = hub.config.seed.unwrap_or_else(rand::random);
            list.push(Box::new(generator::GeneratorSource::new(
                seed,
                hub.config.orders_per_sec,
                now_ms,
            )));
        }
        if let Some(feed) = &hub.pg {
            list.push(Box::new(postgres::PostgresSource(feed.clone())));
        }
        if let Some(inbox) = &hub.inbox {
            list.push(Box::new(InboxSource(inbox.clone())));
        }
        Sources { list }
    }

    /// Every source's window fill ([`Source::fill`]), records with
    /// `created_at <= cutoff_ms` left out, in time order.
    pub fn fill(&mut self, cutoff_ms: u64) -> Vec<OrderRecord> {
        let mut records: Vec<OrderRecord> = Vec::new();
        for s in &mut self.list {
            records.extend(s.fill());
        }
        records.retain(|r| r.created_at > cutoff_ms);
        records.sort_by_key(|r| r.created_at);
        records
    }

    /// Every source's window fill has been handed over ([`Source::ready`]).
    pub fn ready(&self) -> bool {
        self.list.iter().all(|s| s.ready())
    }

    /// Every source numbers what it makes after these ids.
    pub fn continue_after(&mut self, order_id: u64, item_id: u64) {
        for s in &mut self.list {
            s.continue_after(order_id, item_id);
        }
    }

    /// A set of given sources (tests, or a caller that builds its own).
    pub fn new(list: Vec<Box<dyn Source>>) -> Sources {
        Sources { list }
    }

    /// Every source's records for this tick, merged. Records with
    /// `created_at <= cutoff_ms` are dropped and counted: the window keeps
    /// records in arrival order, so only records still inside it are added.
    pub fn poll(&mut self, now_ms: u64, cutoff_ms: u64) -> Tick {
        let mut records = Vec::new();
        for s in &mut self.list {
            let got = s.poll(now_ms);
            if records.is_empty() {
                records = got;
            } else {
                records.extend(got);
            }
        }
        let before = records.len();
        records.retain(|r| r.created_at > cutoff_ms);
        let expired = (before - records.len()) as u64;
        if !records.is_sorted_by_key(|r| r.created_at) {
            // Pushed records may come in any order; the window expires in
            // arrival order, so at least each tick's arrivals are in time
            // order. (A stable sort of sorted runs is linear.)
            records.sort_by_key(|r| r.created_at);
        }
        Tick { records, expired }
    }

    /// A tick while the orders stream is stopped.
    pub fn idle(&mut self, now_ms: u64) {
        for s in &mut self.list {
            s.idle(now_ms);
        }
    }
}

/// Why an inbox refused a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Too many records are waiting for the orders task: try again soon (429).
    Full,
    /// The inbox is closed (the server is shutting down) (503).
    Closed,
}

/// A bounded queue of record batches into the orders task. Shared by every
/// pusher; its receiving end outlives restarts of the orders task.
pub struct Inbox {
    tx: mpsc::Sender<Vec<OrderRecord>>,
    rx: Mutex<mpsc::Receiver<Vec<OrderRecord>>>,
    /// Records queued and not yet taken by the orders task.
    pending: AtomicU64,
    /// Bound on `pending`.
    cap: u64,
    closed: AtomicBool,
    /// Permits for request bodies being read and parsed at once
    /// ([`ingest::MAX_CONCURRENT_BODIES`]).
    pub readers: tokio::sync::Semaphore,
}

impl Inbox {
    /// An inbox that holds at most `cap` records. A single batch larger
    /// than `cap` is still taken when nothing is waiting.
    pub fn new(cap: u64) -> Arc<Inbox> {
        let (tx, rx) = mpsc::channel(INBOX_BATCHES);
        Arc::new(Inbox {
            tx,
            rx: Mutex::new(rx),
            pending: AtomicU64::new(0),
            cap,
            closed: AtomicBool::new(false),
            readers: tokio::sync::Semaphore::new(ingest::MAX_CONCURRENT_BODIES),
        })
    }

    /// Queue `batch` for the next tick, or refuse it whole. Never waits.
    pub fn try_push(&self, batch: Vec<OrderRecord>) -> Result<(), Refused> {
        if self.closed.load(SeqCst) {
            return Err(Refused::Closed);
        }
        let n = batch.len() as u64;
        if n == 0 {
            return Ok(());
        }
        let before = self.pending.fetch_add(n, SeqCst);
        if before > 0 && before + n > self.cap {
            self.pending.fetch_sub(n, SeqCst);
            return Err(Refused::Full);
        }
        match self.tx.try_send(batch) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.pending.fetch_sub(n, SeqCst);
                Err(match e {
                    mpsc::error::TrySendError::Full(_) => Refused::Full,
                    mpsc::error::TrySendError::Closed(_) => Refused::Closed,
                })
            }
        }
    }

    /// Take queued batches, whole, until `budget` records are taken (at
    /// least one batch when any is queued). Never waits.
    pub fn drain(&self, budget: usize) -> Vec<OrderRecord> {
        let mut rx = self.rx.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<OrderRecord> = Vec::new();
        while out.is_empty() || out.len() < budget {
            match rx.try_recv() {
                Ok(batch) => {
                    self.pending.fetch_sub(batch.len() as u64, SeqCst);
                    if out.is_empty() {
                        out = batch;
                    } else {
                        out.extend(batch);
                    }
                }
                Err(_) => break,
            }
        }
        out
    }

    /// Records waiting for the orders task.
    pub fn pending(&self) -> u64 {
        self.pending.load(SeqCst)
    }

    /// Refuse every further batch (shutdown).
    pub fn close(&self) {
        self.closed.store(true, SeqCst);
    }

    /// Whether [`Inbox::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(SeqCst)
    }
}

/// The orders task's end of an [`Inbox`].
pub struct InboxSource(pub Arc<Inbox>);

impl Source for InboxSource {
    fn poll(&mut self, _now_ms: u64) -> Vec<OrderRecord> {
        self.0.drain(MAX_RECORDS_PER_TICK)
    }

    fn idle(&mut self, _now_ms: u64) {
        // Pushed records wait (the inbox bound refuses more meanwhile).
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: u64, t: u64) -> OrderRecord {
        OrderRecord {
            user_id: id,
            age: 30,
            gender: "F".into(),
            country: "Spain".into(),
            traffic_source: "Email".into(),
            order_id: id,
            item_id: id,
            category: "Jeans".into(),
            cost: 1.0,
            item_status: "Shipped".into(),
            sale_price: 2.0,
            created_at: t,
        }
    }

    #[test]
    fn inbox_is_bounded_in_records_and_drains_whole_batches() {
        let inbox = Inbox::new(5);
        assert_eq!(
            inbox.try_push(vec![rec(1, 10), rec(2, 11), rec(3, 12)]),
            Ok(())
        );
        assert_eq!(inbox.try_push(vec![rec(4, 13), rec(5, 14)]), Ok(()));
        assert_eq!(inbox.try_push(vec![rec(6, 15)]), Err(Refused::Full));
        assert_eq!(inbox.pending(), 5);
        // Budget 1: the first batch whole, nothing more.
        assert_eq!(inbox.drain(1).len(), 3);
        assert_eq!(inbox.pending(), 2);
        assert_eq!(inbox.drain(100).len(), 2);
        assert!(inbox.drain(100).is_empty());
        // A batch larger than the bound is taken when nothing waits.
        assert_eq!(inbox.try_push((0..9).map(|i| rec(i, i)).collect()), Ok(()));
        assert_eq!(inbox.try_push(vec![rec(1, 1)]), Err(Refused::Full));
        inbox.close();
        assert_eq!(inbox.try_push(vec![rec(1, 1)]), Err(Refused::Closed));
        assert_eq!(inbox.drain(100).len(), 9, "queued records still drain");
    }

    #[test]
    fn sources_merge_in_time_order_and_drop_expired() {
        let inbox = Inbox::new(100);
        let mut s = Sources::new(vec![Box::new(InboxSource(inbox.clone()))]);
        inbox
            .try_push(vec![rec(1, 50), rec(2, 5), rec(3, 20)])
            .unwrap();
        let t = s.poll(100, 10);
        let times: Vec<u64> = t.records.iter().map(|r| r.created_at).collect();
        assert_eq!(times, [20, 50]);
        assert_eq!(t.expired, 1);
        // Stopped stream: pushed records wait.
        inbox.try_push(vec![rec(4, 60)]).unwrap();
        s.idle(100);
        assert_eq!(s.poll(100, 10).records.len(), 1);
    }

    #[test]
    fn generator_source_matches_the_generator() {
        let mut g = crate::generator::Generator::new(9, 50.0);
        g.generate(1_000);
        let want = g.generate(2_000);
        let mut s = Sources::new(vec![Box::new(generator::GeneratorSource::new(
            9, 50.0, 1_000,
        ))]);
        let got = s.poll(2_000, 0);
        assert!(!want.is_empty());
        assert_eq!(got.records, want);
    }
}
