//! Every series the server keeps, by name: full-resolution points in a
//! [`Ring`] and the minute rows waiting for the store. Pure: no I/O, no
//! clock — every method that depends on time takes `now`, so tests drive
//! it with a fake clock.
//!
//! Bounds: at most `max_series` series (a point for a new series past it
//! is refused and counted) and at most `max_points` points over all
//! series (past it, the oldest chunk over all series goes first), so
//! memory stays bounded whatever writers do; full resolution covers the
//! retention while the total rate stays under `max_points / retention`.

use super::minute::{MinuteRow, Minutes};
use super::ring::Ring;
use std::collections::HashMap;
use std::sync::Arc;

/// The bounds of a registry.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// How long full-resolution points are kept, ms.
    pub retention_ms: u64,
    /// Points kept over all series, at most.
    pub max_points: usize,
    /// Series kept, at most.
    pub max_series: usize,
}

/// One series.
#[derive(Debug, Default)]
struct Entry {
    /// Full-resolution points.
    ring: Ring,
    /// Minute rows not yet in the store.
    minutes: Minutes,
    /// Older points of the series were dropped (retention or the point
    /// budget): the oldest minute held may be cut in two.
    trimmed: bool,
}

/// What [`Registry::record`] did with a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Kept.
    Kept,
    /// Not a finite number.
    NotFinite,
    /// Older than the series' newest point.
    OutOfOrder,
    /// A new series past `max_series`.
    TooManySeries,
}

/// Every series kept in memory.
#[derive(Debug)]
pub struct Registry {
    /// The series, by name.
    series: HashMap<Arc<str>, Entry>,
    /// Points held over all series.
    points: usize,
    /// The bounds.
    bounds: Bounds,
    /// Points refused since start (any reason), for /metrics.
    pub refused: u64,
}

impl Registry {
    /// Empty.
    pub fn new(bounds: Bounds) -> Registry {
        Registry {
            series: HashMap::new(),
            points: 0,
            bounds,
            refused: 0,
        }
    }

    /// The bounds.
    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    /// Record one point of `name` at `ts`, applying retention for `now`.
    pub fn record(&mut self, name: &str, ts: u64, v: f64, now: u64) -> Recorded {
        let r = self.record_inner(name, ts, v, now);
        if r != Recorded::Kept {
            self.refused += 1;
        }
        r
    }

    fn record_inner(&mut self, name: &str, ts: u64, v: f64, now: u64) -> Recorded {
        if !v.is_finite() {
            return Recorded::NotFinite;
        }
        if !self.series.contains_key(name) {
            if self.series.len() >= self.bounds.max_series {
                return Recorded::TooManySeries;
            }
            self.series.insert(Arc::from(name), Entry::default());
        }
        let entry = self.series.get_mut(name).expect("present or just added");
        if !entry.ring.push(ts, v) {
            return Recorded::OutOfOrder;
        }
        entry.minutes.add(ts, v);
        let cutoff = now.saturating_sub(self.bounds.retention_ms);
        let dropped = entry.ring.drop_before(cutoff);
        entry.trimmed |= dropped > 0;
        self.points = self.points + 1 - dropped;
        while self.points > self.bounds.max_points {
            if !self.evict_oldest_chunk() {
                break;
            }
        }
        Recorded::Kept
    }

    /// Drop the chunk whose newest point is the oldest over all series.
    fn evict_oldest_chunk(&mut self) -> bool {
        let oldest = self
            .series
            .values_mut()
            .filter_map(|e| e.ring.oldest_chunk_end().map(|t| (t, e)))
            .min_by_key(|(t, _)| *t);
        match oldest {
            Some((_, e)) => {
                self.points -= e.ring.drop_oldest_chunk();
                e.trimmed = true;
                true
            }
            None => false,
        }
    }

    /// Retention for every series (also those that stopped getting
    /// points) and closing minutes that ended before `now`.
    pub fn tidy(&mut self, now: u64) {
        let cutoff = now.saturating_sub(self.bounds.retention_ms);
        for e in self.series.values_mut() {
            let dropped = e.ring.drop_before(cutoff);
            e.trimmed |= dropped > 0;
            self.points -= dropped;
            e.minutes.close_before(now);
        }
    }

