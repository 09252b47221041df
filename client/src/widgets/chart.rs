//! Chart widgets (bar, line, area, pie, gauge): a card with the title and
//! an ECharts chart of the option [`super::options::for_widget`] builds.

use super::{options, Cx};
use crate::components::chart::Chart;
use crate::export;
use livedash_shared::dashboard::{QuerySource, Widget};
use yew::prelude::*;

/// The note beside the title: what span of data the chart covers.
pub fn subtitle(w: &Widget, window_min: u64, kept: usize) -> String {
    match w.query.source {
        QuerySource::Breakdown => format!(" · last {window_min} min"),
        _ if w.kind.as_str() == "line" || w.kind.as_str() == "area" => {
            let n = w
                .options
                .limit
                .map(|l| l as usize)
                .unwrap_or(kept)
                .min(kept);
            format!(" · last {n} samples")
        }
        _ => String::new(),
    }
}

/// The DOM id of a widget's chart element (prefixed: a widget id must not
/// collide with the page's own element ids).
pub fn dom_id(w: &Widget) -> String {
    format!("widget-{}", w.id)
}

/// A breakdown chart filters by the category clicked (not while editing).
fn click_to_filter(w: &Widget, cx: &Cx) -> Option<Callback<String>> {
    let by = w
        .query
        .by
        .filter(|_| w.query.source == QuerySource::Breakdown)?;
    let on_filter = cx.on_filter.clone().filter(|_| cx.on_edit.is_none())?;
    Some(Callback::from(move |name: String| {
        on_filter.emit((by.as_str().to_string(), name))
    }))
}

pub fn view(w: &Widget, cx: &Cx) -> Html {
    let Some(opt) = options::for_widget(w, cx.state, cx.offset_min, &cx.palette) else {
        return Html::default();
    };
    let window_min = cx
        .state
        .orders
        .as_ref()
        .map(|o| o.window_ms / 60_000)
        .unwrap_or(5);
    let note = subtitle(w, window_min, crate::state::POINTS);
    let opt = crate::echarts::json(&opt);
    // The export writes the numbers of the option drawn now (the chart's
    // own JSON text).
    let save = |ext: &'static str| {
        let (opt, id) = (opt.clone(), w.id.clone());
        Callback::from(move |_: MouseEvent| {
            let t = export::table(&serde_json::from_str(&opt).unwrap_or_default());
            let (mime, text) = match ext {
                "csv" => ("text/csv", export::csv(&t)),
                _ => ("application/json", export::json_rows(&t).to_string()),
            };
            if let Err(e) = crate::download::save(&export::file_name(&id, ext), mime, &text) {
                web_sys::console::error_1(&format!("export {id}: {e}").into());
            }
        })
    };
    html! {
        <section class="card chart-card">
            <div class="card-head">
                <h2>{ &w.title }<span class="muted small">{ note }</span></h2>
                <div class="card-actions">
                    <button class="btn mini" data-testid={format!("export-csv-{}", w.id)}
                            title="Download the numbers shown as CSV" onclick={save("csv")}>{ "CSV" }</button>
                    <button class="btn mini" data-testid={format!("export-json-{}", w.id)}
                            title="Download the numbers shown as JSON" onclick={save("json")}>{ "JSON" }</button>
                </div>
            </div>
            <Chart id={dom_id(w)} testid={AttrValue::from(w.id.clone())} options={opt}
                   theme={AttrValue::Static(cx.theme)} on_click={click_to_filter(w, cx)} />
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livedash_shared::Dashboard;

    #[test]
    fn notes_say_the_span() {
        let d = Dashboard::default_v1();
        let bars = d.widget("chart-revenue-by-country").unwrap();
        assert_eq!(subtitle(bars, 5, 50), " · last 5 min");
        let lines = d.widget("chart-system").unwrap();
        assert_eq!(subtitle(lines, 5, 50), " · last 50 samples");
        assert_eq!(dom_id(lines), "widget-chart-system");
    }
}
