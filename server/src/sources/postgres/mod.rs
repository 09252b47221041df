//! `--postgres URL`: the `orders` stream tails theLook order items that any
//! program inserts into `ecommerce.order_items` (joined with `users` and
//! `products` like the tutorial's query).
//!
//! The mechanism (ARCHITECTURE.md has the why): a trigger copies each
//! inserted order item into `livedash.outbox` with its transaction id
//! (`xid8`) and a serial; the [`tailer`] reads the outbox in (xid, n) order,
//! only below the oldest transaction still running, woken by NOTIFY and at
//! least every [`tailer::POLL_EVERY`]; its cursor is persisted in
//! `livedash.consumers` once the orders task has taken the rows. One query
//! per poll, whatever the number of clients.
//!
//! This module is the seam between the two tasks: the tailer pushes
//! [`Batch`]es into a bounded [`Feed`] (waiting for room: a flood of rows
//! never grows memory), the orders task takes them through
//! [`PostgresSource`] and reports back how far it took them.

pub mod rows;
pub mod sql;
pub mod tailer;

use super::Source;
use livedash_shared::OrderRecord;
use rows::Cursor;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;

pub use sql::ECOMMERCE_DDL;

/// Batches the feed holds at most ([`tailer::BATCH_ROWS`] rows each).
const FEED_BATCHES: usize = 16;

/// What the tailer hands to the orders task.
#[derive(Debug)]
pub enum Batch {
    /// Rows from before this start, inside the lookback: they fill the
    /// window (the KPIs are right at once) and are not sent as new records.
    Fill(Vec<OrderRecord>),
    /// New rows, and the cursor after the last of them.
    Live(Vec<OrderRecord>, Cursor),
}

/// The bounded queue between the tailer and the orders task. Lives in the
/// hub, so it outlives restarts of the orders task.
pub struct Feed {
    /// The tailer's end.
    tx: mpsc::Sender<Batch>,
    /// The orders task's end, and what it has taken: one lock, so
    /// [`Feed::close`] cannot fall between taking rows and recording it.
    rx: Mutex<Taken>,
    /// Set at shutdown: nothing more is taken, so the cursor the tailer
    /// persists last is exactly what went out.
    closed: AtomicBool,
    /// The tailer task, awaited at shutdown for its last cursor save.
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The cursor after the last live batch pushed, and whether the fill
    /// was pushed: a tailer restarted after a panic goes on from there
    /// instead of reading again what is already queued.
    pushed: Mutex<(Option<Cursor>, bool)>,
}

/// The receiving side of a [`Feed`].
struct Taken {
    /// Batches not taken yet.
    rx: mpsc::Receiver<Batch>,
    /// A live batch met while taking the fill, kept for the next poll.
    stash: Option<(Vec<OrderRecord>, Cursor)>,
    /// The cursor after the last live row the orders task took.
    delivered: Option<Cursor>,
}

impl Feed {
    /// An empty feed.
    pub fn new() -> std::sync::Arc<Feed> {
        let (tx, rx) = mpsc::channel(FEED_BATCHES);
        std::sync::Arc::new(Feed {
            tx,
            rx: Mutex::new(Taken {
                rx,
                stash: None,
                delivered: None,
            }),
            closed: AtomicBool::new(false),
            task: Mutex::new(None),
            pushed: Mutex::new((None, false)),
        })
    }

