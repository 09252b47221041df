//! The ECharts option of a chart widget (bar, line, area, pie, gauge),
//! built from the data its query selects ([`super::select`]). Pure: tested
//! natively by serializing the options to JSON.

use super::select::{self, History};
use crate::chart_option::Chart;
use crate::charts::{self, Palette};
use crate::format;
use crate::state::DashState;
use charming::component::{Axis, Legend};
use charming::element::{
    AreaStyle, AxisLabel, AxisType, Color, ItemStyle, Label, LineStyle, SplitLine, TextStyle,
    Tooltip, Trigger,
};
use charming::series::{Bar, Gauge, GaugeDetail, Line, Pie};
use livedash_shared::dashboard::{QuerySource, Widget, WidgetKind, WidgetOptions};

/// Series colours, in order (the widget's `color` replaces the first).
pub const PALETTE: [&str; 6] = [
    charts::BLUE,
    charts::GREEN,
    charts::AMBER,
    "#a98bff",
    "#ff5d6c",
    "#36c5d6",
];

/// The colour of series `i` of a widget.
pub fn color(o: &WidgetOptions, i: usize) -> String {
    match (&o.color, i) {
        (Some(c), 0) => c.clone(),
        _ => PALETTE[i % PALETTE.len()].to_string(),
    }
}

/// An axis label formatter with the unit: `${value}` for money, `{value} %`
/// otherwise; none without a unit.
fn unit_formatter(unit: Option<&str>) -> Option<String> {
    match unit {
        Some("$") => Some("${value}".into()),
        Some(u) if !u.is_empty() => Some(format!("{{value}} {u}")),
        _ => None,
    }
}

fn axis_label(p: &Palette, unit: Option<&str>) -> AxisLabel {
    let l = charts::axis_label(p);
    match unit_formatter(unit) {
        Some(f) => l.formatter(f.as_str()),
        None => l,
    }
}

fn split_line(p: &Palette) -> SplitLine {
    charts::split_line(p)
}

fn tooltip(p: &Palette, trigger: Trigger) -> Tooltip {
    Tooltip::new()
        .trigger(trigger)
        .background_color(Color::from(p.tooltip_bg))
        .border_color(Color::from(p.tooltip_border))
}

/// The option of a chart widget, or `None` for a kind that is not a chart.
pub fn for_widget(w: &Widget, s: &DashState, offset_min: i64, p: &Palette) -> Option<Chart> {
    let o = &w.options;
    let q = &w.query;
    let breakdown = q.source == QuerySource::Breakdown;
    let chart = match &w.kind {
        WidgetKind::Bar if breakdown => {
            charts::revenue_bars_in(&select::breakdown(s, q.by, o), &color(o, 0), p)
        }
        WidgetKind::Bar => {
            let (names, values) = split(select::latest(s, q));
            value_bars(names, values, o, p)
        }
        WidgetKind::Line | WidgetKind::Area => {
            let h = select::history(s, q, o.limit.or(Some(crate::state::POINTS as u32)));
            let labels = format::clock_labels(&h.ts, offset_min);
            lines(&h, labels, w.kind == WidgetKind::Area, o, p)
        }
        WidgetKind::Pie if breakdown => {
            let rows = select::breakdown(s, q.by, o);
            let names = rows.iter().map(|r| r.name.clone()).collect();
            let values = rows.iter().map(|r| select::round(r.revenue, 2)).collect();
            pie(names, values, o, p)
        }
        WidgetKind::Pie => {
            let (names, values) = split(select::latest(s, q));
            pie(names, values, o, p)
        }
        WidgetKind::Gauge => {
            let v = select::latest(s, q).into_iter().next();
            gauge(v, o, p)
        }
        _ => return None,
    };
    Some(chart)
}

fn split(pairs: Vec<(String, f64)>) -> (Vec<String>, Vec<f64>) {
    pairs.into_iter().unzip()
}

/// Bars of the latest value of each named figure.
pub fn value_bars(names: Vec<String>, values: Vec<f64>, o: &WidgetOptions, p: &Palette) -> Chart {
    let mut y = Axis::new()
        .type_(AxisType::Value)
        .axis_label(axis_label(p, o.unit.as_deref()))
        .split_line(split_line(p));
    if let Some(m) = o.min {
        y = y.min(m);
    }
    if let Some(m) = o.max {
        y = y.max(m);
    }
    charts::base()
        .tooltip(tooltip(p, Trigger::Axis))
        .grid(charts::grid(16))
        .x_axis(
            Axis::new()
                .type_(AxisType::Category)
                .data(names)
                .axis_label(axis_label(p, None).interval(0)),
        )
        .y_axis(y)
        .series(
            Bar::new()
                .name("Value")
                .bar_width("60%")
                .item_style(
                    ItemStyle::new()
                        .color(Color::from(color(o, 0).as_str()))
                        .border_radius(4),
                )
                .data(values),
        )
}

