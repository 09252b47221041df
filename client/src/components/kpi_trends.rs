//! The KPI history (from the snapshot, then every `orders` frame, bounded
//! by [`crate::state::POINTS`]) as a small trend line under each KPI card:
//! the element `kpi-trend-num_orders` (`-num_order_items`,
//! `-total_sales`) holds its canvas. During playback the same line is
//! drawn from `/api/history` up to the cursor (the state the widgets read
//! is then the playback view, see [`crate::playback`]).

use crate::chart_option::Chart as Options;
use crate::charts::{AMBER, BLUE, GREEN};
use crate::state::DashState;
use crate::widgets::select;
use charming::component::{Axis, Grid};
use charming::element::{AxisType, Color, LineStyle, Tooltip, Trigger};
use charming::series::Line;

/// A KPI's trend: one label per point (`#SEQ` for live points, so the
/// order of the ticks drawn is readable; the time for history points)
/// and its values, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trend {
    /// X-axis category per point.
    pub labels: Vec<String>,
    /// The KPI's value per point, as the card shows it (sales rounded to cents).
    pub values: Vec<f64>,
}

/// The trend of KPI `name` (`num_orders`, `num_order_items`,
/// `total_sales`) from the KPI history the state holds.
pub fn trend(s: &DashState, name: &str) -> Trend {
    let mut t = Trend::default();
    for k in s.kpis.iter() {
        let v = match name {
            "num_orders" => k.num_orders as f64,
            "num_order_items" => k.num_order_items as f64,
            "total_sales" => select::round(k.total_sales, 2),
            _ => continue,
        };
        t.labels.push(if k.seq > 0 {
            format!("#{}", k.seq)
        } else {
            k.ts.to_string()
        });
        t.values.push(v);
    }
    t
}

/// The line colour of a KPI.
pub fn color(name: &str) -> &'static str {
    match name {
        "num_orders" => BLUE,
        "num_order_items" => GREEN,
        _ => AMBER,
    }
}

/// A sparkline: no axes drawn, y fitted to the values, a tooltip.
pub fn sparkline(name: &str, t: Trend, color: &str) -> Options {
    let n = t.values.len();
    Options::new()
        .background_color(Color::from("transparent"))
        .animation(false)
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .grid(Grid::new().left(2).right(2).top(4).bottom(4))
        .x_axis(
            Axis::new()
                .type_(AxisType::Category)
                .show(false)
                .boundary_gap(false)
                .data(t.labels),
        )
        .y_axis(Axis::new().type_(AxisType::Value).show(false).scale(true))
        .series(
            Line::new()
                .name(name)
                .show_symbol(n < 2)
                .line_style(LineStyle::new().width(2).color(Color::from(color)))
                .data(t.values),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Action, POINTS};
    use livedash_shared::{Orders, ServerMessage};
    use std::rc::Rc;

    fn tick(seq: u64, n: u64, sales: f64) -> Action {
        Action::Frame(Rc::new(ServerMessage::Orders(Orders {
            seq,
            ts: 1000 + seq,
            window_ms: 300_000,
            num_orders: n,
            num_order_items: n * 2,
            total_sales: sales,
            delta: Default::default(),
            by_country: vec![],
            by_traffic_source: vec![],
            records: vec![],
            items_total: 0,
        })))
    }

    #[test]
    fn the_trend_follows_the_orders_frames_and_stays_bounded() {
        let mut s = DashState::default();
        assert_eq!(trend(&s, "num_orders"), Trend::default());
        for seq in 1..=(POINTS as u64 + 5) {
            s.apply(tick(seq, seq * 10, seq as f64 + 0.004));
        }
        let t = trend(&s, "num_orders");
        assert_eq!(t.values.len(), POINTS);
        assert_eq!(t.labels.first().map(String::as_str), Some("#6"));
        assert_eq!(t.values.last(), Some(&550.0));
        assert_eq!(trend(&s, "num_order_items").values[0], 120.0);
        assert_eq!(trend(&s, "total_sales").values[0], 6.0);
        assert!(trend(&s, "nope").values.is_empty());
    }

    #[test]
    fn a_sparkline_carries_the_values_and_labels() {
        let t = Trend {
            labels: vec!["#1".into(), "#2".into()],
            values: vec![1.0, 3.0],
        };
        let v = serde_json::to_value(sparkline("x", t, BLUE)).unwrap();
        assert_eq!(v["series"][0]["data"], serde_json::json!([1.0, 3.0]));
        // One axis serializes as an object, several as an array.
        let x = if v["xAxis"].is_array() {
            &v["xAxis"][0]
        } else {
            &v["xAxis"]
        };
        assert_eq!(x["show"], false);
        assert_eq!(x["data"], serde_json::json!(["#1", "#2"]));
    }
}
