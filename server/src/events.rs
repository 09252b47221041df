//! Activity-feed entries derived from the data: notable orders. Pure
//! functions, no I/O. (Host alerts are alert rules: [`crate::alerts`].)

use livedash_shared::{Level, OrderRecord};

/// An order at or above this total (dollars) is announced in the feed.
pub const BIG_ORDER_DOLLARS: f64 = 250.0;

/// At most this many notable orders are announced per call.
const MAX_NOTABLE: usize = 3;

/// Notable orders among new records: an order whose total sale price is at
/// least [`BIG_ORDER_DOLLARS`]. Biggest first, at most three.
pub fn notable_orders(records: &[OrderRecord]) -> Vec<(Level, String)> {
    // Items of one order are adjacent in the generator's output; group runs.
    let mut orders: Vec<(f64, usize, &OrderRecord)> = Vec::new();
    for r in records {
        match orders.last_mut() {
            Some((total, n, first)) if first.order_id == r.order_id => {
                *total += r.sale_price;
                *n += 1;
            }
            _ => orders.push((r.sale_price, 1, r)),
        }
    }
    orders.retain(|(t, _, _)| *t >= BIG_ORDER_DOLLARS);
    orders.sort_by(|a, b| b.0.total_cmp(&a.0));
    orders
        .into_iter()
        .take(MAX_NOTABLE)
        .map(|(total, n, r)| {
            let items = if n == 1 {
                "1 item".to_string()
            } else {
                format!("{n} items")
            };
            (
                Level::Info,
                format!(
                    "Big order: ${total:.2} from {} ({items}, {})",
                    r.country, r.category
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(order_id: u64, price: f64) -> OrderRecord {
        OrderRecord {
            user_id: 1,
            age: 30,
            gender: "M".into(),
            country: "Brasil".into(),
            traffic_source: "Search".into(),
            order_id,
            item_id: 1,
            category: "Suits".into(),
            cost: price / 2.0,
            item_status: "Complete".into(),
            sale_price: price,
            created_at: 0,
        }
    }

    #[test]
    fn big_orders_are_announced_biggest_first() {
        let recs = [
            rec(1, 100.0),
            rec(1, 200.0),
            rec(2, 20.0),
            rec(3, 400.0),
            rec(4, 260.0),
            rec(5, 251.0),
            rec(6, 255.0),
        ];
        let n = notable_orders(&recs);
        assert_eq!(n.len(), 3);
        assert!(
            n[0].1.starts_with("Big order: $400.00 from Brasil (1 item"),
            "{}",
            n[0].1
        );
        assert!(n[1].1.contains("$300.00") && n[1].1.contains("2 items"));
        assert!(n[2].1.contains("$260.00"));
        assert!(notable_orders(&[rec(9, 249.99)]).is_empty());
    }
}