/// Lines (filled when `area`) of every figure over time; `labels` are the
/// x-axis times, one per point.
pub fn lines(
    h: &History,
    labels: Vec<String>,
    area: bool,
    o: &WidgetOptions,
    p: &Palette,
) -> Chart {
    let mut y = Axis::new()
        .type_(AxisType::Value)
        .axis_label(axis_label(p, o.unit.as_deref()))
        .split_line(split_line(p));
    match (o.min, o.max) {
        (None, None) => y = y.scale(true),
        (lo, hi) => {
            if let Some(m) = lo {
                y = y.min(m);
            }
            if let Some(m) = hi {
                y = y.max(m);
            }
        }
    }
    let mut c = charts::base()
        .tooltip(tooltip(p, Trigger::Axis))
        .legend(
            Legend::new()
                .top(0)
                .right(8)
                .text_style(TextStyle::new().color(Color::from(p.label))),
        )
        .grid(charts::time_grid(32))
        .x_axis(
            Axis::new()
                .type_(AxisType::Category)
                .boundary_gap(false)
                .data(labels)
                .axis_label(axis_label(p, None)),
        )
        .y_axis(y);
    for (i, (name, values)) in h.series.iter().enumerate() {
        let col = color(o, i);
        let mut line = Line::new()
            .name(name.as_str())
            .show_symbol(values.len() < 2)
            .smooth(0.3)
            .line_style(LineStyle::new().width(2).color(Color::from(col.as_str())))
            .item_style(ItemStyle::new().color(Color::from(col.as_str())))
            .data(values.clone());
        if area {
            line = line.area_style(
                AreaStyle::new()
                    .color(Color::from(col.as_str()))
                    .opacity(0.25),
            );
        }
        c = c.series(line);
    }
    c
}

/// Slices, one per name.
pub fn pie(names: Vec<String>, values: Vec<f64>, o: &WidgetOptions, p: &Palette) -> Chart {
    let data: Vec<(f64, String)> = values.into_iter().zip(names).collect();
    let colors: Vec<Color> = (0..data.len().max(1))
        .map(|i| Color::from(color(o, i).as_str()))
        .collect();
    charts::base()
        .color(colors)
        .tooltip(tooltip(p, Trigger::Item))
        .series(
            Pie::new()
                .name("Value")
                .radius(vec!["35%", "70%"])
                .label(Label::new().color(Color::from(p.label)))
                .data(data),
        )
}

