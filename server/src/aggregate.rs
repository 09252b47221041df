//! The lookback window: KPIs and revenue breakdowns, updated incrementally.
//!
//! Recomputing the KPIs from scratch (a query and a group-by per client per
//! tick) costs O(window) each time. Here each tick costs O(records arriving +
//! records expiring), plus sorting the breakdown keys that are in the window
//! (about 14 countries and 5 traffic sources from the generator). Money is
//! kept in integer cents so adding and subtracting never drifts.
//!
//! Records are kept in arrival order; expiry pops from the front while the
//! front record's `created_at` is at or before the cutoff. A record that
//! arrives out of order therefore stays until every record that arrived
//! before it has expired (the generator emits records in time order, so this
//! only matters for other sources).

use livedash_shared::{KpiDelta, Kpis, OrderRecord, Orders, Revenue};
use std::collections::{HashMap, VecDeque};

/// Dollars to integer cents.
fn to_cents(dollars: f64) -> i64 {
    (dollars * 100.0).round() as i64
}

/// Integer cents to dollars.
fn to_dollars(cents: i64) -> f64 {
    cents as f64 / 100.0
}

/// Revenue per key, in cents. Keys are interned once, so a record costs a
/// hash lookup of a borrowed `&str`, never an allocation.
#[derive(Default)]
struct Breakdown {
    /// Key → index into `names` and `sums`.
    index: HashMap<String, u16>,
    /// Key names, by index.
    names: Vec<String>,
    /// (cents, items) by index; items reach 0 when a key leaves the window.
    sums: Vec<(i64, u64)>,
}

impl Breakdown {
    /// Add one item's revenue; returns the key's index for its removal.
    fn add(&mut self, key: &str, cents: i64) -> u16 {
        let i = match self.index.get(key) {
            Some(&i) => i,
            None => {
                let i = self.names.len() as u16;
                self.index.insert(key.to_string(), i);
                self.names.push(key.to_string());
                self.sums.push((0, 0));
                i
            }
        };
        let e = &mut self.sums[i as usize];
        e.0 += cents;
        e.1 += 1;
        i
    }

    fn remove(&mut self, i: u16, cents: i64) {
        let e = &mut self.sums[i as usize];
        e.0 -= cents;
        e.1 -= 1;
    }

    /// Sorted descending by revenue, ties by name; only non-zero revenue.
    fn sorted(&self) -> Vec<Revenue> {
        let mut v: Vec<(&String, i64)> = self
            .names
            .iter()
            .zip(&self.sums)
            .filter(|(_, (c, n))| *n > 0 && *c != 0)
            .map(|(k, (c, _))| (k, *c))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v.into_iter()
            .map(|(k, c)| Revenue {
                name: k.clone(),
                revenue: to_dollars(c),
            })
            .collect()
    }
}

/// What the window keeps of a record: no strings, 32 bytes.
struct Entry {
    created_at: u64,
    order_id: u64,
    cents: i64,
    country: u16,
    source: u16,
}

/// The incremental window aggregator.
pub struct Aggregator {
    /// Length of the window, milliseconds.
    lookback_ms: u64,
    /// Records in the window, in arrival order.
    window: VecDeque<Entry>,
    /// order_id → items of that order in the window (distinct-order count).
    orders: HashMap<u64, u32>,
    /// Sum of sale prices in the window, cents.
    sales_cents: i64,
    /// Revenue by country.
    by_country: Breakdown,
    /// Revenue by traffic source.
    by_source: Breakdown,
    /// KPIs of the previous tick, for the deltas; `None` before the first.
    prev: Option<Kpis>,
    /// Items ever pushed: the live counter.
    items_total: u64,
}

impl Aggregator {
    /// An empty window of `lookback_ms`.
    pub fn new(lookback_ms: u64) -> Self {
        Aggregator {
            lookback_ms,
            window: VecDeque::new(),
            orders: HashMap::new(),
            sales_cents: 0,
            by_country: Breakdown::default(),
            by_source: Breakdown::default(),
            prev: None,
            items_total: 0,
        }
    }

