//! A widget's settings panel while editing (⚙ in its tools): its query —
//! the source, the figures or series, the breakdown's dimension — and the
//! chart options its kind supports (top-N / last-N, sort, unit, bounds,
//! decimals, colour). Apply turns the form into an
//! [`Edit::Configure`] through the pure [`crate::widget_config`]; a value
//! that is not one is said in the panel, a query the kind cannot draw is
//! refused by the edit (said in the dashboard bar).

use crate::edit::Edit;
use crate::widget_config::{configure, figures, offers, sources};
use livedash_shared::dashboard::{Dimension, QuerySource, SortOrder, Widget};
use yew::prelude::*;

#[derive(Properties)]
pub struct SettingsProps {
    /// The widget as in the draft.
    pub widget: Widget,
    /// Where the configured query and options go.
    pub on_edit: Callback<Edit>,
}

/// Only the widget counts: the page makes a new `on_edit` on every tick,
/// and a re-render would put the widget's values back into fields the
/// person is typing in.
impl PartialEq for SettingsProps {
    fn eq(&self, o: &Self) -> bool {
        self.widget == o.widget
    }
}

/// Every field the form may hold.
const FIELDS: [&str; 11] = [
    "source", "names", "series", "by", "limit", "sort", "unit", "min", "max", "decimals", "color",
];

/// The form's `(name, value)` pairs (a ticked figure is one `names` pair).
fn pairs(form: &web_sys::HtmlFormElement) -> Vec<(String, String)> {
    let Ok(data) = web_sys::FormData::new_with_form(form) else {
        return Vec::new();
    };
    FIELDS
        .iter()
        .flat_map(|name| {
            data.get_all(name)
                .iter()
                .filter_map(|v| v.as_string())
                .map(|v| (name.to_string(), v))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn text(v: Option<impl ToString>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

#[function_component(Settings)]
pub fn settings(p: &SettingsProps) -> Html {
    let w = &p.widget;
    // The source picked in the form (the figures offered follow it).
    let source = use_state(|| w.query.source.clone());
    let error = use_state(|| None::<String>);
    {
        // A kind switch may replace the query: follow it.
        let source = source.clone();
        use_effect_with(w.query.source.clone(), move |s| source.set(s.clone()));
    }
    let id = w.id.clone();
    let on_source = {
        let source = source.clone();
        Callback::from(move |e: Event| {
            let s: web_sys::HtmlSelectElement = e.target_unchecked_into();
            source.set(QuerySource::parse(&s.value()));
        })
    };
    let on_submit = {
        let (w, on_edit, error) = (w.clone(), p.on_edit.clone(), error.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let form: web_sys::HtmlFormElement = e.target_unchecked_into();
            match configure(&w, &pairs(&form)) {
                Ok((q, o)) => {
                    error.set(None);
                    on_edit.emit(Edit::Configure(w.id.clone(), Box::new(q), Box::new(o)));
                }
                Err(why) => error.set(Some(why)),
            }
        })
    };
    let same = *source == w.query.source;
    let figure_boxes = match figures(&source) {
        None => html! {
            <label>{ "Series (comma separated)" }
                <input name="series" data-testid={format!("ws-series-{id}")}
                       value={if same { w.query.names.join(", ") } else { String::new() }} />
            </label>
        },
        Some(all) => html! {
            <fieldset class="ws-figures">
                { for all.iter().map(|f| html! {
                    <label class="ws-check">
                        <input type="checkbox" name="names" value={f.to_string()}
                               data-testid={format!("ws-name-{id}-{f}")}
                               checked={same && w.query.names.iter().any(|n| n == f)} />
                        { crate::widgets::select::label(&source, f) }
                    </label>
                }) }
            </fieldset>
        },
    };
    let option = |name: &'static str, label: &'static str, value: String| {
        offers(&w.kind, &source, name).then(|| html! {
            <label>{ label }
                <input name={name} value={value} data-testid={format!("ws-{name}-{id}")} size="6" />
            </label>
        })
    };
    let o = &w.options;
    html! {
        <details class="w-settings">
            <summary class="btn mini" data-testid={format!("w-settings-{id}")} title="Settings">{ "⚙" }</summary>
            <form class="ws-form card" onsubmit={on_submit} data-testid={format!("ws-form-{id}")}>
                <label>{ "Data" }
                    <select name="source" data-testid={format!("ws-source-{id}")} onchange={on_source}>
                        { for sources(&w.kind).iter().map(|s| html! {
                            <option value={s.to_string()} selected={*s == *source}>{ s.to_string() }</option>
                        }) }
                    </select>
                </label>
                if *source == QuerySource::Breakdown {
                    <label>{ "By" }
                        <select name="by" data-testid={format!("ws-by-{id}")}>
                            { for Dimension::BREAKDOWNS.iter().map(|d| html! {
                                <option value={d.as_str()} selected={w.query.by == Some(*d)}>{ d.as_str() }</option>
                            }) }
                        </select>
                    </label>
                }
                { figure_boxes }
                { for option("limit", "Top / last N", text(o.limit)) }
                if offers(&w.kind, &source, "sort") {
                    <label>{ "Sort" }
                        <select name="sort" data-testid={format!("ws-sort-{id}")}>
                            { for [("", "default"), ("desc", "largest first"), ("asc", "smallest first"), ("none", "as sent")].iter().map(|(v, l)| html! {
                                <option value={*v} selected={sort_key(o.sort) == *v}>{ *l }</option>
                            }) }
                        </select>
                    </label>
                }
                { for option("unit", "Unit", text(o.unit.as_ref())) }
                { for option("min", "Min", text(o.min)) }
                { for option("max", "Max", text(o.max)) }
                { for option("decimals", "Decimals", text(o.decimals)) }
                { for option("color", "Colour", text(o.color.as_ref())) }
                <button type="submit" class="btn mini primary" data-testid={format!("ws-apply-{id}")}>{ "Apply" }</button>
                if let Some(e) = &*error {
                    <span class="badge alert" role="alert" data-testid={format!("ws-error-{id}")}>{ e }</span>
                }
            </form>
        </details>
    }
}

fn sort_key(s: Option<SortOrder>) -> &'static str {
    match s {
        None => "",
        Some(SortOrder::Desc) => "desc",
        Some(SortOrder::Asc) => "asc",
        Some(SortOrder::None) => "none",
    }
}
