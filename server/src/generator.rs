//! theLook eCommerce generator: the default data source.
//!
//! It follows the distributions of the Python generator behind the
//! tutorials (modelled on Google's public "theLook eCommerce" dataset), as
//! stated here so this file is the reference:
//! - users arrive as a Poisson process at `--orders-per-sec` ÷ 1.25 users
//!   per second; gender M/F uniform, age uniform in 12–70;
//! - country by [`COUNTRIES`] (China 33.9 %, United States 22.5 %, Brasil
//!   14.6 % — spelled so —, ..., Colombia and Austria rare), traffic source
//!   by [`TRAFFIC_SOURCES`] (Search 70 %, Organic 15 %, Facebook 6 %, Email
//!   5 %, Display 4 %);
//! - each user places 0–4 orders at once ([`ORDERS_PER_USER`]: 20/50/20/5/5
//!   %), each order 1–4 items ([`ITEMS_PER_ORDER`]: 70/20/5/5 %), each item
//!   a status by [`STATUSES`] (Shipped 30 %, Complete 25 %, Processing 20 %,
//!   Cancelled 15 %, Returned 10 %);
//! - 26 apparel categories with skewed retail prices: log-normal around a
//!   per-category median, clamped per category (socks and accessories under
//!   $20, outerwear and suits with a tail to several hundred dollars); cost
//!   40–60 % of the price.
//!
//! Unlike the original, `created_at` is the time the record is generated.
//! A seed reproduces the exact stream.

use livedash_shared::OrderRecord;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Country weights of the generator's population (percent).
pub const COUNTRIES: &[(&str, f64)] = &[
    ("China", 33.9),
    ("United States", 22.5),
    ("Brasil", 14.6),
    ("South Korea", 5.3),
    ("France", 4.7),
    ("United Kingdom", 4.6),
    ("Germany", 4.2),
    ("Spain", 4.0),
    ("Japan", 2.4),
    ("Australia", 2.2),
    ("Belgium", 1.2),
    ("Poland", 0.2),
    ("Colombia", 0.1),
    ("Austria", 0.1),
];

/// Traffic source weights (percent).
pub const TRAFFIC_SOURCES: &[(&str, f64)] = &[
    ("Search", 70.0),
    ("Organic", 15.0),
    ("Facebook", 6.0),
    ("Email", 5.0),
    ("Display", 4.0),
];

/// Orders placed by one user (weights for 0, 1, 2, 3, 4 orders).
pub const ORDERS_PER_USER: &[(u32, f64)] = &[(0, 20.0), (1, 50.0), (2, 20.0), (3, 5.0), (4, 5.0)];

/// Items in one order (weights for 1, 2, 3, 4 items).
pub const ITEMS_PER_ORDER: &[(u32, f64)] = &[(1, 70.0), (2, 20.0), (3, 5.0), (4, 5.0)];

/// Order item status weights (percent).
pub const STATUSES: &[(&str, f64)] = &[
    ("Shipped", 30.0),
    ("Complete", 25.0),
    ("Processing", 20.0),
    ("Cancelled", 15.0),
    ("Returned", 10.0),
];

/// Mean orders per user implied by [`ORDERS_PER_USER`].
pub const MEAN_ORDERS_PER_USER: f64 = 1.25;

/// An apparel category with its retail price distribution: log-normal with
/// the given median, clamped to `[min, max]` dollars.
struct Category {
    name: &'static str,
    median: f64,
    min: f64,
    max: f64,
}

const fn cat(name: &'static str, median: f64, min: f64, max: f64) -> Category {
    Category {
        name,
        median,
        min,
        max,
    }
}