    /// Close every open minute (at shutdown, before the last flush).
    pub fn close_all_minutes(&mut self) {
        for e in self.series.values_mut() {
            e.minutes.close_all();
        }
    }

    /// Every finished minute row not yet confirmed stored, by series.
    pub fn unflushed(&self) -> Vec<(Arc<str>, Vec<MinuteRow>)> {
        self.series
            .iter()
            .filter(|(_, e)| !e.minutes.unflushed().is_empty())
            .map(|(n, e)| (n.clone(), e.minutes.unflushed().to_vec()))
            .collect()
    }

    /// The store has these series' rows up to the minute given.
    pub fn confirm(&mut self, stored: &[(Arc<str>, u64)]) {
        for (name, upto) in stored {
            if let Some(e) = self.series.get_mut(name) {
                e.minutes.confirm(*upto);
            }
        }
    }

    /// Whether the series is known here.
    pub fn contains(&self, name: &str) -> bool {
        self.series.contains_key(name)
    }

    /// The names of every series held, unsorted.
    pub fn names(&self) -> impl Iterator<Item = &Arc<str>> {
        self.series.keys()
    }

    /// Time of the series' oldest full-resolution point.
    pub fn first_ts(&self, name: &str) -> Option<u64> {
        self.series.get(name).and_then(|e| e.ring.first_ts())
    }

    /// Where queries read full resolution from: the oldest point held, or,
    /// once older points of the series were dropped, the next minute
    /// boundary. The minute cut in two is read from its minute row, which
    /// holds every point of it; its held half alone would lose the dropped
    /// half (and both together would count the held half twice).
    pub fn full_resolution_from(&self, name: &str) -> Option<u64> {
        let e = self.series.get(name)?;
        let s = e.ring.first_ts()?;
        let cut = e.trimmed && s % super::minute::MINUTE_MS != 0;
        Some(match cut {
            true => super::minute::minute_of(s) + super::minute::MINUTE_MS,
            false => s,
        })
    }

    /// Full-resolution points with `from <= ts <= to`.
    pub fn raw(&self, name: &str, from: u64, to: u64) -> Vec<(u64, f64)> {
        self.series
            .get(name)
            .map(|e| e.ring.range(from, to).collect())
            .unwrap_or_default()
    }

    /// Minute rows held in memory (not yet stored) in the range.
    pub fn pending_minutes(&self, name: &str, from: u64, to: u64) -> Vec<MinuteRow> {
        self.series
            .get(name)
            .map(|e| e.minutes.rows(from, to).collect())
            .unwrap_or_default()
    }

    /// Points held over all series.
    pub fn points(&self) -> usize {
        self.points
    }