    fn taken(&self) -> std::sync::MutexGuard<'_, Taken> {
        self.rx.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue a batch, waiting while the feed is full (backpressure: the
    /// tailer stops reading). Err when the feed is gone.
    pub async fn push(&self, batch: Batch) -> Result<(), ()> {
        let live = match &batch {
            Batch::Live(_, c) => Some(*c),
            Batch::Fill(_) => None,
        };
        self.tx.send(batch).await.map_err(|_| ())?;
        if let Some(c) = live {
            self.pushed.lock().unwrap_or_else(|e| e.into_inner()).0 = Some(c);
        }
        Ok(())
    }

    /// Record that the lookback fill was pushed whole.
    pub fn filled(&self) {
        self.pushed.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
    }

    /// (the cursor after the last live batch pushed, whether the fill was).
    pub fn pushed(&self) -> (Option<Cursor>, bool) {
        *self.pushed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The fill batches at the head of the feed (the tailer sends them
    /// before any live batch).
    pub fn take_fill(&self) -> Vec<OrderRecord> {
        let mut t = self.taken();
        let mut out = Vec::new();
        if self.closed.load(SeqCst) || t.stash.is_some() {
            return out;
        }
        while let Ok(b) = t.rx.try_recv() {
            match b {
                Batch::Fill(r) => out.extend(r),
                Batch::Live(r, c) => {
                    t.stash = Some((r, c));
                    break;
                }
            }
        }
        out
    }

    /// Live batches, whole, up to `budget` records (at least one batch),
    /// recording the cursor after them as delivered.
    pub fn take_live(&self, budget: usize) -> Vec<OrderRecord> {
        let mut t = self.taken();
        let mut out: Vec<OrderRecord> = Vec::new();
        if self.closed.load(SeqCst) {
            return out;
        }
        let mut last = None;
        if let Some((r, c)) = t.stash.take() {
            out = r;
            last = Some(c);
        }
        while out.is_empty() || out.len() < budget {
            match t.rx.try_recv() {
                Ok(Batch::Live(r, c)) => {
                    out.extend(r);
                    last = Some(c);
                }
                // A fill after live rows cannot happen; were it to, its
                // rows still count (as arrivals) rather than vanish.
                Ok(Batch::Fill(r)) => out.extend(r),
                Err(_) => break,
            }
        }
        if last.is_some() {
            t.delivered = last;
        }
        out
    }

    /// The cursor after the last row the orders task took.
    pub fn delivered(&self) -> Option<Cursor> {
        self.taken().delivered
    }

    /// Take nothing more (shutdown); after this, [`Feed::delivered`] is final.
    pub fn close(&self) {
        let _t = self.taken();
        self.closed.store(true, SeqCst);
    }

    /// Start over after [`Feed::close`]: the tailer stopped because this
    /// replica lost the producer lease, not for shutdown. What is still
    /// queued is dropped (the next holder reads it again after the saved
    /// cursor), and the next run loads the cursor and fills the window
    /// again: while another replica held the lease this one only followed
    /// its frames, which never carry that holder's own window fill.
    pub fn reset(&self) {
        let mut t = self.taken();
        while t.rx.try_recv().is_ok() {}
        t.stash = None;
        t.delivered = None;
        *self.pushed.lock().unwrap_or_else(|e| e.into_inner()) = (None, false);
        self.closed.store(false, SeqCst);
    }

    /// Keep the tailer's handle for [`Feed::finished`].
    pub fn set_task(&self, task: tokio::task::JoinHandle<()>) {
        *self.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
    }

    /// Wait (at most `limit`) for the tailer to save its last cursor.
    pub async fn finished(&self, limit: Duration) {
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = tokio::time::timeout(limit, task).await;
        }
    }
}

/// The orders task's end of a [`Feed`].
pub struct PostgresSource(pub std::sync::Arc<Feed>);

impl Source for PostgresSource {
    fn poll(&mut self, _now_ms: u64) -> Vec<OrderRecord> {
        self.0.take_live(super::MAX_RECORDS_PER_TICK)
    }

    fn fill(&mut self) -> Vec<OrderRecord> {
        self.0.take_fill()
    }

    fn ready(&self) -> bool {
        self.0.pushed().1
    }

    fn idle(&mut self, _now_ms: u64) {
        // Stopped by an admin: rows wait in the feed (and then in the
        // database, the feed being bounded) until the stream runs again.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: u64) -> OrderRecord {
        rows::record(
            &rows::OutboxRow {
                cursor: Cursor {
                    xid: 1,
                    n: id as i64,
                },
                seen_ms: 1,
                item_id: Some(id.to_string()),
                order_id: None,
                user_id: None,
                product_id: None,
                status: None,
                sale_price: None,
            },
            None,
            None,
        )
    }

    #[tokio::test]
    async fn fill_first_then_live_and_the_delivered_cursor_follows_what_was_taken() {
        let feed = Feed::new();
        feed.push(Batch::Fill(vec![rec(1), rec(2)])).await.unwrap();
        feed.push(Batch::Live(vec![rec(3)], Cursor { xid: 5, n: 3 }))
            .await
            .unwrap();
        feed.push(Batch::Live(vec![rec(4)], Cursor { xid: 6, n: 4 }))
            .await
            .unwrap();
        assert_eq!(
            feed.pushed(),
            (Some(Cursor { xid: 6, n: 4 }), false),
            "a restarted tailer goes on after what is queued"
        );
        let mut src = PostgresSource(feed.clone());
        assert_eq!(src.fill().len(), 2);
        assert!(src.fill().is_empty(), "the live batch waits in the stash");
        assert_eq!(feed.delivered(), None, "nothing live taken yet");
        let got = src.poll(0);
        assert_eq!(got.iter().map(|r| r.item_id).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(feed.delivered(), Some(Cursor { xid: 6, n: 4 }));
        // After close nothing is taken: the last delivered cursor is final.
        feed.push(Batch::Live(vec![rec(5)], Cursor { xid: 7, n: 5 }))
            .await
            .unwrap();
        feed.close();
        assert!(src.poll(0).is_empty());
        assert_eq!(feed.delivered(), Some(Cursor { xid: 6, n: 4 }));
    }

    #[tokio::test]
    async fn a_full_feed_makes_the_tailer_wait() {
        let feed = Feed::new();
        for i in 0..FEED_BATCHES as u64 {
            feed.push(Batch::Live(
                vec![rec(i)],
                Cursor {
                    xid: 1,
                    n: i as i64,
                },
            ))
            .await
            .unwrap();
        }
        let one_more = feed.push(Batch::Live(vec![rec(99)], Cursor { xid: 2, n: 99 }));
        tokio::pin!(one_more);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut one_more)
                .await
                .is_err(),
            "no room: the push waits"
        );
        assert_eq!(feed.take_live(1).len(), 1);
        tokio::time::timeout(Duration::from_secs(1), one_more)
            .await
            .expect("room again")
            .unwrap();
    }
}
