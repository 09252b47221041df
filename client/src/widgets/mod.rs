//! The widget catalogue: a dashboard's widgets drawn by kind, one file per
//! kind, placed on the 12-column grid by their `grid`. A kind this build
//! does not know is drawn as a placeholder, never an error.
//!
//! What data a widget selects ([`select`]) and the chart options
//! ([`options`]) are pure and tested natively; the files per kind only
//! turn them into HTML.

pub mod chart;
pub mod clients;
pub mod counter;
pub mod drag;
pub mod feed;
pub mod kpi;
pub mod options;
pub mod select;
pub mod series;
pub mod settings;
pub mod system;
pub mod table;
pub mod tools;

use crate::charts::Palette;
use crate::state::DashState;
use livedash_shared::dashboard::{Dashboard, Filters, GridPos, QuerySource, Widget, WidgetKind};
use yew::prelude::*;

/// What every widget draws from.
pub struct Cx<'a> {
    /// The page state (server data and connection).
    pub state: &'a DashState,
    /// The dashboard's own filters (a widget's replace them per dimension).
    pub filters: &'a Filters,
    /// Local time zone, minutes east of UTC (time labels).
    pub offset_min: i64,
    /// Chart colours of the current theme.
    pub palette: Palette,
    /// The theme's name (`dark` / `light`): charts are re-created when it
    /// changes, since ECharts fixes its theme at init.
    pub theme: &'static str,
    /// A series was picked in a series widget.
    pub on_series: Callback<String>,
    /// While editing: where each widget's move / resize / remove / title /
    /// kind controls send their edits.
    pub on_edit: Option<Callback<crate::edit::Edit>>,
    /// While editing: the pointer drag state (move handle, resize corner).
    pub drag: Option<drag::DragCx>,
    /// A breakdown bar was clicked: `(variable, value)` to add to the
    /// page's filter (see [`crate::components::filter_bar`]).
    pub on_filter: Option<Callback<(String, String)>>,
}

/// Where a widget sits: CSS grid lines from its `grid` (columns and rows
/// from 1), and its height in rows as `--h` for the one-column layout of
/// narrow screens.
pub fn grid_style(g: &GridPos) -> String {
    format!(
        "grid-column:{} / span {};grid-row:{} / span {};--h:{}",
        g.x + 1,
        g.w,
        g.y + 1,
        g.h,
        g.h
    )
}

/// The widgets in reading order (top to bottom, then left to right), so
/// the one-column layout of narrow screens and screen readers follow the
/// grid.
pub fn reading_order(d: &Dashboard) -> Vec<&Widget> {
    let mut order: Vec<usize> = (0..d.widgets.len()).collect();
    crate::layout::sort_by_place(&d.widgets, &mut order, usize::MAX);
    order.into_iter().map(|i| &d.widgets[i]).collect()
}

/// Whether a dashboard shows recent order records (the connection then
/// asks for each tick's rows).
pub fn needs_records(d: &Dashboard) -> bool {
    d.widgets
        .iter()
        .any(|w| w.query.source == QuerySource::Records)
}

/// One widget in its grid cell: the body its kind draws, in a wrapper
/// that carries `data-testid="widget"`, its kind and its id.
pub fn view(w: &Widget, cx: &Cx) -> Html {
    let body = match &w.kind {
        WidgetKind::Kpi => kpi::view(w, cx),
        k if k.is_chart() => chart::view(w, cx),
        WidgetKind::Table => table::view(w, cx),
        WidgetKind::System => system::view(w, cx),
        WidgetKind::Counter => counter::view(w, cx),
        WidgetKind::Feed => feed::view(w, cx),
        WidgetKind::Series => series::view(w, cx),
        WidgetKind::Clients => clients::view(w, cx),
        _ => placeholder(w),
    };
    let Some(on_edit) = &cx.on_edit else {
        return html! {
            <div class="widget" key={w.id.clone()} data-testid="widget"
                 data-widget-kind={w.kind.as_str().to_string()} data-widget-id={w.id.clone()}
                 style={grid_style(&w.grid)}>
                { body }
            </div>
        };
    };
    let dragged = drag::is_dragged(cx.drag.as_ref(), &w.id);
    html! {
        <div class={classes!("widget", "editing", dragged.then_some("dragging"))} key={w.id.clone()}
             data-testid="widget" data-widget-kind={w.kind.as_str().to_string()} data-widget-id={w.id.clone()}
             data-grid={format!("{},{},{},{}", w.grid.x, w.grid.y, w.grid.w, w.grid.h)}
             style={grid_style(&w.grid)} tabindex="0" onkeydown={tools::on_key(&w.id, on_edit)}
             aria-label={format!("{} ({}): arrows move, shift+arrows resize, Delete removes", w.title, w.kind)}>
            { tools::view(w, on_edit, cx.drag.as_ref().map(|d| drag::handle(w, d))) }
            { body }
            { for cx.drag.as_ref().map(|d| drag::corner(w, d)) }
        </div>
    }
}

/// A kind this page does not know (a newer page wrote it): said so, kept.
fn placeholder(w: &Widget) -> Html {
    html! {
        <section class="card placeholder" data-testid={w.id.clone()}>
            <h2>{ &w.title }</h2>
            <p class="muted">{ format!("This page cannot draw a \"{}\" widget yet; it is kept as it is.", w.kind) }</p>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_lines_start_at_one() {
        let g = GridPos {
            x: 4,
            y: 12,
            w: 8,
            h: 9,
        };
        assert_eq!(
            grid_style(&g),
            "grid-column:5 / span 8;grid-row:13 / span 9;--h:9"
        );
    }

    #[test]
    fn the_default_reads_top_down_and_asks_for_no_records() {
        let d = Dashboard::default_v1();
        let ids: Vec<&str> = reading_order(&d).iter().map(|w| w.id.as_str()).collect();
        assert_eq!(
            ids[..3],
            ["kpi-num_orders", "kpi-num_order_items", "kpi-total_sales"]
        );
        assert_eq!(ids[5..7], ["system", "chart-system"]);
        assert!(!needs_records(&d));
        let mut t = d.clone();
        t.widgets[0].kind = WidgetKind::Table;
        t.widgets[0].query = livedash_shared::dashboard::Query::new(QuerySource::Records, &[]);
        assert!(needs_records(&t));
    }
}
