//! Pure logic of the PostgreSQL tailer, free of I/O: the outbox cursor,
//! turning outbox rows plus their user and product into [`OrderRecord`]s,
//! and what to do with a row whose user or product is not visible yet.

use livedash_shared::OrderRecord;
use std::collections::HashMap;

/// A position in `livedash.outbox`: the inserting transaction's id
/// (`pg_current_xact_id()`, an `xid8`) and the row's serial within the
/// table. Rows are read in this order; a cursor means "every row at or
/// before it is done".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    /// The transaction id (xid8 fits in an i64 for the next ~2^31 epochs).
    pub xid: i64,
    /// The row's `bigserial`, orders the rows of one transaction.
    pub n: i64,
}

/// One `livedash.outbox` row: the order item's own values as text (the
/// trigger copies them with `->>`, so any column type works and the trigger
/// can never fail an insert), plus where and when it was captured.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    /// Its place in the read order.
    pub cursor: Cursor,
    /// When the trigger captured it (database clock, epoch ms): the
    /// record's `created_at`, so the lookback window counts arrivals
    /// (the tutorial's `created_at` values are random).
    pub seen_ms: i64,
    /// `order_items.id`.
    pub item_id: Option<String>,
    /// `order_items.order_id`.
    pub order_id: Option<String>,
    /// `order_items.user_id`: joins `ecommerce.users.id`.
    pub user_id: Option<String>,
    /// `order_items.product_id`: joins `ecommerce.products.id`.
    pub product_id: Option<String>,
    /// `order_items.status`.
    pub status: Option<String>,
    /// `order_items.sale_price`, as text.
    pub sale_price: Option<String>,
}

/// The `ecommerce.users` columns a record needs (as text).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct User {
    /// `age`.
    pub age: Option<String>,
    /// `gender`.
    pub gender: Option<String>,
    /// `country`.
    pub country: Option<String>,
    /// `traffic_source`.
    pub traffic_source: Option<String>,
}

/// The `ecommerce.products` columns a record needs (as text).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Product {
    /// `category`.
    pub category: Option<String>,
    /// `cost`.
    pub cost: Option<String>,
}

/// What stands for a value the database did not have.
pub const UNKNOWN: &str = "Unknown";

/// A text id as the `u64` of the wire protocol: a decimal id as itself,
/// anything else (the tutorial's uuids) as a stable 53-bit hash, so it
/// stays exact in JavaScript clients too.
pub fn id_u64(s: &str) -> u64 {
    if let Ok(n) = s.trim().parse::<u64>() {
        return n;
    }
    use sha2::Digest;
    let d = sha2::Sha256::digest(s.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b) & ((1 << 53) - 1)
}

/// Dollars from a text value; anything not a finite number is 0.
fn money(s: Option<&str>) -> f64 {
    s.and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .map(|v| (v * 100.0).round() / 100.0)
        .unwrap_or(0.0)
}

fn text(s: Option<&String>) -> String {
    match s.map(|s| s.trim()) {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => UNKNOWN.to_string(),
    }
}

/// The record of a row with its user and product (either may be missing:
/// their fields are then [`UNKNOWN`] / 0).
pub fn record(row: &OutboxRow, user: Option<&User>, product: Option<&Product>) -> OrderRecord {
    let item_id = match &row.item_id {
        Some(id) => id_u64(id),
        // No id: still one distinct item, named by its outbox position.
        None => id_u64(&format!("outbox:{}:{}", row.cursor.xid, row.cursor.n)),
    };
    let age = user
        .and_then(|u| u.age.as_deref())
        .and_then(|a| a.trim().parse::<f64>().ok())
        .filter(|a| a.is_finite())
        .map_or(0, |a| a.clamp(0.0, 255.0) as u8);
    OrderRecord {
        user_id: row.user_id.as_deref().map_or(0, id_u64),
        age,
        gender: text(user.and_then(|u| u.gender.as_ref())),
        country: text(user.and_then(|u| u.country.as_ref())),
        traffic_source: text(user.and_then(|u| u.traffic_source.as_ref())),
        order_id: row.order_id.as_deref().map_or(0, id_u64),
        item_id,
        category: text(product.and_then(|p| p.category.as_ref())),
        cost: money(product.and_then(|p| p.cost.as_deref())),
        item_status: text(row.status.as_ref()),
        sale_price: money(row.sale_price.as_deref()),
        created_at: row.seen_ms.max(0) as u64,
    }
}

