//! The rows one producer batch writes: users, their orders and order items
//! in the tutorial's columns, column by column (ready for `unnest`). Pure:
//! no I/O, deterministic for a seed.
//!
//! Who buys what, how often and at what status comes from the built-in
//! generator ([`crate::generator::Generator`]: Poisson arrivals at the
//! configured rate, theLook's countries, traffic sources, orders per user,
//! items per order and statuses). This module turns its records into rows:
//! uuids as text ids, a product of the item's category (in the buyer's
//! department when the catalogue sells it there) whose retail price is the
//! item's `sale_price`, names, addresses and coordinates by country, and
//! the users who place no order (20 % of users, as in theLook: the
//! generator's records only show buyers, so one orderless user is added
//! for every buyer with probability 1/4).
//!
//! Times are honest: `created_at` is when the generator made the user
//! (within the last batch interval). `shipped_at`, `delivered_at` and
//! `returned_at` are set by status as in theLook (Shipped: shipped;
//! Complete: shipped and delivered; Returned: all three; Processing and
//! Cancelled: none), hours to days after `created_at` — planned times.

use crate::generator::Generator;
use livedash_shared::OrderRecord;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Probability of an orderless user per buyer: 20 % of all users buy
/// nothing, so 0.2 / 0.8 of the buyers.
const ORDERLESS_PER_BUYER: f64 = 0.25;

/// First names by gender.
const MEN: &[&str] = &[
    "James", "Wei", "Lucas", "Mateus", "Min-jun", "Hugo", "Oliver", "Leon", "Pablo", "Haruto",
    "Jack", "Noah", "Jan", "Santiago", "Felix", "Daniel", "Gabriel", "Ethan",
];
const WOMEN: &[&str] = &[
    "Mary",
    "Fang",
    "Emma",
    "Ana",
    "Seo-yeon",
    "Chloe",
    "Olivia",
    "Mia",
    "Lucia",
    "Yui",
    "Charlotte",
    "Sofia",
    "Zofia",
    "Valentina",
    "Lena",
    "Laura",
    "Julia",
    "Grace",
];
/// Last names.
const LAST: &[&str] = &[
    "Smith",
    "Wang",
    "Li",
    "Silva",
    "Kim",
    "Martin",
    "Brown",
    "Muller",
    "Garcia",
    "Sato",
    "Johnson",
    "Lee",
    "Santos",
    "Dubois",
    "Schmidt",
    "Lopez",
    "Tanaka",
    "Wilson",
    "Peeters",
    "Nowak",
    "Rodriguez",
    "Gruber",
    "Chen",
    "Costa",
];
/// Street names.
const STREETS: &[&str] = &[
    "Main", "Oak", "Park", "Lake", "Hill", "Station", "River", "Garden", "Market", "Church",
];

/// (country, city, state, latitude, longitude): a few places per country.
const PLACES: &[(&str, &str, &str, f64, f64)] = &[
    ("China", "Shanghai", "Shanghai", 31.23, 121.47),
    ("China", "Beijing", "Beijing", 39.90, 116.40),
    ("China", "Guangzhou", "Guangdong", 23.13, 113.26),
    ("United States", "New York", "New York", 40.71, -74.01),
    ("United States", "Los Angeles", "California", 34.05, -118.24),
    ("United States", "Chicago", "Illinois", 41.88, -87.63),
    ("Brasil", "São Paulo", "São Paulo", -23.55, -46.63),
    ("Brasil", "Rio de Janeiro", "Rio de Janeiro", -22.91, -43.17),
    ("South Korea", "Seoul", "Seoul", 37.57, 126.98),
    ("South Korea", "Busan", "Busan", 35.18, 129.08),
    ("France", "Paris", "Île-de-France", 48.86, 2.35),
    ("France", "Lyon", "Auvergne-Rhône-Alpes", 45.76, 4.84),
    ("United Kingdom", "London", "England", 51.51, -0.13),
    ("United Kingdom", "Manchester", "England", 53.48, -2.24),
    ("Germany", "Berlin", "Berlin", 52.52, 13.40),
    ("Germany", "Munich", "Bavaria", 48.14, 11.58),
    ("Spain", "Madrid", "Madrid", 40.42, -3.70),
    ("Spain", "Barcelona", "Catalonia", 41.39, 2.17),
    ("Japan", "Tokyo", "Tokyo", 35.68, 139.69),
    ("Japan", "Osaka", "Osaka", 34.69, 135.50),
    ("Australia", "Sydney", "New South Wales", -33.87, 151.21),
    ("Australia", "Melbourne", "Victoria", -37.81, 144.96),
    ("Belgium", "Brussels", "Brussels", 50.85, 4.35),
    ("Poland", "Warsaw", "Masovia", 52.23, 21.01),
    ("Colombia", "Bogotá", "Bogotá", 4.71, -74.07),
    ("Austria", "Vienna", "Vienna", 48.21, 16.37),
];

