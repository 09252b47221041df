//! Which data a widget's query selects from the page state: pure, no
//! web-sys, tested natively. The chart options ([`crate::widgets::options`])
//! and the DOM widgets read their numbers only through here, so what a chart
//! draws, what a table lists and what an export writes are the same figures.

use crate::state::{DashState, SysPoint};
use livedash_shared::dashboard::{
    Dimension, Filters, Query, QuerySource, SortOrder, WidgetOptions, KPI_NAMES, SYSTEM_FIGURES,
};
use livedash_shared::{KpiPoint, OrderRecord, Revenue, SeriesPoint};

/// Figures over time: one timestamp per point, one value list per figure.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// When each point was taken (Unix ms), oldest first.
    pub ts: Vec<u64>,
    /// `(label, values)` per figure, values aligned with `ts`.
    pub series: Vec<(String, Vec<f64>)>,
}

/// What a person reads for a figure name: `CPU %`, `Total sales`.
pub fn label(source: &QuerySource, name: &str) -> String {
    let known = match (source, name) {
        (QuerySource::Kpi, "num_orders") => "Orders",
        (QuerySource::Kpi, "num_order_items") => "Order items",
        (QuerySource::Kpi, "total_sales") => "Total sales",
        (QuerySource::System, "cpu_percent") => "CPU %",
        (QuerySource::System, "memory_percent") => "Memory %",
        (QuerySource::System, "swap_percent") => "Swap %",
        (QuerySource::System, "net_rx_bps") => "Receive B/s",
        (QuerySource::System, "net_tx_bps") => "Transmit B/s",
        (QuerySource::System, "load_1") => "Load 1 min",
        (QuerySource::System, "load_5") => "Load 5 min",
        (QuerySource::System, "load_15") => "Load 15 min",
        _ => return name.to_string(),
    };
    known.to_string()
}

/// Round to `digits` decimals (what the page shows, and exports).
pub fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// The names a query reads: its own, or every figure of its source.
pub fn names(q: &Query) -> Vec<String> {
    if !q.names.is_empty() {
        return q.names.clone();
    }
    let all: &[&str] = match q.source {
        QuerySource::Kpi => KPI_NAMES,
        QuerySource::System => &SYSTEM_FIGURES[..2],
        _ => &[],
    };
    all.iter().map(|s| s.to_string()).collect()
}

fn kpi_of(k: &KpiPoint, name: &str) -> Option<f64> {
    Some(match name {
        "num_orders" => k.num_orders as f64,
        "num_order_items" => k.num_order_items as f64,
        "total_sales" => round(k.total_sales, 2),
        _ => return None,
    })
}

/// A KPI's current value (from the latest orders aggregate).
pub fn kpi_value(s: &DashState, name: &str) -> Option<f64> {
    let o = s.orders.as_ref()?;
    let k = o.kpis();
    kpi_of(
        &KpiPoint {
            seq: o.seq,
            ts: o.ts,
            num_orders: k.num_orders,
            num_order_items: k.num_order_items,
            total_sales: k.total_sales,
        },
        name,
    )
}

fn system_of(p: &SysPoint, name: &str) -> Option<f64> {
    p.figure(name).map(|v| round(v, 1))
}

/// A series' points as the page holds them, oldest first.
pub fn series_points(s: &DashState, name: &str) -> Vec<SeriesPoint> {
    s.series
        .get(name)
        .map(|r| r.iter().copied().collect())
        .unwrap_or_default()
}

/// The latest value of every figure the query names, labelled (bars,
/// pies, gauges and KPI cards of kpi / system / series queries). A figure
/// with no data yet is left out.
pub fn latest(s: &DashState, q: &Query) -> Vec<(String, f64)> {
    names(q)
        .iter()
        .filter_map(|n| {
            let v = match q.source {
                QuerySource::Kpi => kpi_value(s, n),
                QuerySource::System => s.sys_points.last().and_then(|p| system_of(p, n)),
                QuerySource::Series => s.series.get(n).and_then(|r| r.last()).map(|p| p.value),
                _ => None,
            }?;
            Some((label(&q.source, n), v))
        })
        .collect()
}

/// The last `limit` points (at most what the page keeps) of every figure
/// the query names: KPI history, system samples or series points. Series
/// of a `series` query share the first one's timestamps (each keeps its own
/// values, cut to the same length).
pub fn history(s: &DashState, q: &Query, limit: Option<u32>) -> History {
    let names = names(q);
    let mut h = History::default();
    match q.source {
        QuerySource::Kpi => {
            let pts: Vec<&KpiPoint> = s.kpis.iter().collect();
            let pts = tail(&pts, limit);
            h.ts = pts.iter().map(|p| p.ts).collect();
            for n in &names {
                let v = pts.iter().filter_map(|p| kpi_of(p, n)).collect();
                h.series.push((label(&q.source, n), v));
            }
        }
        QuerySource::System => {
            let pts: Vec<&SysPoint> = s.sys_points.iter().collect();
            let pts = tail(&pts, limit);
            h.ts = pts.iter().map(|p| p.ts).collect();
            for n in &names {
                let v = pts.iter().filter_map(|p| system_of(p, n)).collect();
                h.series.push((label(&q.source, n), v));
            }
        }
        QuerySource::Series => {
            for (i, n) in names.iter().enumerate() {
                let pts = series_points(s, n);
                let pts = tail(&pts, limit);
                if i == 0 {
                    h.ts = pts.iter().map(|p| p.ts).collect();
                }
                let v: Vec<f64> = pts.iter().map(|p| p.value).collect();
                let keep = v.len().min(h.ts.len());
                h.series.push((n.clone(), v[v.len() - keep..].to_vec()));
            }
        }
        _ => {}
    }
    h
}

