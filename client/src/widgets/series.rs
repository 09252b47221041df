//! The series widget: a picker over every named series the server has
//! (ingested through its InfluxDB write API) and the shown one as a line.

use super::{chart::dom_id, select, Cx};
use crate::components::series_chart::SeriesChart;
use livedash_shared::dashboard::Widget;
use yew::prelude::*;

pub fn view(w: &Widget, cx: &Cx) -> Html {
    let shown = select::series_shown(cx.state, &w.query);
    let points = shown
        .map(|n| select::series_points(cx.state, n))
        .unwrap_or_default();
    html! {
        <SeriesChart title={w.title.clone()} chart_id={dom_id(w)} testid={w.id.clone()}
                     names={cx.state.series_names.clone()}
                     shown={shown.map(|s| AttrValue::from(s.to_string()))}
                     points={points} offset_min={cx.offset_min} on_select={cx.on_series.clone()}
                     theme={AttrValue::Static(cx.theme)} />
    }
}