/// The 26 categories; socks and accessories cheap, outerwear and suits with
/// a long tail to several hundred dollars.
const CATEGORIES: &[Category] = &[
    cat("Accessories", 12.0, 2.0, 19.99),
    cat("Active", 32.0, 8.0, 150.0),
    cat("Blazers & Jackets", 85.0, 25.0, 600.0),
    cat("Clothing Sets", 45.0, 12.0, 200.0),
    cat("Dresses", 55.0, 12.0, 400.0),
    cat("Fashion Hoodies & Sweatshirts", 42.0, 12.0, 180.0),
    cat("Intimates", 22.0, 5.0, 90.0),
    cat("Jeans", 58.0, 15.0, 250.0),
    cat("Jumpsuits & Rompers", 48.0, 12.0, 200.0),
    cat("Leggings", 22.0, 6.0, 90.0),
    cat("Maternity", 38.0, 10.0, 160.0),
    cat("Outerwear & Coats", 110.0, 30.0, 900.0),
    cat("Pants", 45.0, 12.0, 220.0),
    cat("Pants & Capris", 38.0, 10.0, 180.0),
    cat("Plus", 35.0, 8.0, 160.0),
    cat("Shorts", 28.0, 7.0, 120.0),
    cat("Skirts", 34.0, 8.0, 160.0),
    cat("Sleep & Lounge", 30.0, 7.0, 140.0),
    cat("Socks", 9.0, 2.0, 19.99),
    cat("Socks & Hosiery", 11.0, 2.0, 19.99),
    cat("Suits", 150.0, 50.0, 900.0),
    cat("Suits & Sport Coats", 130.0, 40.0, 800.0),
    cat("Sweaters", 52.0, 12.0, 300.0),
    cat("Swim", 36.0, 8.0, 180.0),
    cat("Tops & Tees", 24.0, 6.0, 110.0),
    cat("Underwear", 18.0, 4.0, 70.0),
];

/// Longest interval one `generate` call produces records for: a stalled
/// clock must not turn into a flood.
const MAX_GAP_MS: u64 = 10_000;

/// Pick from a weighted table.
fn weighted<T: Copy>(rng: &mut StdRng, table: &[(T, f64)]) -> T {
    let total: f64 = table.iter().map(|(_, w)| w).sum();
    let mut x = rng.gen::<f64>() * total;
    for &(v, w) in table {
        if x < w {
            return v;
        }
        x -= w;
    }
    table[table.len() - 1].0
}

/// Round dollars to cents.
fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The theLook generator.
pub struct Generator {
    /// Seeded source of every random choice, so a seed reproduces the stream.
    rng: StdRng,
    /// Mean users per millisecond (`orders_per_sec / 1.25 / 1000`).
    users_per_ms: f64,
    /// Time of the previous `generate` call; `None` before the first.
    last_ms: Option<u64>,
    /// Next user id (monotonic).
    next_user: u64,
    /// Next order id (monotonic).
    next_order: u64,
    /// Next order item id (monotonic).
    next_item: u64,
}

impl Generator {
    /// `orders_per_sec`: mean orders per second. `seed`: reproducible runs.
    pub fn new(seed: u64, orders_per_sec: f64) -> Self {
        Generator {
            rng: StdRng::seed_from_u64(seed),
            users_per_ms: orders_per_sec.max(0.0) / MEAN_ORDERS_PER_USER / 1000.0,
            last_ms: None,
            next_user: 1,
            next_order: 1,
            next_item: 1,
        }
    }

    /// Number the next orders and items after `order_id` and `item_id`
    /// (a replica taking the producer lease over goes on after the ids in
    /// the stream's window: the same ids again would be dropped as
    /// duplicates).
    pub fn continue_after(&mut self, order_id: u64, item_id: u64) {
        self.next_order = self.next_order.max(order_id + 1);
        self.next_item = self.next_item.max(item_id + 1);
    }

    /// The order items that arrive in `(previous call, now_ms]`. The first
    /// call only sets the clock and returns nothing.
    pub fn generate(&mut self, now_ms: u64) -> Vec<OrderRecord> {
        let Some(last) = self.last_ms.replace(now_ms) else {
            return Vec::new();
        };
        if now_ms <= last {
            self.last_ms = Some(last);
            return Vec::new();
        }
        let start = last.max(now_ms - MAX_GAP_MS.min(now_ms));
        let span = (now_ms - start) as f64;
        // Poisson process: exponential gaps between user arrivals.
        let mut out = Vec::new();
        if self.users_per_ms <= 0.0 {
            return out;
        }
        let mut t = start as f64;
        loop {
            let u: f64 = self.rng.gen::<f64>();
            t += -(1.0 - u).ln() / self.users_per_ms;
            if t > start as f64 + span {
                break;
            }
            self.user(t.ceil().min(now_ms as f64) as u64, &mut out);
        }
        out
    }