fn tail<T: Clone>(all: &[T], limit: Option<u32>) -> Vec<T> {
    let n = limit
        .map(|l| l as usize)
        .unwrap_or(all.len())
        .min(all.len());
    all[all.len() - n..].to_vec()
}

/// Revenue by `by` over the window, sorted and cut as the options say
/// (default: largest first, as the server sends them). Only country and
/// traffic source are computed by the server today; others give nothing.
pub fn breakdown(s: &DashState, by: Option<Dimension>, o: &WidgetOptions) -> Vec<Revenue> {
    let Some(orders) = s.orders.as_ref() else {
        return Vec::new();
    };
    let mut rows = match by {
        Some(Dimension::Country) => orders.by_country.clone(),
        Some(Dimension::TrafficSource) => orders.by_traffic_source.clone(),
        _ => Vec::new(),
    };
    match o.sort {
        Some(SortOrder::Desc) => sort_revenue(&mut rows, true),
        Some(SortOrder::Asc) => sort_revenue(&mut rows, false),
        Some(SortOrder::None) | None => {}
    }
    if let Some(l) = o.limit {
        rows.truncate(l as usize);
    }
    rows
}

/// Sort revenue rows, largest first when `desc` (stable: equal revenues
/// keep the server's order). One closure for every such sort of the page
/// (each distinct sort call is another copy of the sort in the wasm).
pub fn sort_revenue(rows: &mut [Revenue], desc: bool) {
    rows.sort_by(|a, b| {
        let o = a.revenue.total_cmp(&b.revenue);
        if desc {
            o.reverse()
        } else {
            o
        }
    });
}

/// The newest order records matching `filters`, newest first, at most
/// `limit` (default 20).
pub fn records(s: &DashState, filters: &Filters, limit: Option<u32>) -> Vec<OrderRecord> {
    let n = limit.unwrap_or(20) as usize;
    s.records
        .iter()
        .rev()
        .filter(|r| filters.matches(r))
        .take(n)
        .cloned()
        .collect()
}

