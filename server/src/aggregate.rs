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
//!
//! # Duplicates
//!
//! An order item is identified by its `item_id`, and `num_order_items`
//! counts distinct item ids in the window. A source that delivers at least
//! once may send a row again; a record whose item id is already in the
//! window is ignored entirely: it adds nothing to the sales or the
//! breakdowns, is not kept, is left out of the frame's `records` and does
//! not advance `items_total`. The first copy wins, even when the copy's
//! other fields differ, so a source can never count an item twice.
//! [`Aggregator::duplicates_ignored`] counts the copies dropped. The check
//! only covers the window: once the first copy has expired, the same id is
//! a new item again (remembering every id ever seen would grow without
//! bound).
//!
//! # Breakdown keys
//!
//! Countries and traffic sources are interned while they have items in the
//! window. A key whose last item expires is evicted and its slot reused, so
//! memory is bounded by the most distinct keys in the window at one time,
//! not by every key ever seen. Slots are `u32`: two keys never share one.

use livedash_shared::{KpiDelta, Kpis, OrderRecord, Orders, Revenue};
use std::collections::{hash_map, VecDeque};

/// The window's maps hash with foldhash (seeded per map at random, so ids
/// an ingest client chooses cannot be aimed at one bucket in advance):
/// a 500-record tick does ~2,000 lookups, where SipHash was a third of its
/// time.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Dollars to integer cents.
fn to_cents(dollars: f64) -> i64 {
    (dollars * 100.0).round() as i64
}

/// Integer cents to dollars.
fn to_dollars(cents: i64) -> f64 {
    cents as f64 / 100.0
}

/// Revenue per key, in cents, for the keys with items in the window.
#[derive(Default)]
struct Breakdown {
    /// Key → its slot. A record costs a hash lookup of a borrowed `&str`,
    /// and allocates only for a key not in the window yet.
    index: HashMap<String, u32>,
    /// Key of each slot (empty while the slot is free): names the bars in
    /// [`Breakdown::sorted`] and finds the `index` entry to evict.
    names: Vec<String>,
    /// (cents, items) of each slot. `items` counts the window entries that
    /// point at the slot; when it reaches 0 the key is evicted.
    sums: Vec<(i64, u64)>,
    /// Slots of evicted keys, reused before `names` and `sums` grow, so they
    /// are only as long as the most keys ever in the window at once.
    free: Vec<u32>,
}

impl Breakdown {
    /// Add one item's revenue; returns the key's slot for its removal.
    fn add(&mut self, key: &str, cents: i64) -> u32 {
        let i = match self.index.get(key) {
            Some(&i) => i,
            None => {
                let i = match self.free.pop() {
                    Some(i) => {
                        self.names[i as usize] = key.to_string();
                        i
                    }
                    None => {
                        // Fails only with 2^32 keys in the window at once,
                        // which would first need 128 GiB of entries.
                        let i = u32::try_from(self.names.len()).expect("fewer than 2^32 keys");
                        self.names.push(key.to_string());
                        self.sums.push((0, 0));
                        i
                    }
                };
                self.index.insert(key.to_string(), i);
                i
            }
        };
        let e = &mut self.sums[i as usize];
        e.0 += cents;
        e.1 += 1;
        i
    }