    /// Exactly `n_users` users' orders at `now_ms` (tests and the big-tick
    /// benchmark).
    pub fn generate_users(&mut self, n_users: usize, now_ms: u64) -> Vec<OrderRecord> {
        let mut out = Vec::with_capacity(n_users * 2);
        for _ in 0..n_users {
            self.user(now_ms, &mut out);
        }
        out
    }

    /// One user and all their orders, created at `ts`.
    fn user(&mut self, ts: u64, out: &mut Vec<OrderRecord>) {
        let rng = &mut self.rng;
        let user_id = self.next_user;
        self.next_user += 1;
        let gender = if rng.gen_bool(0.5) { "M" } else { "F" };
        let age: u8 = rng.gen_range(12..=70);
        let country = weighted(rng, COUNTRIES);
        let traffic_source = weighted(rng, TRAFFIC_SOURCES);
        let orders = weighted(rng, ORDERS_PER_USER);
        for _ in 0..orders {
            let order_id = self.next_order;
            self.next_order += 1;
            let items = weighted(&mut self.rng, ITEMS_PER_ORDER);
            for _ in 0..items {
                let rng = &mut self.rng;
                let ci = rng.gen_range(0..CATEGORIES.len());
                let c = &CATEGORIES[ci];
                let price = retail_price(rng, ci);
                let cost = cents(price * rng.gen_range(0.4..=0.6));
                out.push(OrderRecord {
                    user_id,
                    age,
                    gender: gender.to_string(),
                    country: country.to_string(),
                    traffic_source: traffic_source.to_string(),
                    order_id,
                    item_id: self.next_item,
                    category: c.name.to_string(),
                    cost,
                    item_status: weighted(rng, STATUSES).to_string(),
                    sale_price: price,
                    created_at: ts,
                });
                self.next_item += 1;
            }
        }
    }
}

/// The names of the 26 categories, in a fixed order (index `i` is the
/// category of [`retail_price`]`(rng, i)`); e.g. for a product catalogue.
pub fn category_names() -> impl ExactSizeIterator<Item = &'static str> {
    CATEGORIES.iter().map(|c| c.name)
}

/// A retail price for the `i`-th category of [`category_names`], in whole
/// cents: log-normal around the category's median (sigma 0.6: most items
/// near the median, a long right tail), clamped to its range.
pub fn retail_price(rng: &mut StdRng, i: usize) -> f64 {
    let c = &CATEGORIES[i];
    let z = standard_normal(rng);
    cents((c.median * (0.6 * z).exp()).clamp(c.min, c.max))
}

