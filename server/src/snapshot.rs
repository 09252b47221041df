//! Serialized snapshots, built away from the publish path.
//!
//! A snapshot can be a megabyte of JSON (an hour of history). Building it
//! must never make a producer wait, and a flood of requests must not build
//! it again and again. So:
//! - the parts are copied out of the hub under its lock (reference counts
//!   and small copies), and serialized outside any lock the producers take;
//! - `?history=` is rounded up to one of a few sizes ([`HISTORY_SIZES`]),
//!   each with one cache slot;
//! - a slot is reused while it is younger than [`MAX_AGE`]; a connection
//!   that gets a cached snapshot is sent the frames published since from
//!   the hub's recent buffer, so it misses nothing. `/api/snapshot` serves
//!   the cached bytes as they are (at most [`MAX_AGE`] old);
//! - one builder per slot at a time (an async lock): whoever waited for it
//!   takes the bytes just built.

use crate::hub::Hub;
use crate::metrics::Metrics;
use livedash_shared::{Seqs, ServerMessage};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// How old a cached snapshot may be when it is handed out.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// The history sizes snapshots are built for; a requested size is rounded
/// up to the next one, and above the largest means "everything kept".
pub const HISTORY_SIZES: [usize; 5] = [0, 60, 300, 900, 3600];

/// The newest order records a snapshot carries in `orders.records` for a
/// connection that asked for records (a recent-orders table is full at
/// once instead of waiting for new orders).
pub const SNAPSHOT_RECORDS: usize = 100;

/// A `?history=` request rounded to a cache slot, and whether the
/// snapshot carries the newest records ([`SNAPSHOT_RECORDS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryCap {
    /// Index into [`HISTORY_SIZES`], or `HISTORY_SIZES.len()` for all.
    slot: usize,
    /// The connection asked for records (`?records=1`, the default).
    records: bool,
}

impl HistoryCap {
    /// Everything the server keeps (no `?history=`), no records.
    pub const ALL: HistoryCap = HistoryCap {
        slot: HISTORY_SIZES.len(),
        records: false,
    };

    /// The same, carrying the newest records or not.
    pub fn with_records(self, records: bool) -> HistoryCap {
        HistoryCap { records, ..self }
    }

    /// How many of the newest records the snapshot carries.
    pub fn records(self) -> usize {
        if self.records {
            SNAPSHOT_RECORDS
        } else {
            0
        }
    }

    /// Its cache slot.
    fn index(self) -> usize {
        self.slot * 2 + usize::from(self.records)
    }

    /// The slot for a requested number of points (`None` = all kept).
    pub fn for_request(points: Option<usize>) -> HistoryCap {
        let slot = match points {
            None => HISTORY_SIZES.len(),
            Some(n) => HISTORY_SIZES
                .iter()
                .position(|&s| s >= n)
                .unwrap_or(HISTORY_SIZES.len()),
        };
        HistoryCap {
            slot,
            records: false,
        }
    }

    /// Points of history included (`None` = all kept).
    pub fn points(self) -> Option<usize> {
        HISTORY_SIZES.get(self.slot).copied()
    }
}

/// A serialized snapshot and the seqs it covers.
#[derive(Debug)]
pub struct SnapshotBytes {
    /// The `snapshot` frame's JSON text.
    pub text: Utf8Bytes,
    /// Each topic's last seq included in it.
    pub seq: Seqs,
    /// When it was built (cache age).
    pub built: Instant,
    /// The epoch of `seq`: a cached snapshot of an older epoch is never
    /// caught up from, only replaced.
    pub epoch: Arc<str>,
}

/// One cache slot per history size, with and without records.
#[derive(Default)]
pub struct SnapshotCache {
    /// The newest snapshot of each size; the async lock makes one builder
    /// per slot at a time.
    slots: [tokio::sync::Mutex<Option<Arc<SnapshotBytes>>>; 2 * (HISTORY_SIZES.len() + 1)],
}

impl SnapshotCache {
    /// A snapshot built at or after `not_before`: the cached one if it is
    /// recent enough, else a new one.
    pub async fn get(&self, hub: &Hub, cap: HistoryCap, not_before: Instant) -> Arc<SnapshotBytes> {
        let mut slot = self.slots[cap.index()].lock().await;
        if let Some(s) = slot.as_ref().filter(|s| s.built >= not_before) {
            return s.clone();
        }
        let built = Instant::now();
        let mut parts = hub.snapshot_parts(cap.points());
        keep_newest(&mut parts.history.records, cap.records());
        let seq = parts.seq;
        let epoch = parts.epoch.clone();
        let text = ServerMessage::Snapshot(Hub::snapshot_body(parts)).to_json();
        let bytes = Arc::new(SnapshotBytes {
            text: Utf8Bytes::from(text),
            seq,
            built,
            epoch,
        });
        Metrics::add(&hub.metrics.snapshots_built, 1);
        *slot = Some(bytes.clone());
        bytes
    }
}

/// Keep the `n` newest (last) of `records`.
pub fn keep_newest<T>(records: &mut std::collections::VecDeque<T>, n: usize) {
    let extra = records.len().saturating_sub(n);
    records.drain(..extra);
}

impl Hub {
    /// A snapshot at most [`MAX_AGE`] old (possibly cached).
    pub async fn snapshot(&self, cap: HistoryCap) -> Arc<SnapshotBytes> {
        let not_before = Instant::now()
            .checked_sub(MAX_AGE)
            .unwrap_or_else(Instant::now);
        self.snapshots.get(self, cap, not_before).await
    }

    /// A snapshot built now or later (when the recent frames cannot bridge
    /// a cached one).
    pub async fn fresh_snapshot(&self, cap: HistoryCap) -> Arc<SnapshotBytes> {
        self.snapshots.get(self, cap, Instant::now()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use livedash_shared::Level;
    use std::sync::atomic::Ordering::Relaxed;

    #[test]
    fn history_requests_round_up_to_a_few_sizes() {
        let pts = |n| HistoryCap::for_request(n).points();
        assert_eq!(pts(None), None);
        assert_eq!(pts(Some(0)), Some(0));
        assert_eq!(pts(Some(1)), Some(60));
        assert_eq!(pts(Some(60)), Some(60));
        assert_eq!(pts(Some(61)), Some(300));
        assert_eq!(pts(Some(3600)), Some(3600));
        assert_eq!(pts(Some(1_000_000)), None);
        // 1,000,001 distinct requests share 6 slots.
        let distinct: std::collections::HashSet<_> = (0..5000)
            .map(|n| HistoryCap::for_request(Some(n)).slot)
            .collect();
        assert_eq!(distinct.len(), HISTORY_SIZES.len() + 1);
    }

    #[tokio::test]
    async fn cached_until_max_age_and_fresh_on_demand() {
        let hub = Hub::new(Config::default());
        let a = hub.snapshot(HistoryCap::ALL).await;
        hub.publish_event(Level::Warn, "x".into());
        let b = hub.snapshot(HistoryCap::ALL).await;
        assert!(Arc::ptr_eq(&a, &b), "younger than MAX_AGE: reused");
        assert_eq!(b.seq.events, 0, "the cached one predates the event");
        let c = hub.fresh_snapshot(HistoryCap::ALL).await;
        assert_eq!(c.seq.events, 1);
        assert_eq!(hub.metrics.snapshots_built.load(Relaxed), 2);
        let v: serde_json::Value = serde_json::from_str(c.text.as_str()).unwrap();
        assert_eq!(v["type"], "snapshot");
        assert_eq!(v["events"][0]["text"], "x");
    }
}
