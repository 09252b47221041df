//! The state the widgets draw during playback: the live state with its
//! server figures replaced by the fetched history at the cursor, so every
//! widget of the catalogue draws a past moment through the same code as
//! live. Pure, tested natively.
//!
//! - KPI cards: the KPI points at or before the cursor (the card the
//!   newest, its change against the one before; the trend line all of
//!   them since the range start, up to [`super::MAX_POINTS`]).
//! - System panel and charts: the system points at or before the cursor.
//! - Breakdown charts: each `orders.revenue.<dim>.<name>` series' value
//!   of the newest KPI tick at or before the cursor (a name without a
//!   point then had no revenue in the window).
//! - Feed, counters, clients, connection: live (they are not history).

use super::{visible, Series, MAX_POINTS};
use crate::state::{DashState, Ring, SysPoint};
use livedash_shared::series::{self, COUNTRY_REVENUE as COUNTRY, TRAFFIC_REVENUE as TRAFFIC};
use livedash_shared::{KpiDelta, KpiPoint, LoadAvg, Orders, Revenue, System};

/// The series the page asks `/api/history` for besides the breakdowns.
pub fn base_series() -> impl Iterator<Item = &'static str> {
    series::KPIS.iter().chain(series::SYSTEM.iter()).copied()
}

pub use series::is_breakdown;

/// The value of `name` at time `ts` exactly, else the newest before it.
fn at(series: &Series, name: &str, ts: u64) -> f64 {
    series
        .get(name)
        .and_then(|p| visible(p, ts).last())
        .map(|p| p.1)
        .unwrap_or(0.0)
}

fn points<'a>(series: &'a Series, name: &str, cursor: u64) -> &'a [(u64, f64)] {
    series.get(name).map(|p| visible(p, cursor)).unwrap_or(&[])
}

/// The KPI points at or before the cursor: the times of `orders.num_orders`,
/// the other two KPIs at those times.
fn kpis(series: &Series, cursor: u64) -> Vec<KpiPoint> {
    points(series, "orders.num_orders", cursor)
        .iter()
        .map(|&(ts, n)| KpiPoint {
            seq: 0,
            ts,
            num_orders: n as u64,
            num_order_items: at(series, "orders.num_order_items", ts) as u64,
            total_sales: at(series, "orders.total_sales", ts),
        })
        .collect()
}

/// Revenue per name of one dimension at tick `ts` (after the previous
/// tick `prev`), largest first as the server sends them.
fn breakdown(series: &Series, prefix: &str, prev: u64, ts: u64) -> Vec<Revenue> {
    let mut rows: Vec<Revenue> = series
        .range(prefix.to_string()..)
        .take_while(|(k, _)| k.starts_with(prefix))
        .filter_map(|(k, p)| {
            let &(t, v) = visible(p, ts).last()?;
            (t > prev).then(|| Revenue {
                name: k[prefix.len()..].to_string(),
                revenue: v,
            })
        })
        .collect();
    crate::widgets::select::sort_revenue(&mut rows, true);
    rows
}

fn orders_at(live: &DashState, series: &Series, k: &[KpiPoint]) -> Option<Orders> {
    let last = k.last()?;
    let prev = k.len().checked_sub(2).map(|i| k[i].ts).unwrap_or(0);
    Some(Orders {
        seq: 0,
        ts: last.ts,
        window_ms: live.orders.as_ref().map(|o| o.window_ms).unwrap_or(300_000),
        num_orders: last.num_orders,
        num_order_items: last.num_order_items,
        total_sales: last.total_sales,
        delta: Default::default(),
        by_country: breakdown(series, COUNTRY, prev, last.ts),
        by_traffic_source: breakdown(series, TRAFFIC, prev, last.ts),
        records: vec![],
        items_total: live.items_total,
    })
}

/// The change between the last two KPI points.
fn delta(k: &[KpiPoint]) -> KpiDelta {
    match k {
        [.., a, b] => KpiDelta {
            num_orders: b.num_orders as i64 - a.num_orders as i64,
            num_order_items: b.num_order_items as i64 - a.num_order_items as i64,
            total_sales: b.total_sales - a.total_sales,
        },
        _ => KpiDelta::default(),
    }
}

fn sys_points(series: &Series, cursor: u64) -> Vec<SysPoint> {
    points(series, "system.cpu_percent", cursor)
        .iter()
        .map(|&(ts, cpu)| SysPoint {
            ts,
            cpu,
            mem: at(series, "system.memory_percent", ts),
            swap: at(series, "system.swap_percent", ts),
            rx: at(series, "system.net_rx_bps", ts),
            tx: at(series, "system.net_tx_bps", ts),
            load: [
                at(series, "system.load_1", ts),
                at(series, "system.load_5", ts),
                at(series, "system.load_15", ts),
            ],
        })
        .collect()
}

/// A system sample from a point: byte totals from the live sample (they do
/// not change), used bytes from the percentages.
fn system_at(live: Option<&System>, p: &SysPoint) -> System {
    let (mem_total, swap_total) = live
        .map(|s| (s.mem_total_bytes, s.swap_total_bytes))
        .unwrap_or((0, 0));
    let used = |pct: f64, total: u64| (pct / 100.0 * total as f64).round() as u64;
    System {
        seq: 0,
        ts: p.ts,
        cpu_percent: p.cpu as f32,
        per_core: vec![],
        mem_used_bytes: used(p.mem, mem_total),
        mem_total_bytes: mem_total,
        swap_used_bytes: used(p.swap, swap_total),
        swap_total_bytes: swap_total,
        net_rx_bps: p.rx,
        net_tx_bps: p.tx,
        load_avg: LoadAvg {
            one: p.load[0],
            five: p.load[1],
            fifteen: p.load[2],
        },
    }
}

