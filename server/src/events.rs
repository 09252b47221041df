//! Activity-feed entries derived from the data: notable orders and host
//! alerts. Pure functions, no I/O.

use livedash_shared::{Level, OrderRecord, System};

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

/// CPU alert thresholds: above `CPU_HIGH` for `CPU_SAMPLES` samples raises,
/// below `CPU_LOW` clears (hysteresis: no flapping around one threshold).
const CPU_HIGH: f32 = 90.0;
const CPU_LOW: f32 = 70.0;
const CPU_SAMPLES: u32 = 3;
/// Memory warning thresholds (percent used).
const MEM_HIGH: f64 = 90.0;
const MEM_LOW: f64 = 80.0;

/// Host alerts with hysteresis.
#[derive(Debug, Default)]
pub struct Alerts {
    /// Consecutive samples with CPU above `CPU_HIGH`.
    cpu_high_run: u32,
    /// A CPU alert is raised and not yet cleared.
    cpu_alert: bool,
    /// A memory warning is raised and not yet cleared.
    mem_warn: bool,
}

impl Alerts {
    /// No alert raised.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed one sample; returns the entries to announce (usually none).
    pub fn check(&mut self, s: &System) -> Vec<(Level, String)> {
        let mut out = Vec::new();
        if s.cpu_percent > CPU_HIGH {
            self.cpu_high_run += 1;
        } else {
            self.cpu_high_run = 0;
        }
        if !self.cpu_alert && self.cpu_high_run >= CPU_SAMPLES {
            self.cpu_alert = true;
            out.push((
                Level::Alert,
                format!(
                    "CPU at {:.0} % for {} samples",
                    s.cpu_percent, self.cpu_high_run
                ),
            ));
        } else if self.cpu_alert && s.cpu_percent < CPU_LOW {
            self.cpu_alert = false;
            out.push((
                Level::Info,
                format!("CPU back to normal ({:.0} %)", s.cpu_percent),
            ));
        }
        if s.mem_total_bytes > 0 {
            let pct = s.mem_used_bytes as f64 * 100.0 / s.mem_total_bytes as f64;
            if !self.mem_warn && pct > MEM_HIGH {
                self.mem_warn = true;
                out.push((Level::Warn, format!("Memory at {pct:.0} %")));
            } else if self.mem_warn && pct < MEM_LOW {
                self.mem_warn = false;
                out.push((Level::Info, format!("Memory back to normal ({pct:.0} %)")));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livedash_shared::LoadAvg;

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

    fn sample(cpu: f32, mem_pct: u64) -> System {
        System {
            seq: 1,
            ts: 0,
            cpu_percent: cpu,
            per_core: vec![cpu],
            mem_used_bytes: mem_pct,
            mem_total_bytes: 100,
            swap_used_bytes: 0,
            swap_total_bytes: 0,
            net_rx_bps: 0.0,
            net_tx_bps: 0.0,
            load_avg: LoadAvg::default(),
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

    #[test]
    fn cpu_alert_needs_three_samples_and_clears_with_hysteresis() {
        let mut a = Alerts::new();
        assert!(a.check(&sample(95.0, 10)).is_empty());
        assert!(a.check(&sample(95.0, 10)).is_empty());
        let x = a.check(&sample(96.0, 10));
        assert_eq!(x.len(), 1);
        assert_eq!(x[0].0, Level::Alert);
        assert!(a.check(&sample(97.0, 10)).is_empty(), "raised once");
        assert!(
            a.check(&sample(80.0, 10)).is_empty(),
            "80 % is not below 70 %"
        );
        assert!(a.check(&sample(95.0, 10)).is_empty());
        let x = a.check(&sample(40.0, 10));
        assert_eq!(
            x,
            vec![(Level::Info, "CPU back to normal (40 %)".to_string())]
        );
        assert!(a.check(&sample(95.0, 10)).is_empty(), "run starts over");
    }

    #[test]
    fn memory_warning_with_hysteresis() {
        let mut a = Alerts::new();
        assert_eq!(a.check(&sample(1.0, 95))[0].0, Level::Warn);
        assert!(a.check(&sample(1.0, 85)).is_empty());
        assert!(a.check(&sample(1.0, 95)).is_empty());
        assert_eq!(a.check(&sample(1.0, 70))[0].0, Level::Info);
    }
}
