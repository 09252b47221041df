//! Chart options built from state. Pure: tested natively by serializing the
//! options to JSON. Options contain no maps (serde-wasm-bindgen would turn
//! them into JS `Map`s, which ECharts ignores).

use crate::state::SysPoint;
use charming::component::{Axis, Grid, Legend};
use charming::element::{
    AxisLabel, AxisType, Color, ItemStyle, LineStyle, SplitLine, TextStyle, Tooltip, Trigger,
};
use charming::series::{Bar, Line};
use charming::Chart;
use livedash_shared::{Revenue, SeriesPoint};

/// Text colour of axis labels on the dark surface.
const LABEL: &str = "#9aa4b8";
/// Grid lines.
const GRID_LINE: &str = "#252e42";
/// Series colours.
pub const BLUE: &str = "#5b8cff";
pub const GREEN: &str = "#2fd08b";
pub const AMBER: &str = "#f5b942";

fn axis_label() -> AxisLabel {
    AxisLabel::new().color(Color::from(LABEL)).font_size(11)
}

fn split_line() -> SplitLine {
    SplitLine::new().line_style(LineStyle::new().color(Color::from(GRID_LINE)))
}

fn base() -> Chart {
    Chart::new()
        .background_color(Color::from("transparent"))
        .animation_duration_update(300)
}

/// A revenue bar chart: bars in the order given (the server sorts them
/// descending), labels rotated, a tooltip with the dollar amount.
pub fn revenue_bars(rows: &[Revenue], color: &str) -> Chart {
    let names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
    let values: Vec<f64> = rows
        .iter()
        .map(|r| (r.revenue * 100.0).round() / 100.0)
        .collect();
    base()
        .tooltip(
            Tooltip::new()
                .trigger(Trigger::Axis)
                .formatter("{b}<br/>Revenue: ${c}")
                .background_color(Color::from("#1b2335"))
                .border_color(Color::from("#2c3650")),
        )
        .grid(
            Grid::new()
                .left(56)
                .right(16)
                .top(16)
                .bottom(84)
                .contain_label(false),
        )
        .x_axis(
            Axis::new()
                .type_(AxisType::Category)
                .data(names)
                .axis_label(axis_label().rotate(35).interval(0)),
        )
        .y_axis(
            Axis::new()
                .type_(AxisType::Value)
                .axis_label(axis_label().formatter("${value}"))
                .split_line(split_line()),
        )
        .series(
            Bar::new()
                .name("Revenue")
                .bar_width("60%")
                .item_style(ItemStyle::new().color(Color::from(color)).border_radius(4))
                .data(values),
        )
}

/// The system line chart: CPU % and memory % over the last points.
/// `labels` are the x-axis times, one per point.
pub fn system_lines(points: &[SysPoint], labels: Vec<String>) -> Chart {
    let cpu: Vec<f64> = points
        .iter()
        .map(|p| (p.cpu * 10.0).round() / 10.0)
        .collect();
    let mem: Vec<f64> = points
        .iter()
        .map(|p| (p.mem * 10.0).round() / 10.0)
        .collect();
    base()
        .tooltip(
            Tooltip::new()
                .trigger(Trigger::Axis)
                .background_color(Color::from("#1b2335"))
                .border_color(Color::from("#2c3650")),
        )
        .legend(
            Legend::new()
                .top(0)
                .right(8)
                .text_style(TextStyle::new().color(Color::from(LABEL))),
        )
        .grid(Grid::new().left(44).right(16).top(32).bottom(28))
        .x_axis(
            Axis::new()
                .type_(AxisType::Category)
                .boundary_gap(false)
                .data(labels)
                .axis_label(axis_label()),
        )
        .y_axis(
            Axis::new()
                .type_(AxisType::Value)
                .min(0)
                .max(100)
                .axis_label(axis_label().formatter("{value} %"))
                .split_line(split_line()),
        )
        .series(
            Line::new()
                .name("CPU %")
                .show_symbol(false)
                .smooth(0.3)
                .line_style(LineStyle::new().width(2).color(Color::from(BLUE)))
                .item_style(ItemStyle::new().color(Color::from(BLUE)))
                .data(cpu),
        )
        .series(
            Line::new()
                .name("Memory %")
                .show_symbol(false)
                .smooth(0.3)
                .line_style(LineStyle::new().width(2).color(Color::from(GREEN)))
                .item_style(ItemStyle::new().color(Color::from(GREEN)))
                .data(mem),
        )
}

