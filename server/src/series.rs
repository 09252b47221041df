//! Named series pushed from outside (the InfluxDB write API): their names,
//! the points waiting to be published, and the recent points a snapshot
//! carries. Pure: no I/O, no clock, no locks (the hub holds the lock).
//!
//! A series is `measurement.field{tag=value,...}`, tags sorted by key as
//! InfluxDB orders them, no braces without tags ([`name`]).
//!
//! Points go through two stages:
//! - [`Pending`]: written, not yet published. A write is checked whole
//!   against the series bound and the pending bound, then applied whole
//!   (all or nothing). Each series that got points joins a FIFO of dirty
//!   series once; [`Pending::take`] hands out at most N dirty series per
//!   flush, each with all its waiting points: one frame per series per
//!   flush however often it was written, and a bounded number of frames
//!   per flush however many series there are.
//! - [`Recent`]: published, kept for snapshots (the newest `keep` points of
//!   each series, behind an `Arc` so a snapshot copies pointers).

use livedash_shared::{SeriesHistory, SeriesPoint};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// Longest accepted series name, bytes.
pub const MAX_NAME_BYTES: usize = 1024;

/// Points a snapshot carries over all series together, at most: each series
/// gets an equal share (at least its newest point), so a snapshot stays a
/// few megabytes with 10,000 series.
pub const SNAPSHOT_POINTS_BUDGET: usize = 100_000;

/// The series name of one field of one line: `measurement.field{k=v,...}`
/// with the tags sorted by key (then value).
pub fn name(measurement: &str, field: &str, tags: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(measurement.len() + field.len() + 2 + tags.len() * 16);
    out.push_str(measurement);
    out.push('.');
    out.push_str(field);
    if !tags.is_empty() {
        let mut sorted: Vec<&(&str, &str)> = tags.iter().collect();
        sorted.sort();
        out.push('{');
        for (i, (k, v)) in sorted.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        out.push('}');
    }
    out
}

/// The points of one request, grouped per series in first-seen order.
pub type Batch = Vec<(String, Vec<SeriesPoint>)>;

/// Why a write was refused (nothing of it was applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// It would create series past the bound.
    TooManySeries {
        /// Series the request would add.
        new: usize,
        /// Series known now.
        known: usize,
        /// The bound (`--max-series`).
        max: usize,
    },
    /// Too many points wait to be published already: retry shortly.
    Busy {
        /// Points waiting now.
        pending: usize,
        /// The bound.
        max: usize,
    },
}

/// One known series, waiting side.
#[derive(Debug, Default)]
struct Waiting {
    /// Points written and not yet handed to the publisher, in write order.
    points: Vec<SeriesPoint>,
    /// Whether the series is in the dirty FIFO.
    queued: bool,
}

/// Every known series and its points waiting to be published.
#[derive(Debug)]
pub struct Pending {
    /// Series known, by name (names are never forgotten: the bound counts
    /// every series ever written while the server runs).
    series: HashMap<Arc<str>, Waiting>,
    /// Series with waiting points, oldest write first, each at most once.
    dirty: VecDeque<Arc<str>>,
    /// Points waiting over all series.
    waiting: usize,
    /// Bound on known series.
    max_series: usize,
    /// Bound on `waiting` (a single larger write is still taken when
    /// nothing waits).
    max_waiting: usize,
}

impl Pending {
    /// Empty, with the bounds on series and on waiting points.
    pub fn new(max_series: usize, max_waiting: usize) -> Pending {
        Pending {
            series: HashMap::new(),
            dirty: VecDeque::new(),
            waiting: 0,
            max_series,
            max_waiting,
        }
    }

