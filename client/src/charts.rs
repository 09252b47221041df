//! Chart options built from state. Pure: tested natively by serializing the
//! options to JSON. Options contain no maps (serde-wasm-bindgen would turn
//! them into JS `Map`s, which ECharts ignores).

use crate::chart_option::Chart;
use charming::component::{Axis, Grid};
use charming::element::{
    AxisLabel, AxisType, Color, ItemStyle, LineStyle, SplitLine, Tooltip, Trigger,
};
use charming::series::{Bar, Line};
use livedash_shared::{Revenue, SeriesPoint};

/// Text colour of axis labels on the dark surface.
const LABEL: &str = "#9aa4b8";
/// Grid lines.
const GRID_LINE: &str = "#252e42";
/// Series colours.
pub const BLUE: &str = "#5b8cff";
pub const GREEN: &str = "#2fd08b";
pub const AMBER: &str = "#f5b942";

/// The colours a chart takes from the page theme (ECharts fixes its theme
/// at init, so the page re-creates a chart when the theme changes and
/// these go into the option itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    /// Axis labels and legend text.
    pub label: &'static str,
    /// Split lines of value axes.
    pub grid_line: &'static str,
    /// Tooltip background.
    pub tooltip_bg: &'static str,
    /// Tooltip border.
    pub tooltip_border: &'static str,
    /// Tooltip and gauge text.
    pub text: &'static str,
}

impl Palette {
    /// The palette of a theme name (`light`; anything else is dark).
    pub fn of(theme: &str) -> Palette {
        if theme == "light" {
            Palette::LIGHT
        } else {
            Palette::DARK
        }
    }

    /// On the dark surface.
    pub const DARK: Palette = Palette {
        label: LABEL,
        grid_line: GRID_LINE,
        tooltip_bg: "#1b2335",
        tooltip_border: "#2c3650",
        text: "#e7ebf3",
    };
    /// On the light surface.
    pub const LIGHT: Palette = Palette {
        label: "#4a5468",
        grid_line: "#e3e7ef",
        tooltip_bg: "#ffffff",
        tooltip_border: "#d5dbe6",
        text: "#1a2233",
    };
}

/// Axis labels in the palette's colour.
pub fn axis_label(p: &Palette) -> AxisLabel {
    AxisLabel::new().color(Color::from(p.label)).font_size(11)
}

/// Value-axis split lines in the palette's colour.
pub fn split_line(p: &Palette) -> SplitLine {
    SplitLine::new().line_style(LineStyle::new().color(Color::from(p.grid_line)))
}

/// What every chart starts from: transparent (the card shows through) and
/// no animation. A live chart is redrawn every tick; ECharts' update
/// animation draws the old and the new axis labels over each other while it
/// runs ("$1,000" printed over "$800", a leaving country's name under
/// another's bar), so with it a live chart always shows two states at once.
pub fn base() -> Chart {
    Chart::new()
        .background_color(Color::from("transparent"))
        .animation(false)
}

/// The plot area of cartesian charts: it contains its axis labels (none is
/// clipped at the card's edge, whatever their length or rotation), `top`
/// pixels left above it (for a legend).
pub fn grid(top: i64) -> Grid {
    Grid::new()
        .left(8)
        .right(20)
        .top(top)
        .bottom(4)
        .contain_label(true)
}

/// [`grid`] for a time axis: its newest label sits on the plot's right
/// edge, centred, and ECharts' `containLabel` does not make room for the
/// half that sticks out; 44 px do (`HH:MM:SS.d` is ~60 px wide).
pub fn time_grid(top: i64) -> Grid {
    grid(top).right(44)
}

/// A revenue bar chart: bars in the order given (the server sorts them
/// descending), labels rotated, a tooltip with the dollar amount.
pub fn revenue_bars(rows: &[Revenue], color: &str) -> Chart {
    revenue_bars_in(rows, color, &Palette::DARK)
}

/// [`revenue_bars`] in the colours of `p`.
pub fn revenue_bars_in(rows: &[Revenue], color: &str, p: &Palette) -> Chart {
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
                .background_color(Color::from(p.tooltip_bg))
                .border_color(Color::from(p.tooltip_border)),
        )
        .grid(grid(16))
        .x_axis(
            Axis::new()
                .type_(AxisType::Category)
                .data(names)
                .axis_label(axis_label(p).rotate(35).interval(0)),
        )
        .y_axis(
            Axis::new()
                .type_(AxisType::Value)
                .axis_label(axis_label(p).formatter("${value}"))
                .split_line(split_line(p)),
        )
        .series(
            Bar::new()
                .name("Revenue")
                .bar_width("60%")
                .item_style(ItemStyle::new().color(Color::from(color)).border_radius(4))
                .data(values),
        )
}

/// The custom series chart: one line, the series' points in order, the
/// x axis their times (`labels`, one per point), the y axis fitted to the
/// values (not from 0: a temperature of 21.3–21.9 should not be flat).
pub fn series_line(name: &str, points: &[SeriesPoint], labels: Vec<String>, p: &Palette) -> Chart {
    let values: Vec<f64> = points.iter().map(|p| p.value).collect();
    base()
        .tooltip(
            Tooltip::new()
                .trigger(Trigger::Axis)
                .background_color(Color::from(p.tooltip_bg))
                .border_color(Color::from(p.tooltip_border)),
        )
        .grid(time_grid(16))
        .x_axis(
            Axis::new()
                .type_(AxisType::Category)
                .boundary_gap(false)
                .data(labels)
                .axis_label(axis_label(p)),
        )
        .y_axis(
            Axis::new()
                .type_(AxisType::Value)
                .scale(true)
                .axis_label(axis_label(p))
                .split_line(split_line(p)),
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
        let v = json(&series_line(
            "room.temp{floor=1}",
            &pts,
            labels,
            &Palette::DARK,
        ));
        assert_eq!(v["series"][0]["type"], "line");
        assert_eq!(v["series"][0]["name"], "room.temp{floor=1}");
        assert_eq!(
            v["series"][0]["data"],
            serde_json::json!([21.25, -3.0, 1e12])
        );
        assert_eq!(v["xAxis"]["data"], serde_json::json!(["a", "b", "c"]));
        assert_eq!(v["yAxis"]["scale"], true);
        let empty = json(&series_line("x", &[], vec![], &Palette::LIGHT));
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
