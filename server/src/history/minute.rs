//! The 1-minute tier: per series, one row (min / max / sum / count) per
//! wall-clock minute. Rows are built here as points arrive and handed to
//! the store once a minute ([`Minutes::unflushed`], then
//! [`Minutes::confirm`] once the store has them); the store merges a row
//! into one it already has for the same minute (after a restart).

use serde::Serialize;

/// One minute, ms.
pub const MINUTE_MS: u64 = 60_000;

/// The start of the minute holding `ts`.
pub fn minute_of(ts: u64) -> u64 {
    ts - ts % MINUTE_MS
}

/// One series' summary over one minute (or, merged, over a longer bucket).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MinuteRow {
    /// Start of the minute (or bucket), Unix ms.
    pub minute: u64,
    /// Smallest value in it.
    pub min: f64,
    /// Largest value in it.
    pub max: f64,
    /// Sum of its values (the average is `sum / count`).
    pub sum: f64,
    /// Points in it.
    pub count: u64,
}

impl MinuteRow {
    /// A row with one point.
    pub fn new(minute: u64, v: f64) -> MinuteRow {
        MinuteRow {
            minute,
            min: v,
            max: v,
            sum: v,
            count: 1,
        }
    }

    /// Add one point.
    pub fn add(&mut self, v: f64) {
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum += v;
        self.count += 1;
    }

    /// Merge another row (same series) into this one; keeps this start.
    pub fn merge(&mut self, o: &MinuteRow) {
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        self.sum += o.sum;
        self.count += o.count;
    }

    /// The average value.
    pub fn avg(&self) -> f64 {
        self.sum / self.count.max(1) as f64
    }
}

/// One series' rows not yet in the store.
#[derive(Debug, Default)]
pub struct Minutes {
    /// The minute points are arriving in now.
    open: Option<MinuteRow>,
    /// Finished minutes not yet confirmed stored, oldest first.
    closed: Vec<MinuteRow>,
}

impl Minutes {
    /// Add a point (points come in time order: the history's ring refuses
    /// older ones before they get here).
    pub fn add(&mut self, ts: u64, v: f64) {
        let m = minute_of(ts);
        match &mut self.open {
            Some(row) if row.minute == m => row.add(v),
            Some(row) if row.minute > m => {} // not in time order: not kept
            open => {
                if let Some(done) = open.replace(MinuteRow::new(m, v)) {
                    self.closed.push(done);
                }
            }
        }
    }

    /// Close the open minute if `now` is past it (a series that stopped
    /// still gets its last minute stored).
    pub fn close_before(&mut self, now: u64) {
        if self.open.is_some_and(|r| r.minute + MINUTE_MS <= now) {
            self.closed.extend(self.open.take());
        }
    }

    /// Close the open minute whatever the time (shutdown).
    pub fn close_all(&mut self) {
        self.closed.extend(self.open.take());
    }

    /// Finished rows not yet confirmed stored.
    pub fn unflushed(&self) -> &[MinuteRow] {
        &self.closed
    }

    /// The store has every row up to `minute`: forget them.
    pub fn confirm(&mut self, minute: u64) {
        self.closed.retain(|r| r.minute > minute);
    }

    /// Rows held here (finished and open) with `from <= minute <= to`.
    pub fn rows(&self, from: u64, to: u64) -> impl Iterator<Item = MinuteRow> + '_ {
        self.closed
            .iter()
            .chain(self.open.iter())
            .filter(move |r| r.minute >= from && r.minute <= to)
            .copied()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.open.is_none() && self.closed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_per_minute_with_min_max_avg_count() {
        let mut m = Minutes::default();
        for (ts, v) in [(0, 5.0), (30_000, 1.0), (59_999, 9.0), (60_000, 2.0)] {
            m.add(ts, v);
        }
        assert_eq!(
            m.unflushed(),
            &[MinuteRow {
                minute: 0,
                min: 1.0,
                max: 9.0,
                sum: 15.0,
                count: 3
            }]
        );
        assert_eq!(m.unflushed()[0].avg(), 5.0);
        m.close_before(119_999);
        assert_eq!(m.unflushed().len(), 1, "minute 1 is still open");
        m.close_before(120_000);
        assert_eq!(m.unflushed().len(), 2);
        m.confirm(0);
        assert_eq!(m.unflushed()[0].minute, 60_000);
        assert_eq!(m.rows(0, u64::MAX).count(), 1);
        m.confirm(60_000);
        assert!(m.is_empty());
    }

    #[test]
    fn merging_rows_of_one_minute() {
        let mut a = MinuteRow::new(0, 3.0);
        a.merge(&MinuteRow::new(0, 7.0));
        assert_eq!((a.min, a.max, a.count, a.avg()), (3.0, 7.0, 2, 5.0));
        assert_eq!(minute_of(61_234), 60_000);
    }
}