/// What an order item needs of a product.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductRef {
    /// `products.id`, written as `order_items.product_id`.
    pub id: i64,
    /// To match the generator's category.
    pub category: String,
    /// `Men` or `Women`, to match the buyer.
    pub department: String,
    /// Becomes the item's `sale_price`.
    pub retail_price: f64,
}

/// Finds a product for an item: its category in the buyer's department,
/// else its category, else any product.
pub struct Picker {
    /// Every product, as read from the database.
    all: Vec<ProductRef>,
    /// (category, department) → indexes into `all`.
    by_pair: HashMap<(String, String), Vec<usize>>,
    /// category → indexes into `all`.
    by_category: HashMap<String, Vec<usize>>,
}

impl Picker {
    /// A picker over `products` (at least one).
    pub fn new(products: Vec<ProductRef>) -> Picker {
        let mut by_pair: HashMap<(String, String), Vec<usize>> = HashMap::new();
        let mut by_category: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, p) in products.iter().enumerate() {
            by_pair
                .entry((p.category.clone(), p.department.clone()))
                .or_default()
                .push(i);
            by_category.entry(p.category.clone()).or_default().push(i);
        }
        Picker {
            all: products,
            by_pair,
            by_category,
        }
    }

    /// How many products there are.
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// A product for an item of `category` bought by `gender` (`M`/`F`).
    fn pick(&self, rng: &mut StdRng, category: &str, gender: &str) -> &ProductRef {
        let dept = if gender == "M" { "Men" } else { "Women" };
        let key = (category.to_string(), dept.to_string());
        let i = match self
            .by_pair
            .get(&key)
            .or_else(|| self.by_category.get(category))
        {
            Some(list) => list[rng.gen_range(0..list.len())],
            None => rng.gen_range(0..self.all.len()),
        };
        &self.all[i]
    }
}

/// Rows of `ecommerce.users`, column by column.
#[derive(Debug, Default, Clone)]
pub struct Users {
    pub id: Vec<String>,
    pub first_name: Vec<String>,
    pub last_name: Vec<String>,
    pub email: Vec<String>,
    pub age: Vec<i64>,
    pub gender: Vec<String>,
    pub state: Vec<String>,
    pub street_address: Vec<String>,
    pub postal_code: Vec<String>,
    pub city: Vec<String>,
    pub country: Vec<String>,
    pub latitude: Vec<f64>,
    pub longitude: Vec<f64>,
    pub traffic_source: Vec<String>,
    pub created_at: Vec<SystemTime>,
}

/// Rows of `ecommerce.orders`, column by column.
#[derive(Debug, Default, Clone)]
pub struct Orders {
    pub order_id: Vec<String>,
    pub user_id: Vec<String>,
    pub status: Vec<String>,
    pub gender: Vec<String>,
    pub created_at: Vec<SystemTime>,
    pub returned_at: Vec<Option<SystemTime>>,
    pub shipped_at: Vec<Option<SystemTime>>,
    pub delivered_at: Vec<Option<SystemTime>>,
    pub num_of_item: Vec<i64>,
}

/// Rows of `ecommerce.order_items`, column by column.
#[derive(Debug, Default, Clone)]
pub struct Items {
    pub id: Vec<String>,
    pub order_id: Vec<String>,
    pub user_id: Vec<String>,
    pub product_id: Vec<i64>,
    pub inventory_item_id: Vec<i64>,
    pub status: Vec<String>,
    pub created_at: Vec<SystemTime>,
    pub shipped_at: Vec<Option<SystemTime>>,
    pub delivered_at: Vec<Option<SystemTime>>,
    pub returned_at: Vec<Option<SystemTime>>,
    pub sale_price: Vec<f64>,
}

/// One batch: written in one transaction.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    /// New users (buyers and orderless users).
    pub users: Users,
    /// Their orders.
    pub orders: Orders,
    /// The orders' items.
    pub items: Items,
}

impl Batch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.users.id.is_empty()
    }
}

/// `shipped_at`, `delivered_at`, `returned_at` for a status.
type Fulfilment = (Option<SystemTime>, Option<SystemTime>, Option<SystemTime>);

/// Makes batches of rows.
pub struct Rows {
    /// Who buys what and when.
    generator: Generator,
    /// Every other choice (ids, names, products, times), seeded too.
    rng: StdRng,
    /// Next `inventory_item_id`.
    next_inventory: i64,
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn hours(h: f64) -> Duration {
    Duration::from_secs_f64(h * 3600.0)
}

impl Rows {
    /// Rows for `orders_per_sec` mean orders a second, reproducible with
    /// `seed`, starting at `now_ms`.
    pub fn new(seed: u64, orders_per_sec: f64, now_ms: u64) -> Rows {
        let mut generator = Generator::new(seed, orders_per_sec);
        generator.generate(now_ms);
        Rows {
            generator,
            rng: StdRng::seed_from_u64(seed ^ 0x005E_ED0F_B075),
            next_inventory: 1,
        }
    }

