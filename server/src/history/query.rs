//! `/api/history` logic, pure: the time forms (`1700000000000`, `now`,
//! `now-1h`), the tier a range reads from, and downsampling.
//!
//! **Downsampling: min/max envelope.** The range is cut into equal time
//! buckets; each bucket keeps its smallest and its largest point (in time
//! order, one when they are the same point). Every extreme survives by
//! construction (an alert threshold crossed for one second is still on the
//! chart), the points returned are real samples with their real times,
//! the cost is one pass, and buckets are aligned in time so several series
//! line up. LTTB draws a prettier line but picks the point of largest
//! triangle area, which can drop a bucket's extreme.
//! Minute rows are merged per bucket the same way (min of mins, max of
//! maxes, count-weighted average).

use super::minute::MinuteRow;
use serde::Serialize;

/// One point of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    /// Unix ms: the sample's time, or a minute (bucket) start.
    pub ts: u64,
    /// The sample, or the minute's (bucket's) average.
    pub value: f64,
    /// Minute tier only: the smallest value in the minute (bucket).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Minute tier only: the largest value in the minute (bucket).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Minute tier only: the samples summarised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

impl Point {
    /// A raw sample.
    pub fn raw(ts: u64, value: f64) -> Point {
        Point {
            ts,
            value,
            min: None,
            max: None,
            count: None,
        }
    }

    /// A minute (or merged) row.
    pub fn row(r: &MinuteRow) -> Point {
        Point {
            ts: r.minute,
            value: r.avg(),
            min: Some(r.min),
            max: Some(r.max),
            count: Some(r.count),
        }
    }
}

/// Parse a time: Unix ms, `now`, or `now-N<unit>` (shared with the page's
/// playback URL).
pub use livedash_shared::time::parse_time;

/// The `from` and `to` parameters of a request over a time range
/// (`/api/history`, `/api/export`): Unix ms or `now-5m` forms; the last
/// hour when absent.
#[derive(Debug, Default)]
pub struct RangeParams {
    /// `from`, when given.
    from: Option<u64>,
    /// `to`, when given.
    to: Option<u64>,
}

impl RangeParams {
    /// Takes the parameter `k=v` when it is `from` or `to` (true), with an
    /// error that names it for a bad time; false for any other parameter.
    pub fn take(&mut self, k: &str, v: &str, now: u64) -> Result<bool, String> {
        let slot = match k {
            "from" => &mut self.from,
            "to" => &mut self.to,
            _ => return Ok(false),
        };
        *slot = Some(parse_time(v, now).map_err(|e| format!("{k}: {e}"))?);
        Ok(true)
    }

    /// `(from, to)`, from an hour ago to now by default; an error when
    /// `from` is after `to`.
    pub fn range(&self, now: u64) -> Result<(u64, u64), String> {
        let from = self.from.unwrap_or_else(|| now.saturating_sub(3_600_000));
        let to = self.to.unwrap_or(now);
        if from > to {
            return Err(format!("from ({from}) is after to ({to})"));
        }
        Ok((from, to))
    }
}

/// Bucket of `ts` among `buckets` equal buckets over `[from, to]`.
fn bucket(ts: u64, from: u64, to: u64, buckets: usize) -> usize {
    let span = (to - from).max(1) as u128;
    let i = (u128::from(ts.saturating_sub(from)) * buckets as u128 / (span + 1)) as usize;
    i.min(buckets - 1)
}

/// At most `max_points` of `points` (time-ordered, within `[from, to]`):
/// all of them when they fit, else the min/max envelope.
pub fn envelope(points: &[(u64, f64)], from: u64, to: u64, max_points: usize) -> Vec<Point> {
    if points.len() <= max_points {
        return points.iter().map(|&(t, v)| Point::raw(t, v)).collect();
    }
    let buckets = (max_points / 2).max(1);
    let mut out = Vec::with_capacity(buckets * 2);
    let mut i = 0;
    while i < points.len() {
        let b = bucket(points[i].0, from, to, buckets);
        let (mut lo, mut hi) = (i, i);
        let mut j = i + 1;
        while j < points.len() && bucket(points[j].0, from, to, buckets) == b {
            if points[j].1 < points[lo].1 {
                lo = j;
            }
            if points[j].1 > points[hi].1 {
                hi = j;
            }
            j += 1;
        }
        let (a, c) = (lo.min(hi), lo.max(hi));
        out.push(Point::raw(points[a].0, points[a].1));
        if c != a && max_points > 1 {
            out.push(Point::raw(points[c].0, points[c].1));
        }
        i = j;
    }
    out
}

/// At most `max_points` of minute `rows` (time-ordered, within
/// `[from, to]`): all of them when they fit, else merged per bucket.
pub fn merge_rows(rows: &[MinuteRow], from: u64, to: u64, max_points: usize) -> Vec<Point> {
    if rows.len() <= max_points {
        return rows.iter().map(Point::row).collect();
    }
    let buckets = max_points.max(1);
    let mut out: Vec<(usize, MinuteRow)> = Vec::with_capacity(buckets);
    for r in rows {
        let b = bucket(r.minute, from, to, buckets);
        match out.last_mut() {
            Some((lb, acc)) if *lb == b => acc.merge(r),
            _ => out.push((b, *r)),
        }
    }
    out.iter().map(|(_, r)| Point::row(r)).collect()
}

