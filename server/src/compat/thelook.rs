//! `/compat/thelook/ws`: the tutorial producer's `/ws`. Every
//! [`PERIOD`], the order records of the lookback window, as FastAPI's
//! `send_json(df.to_json(orient="records"))` sends them: the frame's text
//! is a JSON string whose content is a JSON array of record objects
//! (`created_at` in epoch milliseconds, as pandas writes a timestamp).
//!
//! The window mirrors the orders aggregator's: the same accepted records
//! (duplicates already dropped), in arrival order, expired by the same rule
//! at the same tick times, so the records a tutorial page counts agree
//! with the KPIs `/ws` shows. Each record is serialized (and escaped for
//! the outer string) once, when it enters the window; a frame is those
//! pieces joined, built once per period for every client, and only while
//! someone listens. At most `--compat-max-records` records (the newest)
//! are kept.

use livedash_shared::OrderRecord;
use std::collections::VecDeque;
use std::time::Duration;

/// How often the frame is rebuilt and sent, as in the tutorial.
pub const PERIOD: Duration = Duration::from_secs(5);

/// The records of the window, each serialized once.
pub struct Window {
    /// (created_at, the record's JSON escaped as JSON string content),
    /// oldest arrival first.
    entries: VecDeque<(u64, Box<str>)>,
    /// Sum of the entries' lengths, to size the frame.
    bytes: usize,
    /// Window length, milliseconds (`--lookback`).
    lookback_ms: u64,
    /// Most records kept (`--compat-max-records`).
    max_records: usize,
}

/// A record's JSON as the content of a JSON string (quotes escaped).
fn escaped(r: &OrderRecord) -> Box<str> {
    let json = serde_json::to_string(r).expect("a record serializes");
    let quoted = serde_json::to_string(&json).expect("a string serializes");
    quoted[1..quoted.len() - 1].into()
}

impl Window {
    /// An empty window.
    pub fn new(lookback_ms: u64, max_records: usize) -> Window {
        Window {
            entries: VecDeque::new(),
            bytes: 0,
            lookback_ms,
            max_records: max_records.max(1),
        }
    }

    /// Forget everything (the orders task restarted with an empty window).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// One orders tick: its accepted records arrive, then what is at or
    /// before `now_ms - lookback` leaves from the front, as in
    /// [`crate::aggregate::Aggregator::tick`].
    pub fn tick(&mut self, now_ms: u64, records: &[OrderRecord]) {
        for r in records {
            let e = escaped(r);
            self.bytes += e.len();
            self.entries.push_back((r.created_at, e));
        }
        let cutoff = now_ms.saturating_sub(self.lookback_ms);
        while self.entries.front().is_some_and(|(t, _)| *t <= cutoff) {
            self.pop();
        }
        while self.entries.len() > self.max_records {
            self.pop();
        }
    }

    fn pop(&mut self) {
        if let Some((_, e)) = self.entries.pop_front() {
            self.bytes -= e.len();
        }
    }

    /// Records in the window.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The frame text: `"[{\"user_id\":…},…]"` (`"[]"` when empty).
    pub fn frame(&self) -> String {
        let mut s = String::with_capacity(self.bytes + self.entries.len() + 4);
        s.push_str("\"[");
        for (i, (_, e)) in self.entries.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(e);
        }
        s.push_str("]\"");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::Generator;
    use std::time::Instant;

    fn decode(frame: &str) -> Vec<OrderRecord> {
        let inner: String = serde_json::from_str(frame).expect("a JSON string");
        serde_json::from_str(&inner).expect("holding a JSON array of records")
    }

    #[test]
    fn the_frame_is_a_json_string_of_the_records() {
        let mut w = Window::new(1000, 100);
        assert_eq!(w.frame(), "\"[]\"");
        let mut g = Generator::new(4, 50.0);
        g.generate(0);
        let mut recs = g.generate(500);
        recs[0].country = "Côte \"d'Ivoire\" \\ \u{1}".into(); // escaping survives
        w.tick(500, &recs);
        assert_eq!(decode(&w.frame()), recs);
        let v: serde_json::Value =
            serde_json::from_str(&serde_json::from_str::<String>(&w.frame()).unwrap()).unwrap();
        let keys: Vec<&str> = v[0]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(keys.len(), 12);
        assert!(v[0]["created_at"].is_u64(), "epoch milliseconds");
    }

    #[test]
    fn expiry_and_cap_follow_the_aggregator() {
        let mut g = Generator::new(5, 200.0);
        g.generate(0);
        let mut w = Window::new(1000, 1_000_000);
        let mut agg = crate::aggregate::Aggregator::new(1000);
        for now in (100..5000).step_by(100) {
            let o = agg.tick(0, now, g.generate(now));
            w.tick(now, &o.records);
            let got = decode(&w.frame());
            let items: std::collections::HashSet<u64> = got.iter().map(|r| r.item_id).collect();
            assert_eq!(items.len() as u64, o.num_order_items);
            let cents: i64 = got
                .iter()
                .map(|r| (r.sale_price * 100.0).round() as i64)
                .sum();
            assert_eq!(cents, (o.total_sales * 100.0).round() as i64);
        }
        let mut capped = Window::new(1000, 3);
        capped.tick(10, &g.generate(5100));
        assert_eq!(capped.len(), 3, "the newest records only");
        capped.clear();
        assert_eq!(capped.frame(), "\"[]\"");
    }

    /// The cost of one frame at 10k records (printed with --nocapture).
    #[test]
    fn a_ten_thousand_record_frame() {
        let mut g = Generator::new(6, 2.0);
        let recs = g.generate_users(7_000, 1);
        let recs = &recs[..10_000];
        let mut w = Window::new(u64::MAX / 2, 100_000);
        let t0 = Instant::now();
        w.tick(2, recs);
        let push = t0.elapsed();
        let t1 = Instant::now();
        let f = w.frame();
        let build = t1.elapsed();
        println!(
            "10k records: {} bytes, serialize on entry {:?}, frame build {:?}",
            f.len(),
            push,
            build
        );
        assert_eq!(w.len(), 10_000);
        assert!(f.len() > 10_000 * 150 && f.len() < 10_000 * 400);
    }
}