    /// Series known.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether no series is known.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Points waiting to be published.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// Apply a whole request, or nothing of it.
    pub fn write(&mut self, batch: Batch) -> Result<(), Refused> {
        let points: usize = batch.iter().map(|(_, p)| p.len()).sum();
        if self.waiting > 0 && self.waiting + points > self.max_waiting {
            return Err(Refused::Busy {
                pending: self.waiting,
                max: self.max_waiting,
            });
        }
        let new = batch
            .iter()
            .filter(|(n, _)| !self.series.contains_key(n.as_str()))
            .count();
        if self.series.len() + new > self.max_series {
            return Err(Refused::TooManySeries {
                new,
                known: self.series.len(),
                max: self.max_series,
            });
        }
        for (name, mut pts) in batch {
            if pts.is_empty() {
                continue;
            }
            let key: Arc<str> = match self.series.get_key_value(name.as_str()) {
                Some((k, _)) => k.clone(),
                None => Arc::from(name),
            };
            let w = self.series.entry(key.clone()).or_default();
            self.waiting += pts.len();
            w.points.append(&mut pts);
            if !w.queued {
                w.queued = true;
                self.dirty.push_back(key);
            }
        }
        Ok(())
    }

    /// Up to `max_series` dirty series, oldest first, each with all its
    /// waiting points (one frame each).
    pub fn take(&mut self, max_series: usize) -> Vec<(Arc<str>, Vec<SeriesPoint>)> {
        let mut out = Vec::new();
        while out.len() < max_series {
            let Some(name) = self.dirty.pop_front() else {
                break;
            };
            let Some(w) = self.series.get_mut(&name) else {
                continue;
            };
            w.queued = false;
            let pts = std::mem::take(&mut w.points);
            self.waiting -= pts.len();
            out.push((name, pts));
        }
        out
    }

    /// Series waiting for a frame.
    pub fn dirty(&self) -> usize {
        self.dirty.len()
    }
}

/// The published points of every series, newest `keep` of each.
#[derive(Debug, Clone, Default)]
pub struct Recent {
    /// By name, so snapshots list series sorted. Each deque is shared with
    /// the snapshots taken since its last change (copy on write).
    series: BTreeMap<Arc<str>, Arc<VecDeque<SeriesPoint>>>,
}

impl Recent {
    /// File a published frame's points, keeping the newest `keep`.
    pub fn record(&mut self, name: &Arc<str>, points: &[SeriesPoint], keep: usize) {
        let buf = self.series.entry(name.clone()).or_default();
        let buf = Arc::make_mut(buf);
        let skip = points.len().saturating_sub(keep);
        buf.extend(points[skip..].iter().copied());
        while buf.len() > keep {
            buf.pop_front();
        }
    }