    /// Series held.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether no series is held.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Heap bytes of every ring (points only, not names or maps).
    pub fn heap_bytes(&self) -> usize {
        self.series.values().map(|e| e.ring.heap_bytes()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3_600_000;

    fn reg(max_points: usize) -> Registry {
        Registry::new(Bounds {
            retention_ms: 24 * HOUR,
            max_points,
            max_series: 3,
        })
    }

    #[test]
    fn a_minute_cut_by_eviction_is_read_whole_from_its_row() {
        // One point a second for 83 min, a budget of 3 chunks: eviction
        // cuts a minute in two.
        let mut r = reg(3 * super::super::ring::CHUNK);
        let n = 5_000u64;
        for i in 0..n {
            let ts = 7_000 + i * 1_000;
            r.record("a", ts, i as f64, ts);
        }
        let held = r.first_ts("a").unwrap();
        assert_ne!(held % 60_000, 0, "the budget cut a minute in two");
        let from = r.full_resolution_from("a").unwrap();
        assert_eq!(from % 60_000, 0);
        assert!(from > held);
        // Minute rows before `from` and points from it on: every point once.
        let rows: u64 = r
            .pending_minutes("a", 0, from - 1)
            .iter()
            .map(|m| m.count)
            .sum();
        let raw = r.raw("a", from, u64::MAX).len() as u64;
        assert_eq!(rows + raw, n);
        // A series never trimmed reads full resolution from its first point.
        r.record("b", 7_500, 1.0, 7_500);
        assert_eq!(r.full_resolution_from("b"), Some(7_500));
    }

    #[test]
    fn retention_with_a_fake_clock_keeps_24_hours_and_drops_older() {
        let mut r = reg(usize::MAX);
        // Two days of one point every 10 s, the clock following the data.
        let mut now = 0;
        while now <= 48 * HOUR {
            assert_eq!(r.record("a", now, 1.0, now), Recorded::Kept);
            now += 10_000;
        }
        let now = now - 10_000;
        let first = r.first_ts("a").unwrap();
        assert!(first <= now - 24 * HOUR, "at least 24 h kept");
        // At most one chunk (1024 points, 2.8 h at this rate) more.
        let chunk_span = super::super::ring::CHUNK as u64 * 10_000;
        assert!(
            first > now - 24 * HOUR - chunk_span,
            "older points were dropped: {first}"
        );
        assert_eq!(r.points(), r.raw("a", 0, u64::MAX).len());
        // A series that stopped is trimmed by `tidy`.
        r.record("b", now - HOUR, 2.0, now);
        r.tidy(now + 26 * HOUR);
        assert_eq!(r.raw("b", 0, u64::MAX).len(), 0);
        assert_eq!(r.points(), 0);
    }

    #[test]
    fn bounds_on_series_points_and_values() {
        let mut r = reg(super::super::ring::CHUNK * 2);
        for n in ["a", "b", "c"] {
            assert_eq!(r.record(n, 5, 1.0, 5), Recorded::Kept);
        }
        assert_eq!(r.record("d", 5, 1.0, 5), Recorded::TooManySeries);
        assert_eq!(r.record("a", 4, 1.0, 5), Recorded::OutOfOrder);
        assert_eq!(r.record("a", 6, f64::NAN, 6), Recorded::NotFinite);
        assert_eq!(r.refused, 3);
        // The point budget evicts the oldest chunk over all series.
        for i in 0..(super::super::ring::CHUNK as u64 * 3) {
            r.record("a", 10 + i, 1.0, 10 + i);
        }
        assert!(
            r.points() <= super::super::ring::CHUNK * 2,
            "{}",
            r.points()
        );
        assert!(r.raw("b", 0, 10).is_empty(), "b's older chunk went first");
    }

    #[test]
    fn minute_rows_wait_until_confirmed() {
        let mut r = reg(usize::MAX);
        for s in 0..130 {
            r.record("a", s * 1000, s as f64, s * 1000);
        }
        let rows = r.unflushed();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].1.len(), 2, "minutes 0 and 1; minute 2 is open");
        assert_eq!(rows[0].1[1].max, 119.0);
        r.tidy(180_000);
        assert_eq!(r.unflushed()[0].1.len(), 3, "the idle minute closed");
        r.confirm(&[(Arc::from("a"), 60_000)]);
        assert_eq!(r.unflushed()[0].1.len(), 1);
        assert_eq!(r.pending_minutes("a", 0, u64::MAX).len(), 1);
    }

    /// Memory for 24 h of every default series at 1 s, printed
    /// (`cargo test -p livedash-server memory_for_24_hours -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn memory_for_24_hours_of_the_default_series() {
        use crate::generator::{COUNTRIES, TRAFFIC_SOURCES};
        let mut names: Vec<String> = super::super::names::KPIS
            .iter()
            .chain(super::super::names::SYSTEM.iter())
            .map(|s| s.to_string())
            .collect();
        names.extend(
            COUNTRIES
                .iter()
                .map(|c| livedash_shared::series::revenue("country", c.0)),
        );
        names.extend(
            TRAFFIC_SOURCES
                .iter()
                .map(|c| livedash_shared::series::revenue("traffic_source", c.0)),
        );
        let mut r = Registry::new(Bounds {
            retention_ms: 24 * HOUR,
            max_points: usize::MAX,
            max_series: 1000,
        });
        let start = 1_700_000_000_000u64;
        for s in 0..86_400u64 {
            let now = start + s * 1000;
            for (i, n) in names.iter().enumerate() {
                r.record(n, now, (s % 100) as f64 + i as f64, now);
            }
        }
        println!(
            "{} default series, 24 h at 1 s: {} points, {:.1} MiB of rings, {:.2} bytes per point",
            names.len(),
            r.points(),
            r.heap_bytes() as f64 / 1048576.0,
            r.heap_bytes() as f64 / r.points() as f64
        );
    }
}