/// The custom series chart: one line, the series' points in order, the
/// x axis their times (`labels`, one per point), the y axis fitted to the
/// values (not from 0: a temperature of 21.3–21.9 should not be flat).
pub fn series_line(name: &str, points: &[SeriesPoint], labels: Vec<String>) -> Chart {
    let values: Vec<f64> = points.iter().map(|p| p.value).collect();
    base()
        .tooltip(
            Tooltip::new()
                .trigger(Trigger::Axis)
                .background_color(Color::from("#1b2335"))
                .border_color(Color::from("#2c3650")),
        )
        .grid(Grid::new().left(56).right(16).top(16).bottom(28))
        .x_axis(
            Axis::new()
                .type_(AxisType::Category)
                .boundary_gap(false)
                .data(labels)
                .axis_label(axis_label()),
        )
        .y_axis(
            Axis::new()
                .type_(AxisType::Value)
                .scale(true)
                .axis_label(axis_label())
                .split_line(split_line()),
        )
        .series(
            Line::new()
                .name(name)
                .show_symbol(points.len() < 2)
                .line_style(LineStyle::new().width(2).color(Color::from(GREEN)))
                .item_style(ItemStyle::new().color(Color::from(GREEN)))
                .data(values),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn json(c: &Chart) -> Value {
        serde_json::to_value(c).unwrap()
    }

    #[test]
    fn revenue_chart_keeps_order_rotates_labels_and_has_a_tooltip() {
        let rows = vec![
            Revenue {
                name: "China".into(),
                revenue: 300.456,
            },
            Revenue {
                name: "Brasil".into(),
                revenue: 120.0,
            },
        ];
        let v = json(&revenue_bars(&rows, BLUE));
        assert_eq!(v["xAxis"]["data"], serde_json::json!(["China", "Brasil"]));
        assert_eq!(v["xAxis"]["axisLabel"]["rotate"], 35.0);
        assert_eq!(v["tooltip"]["trigger"], "axis");
        assert!(v["tooltip"]["formatter"].as_str().unwrap().contains('$'));
        assert_eq!(v["series"][0]["type"], "bar");
        assert_eq!(v["series"][0]["data"], serde_json::json!([300.46, 120.0]));
    }

    #[test]
    fn system_chart_has_two_series_of_equal_length() {
        let pts: Vec<SysPoint> = (0..50)
            .map(|i| SysPoint {
                ts: i,
                cpu: i as f64,
                mem: 50.0,
            })
            .collect();
        let labels = (0..50).map(|i| i.to_string()).collect();
        let v = json(&system_lines(&pts, labels));
        let series = v["series"].as_array().unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(series[0]["data"].as_array().unwrap().len(), 50);
        assert_eq!(series[1]["name"], "Memory %");
        assert_eq!(v["xAxis"]["data"].as_array().unwrap().len(), 50);
        assert_eq!(v["yAxis"]["max"], 100.0);
    }

    #[test]
    fn series_chart_holds_the_values_as_written() {
        let pts = [
            SeriesPoint {
                ts: 1000,
                value: 21.25,
            },
            SeriesPoint {
                ts: 2000,
                value: -3.0,
            },
            SeriesPoint {
                ts: 3000,
                value: 1e12,
            },
        ];
        let labels = vec!["a".into(), "b".into(), "c".into()];
        let v = json(&series_line("room.temp{floor=1}", &pts, labels));
        assert_eq!(v["series"][0]["type"], "line");
        assert_eq!(v["series"][0]["name"], "room.temp{floor=1}");
        assert_eq!(
            v["series"][0]["data"],
            serde_json::json!([21.25, -3.0, 1e12])
        );
        assert_eq!(v["xAxis"]["data"], serde_json::json!(["a", "b", "c"]));
        assert_eq!(v["yAxis"]["scale"], true);
        let empty = json(&series_line("x", &[], vec![]));
        assert!(empty["series"][0]["data"]
            .as_array()
            .is_none_or(Vec::is_empty));
    }

    #[test]
    fn options_contain_no_maps_beyond_plain_objects() {
        // Every object key must be a known ECharts option (no data keyed by
        // user strings, which would be a map).
        let v = json(&revenue_bars(
            &[Revenue {
                name: "X".into(),
                revenue: 1.0,
            }],
            BLUE,
        ));
        fn walk(v: &Value) {
            if let Value::Object(m) = v {
                for (k, x) in m {
                    assert!(k.chars().all(|c| c.is_ascii_alphanumeric()), "key {k}");
                    walk(x);
                }
            } else if let Value::Array(a) = v {
                a.iter().for_each(walk);
            }
        }
        walk(&v);
    }
}