    /// Add the records that arrived, expire those with
    /// `created_at <= now_ms - lookback_ms`, and return this tick's frame.
    pub fn tick(&mut self, seq: u64, now_ms: u64, records: Vec<OrderRecord>) -> Orders {
        for r in &records {
            let cents = to_cents(r.sale_price);
            self.sales_cents += cents;
            *self.orders.entry(r.order_id).or_insert(0) += 1;
            let country = self.by_country.add(&r.country, cents);
            let source = self.by_source.add(&r.traffic_source, cents);
            self.window.push_back(Entry {
                created_at: r.created_at,
                order_id: r.order_id,
                cents,
                country,
                source,
            });
        }
        self.items_total += records.len() as u64;
        let cutoff = now_ms.saturating_sub(self.lookback_ms);
        while self.window.front().is_some_and(|e| e.created_at <= cutoff) {
            let e = self.window.pop_front().expect("front exists");
            self.sales_cents -= e.cents;
            if let Some(n) = self.orders.get_mut(&e.order_id) {
                *n -= 1;
                if *n == 0 {
                    self.orders.remove(&e.order_id);
                }
            }
            self.by_country.remove(e.country, e.cents);
            self.by_source.remove(e.source, e.cents);
        }
        let kpis = self.kpis();
        let delta = match self.prev {
            Some(p) => KpiDelta {
                num_orders: kpis.num_orders as i64 - p.num_orders as i64,
                num_order_items: kpis.num_order_items as i64 - p.num_order_items as i64,
                total_sales: to_dollars(self.sales_cents - to_cents(p.total_sales)),
            },
            None => KpiDelta::default(),
        };
        self.prev = Some(kpis);
        Orders {
            seq,
            ts: now_ms,
            window_ms: self.lookback_ms,
            num_orders: kpis.num_orders,
            num_order_items: kpis.num_order_items,
            total_sales: kpis.total_sales,
            delta,
            by_country: self.by_country.sorted(),
            by_traffic_source: self.by_source.sorted(),
            records,
            items_total: self.items_total,
        }
    }

