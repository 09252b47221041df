//! The KPI history (from the snapshot, then every `orders` frame) as a
//! small trend line under each KPI card: `kpi-trend-num_orders`,
//! `kpi-trend-num_order_items`, `kpi-trend-total_sales`.

use crate::charts::{AMBER, BLUE, GREEN};
use crate::components::chart::Chart;
use charming::component::{Axis, Grid};
use charming::element::{AxisType, Color, LineStyle, Tooltip, Trigger};
use charming::series::Line;
use charming::Chart as Options;
use livedash_shared::KpiPoint;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct KpiTrendsProps {
    /// KPI points, oldest first.
    pub points: Vec<KpiPoint>,
}

/// A sparkline: no axes drawn, y fitted to the values, a tooltip.
pub fn sparkline(name: &str, values: Vec<f64>, color: &str) -> Options {
    let n = values.len();
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
                .data((0..n).map(|i| i.to_string()).collect()),
        )
        .y_axis(Axis::new().type_(AxisType::Value).show(false).scale(true))
        .series(
            Line::new()
                .name(name)
                .show_symbol(n < 2)
                .line_style(LineStyle::new().width(2).color(Color::from(color)))
                .data(values),
        )
}

#[function_component(KpiTrends)]
pub fn kpi_trends(props: &KpiTrendsProps) -> Html {
    let p = &props.points;
    let orders = p.iter().map(|k| k.num_orders as f64).collect();
    let items = p.iter().map(|k| k.num_order_items as f64).collect();
    let sales = p.iter().map(|k| k.total_sales).collect();
    html! {
        <div class="kpi-trends">
            <div class="card kpi-trend"><Chart id="kpi-trend-num_orders" options={sparkline("Number of Orders", orders, BLUE)} /></div>
            <div class="card kpi-trend"><Chart id="kpi-trend-num_order_items" options={sparkline("Number of Order Items", items, GREEN)} /></div>
            <div class="card kpi-trend"><Chart id="kpi-trend-total_sales" options={sparkline("Total Sales", sales, AMBER)} /></div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_carries_the_values() {
        let v = serde_json::to_value(sparkline("x", vec![1.0, 3.0], BLUE)).unwrap();
        assert_eq!(v["series"][0]["data"], serde_json::json!([1.0, 3.0]));
        // One axis serializes as an object, several as an array.
        let x = if v["xAxis"].is_array() {
            &v["xAxis"][0]
        } else {
            &v["xAxis"]
        };
        assert_eq!(x["show"], false);
    }
}