    /// Forget the time up to `now_ms` (the database was away: no catch-up
    /// burst).
    pub fn skip_to(&mut self, now_ms: u64) {
        self.generator.generate(now_ms);
    }

    /// The rows of everything that happened since the previous call.
    pub fn batch(&mut self, now_ms: u64, products: &Picker) -> Batch {
        let records = self.generator.generate(now_ms);
        self.rows(&records, products)
    }

    /// A uuid (v4 layout) from the seeded rng, as text.
    fn uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.gen())
            .into_uuid()
            .to_string()
    }

    /// Turn generator records into rows.
    pub fn rows(&mut self, records: &[OrderRecord], products: &Picker) -> Batch {
        let mut b = Batch::default();
        let mut users: HashMap<u64, String> = HashMap::new();
        let mut orders: HashMap<u64, usize> = HashMap::new();
        for r in records {
            let user = match users.get(&r.user_id) {
                Some(u) => u.clone(),
                None => {
                    let u = self.user(&mut b.users, r);
                    if self.rng.gen_bool(ORDERLESS_PER_BUYER) {
                        let twin = OrderRecord {
                            gender: if self.rng.gen_bool(0.5) { "M" } else { "F" }.into(),
                            age: self.rng.gen_range(12..=70),
                            ..r.clone()
                        };
                        self.user(&mut b.users, &twin);
                    }
                    users.insert(r.user_id, u.clone());
                    u
                }
            };
            let order = match orders.get(&r.order_id) {
                Some(&i) => {
                    b.orders.num_of_item[i] += 1;
                    b.orders.order_id[i].clone()
                }
                None => {
                    orders.insert(r.order_id, b.orders.order_id.len());
                    self.order(&mut b.orders, r, &user)
                }
            };
            self.item(&mut b.items, r, &user, &order, products);
        }
        b
    }

    /// Append one user; returns its id.
    fn user(&mut self, u: &mut Users, r: &OrderRecord) -> String {
        let id = self.uuid();
        let rng = &mut self.rng;
        let first = if r.gender == "M" { MEN } else { WOMEN };
        let first = first[rng.gen_range(0..first.len())];
        let last = LAST[rng.gen_range(0..LAST.len())];
        let places: Vec<_> = PLACES.iter().filter(|p| p.0 == r.country).collect();
        let (city, state, lat, lon) = match places.is_empty() {
            true => (r.country.as_str(), r.country.as_str(), 0.0, 0.0),
            false => {
                let p = places[rng.gen_range(0..places.len())];
                (p.1, p.2, p.3, p.4)
            }
        };
        let jitter = |rng: &mut StdRng| rng.gen_range(-0.2..0.2);
        u.email.push(format!(
            "{}.{}{}@example.com",
            first.to_lowercase().replace(' ', ""),
            last.to_lowercase(),
            rng.gen_range(1..1000)
        ));
        u.street_address.push(format!(
            "{} {} Street",
            rng.gen_range(1..2000),
            STREETS[rng.gen_range(0..STREETS.len())]
        ));
        u.postal_code
            .push(format!("{:05}", rng.gen_range(1000..99999)));
        u.latitude
            .push(((lat + jitter(rng)) * 1e4_f64).round() / 1e4);
        u.longitude
            .push(((lon + jitter(rng)) * 1e4_f64).round() / 1e4);
        u.id.push(id.clone());
        u.first_name.push(first.to_string());
        u.last_name.push(last.to_string());
        u.age.push(r.age as i64);
        u.gender.push(r.gender.clone());
        u.state.push(state.to_string());
        u.city.push(city.to_string());
        u.country.push(r.country.clone());
        u.traffic_source.push(r.traffic_source.clone());
        u.created_at.push(at(r.created_at));
        id
    }

    /// Shipping times for an item or order of `status` created at `created`.
    fn fulfilment(&mut self, status: &str, created: SystemTime) -> Fulfilment {
        let rng = &mut self.rng;
        let shipped = created + hours(rng.gen_range(1.0..72.0));
        let delivered = shipped + hours(rng.gen_range(24.0..120.0));
        let returned = delivered + hours(rng.gen_range(24.0..72.0));
        match status {
            "Shipped" => (Some(shipped), None, None),
            "Complete" => (Some(shipped), Some(delivered), None),
            "Returned" => (Some(shipped), Some(delivered), Some(returned)),
            _ => (None, None, None),
        }
    }

    /// Append one order (status: its first item's); returns its id.
    fn order(&mut self, o: &mut Orders, r: &OrderRecord, user: &str) -> String {
        let id = self.uuid();
        let created = at(r.created_at);
        let (shipped, delivered, returned) = self.fulfilment(&r.item_status, created);
        o.order_id.push(id.clone());
        o.user_id.push(user.to_string());
        o.status.push(r.item_status.clone());
        o.gender.push(r.gender.clone());
        o.created_at.push(created);
        o.returned_at.push(returned);
        o.shipped_at.push(shipped);
        o.delivered_at.push(delivered);
        o.num_of_item.push(1);
        id
    }

    /// Append one order item.
    fn item(&mut self, it: &mut Items, r: &OrderRecord, user: &str, order: &str, p: &Picker) {
        let id = self.uuid();
        let product = p.pick(&mut self.rng, &r.category, &r.gender).clone();
        let created = at(r.created_at);
        let (shipped, delivered, returned) = self.fulfilment(&r.item_status, created);
        it.id.push(id);
        it.order_id.push(order.to_string());
        it.user_id.push(user.to_string());
        it.product_id.push(product.id);
        it.inventory_item_id.push(self.next_inventory);
        self.next_inventory += 1;
        it.status.push(r.item_status.clone());
        it.created_at.push(created);
        it.shipped_at.push(shipped);
        it.delivered_at.push(delivered);
        it.returned_at.push(returned);
        it.sale_price.push(product.retail_price);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::produce::catalogue::catalogue;
    use std::collections::HashSet;

    fn picker() -> Picker {
        Picker::new(
            catalogue()
                .into_iter()
                .map(|p| ProductRef {
                    id: p.id,
                    category: p.category,
                    department: p.department,
                    retail_price: p.retail_price,
                })
                .collect(),
        )
    }

    #[test]
    fn rows_are_consistent_and_reproducible() {
        let p = picker();
        let t0 = 1_700_000_000_000;
        let mut a = Rows::new(5, 20.0, t0);
        let mut b = Rows::new(5, 20.0, t0);
        let (mut users, mut orders, mut items) = (0, 0, 0);
        let mut buyers = HashSet::new();
        for i in 1..=120u64 {
            let now = t0 + i * 500;
            let x = a.batch(now, &p);
            let y = b.batch(now, &p);
            assert_eq!(x.items.id, y.items.id, "same seed, same rows");
            let user_ids: HashSet<&String> = x.users.id.iter().collect();
            let order_ids: HashSet<&String> = x.orders.order_id.iter().collect();
            for i in 0..x.items.id.len() {
                assert!(user_ids.contains(&x.items.user_id[i]));
                assert!(order_ids.contains(&x.items.order_id[i]));
                let c = x.items.created_at[i];
                assert!(c > at(now - 500) && c <= at(now), "honest times");
                let prod = p
                    .all
                    .iter()
                    .find(|q| q.id == x.items.product_id[i])
                    .unwrap();
                assert_eq!(prod.retail_price, x.items.sale_price[i]);
                let has_ship = x.items.shipped_at[i].is_some();
                let st = x.items.status[i].as_str();
                assert_eq!(has_ship, ["Shipped", "Complete", "Returned"].contains(&st));
                assert_eq!(x.items.returned_at[i].is_some(), st == "Returned");
            }
            let n: i64 = x.orders.num_of_item.iter().sum();
            assert_eq!(n as usize, x.items.id.len());
            buyers.extend(x.orders.user_id.iter().cloned());
            users += x.users.id.len();
            orders += x.orders.order_id.len();
            items += x.items.id.len();
        }
        // 60 s at 20 orders/s: 1200 orders, 1.45 items each, 80 % buyers.
        assert!((1000..1400).contains(&orders), "orders {orders}");
        let ipo = items as f64 / orders as f64;
        assert!((1.3..1.6).contains(&ipo), "items per order {ipo}");
        let share = buyers.len() as f64 / users as f64;
        assert!((0.74..0.86).contains(&share), "buyers {share}");
    }

    #[test]
    fn items_match_category_and_department() {
        let p = picker();
        let mut rows = Rows::new(1, 2.0, 0);
        let recs = crate::generator::Generator::new(3, 2.0).generate_users(300, 10);
        let b = rows.rows(&recs, &p);
        assert_eq!(b.items.id.len(), recs.len());
        for (r, pid) in recs.iter().zip(&b.items.product_id) {
            let prod = p.all.iter().find(|q| q.id == *pid).unwrap();
            assert_eq!(prod.category, r.category);
            let depts = crate::produce::catalogue::departments(&r.category);
            let want = if r.gender == "M" { "Men" } else { "Women" };
            if depts.contains(&want) {
                assert_eq!(prod.department, want);
            }
        }
    }
}
