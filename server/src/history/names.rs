//! The points of a sample under the built-in series names (the names
//! themselves are in [`livedash_shared::series`], shared with the page):
//! the KPIs and revenue breakdowns each `orders` tick, the host figures
//! each system sample (percent, bytes per second, load average); ingested
//! `measurement.field{tag=value,...}` series are recorded as written
//! (`POST /api/v2/write`).

use super::Sample;
use livedash_shared::{Orders, System};
use std::borrow::Cow;

/// A point: series name, time (Unix ms), value.
pub type NamedPoint = (Cow<'static, str>, u64, f64);

pub use livedash_shared::series::{KPIS, SYSTEM};

fn percent(used: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        used as f64 * 100.0 / total as f64
    }
}

/// The points of an `orders` aggregate.
pub fn orders(o: &Orders) -> Vec<NamedPoint> {
    let kpis = [o.num_orders as f64, o.num_order_items as f64, o.total_sales];
    let mut out: Vec<NamedPoint> = KPIS
        .iter()
        .zip(kpis)
        .map(|(n, v)| (Cow::Borrowed(*n), o.ts, v))
        .collect();
    for (dim, values) in [
        ("country", &o.by_country),
        ("traffic_source", &o.by_traffic_source),
    ] {
        for r in values {
            let name = livedash_shared::series::revenue(dim, &r.name);
            out.push((Cow::Owned(name), o.ts, r.revenue));
        }
    }
    out
}

/// The points of a system sample.
pub fn system(s: &System) -> Vec<NamedPoint> {
    let values = [
        f64::from(s.cpu_percent),
        percent(s.mem_used_bytes, s.mem_total_bytes),
        percent(s.swap_used_bytes, s.swap_total_bytes),
        s.net_rx_bps,
        s.net_tx_bps,
        s.load_avg.one,
        s.load_avg.five,
        s.load_avg.fifteen,
    ];
    SYSTEM
        .iter()
        .zip(values)
        .map(|(n, v)| (Cow::Borrowed(*n), s.ts, v))
        .collect()
}

/// The points of any sample.
pub fn points(s: &Sample) -> Vec<NamedPoint> {
    match s {
        Sample::Orders(o) => orders(o),
        Sample::System(s) => system(s),
        Sample::Series(name, pts) => pts
            .iter()
            .map(|p| (Cow::Owned(name.to_string()), p.ts, p.value))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livedash_shared::dashboard::{KPI_NAMES, SYSTEM_FIGURES};
    use livedash_shared::{LoadAvg, Revenue};

    #[test]
    fn names_match_the_dashboard_queries() {
        for (n, k) in KPIS.iter().zip(KPI_NAMES) {
            assert_eq!(*n, format!("orders.{k}"));
        }
        for (n, f) in SYSTEM.iter().zip(SYSTEM_FIGURES) {
            assert_eq!(*n, format!("system.{f}"));
        }
    }

    #[test]
    fn a_system_sample_gives_every_figure() {
        let s = System {
            seq: 1,
            ts: 42,
            cpu_percent: 12.5,
            per_core: vec![],
            mem_used_bytes: 1,
            mem_total_bytes: 4,
            swap_used_bytes: 0,
            swap_total_bytes: 0,
            net_rx_bps: 10.0,
            net_tx_bps: 20.0,
            load_avg: LoadAvg {
                one: 1.0,
                five: 2.0,
                fifteen: 3.0,
            },
        };
        let p = system(&s);
        assert_eq!(p.len(), 8);
        assert_eq!(p[0], (Cow::Borrowed("system.cpu_percent"), 42, 12.5));
        assert_eq!(p[1].2, 25.0);
        assert_eq!(p[2].2, 0.0, "no swap is 0 %");
        assert_eq!(p[7].2, 3.0);
    }

    #[test]
    fn an_orders_tick_gives_kpis_and_breakdowns() {
        let mut a = crate::aggregate::Aggregator::new(1000);
        let mut o = a.tick(0, 5, vec![]);
        o.by_country = vec![Revenue {
            name: "China".into(),
            revenue: 12.5,
        }];
        let p = orders(&o);
        assert_eq!(p.len(), 4);
        assert_eq!(
            p[3],
            (Cow::Owned("orders.revenue.country.China".into()), 5, 12.5)
        );
    }
}