/// One batch turned into records.
#[derive(Debug, Default, PartialEq)]
pub struct Joined {
    /// Records to hand to the orders task, in outbox order.
    pub records: Vec<OrderRecord>,
    /// The cursor after the last row taken (`None`: no row taken).
    pub last: Option<Cursor>,
    /// Rows sent without their user or product (after the grace period).
    pub incomplete: u64,
    /// Whether the batch stopped at a row still waiting for its user or
    /// product: the rows after it wait too (the cursor is a single point).
    pub waiting: bool,
}

/// Joins batches and applies the policy for incomplete rows: a row whose
/// user or product is not visible yet (a producer that commits the order
/// item before its user) holds the cursor for up to `grace_ms` from when
/// the tailer first saw it, then goes out with what is known and is
/// counted. Never dropped silently, never waited for forever.
#[derive(Debug)]
pub struct Joiner {
    /// How long a row may wait for its user and product.
    grace_ms: u64,
    /// The incomplete row at the head of the queue and when (tailer clock,
    /// ms) it was first seen incomplete.
    waiting: Option<(Cursor, u64)>,
}

impl Joiner {
    /// A joiner that waits up to `grace_ms` for a row's user and product.
    pub fn new(grace_ms: u64) -> Self {
        Joiner {
            grace_ms,
            waiting: None,
        }
    }

