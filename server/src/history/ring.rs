//! One series' full-resolution points, columnar and compact: chunks of up
//! to [`CHUNK`] points, each a base time plus `u32` millisecond offsets and
//! `f64` values — 12 bytes a point (plus ~64 bytes a chunk). Points are
//! appended in time order; retention drops whole chunks from the front, so
//! a series keeps at least its retention and at most one chunk more.

use std::collections::VecDeque;

/// Points per chunk.
pub const CHUNK: usize = 1024;

/// A run of consecutive points.
#[derive(Debug)]
struct Chunk {
    /// Time of its first point (Unix ms); offsets count from it.
    base: u64,
    /// Each point's time minus `base`, ms (a chunk spans < 49 days).
    dt: Vec<u32>,
    /// Each point's value.
    v: Vec<f64>,
}

impl Chunk {
    fn new(base: u64) -> Chunk {
        Chunk {
            base,
            dt: Vec::with_capacity(CHUNK),
            v: Vec::with_capacity(CHUNK),
        }
    }

    fn last_ts(&self) -> u64 {
        self.base + u64::from(*self.dt.last().unwrap_or(&0))
    }

    fn ts(&self, i: usize) -> u64 {
        self.base + u64::from(self.dt[i])
    }
}

/// The points of one series, oldest first.
#[derive(Debug, Default)]
pub struct Ring {
    /// Oldest first; only the last one has room.
    chunks: VecDeque<Chunk>,
    /// Points held.
    len: usize,
}

impl Ring {
    /// Points held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no point.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Time of the oldest point held.
    pub fn first_ts(&self) -> Option<u64> {
        self.chunks.front().map(|c| c.base)
    }

    /// Time of the newest point held.
    pub fn last_ts(&self) -> Option<u64> {
        self.chunks.back().map(Chunk::last_ts)
    }

    /// Time of the oldest chunk's newest point: what retention looks at.
    pub fn oldest_chunk_end(&self) -> Option<u64> {
        self.chunks.front().map(Chunk::last_ts)
    }

    /// Append a point; `false` (not kept) when it is older than the newest
    /// point held: history is append-only.
    pub fn push(&mut self, ts: u64, v: f64) -> bool {
        if self.last_ts().is_some_and(|last| ts < last) {
            return false;
        }
        let fits = self
            .chunks
            .back()
            .is_some_and(|c| c.dt.len() < CHUNK && ts - c.base <= u64::from(u32::MAX));
        if !fits {
            self.chunks.push_back(Chunk::new(ts));
        }
        let c = self.chunks.back_mut().expect("a chunk with room");
        c.dt.push((ts - c.base) as u32);
        c.v.push(v);
        self.len += 1;
        true
    }

    /// Drop the oldest chunk; returns the points dropped.
    pub fn drop_oldest_chunk(&mut self) -> usize {
        let n = self.chunks.pop_front().map_or(0, |c| c.v.len());
        self.len -= n;
        n
    }

    /// Drop every chunk whose newest point is older than `cutoff`; returns
    /// the points dropped.
    pub fn drop_before(&mut self, cutoff: u64) -> usize {
        let mut n = 0;
        while self.oldest_chunk_end().is_some_and(|end| end < cutoff) {
            n += self.drop_oldest_chunk();
        }
        n
    }

    /// The points with `from <= ts <= to`, oldest first.
    pub fn range(&self, from: u64, to: u64) -> impl Iterator<Item = (u64, f64)> + '_ {
        // The first chunk that may hold `from`: the last one starting at or
        // before it (chunks are in time order).
        let start = self
            .chunks
            .partition_point(|c| c.base <= from)
            .saturating_sub(1);
        self.chunks
            .range(start..)
            .take_while(move |c| c.base <= to)
            .flat_map(|c| (0..c.v.len()).map(move |i| (c.ts(i), c.v[i])))
            .skip_while(move |(t, _)| *t < from)
            .take_while(move |(t, _)| *t <= to)
    }

    /// Heap bytes held (capacities, not lengths), for the bytes-per-point
    /// figure.
    pub fn heap_bytes(&self) -> usize {
        let per_chunk = std::mem::size_of::<Chunk>();
        self.chunks
            .iter()
            .map(|c| per_chunk + c.dt.capacity() * 4 + c.v.capacity() * 8)
            .sum::<usize>()
            + self.chunks.capacity().saturating_sub(self.chunks.len()) * per_chunk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_in_order_and_reads_ranges_across_chunks() {
        let mut r = Ring::default();
        for i in 0..3000u64 {
            assert!(r.push(1_000 + i * 10, i as f64));
        }
        assert_eq!(r.len(), 3000);
        assert!(!r.push(1_000, 0.0), "older than the newest point");
        assert!(r.push(1_000 + 2999 * 10, 1.0), "same time is kept");
        let got: Vec<_> = r.range(1_000 + 1020 * 10, 1_000 + 1030 * 10).collect();
        assert_eq!(got.len(), 11);
        assert_eq!(got[0], (1_000 + 10_200, 1020.0));
        assert_eq!(r.range(0, 999).count(), 0);
        assert_eq!(r.range(0, u64::MAX).count(), 3001);
        assert_eq!((r.first_ts(), r.last_ts()), (Some(1_000), Some(30_990)));
    }

    #[test]
    fn a_long_gap_starts_a_new_chunk() {
        let mut r = Ring::default();
        r.push(0, 1.0);
        r.push(u64::from(u32::MAX) + 10, 2.0);
        let got: Vec<_> = r.range(0, u64::MAX).collect();
        assert_eq!(got, vec![(0, 1.0), (u64::from(u32::MAX) + 10, 2.0)]);
    }

    #[test]
    fn retention_drops_whole_old_chunks_only() {
        let mut r = Ring::default();
        for i in 0..(CHUNK as u64 * 3) {
            r.push(i, 0.0);
        }
        assert_eq!(r.drop_before(CHUNK as u64 + 5), CHUNK, "the first chunk");
        assert_eq!(r.first_ts(), Some(CHUNK as u64), "keeps ≥ the cutoff");
        assert_eq!(r.drop_before(0), 0);
        assert_eq!(r.len(), CHUNK * 2);
    }

    #[test]
    fn about_twelve_bytes_a_point() {
        let mut r = Ring::default();
        for i in 0..(CHUNK as u64 * 10) {
            r.push(i * 1000, i as f64);
        }
        let per_point = r.heap_bytes() as f64 / r.len() as f64;
        assert!((12.0..12.2).contains(&per_point), "{per_point}");
    }
}
