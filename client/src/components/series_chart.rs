//! The custom series widget: pick one of the named series the server has
//! (written through its InfluxDB write API) and see its newest points as a
//! line. The points live in the reducer ([`crate::state::DashState`]); the
//! option is built by [`crate::charts::series_line`]; `theme` picks its
//! colours and the ECharts theme.

use crate::charts;
use crate::components::chart::Chart;
use crate::format;
use livedash_shared::SeriesPoint;
use std::rc::Rc;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct SeriesChartProps {
    /// The card's heading.
    #[prop_or(AttrValue::Static("Custom series"))]
    pub title: AttrValue,
    /// The chart element's DOM id.
    #[prop_or(AttrValue::Static("chart-series"))]
    pub chart_id: AttrValue,
    /// The chart element's `data-testid` (v1: `chart-series`).
    #[prop_or(AttrValue::Static("chart-series"))]
    pub testid: AttrValue,
    /// `dark` or `light` (the chart is re-created on a change).
    #[prop_or(AttrValue::Static("dark"))]
    pub theme: AttrValue,
    /// Every series name, sorted (a pointer compare while unchanged).
    pub names: Rc<Vec<String>>,
    /// The series shown, if any.
    pub shown: Option<AttrValue>,
    /// Its points, oldest first.
    pub points: Vec<SeriesPoint>,
    /// The local time zone offset, minutes east of UTC (axis labels).
    pub offset_min: i64,
    /// A series was picked.
    pub on_select: Callback<String>,
}

#[function_component(SeriesChart)]
pub fn series_chart(p: &SeriesChartProps) -> Html {
    let on_change = {
        let on_select = p.on_select.clone();
        Callback::from(move |e: Event| {
            // The `<select>`'s value, read as a plain property.
            let value = e
                .target()
                .and_then(|t| js_sys::Reflect::get(&t, &"value".into()).ok())
                .and_then(|v| v.as_string());
            if let Some(v) = value {
                on_select.emit(v);
            }
        })
    };
    let shown = p.shown.as_deref().unwrap_or("");
    let ts: Vec<u64> = p.points.iter().map(|pt| pt.ts).collect();
    let labels = format::clock_labels(&ts, p.offset_min);
    let last = p.points.last().map(|pt| pt.value);
    html! {
        <section class="card chart-card wide series-card">
            <h2>
                { &p.title }
                <span class="muted small">
                    { format!(" · last {} points", p.points.len()) }
                    { last.map(|v| format!(" · now {v}")).unwrap_or_default() }
                </span>
            </h2>
            if p.names.is_empty() {
                <p class="muted small" data-testid="series-empty">
                    { "No series yet: write line protocol to " }<code>{ "POST /api/v2/write" }</code>
                    { " (see the README, \"Use your own data\")." }
                </p>
            }
            <label class="series-pick">
                <span class="muted small">{ "Series" }</span>
                <select data-testid="series-picker" onchange={on_change} disabled={p.names.is_empty()}>
                    { for p.names.iter().map(|n| html! {
                        <option value={n.clone()} selected={n == shown}>{ n.clone() }</option>
                    }) }
                </select>
            </label>
            // No chart before the first series: an empty one says nothing
            // the hint above does not (and costs an ECharts instance).
            if !p.names.is_empty() {
                <Chart id={p.chart_id.clone()} testid={p.testid.clone()} theme={p.theme.clone()}
                       options={crate::echarts::json(&charts::series_line(shown, &p.points, labels, &charts::Palette::of(&p.theme)))} />
            }
        </section>
    }
}