    /// Remove one item's revenue from slot `i`; evict the key if it was the
    /// slot's last item.
    fn remove(&mut self, i: u32, cents: i64) {
        let e = &mut self.sums[i as usize];
        e.0 -= cents;
        e.1 -= 1;
        if e.1 == 0 {
            debug_assert_eq!(e.0, 0, "an empty slot has no revenue");
            *e = (0, 0);
            let name = std::mem::take(&mut self.names[i as usize]);
            self.index.remove(&name);
            self.free.push(i);
        }
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

/// What the window keeps of an accepted record: no strings, 32 bytes.
struct Entry {
    /// When the record leaves: once this is at or before the cutoff.
    created_at: u64,
    /// To drop the item from [`Aggregator::items`], which also yields its
    /// order id for [`Aggregator::orders`].
    item_id: u64,
    /// To subtract from the sales and both breakdowns.
    cents: i64,
    /// Slot in [`Aggregator::by_country`].
    country: u32,
    /// Slot in [`Aggregator::by_source`].
    source: u32,
}

// The window holds one `Entry` per item: growing it should be a choice.
const _: () = assert!(std::mem::size_of::<Entry>() <= 32);

/// The incremental window aggregator: one per orders stream, fed once a
/// tick by [`Aggregator::tick`].
pub struct Aggregator {
    /// Length of the window, milliseconds.
    lookback_ms: u64,
    /// Accepted records in the window, in arrival order, so expiry pops from
    /// the front.
    window: VecDeque<Entry>,
    /// item_id → order_id of each item in the window: the distinct-item count
    /// and the duplicate check. Duplicates are never admitted, so an id is in
    /// the window at most once and needs no refcount; the value holds the
    /// order id instead, which keeps it out of [`Entry`].
    items: HashMap<u64, u64>,
    /// order_id → items of that order in the window: the distinct-order
    /// count. An order's items may arrive in different ticks and expire one
    /// by one, hence the refcount.
    orders: HashMap<u64, u32>,
    /// Sum of sale prices in the window, cents.
    sales_cents: i64,
    /// Revenue by country.
    by_country: Breakdown,
    /// Revenue by traffic source.
    by_source: Breakdown,
    /// KPIs of the previous tick, for the deltas; `None` before the first.
    prev: Option<Kpis>,
    /// Records accepted since the start, duplicates excluded: the live
    /// counter of each frame.
    items_total: u64,
    /// Records dropped because their item id was already in the window.
    duplicates_ignored: u64,
}

impl Aggregator {
    /// An empty window of `lookback_ms`.
    pub fn new(lookback_ms: u64) -> Self {
        Aggregator {
            lookback_ms,
            window: VecDeque::new(),
            items: HashMap::default(),
            orders: HashMap::default(),
            sales_cents: 0,
            by_country: Breakdown::default(),
            by_source: Breakdown::default(),
            prev: None,
            items_total: 0,
            duplicates_ignored: 0,
        }
    }

    /// Add the records that arrived (dropping those whose item id is already
    /// in the window), expire those with `created_at <= now_ms - lookback_ms`,
    /// and return this tick's frame; its `records` are the accepted ones.
    pub fn tick(&mut self, seq: u64, now_ms: u64, mut records: Vec<OrderRecord>) -> Orders {
        records.retain(|r| self.admit(r));
        self.items_total += records.len() as u64;
        let cutoff = now_ms.saturating_sub(self.lookback_ms);
        while self.window.front().is_some_and(|e| e.created_at <= cutoff) {
            let e = self.window.pop_front().expect("front exists");
            self.expire(e);
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

    /// Follow a frame another replica produced (`--redis`, this replica
    /// not holding the producer lease): its records enter the window at its
    /// `ts` exactly as they did in the producer's aggregator, and the live
    /// counter continues from the frame's. A replica that takes the lease
    /// over goes on from the stream's state, not from its own.
    pub fn follow(&mut self, frame: &Orders) {
        self.tick(0, frame.ts, frame.records.clone());
        self.items_total = frame.items_total;
    }

    /// The highest order id and item id in the window (0 when empty).
    pub fn max_ids(&self) -> (u64, u64) {
        self.items.iter().fold((0, 0), |(o, i), (&item, &order)| {
            (o.max(order), i.max(item))
        })
    }

    /// Put `r` in the window, or count it as a duplicate and return false.
    fn admit(&mut self, r: &OrderRecord) -> bool {
        match self.items.entry(r.item_id) {
            hash_map::Entry::Occupied(_) => {
                self.duplicates_ignored += 1;
                return false;
            }
            hash_map::Entry::Vacant(v) => {
                v.insert(r.order_id);
            }
        }
        let cents = to_cents(r.sale_price);
        self.sales_cents += cents;
        *self.orders.entry(r.order_id).or_insert(0) += 1;
        let country = self.by_country.add(&r.country, cents);
        let source = self.by_source.add(&r.traffic_source, cents);
        self.window.push_back(Entry {
            created_at: r.created_at,
            item_id: r.item_id,
            cents,
            country,
            source,
        });
        true
    }

    /// Undo [`Aggregator::admit`] for an entry popped off the window.
    fn expire(&mut self, e: Entry) {
        self.sales_cents -= e.cents;
        let order = self.items.remove(&e.item_id);
        debug_assert!(order.is_some(), "every entry's item is in `items`");
        if let Some(hash_map::Entry::Occupied(mut n)) = order.map(|o| self.orders.entry(o)) {
            *n.get_mut() -= 1;
            if *n.get() == 0 {
                n.remove();
            }
        }
        self.by_country.remove(e.country, e.cents);
        self.by_source.remove(e.source, e.cents);
    }

    /// Current KPIs without advancing anything.
    pub fn kpis(&self) -> Kpis {
        Kpis {
            num_orders: self.orders.len() as u64,
            num_order_items: self.items.len() as u64,
            total_sales: to_dollars(self.sales_cents),
        }
    }

    /// Records dropped since the start because their item id was already in
    /// the window (a re-sent row); for `/metrics`.
    pub fn duplicates_ignored(&self) -> u64 {
        self.duplicates_ignored
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A record with a fresh item id (unique across the whole test binary).
    fn rec(order_id: u64, country: &str, source: &str, price: f64, t: u64) -> OrderRecord {
        static NEXT_ITEM: AtomicU64 = AtomicU64::new(1 << 40);
        OrderRecord {
            user_id: order_id,
            age: 30,
            gender: "F".into(),
            country: country.into(),
            traffic_source: source.into(),
            order_id,
            item_id: NEXT_ITEM.fetch_add(1, Ordering::Relaxed),
            category: "Jeans".into(),
            cost: price / 2.0,
            item_status: "Shipped".into(),
            sale_price: price,
            created_at: t,
        }
    }

    /// Revenue per key of `live`, sorted like [`Breakdown::sorted`], by a
    /// plain group-by.
    fn group(live: &[&OrderRecord], key: impl Fn(&OrderRecord) -> &str) -> Vec<Revenue> {
        let mut m: HashMap<&str, (i64, u64)> = HashMap::default();
        for r in live {
            let e = m.entry(key(r)).or_default();
            e.0 += to_cents(r.sale_price);
            e.1 += 1;
        }
        let mut v: Vec<(&str, i64)> = m
            .into_iter()
            .filter(|(_, (c, n))| *n > 0 && *c != 0)
            .map(|(k, (c, _))| (k, c))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v.into_iter()
            .map(|(k, c)| Revenue {
                name: k.to_string(),
                revenue: to_dollars(c),
            })
            .collect()
    }

    /// The naive reference: recompute everything from all accepted records
    /// (duplicates already dropped) that arrived in time order.
    fn naive(all: &[OrderRecord], lookback: u64, now: u64) -> (Kpis, Vec<Revenue>, Vec<Revenue>) {
        let cutoff = now.saturating_sub(lookback);
        let live: Vec<&OrderRecord> = all.iter().filter(|r| r.created_at > cutoff).collect();
        let orders: std::collections::HashSet<u64> = live.iter().map(|r| r.order_id).collect();
        let items: std::collections::HashSet<u64> = live.iter().map(|r| r.item_id).collect();
        let cents: i64 = live.iter().map(|r| to_cents(r.sale_price)).sum();
        (
            Kpis {
                num_orders: orders.len() as u64,
                num_order_items: items.len() as u64,
                total_sales: to_dollars(cents),
            },
            group(&live, |r| &r.country),
            group(&live, |r| &r.traffic_source),
        )
    }

    /// The records of `batch` the window accepts, by brute force: a record
    /// is a duplicate when an accepted record with its item id is still in
    /// the window, that is, arrived earlier in this batch or is newer than
    /// the previous tick's cutoff (`None` before the first tick). Records
    /// arrive in time order, so "in the window" is "newer than the cutoff".
    fn accept_naive(
        accepted: &[OrderRecord],
        batch: &[OrderRecord],
        prev_cutoff: Option<u64>,
    ) -> (Vec<OrderRecord>, u64) {
        let mut out: Vec<OrderRecord> = Vec::new();
        let mut dups = 0;
        for r in batch {
            let in_window = accepted
                .iter()
                .filter(|a| prev_cutoff.is_none_or(|c| a.created_at > c))
                .chain(&out)
                .any(|a| a.item_id == r.item_id);
            if in_window {
                dups += 1;
            } else {
                out.push(r.clone());
            }
        }
        (out, dups)
    }

    #[test]
    fn a_follower_fed_the_producers_frames_continues_where_it_stood() {
        // The producer's frames, as the stream carries them.
        let mut producer = Aggregator::new(1000);
        let mut follower = Aggregator::new(1000);
        follower.tick(0, 0, vec![rec(99, "XX", "Own", 500.0, 0)]); // its own, before following
        let mut last = None;
        for t in 1..=5u64 {
            let rs = vec![rec(t, "DE", "Search", 10.0 * t as f64, t * 300)];
            let f = producer.tick(t, t * 300, rs);
            follower.follow(&f);
            last = Some(f);
        }
        let last = last.unwrap();
        // The follower's window is the producer's (its own record expired
        // with the producer's clock; the totals are the stream's).
        assert_eq!(follower.kpis().num_orders, last.num_orders);
        assert_eq!(follower.kpis().total_sales, last.total_sales);
        // Taking over: the next tick goes on from there, with the same
        // records the producer would have.
        let next = vec![rec(6, "DE", "Search", 60.0, 1800)];
        let a = producer.tick(6, 1800, next.clone());
        let b = follower.tick(6, 1800, next);
        assert_eq!(
            (
                b.num_orders,
                b.total_sales,
                b.items_total,
                b.delta.num_orders
            ),
            (
                a.num_orders,
                a.total_sales,
                a.items_total,
                a.delta.num_orders
            )
        );
        assert_eq!(b.by_country, a.by_country);
        assert_eq!(b.records.len(), 1);
        let (o, i) = follower.max_ids();
        assert_eq!(o, 6);
        assert_eq!(i, b.records[0].item_id);
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

    /// An at-least-once source re-sends a row: the copy must not count.
    #[test]
    fn resent_item_counts_once() {
        let mut a = Aggregator::new(10_000);
        let r = rec(1, "China", "Search", 10.0, 100);
        let o = a.tick(1, 100, vec![r.clone(), r.clone()]);
        assert_eq!(
            (o.num_orders, o.num_order_items, o.total_sales),
            (1, 1, 10.0)
        );
        assert_eq!(o.by_country[0].revenue, 10.0);
        // Re-sent in a later tick, with a conflicting price and country:
        // the first copy still wins.
        let mut again = r.clone();
        again.sale_price = 99.0;
        again.country = "Spain".into();
        let o = a.tick(2, 200, vec![again]);
        assert_eq!(
            (o.num_orders, o.num_order_items, o.total_sales),
            (1, 1, 10.0)
        );
        assert_eq!(o.delta.num_order_items, 0);
        assert_eq!(o.by_country.len(), 1);
        assert!(o.records.is_empty(), "a duplicate is not forwarded either");
        assert_eq!(o.items_total, 1);
        assert_eq!(a.duplicates_ignored(), 2);
        // Once the original has expired, the same id is a new item.
        let o = a.tick(3, 10_100, vec![rec(2, "Spain", "Email", 1.0, 10_100)]);
        assert_eq!(o.num_order_items, 1);
        let mut late = r;
        late.created_at = 10_200;
        let o = a.tick(4, 10_200, vec![late]);
        assert_eq!(
            (o.num_orders, o.num_order_items, o.total_sales),
            (2, 2, 11.0)
        );
        assert_eq!(a.duplicates_ignored(), 2);
    }

    /// More distinct keys than a `u16` index holds pass through the window:
    /// no two keys merge, and once they expire nothing of them is left.
    #[test]
    fn seventy_thousand_keys_neither_wrap_nor_leak() {
        const N: u64 = 70_000;
        let mut a = Aggregator::new(1_000);
        let mut all = Vec::new();
        let keyed = |prefix: &str, t: u64| -> Vec<OrderRecord> {
            (0..N)
                .map(|i| {
                    let k = format!("{prefix}{i}");
                    rec(i, &k, &k, (1 + i % 997) as f64 / 4.0, t)
                })
                .collect()
        };
        let batch = keyed("a", 1_000);
        all.extend(batch.iter().cloned());
        let o = a.tick(1, 1_000, batch);
        let (k, c, s) = naive(&all, 1_000, 1_000);
        assert_eq!(o.kpis(), k);
        assert_eq!(o.by_country.len(), N as usize);
        assert_eq!(o.by_country, c);
        assert_eq!(o.by_traffic_source, s);

        let o = a.tick(2, 2_000, vec![]);
        assert_eq!(o.num_order_items, 0);
        assert!(o.by_country.is_empty() && o.by_traffic_source.is_empty());
        for b in [&a.by_country, &a.by_source] {
            assert!(b.index.is_empty(), "every key evicted");
            assert!(b.names.iter().all(String::is_empty));
            assert_eq!(b.free.len(), N as usize, "every slot free");
        }

        // A second generation of keys reuses the freed slots.
        let batch = keyed("b", 2_500);
        all.extend(batch.iter().cloned());
        let o = a.tick(3, 2_500, batch);
        let (k, c, s) = naive(&all, 1_000, 2_500);
        assert_eq!(o.kpis(), k);
        assert_eq!(o.by_country, c);
        assert_eq!(o.by_traffic_source, s);
        for b in [&a.by_country, &a.by_source] {
            assert_eq!(b.index.len(), N as usize);
            assert_eq!(b.names.len(), N as usize, "no slot added");
            assert!(b.free.is_empty());
        }
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
        /// Random batches, with re-sent item ids and up to 300 distinct
        /// countries, against the naive recomputation.
        #[test]
        fn incremental_equals_naive(
            lookback in 1u64..5_000,
            batches in prop::collection::vec(
                (1u64..2_000, prop::collection::vec(
                    (0u64..6, 0usize..300, 0usize..3, 1u32..100_000, 0u64..500, prop::option::weighted(0.3, 0usize..64)),
                    0..8)),
                1..40)
        ) {
            let countries = ["China", "United States", "Brasil", "Spain"];
            let sources = ["Search", "Organic", "Email"];
            let mut a = Aggregator::new(lookback);
            // Every record sent, and the accepted ones.
            let mut sent: Vec<OrderRecord> = Vec::new();
            let mut all: Vec<OrderRecord> = Vec::new();
            let mut now = 10_000u64;
            let mut prev: Option<Kpis> = None;
            let mut prev_cutoff: Option<u64> = None;
            let mut next_order = 0u64;
            let mut items_total = 0u64;
            let mut duplicates = 0u64;
            for (seq, (step, recs)) in batches.into_iter().enumerate() {
                now += step;
                // Records arrive in time order, slightly behind now.
                let mut floor = sent.last().map_or(0, |r| r.created_at);
                let mut batch: Vec<OrderRecord> = recs
                    .into_iter()
                    .map(|(o, c, s, cents, back, resend)| {
                        let t = now.saturating_sub(back);
                        match resend {
                            // A re-send of an earlier row (same item id,
                            // order, key and price), arriving now.
                            Some(k) if !sent.is_empty() => {
                                let mut r = sent[sent.len() - 1 - k % sent.len()].clone();
                                r.created_at = t;
                                r
                            }
                            _ => {
                                let country = match countries.get(c) {
                                    Some(n) => n.to_string(),
                                    None => format!("Country {c}"),
                                };
                                rec(next_order + o, &country, sources[s], cents as f64 / 100.0, t)
                            }
                        }
                    })
                    .collect();
                batch.sort_by_key(|r| r.created_at);
                for r in &mut batch {
                    r.created_at = r.created_at.max(floor);
                    floor = r.created_at;
                }
                next_order += 3;
                sent.extend(batch.iter().cloned());
                let (accepted, dups) = accept_naive(&all, &batch, prev_cutoff);
                all.extend(accepted.iter().cloned());
                items_total += accepted.len() as u64;
                duplicates += dups;
                let o = a.tick(seq as u64, now, batch);
                prev_cutoff = Some(now.saturating_sub(lookback));
                let (k, c, s) = naive(&all, lookback, now);
                prop_assert_eq!(o.kpis(), k);
                prop_assert_eq!(&o.by_country, &c);
                prop_assert_eq!(&o.by_traffic_source, &s);
                prop_assert_eq!(&o.records, &accepted);
                prop_assert_eq!(o.items_total, items_total);
                prop_assert_eq!(a.duplicates_ignored(), duplicates);
                // Prices are positive, so every key in the window has a bar:
                // the interned keys are exactly the keys in the window.
                prop_assert_eq!(a.by_country.index.len(), c.len());
                prop_assert_eq!(a.by_source.index.len(), s.len());
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