    /// Turn `rows` (in cursor order) into records at `now_ms` (a monotonic
    /// clock). With `wait` false (the lookback fill: old rows), incomplete
    /// rows go out at once.
    pub fn join(
        &mut self,
        rows: &[OutboxRow],
        users: &HashMap<String, User>,
        products: &HashMap<String, Product>,
        now_ms: u64,
        wait: bool,
    ) -> Joined {
        let mut out = Joined::default();
        for row in rows {
            let user = row.user_id.as_ref().and_then(|id| users.get(id));
            let product = row.product_id.as_ref().and_then(|id| products.get(id));
            let complete = user.is_some() && product.is_some();
            if !complete && wait {
                let since = match self.waiting {
                    Some((c, since)) if c == row.cursor => since,
                    _ => {
                        self.waiting = Some((row.cursor, now_ms));
                        now_ms
                    }
                };
                if now_ms.saturating_sub(since) < self.grace_ms {
                    out.waiting = true;
                    break;
                }
            }
            if !complete {
                out.incomplete += 1;
            }
            if self.waiting.is_some_and(|(c, _)| c == row.cursor) {
                self.waiting = None;
            }
            out.records.push(record(row, user, product));
            out.last = Some(row.cursor);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(xid: i64, n: i64, user: &str, product: &str) -> OutboxRow {
        OutboxRow {
            cursor: Cursor { xid, n },
            seen_ms: 1_000 + n,
            item_id: Some(format!("item-{n}")),
            order_id: Some("17".into()),
            user_id: Some(user.into()),
            product_id: Some(product.into()),
            status: Some("Shipped".into()),
            sale_price: Some("19.989".into()),
        }
    }

    fn maps() -> (HashMap<String, User>, HashMap<String, Product>) {
        let users = HashMap::from([(
            "u1".to_string(),
            User {
                age: Some("34".into()),
                gender: Some("F".into()),
                country: Some("Brasil".into()),
                traffic_source: Some("Email".into()),
            },
        )]);
        let products = HashMap::from([(
            "p1".to_string(),
            Product {
                category: Some("Jeans".into()),
                cost: Some("7.5".into()),
            },
        )]);
        (users, products)
    }

    #[test]
    fn cursors_order_by_transaction_then_serial() {
        let a = Cursor { xid: 5, n: 90 };
        let b = Cursor { xid: 6, n: 1 };
        assert!(a < b, "a later transaction's rows come after, whatever n");
        assert!(Cursor { xid: 6, n: 2 } > b);
    }

    #[test]
    fn ids_are_kept_or_hashed_stably_into_53_bits() {
        assert_eq!(id_u64("42"), 42);
        let u = "6f1c2a34-0b8e-4c1e-9a57-3d2b1f0e9c11";
        assert_eq!(id_u64(u), id_u64(u));
        assert_ne!(id_u64(u), id_u64("6f1c2a34-0b8e-4c1e-9a57-3d2b1f0e9c12"));
        assert!(id_u64(u) < 1 << 53);
    }

    #[test]
    fn a_complete_row_becomes_the_tutorial_record() {
        let (users, products) = maps();
        let mut j = Joiner::new(5_000);
        let got = j.join(&[row(9, 1, "u1", "p1")], &users, &products, 0, true);
        assert_eq!(got.last, Some(Cursor { xid: 9, n: 1 }));
        assert_eq!((got.incomplete, got.waiting), (0, false));
        let r = &got.records[0];
        assert_eq!(r.country, "Brasil");
        assert_eq!(r.traffic_source, "Email");
        assert_eq!((r.age, r.gender.as_str()), (34, "F"));
        assert_eq!(r.category, "Jeans");
        assert_eq!(r.cost, 7.5);
        assert_eq!(r.sale_price, 19.99);
        assert_eq!(r.item_status, "Shipped");
        assert_eq!(r.order_id, 17);
        assert_eq!(r.item_id, id_u64("item-1"));
        assert_eq!(
            r.created_at, 1_001,
            "arrival time, not the row's created_at"
        );
    }

    #[test]
    fn an_incomplete_row_waits_its_grace_then_goes_out_counted() {
        let (users, products) = maps();
        let rows = [
            row(9, 1, "u1", "p1"),
            row(9, 2, "u-late", "p1"),
            row(10, 3, "u1", "p1"),
        ];
        let mut j = Joiner::new(5_000);
        // The complete row before it goes; it and everything after wait.
        let got = j.join(&rows, &users, &products, 100, true);
        assert_eq!(got.records.len(), 1);
        assert_eq!(got.last, Some(Cursor { xid: 9, n: 1 }));
        assert!(got.waiting);
        // Its user shows up within the grace: it goes out complete.
        let mut late = users.clone();
        late.insert("u-late".into(), users["u1"].clone());
        let got = j.join(&rows[1..], &late, &products, 2_000, true);
        assert_eq!(got.records.len(), 2);
        assert_eq!((got.incomplete, got.waiting), (0, false));
        assert_eq!(got.records[0].country, "Brasil");
        // Another one never gets its user: held 5 s from first sight, then sent.
        let rows = [row(11, 4, "ghost", "p1"), row(12, 5, "u1", "p1")];
        assert!(j.join(&rows, &users, &products, 10_000, true).waiting);
        assert!(j.join(&rows, &users, &products, 14_999, true).waiting);
        let got = j.join(&rows, &users, &products, 15_000, true);
        assert_eq!(got.records.len(), 2);
        assert_eq!(got.incomplete, 1);
        assert_eq!(got.records[0].country, UNKNOWN);
        assert_eq!(got.records[0].category, "Jeans");
        assert_eq!(got.last, Some(Cursor { xid: 12, n: 5 }));
    }

    #[test]
    fn the_fill_never_waits_and_bad_values_do_not_break_a_row() {
        let (users, products) = maps();
        let mut bad = row(3, 1, "u1", "nope");
        bad.sale_price = Some("NaN".into());
        bad.item_id = None;
        let mut j = Joiner::new(5_000);
        let got = j.join(&[bad], &users, &products, 0, false);
        assert_eq!(got.records.len(), 1);
        assert_eq!(got.incomplete, 1);
        let r = &got.records[0];
        assert_eq!((r.sale_price, r.cost), (0.0, 0.0));
        assert_eq!(r.category, UNKNOWN);
        assert_eq!(r.item_id, id_u64("outbox:3:1"));
    }
}