/// The series a `series` widget shows: the one the person picked while the
/// server has it, else the query's first name, else the first by name.
pub fn series_shown<'a>(s: &'a DashState, q: &'a Query) -> Option<&'a str> {
    let has = |n: &str| s.series.contains_key(n);
    if let Some(p) = s.series_selected.as_deref().filter(|n| has(n)) {
        return Some(p);
    }
    if let Some(n) = q.names.iter().map(String::as_str).find(|n| has(n)) {
        return Some(n);
    }
    s.series_names.first().map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Action;
    use livedash_shared::{Orders, ServerMessage, System};
    use std::rc::Rc;

    fn rev(name: &str, revenue: f64) -> Revenue {
        Revenue {
            name: name.into(),
            revenue,
        }
    }

    fn record(country: &str, order_id: u64) -> OrderRecord {
        OrderRecord {
            user_id: 1,
            age: 30,
            gender: "F".into(),
            country: country.into(),
            traffic_source: "Search".into(),
            order_id,
            item_id: order_id * 10,
            category: "Jeans".into(),
            cost: 10.0,
            item_status: "Shipped".into(),
            sale_price: 25.5,
            created_at: 1000 + order_id,
        }
    }

    fn orders(seq: u64, num: u64, sales: f64, records: Vec<OrderRecord>) -> ServerMessage {
        ServerMessage::Orders(Orders {
            seq,
            ts: seq * 1000,
            window_ms: 300_000,
            num_orders: num,
            num_order_items: num * 2,
            total_sales: sales,
            by_country: vec![rev("China", 10.0), rev("Brasil", 30.0), rev("Japan", 20.0)],
            by_traffic_source: vec![rev("Search", 5.0)],
            records,
            items_total: num * 2,
            delta: Default::default(),
        })
    }

    fn system(seq: u64, cpu: f32) -> ServerMessage {
        ServerMessage::System(System {
            seq,
            ts: seq * 1000,
            cpu_percent: cpu,
            per_core: vec![cpu],
            mem_used_bytes: 1,
            mem_total_bytes: 4,
            swap_used_bytes: 0,
            swap_total_bytes: 0,
            net_rx_bps: 0.0,
            net_tx_bps: 0.0,
            load_avg: Default::default(),
        })
    }

    fn state(frames: Vec<ServerMessage>) -> DashState {
        let mut s = DashState::default();
        for f in frames {
            s.apply(Action::Frame(Rc::new(f)));
        }
        s
    }

    #[test]
    fn kpi_queries_read_the_latest_aggregate_and_its_history() {
        let s = state(vec![
            orders(1, 3, 10.555, vec![]),
            orders(2, 5, 20.0, vec![]),
            orders(3, 4, 30.25, vec![]),
        ]);
        let q = Query::new(QuerySource::Kpi, &["num_orders", "total_sales"]);
        assert_eq!(
            latest(&s, &q),
            [
                ("Orders".to_string(), 4.0),
                ("Total sales".to_string(), 30.25)
            ]
        );
        let h = history(&s, &q, Some(2));
        assert_eq!(h.ts, [2000, 3000]);
        assert_eq!(h.series[0], ("Orders".to_string(), vec![5.0, 4.0]));
        assert_eq!(h.series[1].1, [20.0, 30.25]);
        // No names: every KPI.
        let all = history(&s, &Query::new(QuerySource::Kpi, &[]), None);
        assert_eq!(all.series.len(), 3);
        assert_eq!(all.series[0].1, [3.0, 5.0, 4.0]);
        assert_eq!(all.series[2].1[0], 10.56);
    }

    #[test]
    fn system_queries_read_samples_rounded_to_a_tenth() {
        let s = state(vec![system(1, 12.34), system(2, 50.0), system(3, 99.96)]);
        let q = Query::new(QuerySource::System, &["cpu_percent", "memory_percent"]);
        let h = history(&s, &q, Some(50));
        assert_eq!(h.ts, [1000, 2000, 3000]);
        assert_eq!(h.series[0], ("CPU %".to_string(), vec![12.3, 50.0, 100.0]));
        assert_eq!(h.series[1].1, [25.0, 25.0, 25.0]);
        assert_eq!(latest(&s, &q)[0].1, 100.0);
        // The system panel's empty names chart CPU and memory.
        assert_eq!(
            names(&Query::new(QuerySource::System, &[])),
            ["cpu_percent", "memory_percent"]
        );
    }

    #[test]
    fn breakdowns_sort_and_cut_as_the_options_say() {
        let s = state(vec![orders(1, 1, 1.0, vec![])]);
        let mut o = WidgetOptions::default();
        let names = |rows: Vec<Revenue>| rows.into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(
            names(breakdown(&s, Some(Dimension::Country), &o)),
            ["China", "Brasil", "Japan"]
        );
        o.sort = Some(SortOrder::Desc);
        o.limit = Some(2);
        assert_eq!(
            names(breakdown(&s, Some(Dimension::Country), &o)),
            ["Brasil", "Japan"]
        );
        o.sort = Some(SortOrder::Asc);
        assert_eq!(
            names(breakdown(&s, Some(Dimension::Country), &o)),
            ["China", "Japan"]
        );
        assert!(breakdown(&s, Some(Dimension::Gender), &o).is_empty());
        assert!(breakdown(&DashState::default(), Some(Dimension::Country), &o).is_empty());
    }

    #[test]
    fn records_are_newest_first_filtered_and_cut() {
        let s = state(vec![
            orders(1, 1, 1.0, vec![record("China", 1), record("Japan", 2)]),
            orders(2, 1, 1.0, vec![record("China", 3)]),
        ]);
        let ids = |rows: Vec<OrderRecord>| rows.iter().map(|r| r.order_id).collect::<Vec<_>>();
        assert_eq!(ids(records(&s, &Filters::default(), None)), [3, 2, 1]);
        assert_eq!(ids(records(&s, &Filters::default(), Some(2))), [3, 2]);
        let china = Filters {
            country: vec!["China".into()],
            ..Filters::default()
        };
        assert_eq!(ids(records(&s, &china, None)), [3, 1]);
        // The aggregate keeps no rows; the ring does.
        assert!(s.orders.as_ref().unwrap().records.is_empty());
    }

    #[test]
    fn the_series_shown_prefers_the_pick_then_the_query() {
        let mut s = DashState::default();
        for name in ["b", "a", "c"] {
            s.apply(Action::Frame(Rc::new(ServerMessage::Series(
                livedash_shared::Series {
                    seq: 1,
                    ts: 1,
                    name: name.into(),
                    points: vec![SeriesPoint { ts: 1, value: 2.0 }],
                },
            ))));
        }
        let q = Query::new(QuerySource::Series, &["c"]);
        assert_eq!(series_shown(&s, &q), Some("c"));
        assert_eq!(
            series_shown(&s, &Query::new(QuerySource::Series, &[])),
            Some("a")
        );
        s.apply(Action::SelectSeries("b".into()));
        assert_eq!(series_shown(&s, &q), Some("b"));
        let h = history(&s, &Query::new(QuerySource::Series, &["a", "c"]), None);
        assert_eq!(h.ts, [1]);
        assert_eq!(h.series[1], ("c".to_string(), vec![2.0]));
    }
}