    /// Series published at least once.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// Whether no series was published.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// The snapshot's series: every name, sorted, with its newest points:
    /// at most `cap` (the `?history=` size; `None` = all kept) and at most
    /// an equal share of [`SNAPSHOT_POINTS_BUDGET`] (at least one).
    pub fn snapshot(&self, cap: Option<usize>) -> Vec<SeriesHistory> {
        let share = (SNAPSHOT_POINTS_BUDGET / self.series.len().max(1)).max(1);
        let per = cap.map_or(share, |c| c.min(share));
        self.series
            .iter()
            .map(|(name, pts)| SeriesHistory {
                name: name.to_string(),
                points: pts
                    .iter()
                    .skip(pts.len().saturating_sub(per))
                    .copied()
                    .collect(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(ts: u64, value: f64) -> SeriesPoint {
        SeriesPoint { ts, value }
    }

    #[test]
    fn names_sort_tags_by_key() {
        assert_eq!(name("cpu", "usage", &[]), "cpu.usage");
        assert_eq!(
            name("cpu", "usage", &[("region", "west"), ("host", "a")]),
            "cpu.usage{host=a,region=west}"
        );
        assert_eq!(
            name("disk", "used", &[("path", "/"), ("device", "sda1")]),
            "disk.used{device=sda1,path=/}"
        );
    }

    #[test]
    fn one_frame_per_series_per_flush_with_every_point() {
        let mut w = Pending::new(10, 100);
        w.write(vec![
            ("a".into(), vec![p(1, 1.0)]),
            ("b".into(), vec![p(1, 2.0)]),
        ])
        .unwrap();
        w.write(vec![("a".into(), vec![p(2, 3.0), p(3, 4.0)])])
            .unwrap();
        assert_eq!((w.len(), w.waiting(), w.dirty()), (2, 4, 2));
        let got = w.take(10);
        assert_eq!(got.len(), 2);
        assert_eq!(&*got[0].0, "a");
        assert_eq!(got[0].1, vec![p(1, 1.0), p(2, 3.0), p(3, 4.0)]);
        assert_eq!(got[1].1, vec![p(1, 2.0)]);
        assert_eq!((w.waiting(), w.dirty()), (0, 0));
        assert!(w.take(10).is_empty());
    }

    #[test]
    fn frames_per_flush_are_bounded_and_fair() {
        let mut w = Pending::new(1000, 10_000);
        let batch: Batch = (0..100)
            .map(|i| (format!("s{i:03}"), vec![p(1, i as f64)]))
            .collect();
        w.write(batch).unwrap();
        let first = w.take(64);
        assert_eq!(first.len(), 64);
        // s000 is written again: it queues behind the 36 still waiting.
        w.write(vec![("s000".into(), vec![p(2, 0.5)])]).unwrap();
        let second = w.take(64);
        assert_eq!(second.len(), 37);
        assert_eq!(&*second[0].0, "s064");
        assert_eq!(&*second[36].0, "s000");
    }

    #[test]
    fn the_series_bound_refuses_the_whole_request() {
        let mut w = Pending::new(3, 100);
        w.write(vec![("a".into(), vec![p(1, 1.0)])]).unwrap();
        let e = w
            .write(vec![
                ("a".into(), vec![p(2, 1.0)]),
                ("b".into(), vec![p(2, 1.0)]),
                ("c".into(), vec![p(2, 1.0)]),
                ("d".into(), vec![p(2, 1.0)]),
            ])
            .unwrap_err();
        assert_eq!(
            e,
            Refused::TooManySeries {
                new: 3,
                known: 1,
                max: 3
            }
        );
        assert_eq!((w.len(), w.waiting()), (1, 1), "nothing applied");
        w.write(vec![("b".into(), vec![p(2, 1.0)])]).unwrap();
        assert_eq!(w.len(), 2);
    }

    #[test]
    fn waiting_points_are_bounded() {
        let mut w = Pending::new(10, 5);
        // A single large write is taken when nothing waits.
        w.write(vec![("a".into(), vec![p(1, 1.0); 8])]).unwrap();
        let e = w.write(vec![("a".into(), vec![p(2, 1.0)])]).unwrap_err();
        assert_eq!(e, Refused::Busy { pending: 8, max: 5 });
        w.take(1);
        w.write(vec![("a".into(), vec![p(2, 1.0)])]).unwrap();
        assert_eq!(w.waiting(), 1);
    }

    #[test]
    fn recent_keeps_the_newest_and_snapshots_share_a_budget() {
        let mut r = Recent::default();
        let a: Arc<str> = Arc::from("a");
        r.record(&a, &[p(1, 1.0), p(2, 2.0)], 3);
        let before = r.snapshot(None);
        r.record(&a, &[p(3, 3.0), p(4, 4.0)], 3);
        assert_eq!(before[0].points.len(), 2, "a snapshot is not changed");
        let s = r.snapshot(None);
        assert_eq!(s[0].points, vec![p(2, 2.0), p(3, 3.0), p(4, 4.0)]);
        assert_eq!(r.snapshot(Some(1))[0].points, vec![p(4, 4.0)]);
        assert!(r.snapshot(Some(0))[0].points.is_empty());
        // More points than kept in one frame: the newest `keep`.
        r.record(&Arc::from("b"), &[p(1, 1.0), p(2, 2.0), p(3, 3.0)], 2);
        let s = r.snapshot(None);
        assert_eq!(
            s.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(s[1].points, vec![p(2, 2.0), p(3, 3.0)]);
        // 200,000 series share the budget: one point each.
        let mut big = Recent::default();
        for i in 0..(SNAPSHOT_POINTS_BUDGET * 2) {
            big.record(&Arc::from(format!("s{i}")), &[p(1, 1.0), p(2, 2.0)], 10);
        }
        let total: usize = big.snapshot(None).iter().map(|h| h.points.len()).sum();
        assert_eq!(total, SNAPSHOT_POINTS_BUDGET * 2);
    }
}