/// A standard normal variate (Box–Muller).
fn standard_normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.gen::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn share<'a>(records: impl Iterator<Item = &'a str>) -> HashMap<String, f64> {
        let mut counts: HashMap<String, f64> = HashMap::new();
        let mut n = 0.0;
        for r in records {
            *counts.entry(r.to_string()).or_default() += 1.0;
            n += 1.0;
        }
        counts.values_mut().for_each(|v| *v = *v * 100.0 / n);
        counts
    }

    fn check(table: &[(&str, f64)], got: &HashMap<String, f64>, tol: f64) {
        let total: f64 = table.iter().map(|(_, w)| w).sum();
        for (k, w) in table {
            let want = w * 100.0 / total;
            let g = got.get(*k).copied().unwrap_or(0.0);
            assert!(
                (g - want).abs() <= tol,
                "{k}: got {g:.2} % want {want:.2} %"
            );
        }
    }

    #[test]
    fn same_seed_same_stream() {
        let mut a = Generator::new(42, 2.0);
        let mut b = Generator::new(42, 2.0);
        a.generate(0);
        b.generate(0);
        assert_eq!(a.generate(60_000), b.generate(60_000));
        let mut c = Generator::new(43, 2.0);
        c.generate(0);
        assert_ne!(a.generate(120_000), c.generate(120_000));
    }

    #[test]
    fn distributions_match_thelook() {
        let mut g = Generator::new(7, 2.0);
        let users = 200_000;
        let recs = g.generate_users(users, 1);
        // Per-user fields, counted once per user.
        let mut seen = std::collections::HashSet::new();
        let firsts: Vec<&OrderRecord> = recs.iter().filter(|r| seen.insert(r.user_id)).collect();
        check(
            COUNTRIES,
            &share(firsts.iter().map(|r| r.country.as_str())),
            0.5,
        );
        check(
            TRAFFIC_SOURCES,
            &share(firsts.iter().map(|r| r.traffic_source.as_str())),
            0.5,
        );
        check(
            STATUSES,
            &share(recs.iter().map(|r| r.item_status.as_str())),
            0.5,
        );
        let m = firsts.iter().filter(|r| r.gender == "M").count() as f64 / firsts.len() as f64;
        assert!((m - 0.5).abs() < 0.01);
        assert!(firsts.iter().all(|r| (12..=70).contains(&r.age)));
        // Orders per user: users without orders have no records, so 80 % of
        // users appear; mean orders over all users 1.25.
        let orders = recs
            .iter()
            .map(|r| r.order_id)
            .collect::<std::collections::HashSet<_>>();
        let per_user = orders.len() as f64 / users as f64;
        assert!((per_user - 1.25).abs() < 0.02, "orders per user {per_user}");
        assert!(((firsts.len() as f64 / users as f64) - 0.8).abs() < 0.01);
        // Items per order: mean 1*.7+2*.2+3*.05+4*.05 = 1.45.
        let ipo = recs.len() as f64 / orders.len() as f64;
        assert!((ipo - 1.45).abs() < 0.02, "items per order {ipo}");
        // Prices: cost 40–60 % of retail; socks/accessories under $20; most
        // items $10–$100; a tail of several hundred dollars.
        for r in &recs {
            assert!(r.cost >= r.sale_price * 0.4 - 0.01 && r.cost <= r.sale_price * 0.6 + 0.01);
            if r.category.starts_with("Socks") || r.category == "Accessories" {
                assert!(r.sale_price < 20.0);
            }
            assert_eq!((r.sale_price * 100.0).round() / 100.0, r.sale_price);
        }
        let mid = recs
            .iter()
            .filter(|r| (10.0..=100.0).contains(&r.sale_price))
            .count() as f64
            / recs.len() as f64;
        assert!(mid > 0.7, "share in $10–$100: {mid}");
        assert!(recs.iter().any(|r| r.sale_price > 300.0));
        let cats = recs
            .iter()
            .map(|r| r.category.as_str())
            .collect::<std::collections::HashSet<_>>();
        assert_eq!(cats.len(), 26);
    }

    #[test]
    fn rate_and_timestamps() {
        let mut g = Generator::new(1, 2.0);
        assert!(g.generate(1_000_000).is_empty());
        let mut orders = std::collections::HashSet::new();
        let mut prev = 1_000_000;
        for i in 1..=3_600u64 {
            let now = 1_000_000 + i * 1000;
            for r in g.generate(now) {
                assert!(r.created_at > prev && r.created_at <= now);
                orders.insert(r.order_id);
            }
            prev = now;
        }
        let rate = orders.len() as f64 / 3600.0;
        assert!((rate - 2.0).abs() < 0.15, "orders/s {rate}");
    }

    #[test]
    fn stalled_clock_is_bounded() {
        let mut g = Generator::new(1, 100.0);
        g.generate(0);
        let recs = g.generate(3_600_000);
        assert!(recs.iter().all(|r| r.created_at > 3_600_000 - MAX_GAP_MS));
        assert!(recs.len() < 100 * 10 * 3, "{}", recs.len());
        assert!(g.generate(3_600_000).is_empty());
        assert!(
            g.generate(1).is_empty(),
            "time going backwards yields nothing"
        );
    }
}