    /// Current KPIs without advancing anything.
    pub fn kpis(&self) -> Kpis {
        Kpis {
            num_orders: self.orders.len() as u64,
            num_order_items: self.window.len() as u64,
            total_sales: to_dollars(self.sales_cents),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rec(order_id: u64, country: &str, source: &str, price: f64, t: u64) -> OrderRecord {
        OrderRecord {
            user_id: order_id,
            age: 30,
            gender: "F".into(),
            country: country.into(),
            traffic_source: source.into(),
            order_id,
            item_id: order_id * 10,
            category: "Jeans".into(),
            cost: price / 2.0,
            item_status: "Shipped".into(),
            sale_price: price,
            created_at: t,
        }
    }

    /// The naive reference: recompute everything from all records seen.
    fn naive(all: &[OrderRecord], lookback: u64, now: u64) -> (Kpis, Vec<Revenue>, Vec<Revenue>) {
        let cutoff = now.saturating_sub(lookback);
        let live: Vec<&OrderRecord> = all.iter().filter(|r| r.created_at > cutoff).collect();
        let orders: std::collections::HashSet<u64> = live.iter().map(|r| r.order_id).collect();
        let cents: i64 = live.iter().map(|r| to_cents(r.sale_price)).sum();
        let group = |f: &dyn Fn(&OrderRecord) -> &str| {
            let mut b = Breakdown::default();
            for r in &live {
                b.add(f(r), to_cents(r.sale_price));
            }
            b.sorted()
        };
        (
            Kpis {
                num_orders: orders.len() as u64,
                num_order_items: live.len() as u64,
                total_sales: to_dollars(cents),
            },
            group(&|r| &r.country),
            group(&|r| &r.traffic_source),
        )
    }

    #[test]
    fn expiry_at_the_boundary() {
        let mut a = Aggregator::new(1000);
        let o = a.tick(1, 1000, vec![rec(1, "China", "Search", 10.0, 500)]);
        assert_eq!(
            (o.num_orders, o.num_order_items, o.total_sales),
            (1, 1, 10.0)
        );
        let o = a.tick(2, 1499, vec![]);
        assert_eq!(o.num_order_items, 1, "500 > 499 keeps it");
        let o = a.tick(3, 1500, vec![]);
        assert_eq!(o.num_order_items, 0, "created_at == now - lookback expires");
        assert_eq!(o.delta.num_order_items, -1);
        assert_eq!(o.delta.total_sales, -10.0);
        assert!(o.by_country.is_empty());
        assert_eq!(o.items_total, 1);
    }

    #[test]
    fn breakdowns_sorted_descending_ties_by_name() {
        let mut a = Aggregator::new(10_000);
        let o = a.tick(
            1,
            100,
            vec![
                rec(1, "Spain", "Email", 5.0, 100),
                rec(2, "China", "Search", 20.0, 100),
                rec(3, "Brasil", "Search", 5.0, 100),
                rec(3, "Japan", "Organic", 7.5, 100),
            ],
        );
        let names: Vec<&str> = o.by_country.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["China", "Japan", "Brasil", "Spain"]);
        assert_eq!(o.by_traffic_source[0].revenue, 25.0);
        assert_eq!(o.num_orders, 3);
        assert_eq!(o.records.len(), 4);
    }

    #[test]
    fn five_hundred_record_tick_matches_generator_stream() {
        let mut g = crate::generator::Generator::new(3, 2.0);
        let mut a = Aggregator::new(300_000);
        let mut all = Vec::new();
        for i in 0..20u64 {
            let now = 1_000_000 + i * 30_000;
            let recs = g.generate_users(400, now);
            all.extend(recs.iter().cloned());
            let o = a.tick(i + 1, now, recs);
            let (k, c, s) = naive(&all, 300_000, now);
            assert_eq!(o.kpis(), k);
            assert_eq!(o.by_country, c);
            assert_eq!(o.by_traffic_source, s);
        }
    }

    proptest! {
        #[test]
        fn incremental_equals_naive(
            lookback in 1u64..5_000,
            batches in prop::collection::vec(
                (1u64..2_000, prop::collection::vec((0u64..6, 0usize..4, 0usize..3, 1u32..100_000, 0u64..500), 0..8)),
                1..40)
        ) {
            let countries = ["China", "United States", "Brasil", "Spain"];
            let sources = ["Search", "Organic", "Email"];
            let mut a = Aggregator::new(lookback);
            let mut all: Vec<OrderRecord> = Vec::new();
            let mut now = 10_000u64;
            let mut prev: Option<Kpis> = None;
            let mut next_order = 0u64;
            for (seq, (step, recs)) in batches.into_iter().enumerate() {
                now += step;
                // Records arrive in time order, slightly behind now.
                let mut floor = all.last().map_or(0, |r| r.created_at);
                let mut batch: Vec<OrderRecord> = recs
                    .into_iter()
                    .map(|(o, c, s, cents, back)| {
                        rec(next_order + o, countries[c], sources[s], cents as f64 / 100.0, now.saturating_sub(back))
                    })
                    .collect();
                batch.sort_by_key(|r| r.created_at);
                for r in &mut batch {
                    r.created_at = r.created_at.max(floor);
                    floor = r.created_at;
                }
                next_order += 3;
                all.extend(batch.iter().cloned());
                let o = a.tick(seq as u64, now, batch);
                let (k, c, s) = naive(&all, lookback, now);
                prop_assert_eq!(o.kpis(), k);
                prop_assert_eq!(&o.by_country, &c);
                prop_assert_eq!(&o.by_traffic_source, &s);
                if let Some(p) = prev {
                    prop_assert_eq!(o.delta.num_orders, k.num_orders as i64 - p.num_orders as i64);
                    prop_assert_eq!(o.delta.num_order_items, k.num_order_items as i64 - p.num_order_items as i64);
                    prop_assert_eq!(to_cents(o.delta.total_sales), to_cents(k.total_sales) - to_cents(p.total_sales));
                }
                prev = Some(k);
            }
        }
    }
}