/// What the widgets draw at `cursor`: `live` with its history figures
/// replaced by `series` up to the cursor.
pub fn state_at(live: &DashState, series: &Series, cursor: u64) -> DashState {
    let k = kpis(series, cursor);
    let sys = sys_points(series, cursor);
    let mut s = live.clone();
    s.orders = orders_at(live, series, &k);
    s.delta = delta(&k);
    s.kpis = Ring::new(MAX_POINTS);
    for p in k {
        s.kpis.push(p);
    }
    s.system = sys.last().map(|p| system_at(live.system.as_ref(), p));
    s.sys_points = Ring::new(MAX_POINTS);
    for p in sys {
        s.sys_points.push(p);
    }
    s
}

/// The state to draw for playback `m`: `None` while live or while the
/// range's points are not there yet (the live state is drawn then).
pub fn replay(m: &super::Model, live: &DashState) -> Option<DashState> {
    let s = m.session.as_ref()?;
    match &s.data {
        super::Data::Ready(series) => Some(state_at(live, series, s.cursor)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::kpi_trends::trend;
    use crate::widgets::select;
    use livedash_shared::dashboard::{Dimension, Query, QuerySource, WidgetOptions};

    fn series() -> Series {
        let mut s = Series::new();
        s.insert(
            "orders.num_orders".into(),
            vec![(100, 5.0), (200, 7.0), (300, 4.0)],
        );
        s.insert(
            "orders.num_order_items".into(),
            vec![(100, 9.0), (200, 12.0), (300, 8.0)],
        );
        s.insert(
            "orders.total_sales".into(),
            vec![(100, 50.5), (200, 70.25), (300, 40.0)],
        );
        s.insert("system.cpu_percent".into(), vec![(150, 12.5), (250, 80.0)]);
        s.insert(
            "system.memory_percent".into(),
            vec![(150, 40.0), (250, 41.0)],
        );
        s.insert(
            "orders.revenue.country.France".into(),
            vec![(100, 10.0), (200, 30.0)],
        );
        s.insert(
            "orders.revenue.country.Japan".into(),
            vec![(100, 20.0), (300, 5.0)],
        );
        s.insert(
            "orders.revenue.traffic_source.Search".into(),
            vec![(200, 70.25)],
        );
        s
    }

    #[test]
    fn kpis_at_the_cursor_with_their_change_and_trend() {
        let s = state_at(&DashState::default(), &series(), 250);
        let o = s.orders.as_ref().unwrap();
        assert_eq!((o.ts, o.num_orders, o.num_order_items), (200, 7, 12));
        assert_eq!(s.delta.num_orders, 2);
        assert_eq!(s.delta.num_order_items, 3);
        assert_eq!(trend(&s, "num_orders").values, vec![5.0, 7.0]);
        assert_eq!(trend(&s, "total_sales").values, vec![50.5, 70.25]);
        assert_eq!(trend(&s, "num_orders").labels, vec!["100", "200"]);
        let all = state_at(&DashState::default(), &series(), 10_000);
        assert_eq!(trend(&all, "num_orders").values, vec![5.0, 7.0, 4.0]);
        let none = state_at(&DashState::default(), &series(), 50);
        assert!(none.orders.is_none() && none.system.is_none());
        assert!(trend(&none, "num_orders").values.is_empty());
    }

    #[test]
    fn breakdowns_hold_the_names_with_revenue_at_that_tick() {
        let s = state_at(&DashState::default(), &series(), 200);
        let o = WidgetOptions::default();
        let names = |d| -> Vec<(String, f64)> {
            select::breakdown(&s, Some(d), &o)
                .into_iter()
                .map(|r| (r.name, r.revenue))
                .collect()
        };
        // Japan had no point at 200: no revenue in that tick's window.
        assert_eq!(
            names(Dimension::Country),
            vec![("France".to_string(), 30.0)]
        );
        assert_eq!(
            names(Dimension::TrafficSource),
            vec![("Search".to_string(), 70.25)]
        );
        let s = state_at(&DashState::default(), &series(), 300);
        let c: Vec<String> = s
            .orders
            .unwrap()
            .by_country
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(c, vec!["Japan"]);
    }

    #[test]
    fn system_points_up_to_the_cursor() {
        let s = state_at(&DashState::default(), &series(), 260);
        let q = Query::new(QuerySource::System, &["cpu_percent", "memory_percent"]);
        let h = select::history(&s, &q, Some(50));
        assert_eq!(h.ts, vec![150, 250]);
        assert_eq!(h.series[0].1, vec![12.5, 80.0]);
        assert_eq!(h.series[1].1, vec![40.0, 41.0]);
        assert_eq!(s.system.as_ref().unwrap().cpu_percent, 80.0);
        let h = select::history(
            &state_at(&DashState::default(), &series(), 200),
            &q,
            Some(50),
        );
        assert_eq!(h.series[0].1, vec![12.5]);
    }

    #[test]
    fn breakdown_names_are_recognised() {
        assert!(is_breakdown("orders.revenue.country.France"));
        assert!(is_breakdown("orders.revenue.traffic_source.Email"));
        assert!(!is_breakdown("orders.num_orders"));
    }
}