/// Rows from the store and rows still in memory, one per minute (the same
/// minute in both — after a restart — merged), in time order.
pub fn combine_rows(mut stored: Vec<MinuteRow>, pending: Vec<MinuteRow>) -> Vec<MinuteRow> {
    stored.extend(pending);
    stored.sort_by_key(|r| r.minute);
    let mut out: Vec<MinuteRow> = Vec::with_capacity(stored.len());
    for r in stored {
        match out.last_mut() {
            Some(last) if last.minute == r.minute => last.merge(&r),
            _ => out.push(r),
        }
    }
    out
}

/// Which tiers a range reads: the minute tier before the first
/// full-resolution point held (`raw_start`), full resolution from it on.
/// Returns `(minute part, raw part)` as inclusive ranges.
pub type Split = (Option<(u64, u64)>, Option<(u64, u64)>);

/// See [`Split`].
pub fn split(from: u64, to: u64, raw_start: Option<u64>) -> Split {
    match raw_start {
        Some(s) if s <= from => (None, Some((from, to))),
        Some(s) if s <= to => (Some((from, s - 1)), Some((s, to))),
        _ => (Some((from, to)), None),
    }
}

/// `max_points` shared between two parts in proportion to their spans
/// (each at least 2 when it exists).
pub fn share(max_points: usize, split: &Split) -> (usize, usize) {
    match split {
        (Some(m), Some(r)) => {
            let (ms, rs) = ((m.1 - m.0 + 1) as f64, (r.1 - r.0 + 1) as f64);
            let for_m = ((max_points as f64) * ms / (ms + rs)).round() as usize;
            let for_m = for_m.clamp(2.min(max_points), max_points.saturating_sub(2).max(1));
            (for_m, max_points.saturating_sub(for_m).max(1))
        }
        _ => (max_points, max_points),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_forms() {
        let now = 10_000_000;
        assert_eq!(parse_time("1234", now), Ok(1234));
        assert_eq!(parse_time("now", now), Ok(now));
        assert_eq!(parse_time("now-5m", now), Ok(now - 300_000));
        assert_eq!(parse_time("now-1h", now), Ok(now - 3_600_000));
        assert_eq!(parse_time("now-30s", now), Ok(now - 30_000));
        assert_eq!(parse_time("now-7d", now), Ok(0), "saturates");
        for bad in ["", "yesterday", "now-", "now-5", "now-5y", "now+5m", "-5"] {
            let e = parse_time(bad, now).unwrap_err();
            assert!(e.contains("now-1h"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_envelope_keeps_a_one_sample_spike_and_the_dip() {
        let mut pts: Vec<(u64, f64)> = (0..86_400u64).map(|s| (s * 1000, 50.0)).collect();
        pts[40_000].1 = 99.5;
        pts[70_001].1 = -3.0;
        let out = envelope(&pts, 0, 86_399_000, 1000);
        assert!(out.len() <= 1000, "{}", out.len());
        assert!(out.contains(&Point::raw(40_000_000, 99.5)));
        assert!(out.contains(&Point::raw(70_001_000, -3.0)));
        assert!(out.windows(2).all(|w| w[0].ts < w[1].ts), "time order");
        assert_eq!(envelope(&pts[..10], 0, 9000, 1000).len(), 10, "fits: all");
    }

    #[test]
    fn minute_rows_merge_keeping_extremes() {
        let rows: Vec<MinuteRow> = (0..100u64)
            .map(|m| {
                let mut r = MinuteRow::new(m * 60_000, 1.0);
                r.add(if m == 37 { 500.0 } else { 3.0 });
                r
            })
            .collect();
        let out = merge_rows(&rows, 0, 99 * 60_000, 10);
        assert_eq!(out.len(), 10);
        assert_eq!(out.iter().filter_map(|p| p.max).fold(0.0, f64::max), 500.0);
        assert_eq!(out.iter().filter_map(|p| p.count).sum::<u64>(), 200);
        assert_eq!(merge_rows(&rows, 0, 99 * 60_000, 100).len(), 100);
    }

    #[test]
    fn tiers_follow_the_first_raw_point() {
        assert_eq!(split(10, 20, Some(5)), (None, Some((10, 20))));
        assert_eq!(split(10, 20, Some(15)), (Some((10, 14)), Some((15, 20))));
        assert_eq!(split(10, 20, Some(25)), (Some((10, 20)), None));
        assert_eq!(split(10, 20, None), (Some((10, 20)), None));
        let s = split(0, 99, Some(90));
        assert_eq!(share(100, &s), (90, 10));
        assert_eq!(share(100, &split(0, 9_999, Some(9_999))), (98, 2));
        let both = combine_rows(
            vec![MinuteRow::new(0, 1.0), MinuteRow::new(60_000, 1.0)],
            vec![MinuteRow::new(60_000, 3.0)],
        );
        assert_eq!(both.len(), 2);
        assert_eq!((both[1].count, both[1].max), (2, 3.0));
    }
}