/// One value against `min`..`max` (default 0..100).
pub fn gauge(v: Option<(String, f64)>, o: &WidgetOptions, p: &Palette) -> Chart {
    let (name, value) = v.unwrap_or_default();
    let lo = o.min.unwrap_or(0.0);
    let hi = o.max.unwrap_or(100.0_f64.max(value));
    let detail = match o.unit.as_deref() {
        Some("$") => "${value}".to_string(),
        Some(u) if !u.is_empty() => format!("{{value}} {u}"),
        _ => "{value}".to_string(),
    };
    charts::base().series(
        Gauge::new()
            .name(name.as_str())
            .min(lo)
            .max(hi)
            .axis_label(AxisLabel::new().color(Color::from(p.label)))
            .detail(
                GaugeDetail::new()
                    .formatter(detail.as_str())
                    .color(Color::from(p.text))
                    .font_size(20),
            )
            .data(vec![(value, name)]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Action;
    use livedash_shared::dashboard::{Dashboard, Dimension, GridPos, Query};
    use livedash_shared::{Orders, Revenue, ServerMessage};
    use serde_json::{json, Value};
    use std::rc::Rc;

    fn live() -> DashState {
        let mut s = DashState::default();
        for (seq, n) in [(1, 3u64), (2, 5)] {
            s.apply(Action::Frame(Rc::new(ServerMessage::Orders(Orders {
                seq,
                ts: seq * 60_000,
                window_ms: 300_000,
                num_orders: n,
                num_order_items: n * 2,
                total_sales: n as f64 * 10.5,
                delta: Default::default(),
                by_country: vec![
                    Revenue {
                        name: "China".into(),
                        revenue: 30.456,
                    },
                    Revenue {
                        name: "Japan".into(),
                        revenue: 12.0,
                    },
                ],
                by_traffic_source: vec![],
                records: vec![],
                items_total: 0,
            }))));
        }
        s
    }

    fn widget(kind: WidgetKind, query: Query) -> Widget {
        Widget {
            id: "w".into(),
            kind,
            title: "W".into(),
            query,
            options: WidgetOptions::default(),
            grid: GridPos {
                x: 0,
                y: 0,
                w: 6,
                h: 6,
            },
            extra: Default::default(),
        }
    }

    fn opt(w: &Widget, s: &DashState) -> Value {
        serde_json::to_value(for_widget(w, s, 0, &Palette::DARK).unwrap()).unwrap()
    }

    #[test]
    fn the_default_bars_are_the_breakdown_in_cents() {
        let d = Dashboard::default_v1();
        let w = d.widget("chart-revenue-by-country").unwrap();
        let v = opt(w, &live());
        assert_eq!(v["xAxis"]["data"], json!(["China", "Japan"]));
        assert_eq!(v["series"][0]["data"], json!([30.46, 12.0]));
        assert_eq!(v["series"][0]["itemStyle"]["color"], "#5b8cff");
    }

    #[test]
    fn a_breakdown_switched_to_pie_keeps_its_numbers() {
        let w = widget(WidgetKind::Pie, Query::breakdown(Dimension::Country));
        let v = opt(&w, &live());
        assert_eq!(v["series"][0]["type"], "pie");
        assert_eq!(
            v["series"][0]["data"],
            json!([{"value": 30.46, "name": "China"}, {"value": 12.0, "name": "Japan"}])
        );
    }

    #[test]
    fn kpi_lines_and_areas_draw_the_history() {
        let q = Query::new(QuerySource::Kpi, &["num_orders", "total_sales"]);
        let line = opt(&widget(WidgetKind::Line, q.clone()), &live());
        assert_eq!(line["xAxis"]["data"], json!(["00:01:00", "00:02:00"]));
        assert_eq!(line["series"][0]["name"], "Orders");
        assert_eq!(line["series"][0]["data"], json!([3.0, 5.0]));
        assert_eq!(line["series"][1]["data"], json!([31.5, 52.5]));
        assert!(line["series"][0].get("areaStyle").is_none());
        let area = opt(&widget(WidgetKind::Area, q), &live());
        assert_eq!(area["series"][1]["areaStyle"]["opacity"], 0.25);
        assert_eq!(area["series"][1]["data"], json!([31.5, 52.5]));
    }

    #[test]
    fn bars_and_gauges_of_latest_values() {
        let q = Query::new(QuerySource::Kpi, &["num_orders", "num_order_items"]);
        let v = opt(&widget(WidgetKind::Bar, q), &live());
        assert_eq!(v["xAxis"]["data"], json!(["Orders", "Order items"]));
        assert_eq!(v["series"][0]["data"], json!([5.0, 10.0]));
        let mut g = widget(
            WidgetKind::Gauge,
            Query::new(QuerySource::Kpi, &["num_orders"]),
        );
        g.options.max = Some(20.0);
        g.options.unit = Some("%".into());
        let v = opt(&g, &live());
        assert_eq!(v["series"][0]["type"], "gauge");
        assert_eq!(v["series"][0]["max"], 20.0);
        assert_eq!(
            v["series"][0]["data"],
            json!([{"value": 5.0, "name": "Orders"}])
        );
        assert_eq!(v["series"][0]["detail"]["formatter"], "{value} %");
    }

    #[test]
    fn the_default_system_chart_is_two_lines_from_0_to_100() {
        let d = Dashboard::default_v1();
        let w = d.widget("chart-system").unwrap();
        let v = opt(w, &DashState::default());
        let series = v["series"].as_array().unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(series[0]["name"], "CPU %");
        assert_eq!(series[1]["name"], "Memory %");
        assert_eq!(v["yAxis"]["min"], 0.0);
        assert_eq!(v["yAxis"]["max"], 100.0);
        assert_eq!(v["yAxis"]["axisLabel"]["formatter"], "{value} %");
    }

    #[test]
    fn not_a_chart_kind_has_no_option() {
        let w = widget(WidgetKind::Feed, Query::new(QuerySource::Events, &[]));
        assert!(for_widget(&w, &live(), 0, &Palette::DARK).is_none());
    }
}
