//! The `default` dashboard: the v1 page as data.
//!
//! v1's page (`client/src/components/app.rs`) lays out, on its 12-column
//! grid: a row of three KPI cards; Revenue by Country and Revenue by
//! Traffic Source side by side (blue and amber bars, sorted descending);
//! the System panel (4 columns) beside the CPU-and-memory line chart of the
//! last 50 samples (8 columns); the live counter (4) beside the activity
//! feed of the last 20 entries (8); the custom series chart with its picker
//! (12). The header (connection status, client
//! count, connect toggle, pause, stream badges) is page chrome, not a
//! widget: every dashboard has it.
//!
//! Widget ids are v1's `data-testid`s where v1 has one, so a page can keep
//! them as test hooks.

use super::query::{Dimension, Query, QuerySource};
use super::{Dashboard, GridPos, SortOrder, Widget, WidgetKind, WidgetOptions, DEFAULT_UID};
use serde_json::Map;

/// v1's bar colours (`client/src/charts.rs`).
const BLUE: &str = "#5b8cff";
const AMBER: &str = "#f5b942";

fn widget(id: &str, kind: WidgetKind, title: &str, query: Query, grid: [u32; 4]) -> Widget {
    let [x, y, w, h] = grid;
    Widget {
        id: id.into(),
        kind,
        title: title.into(),
        query,
        options: WidgetOptions::default(),
        grid: GridPos { x, y, w, h },
        extra: Map::new(),
    }
}

fn with(mut w: Widget, f: impl FnOnce(&mut WidgetOptions)) -> Widget {
    f(&mut w.options);
    w
}

fn kpi(name: &str, title: &str, x: u32) -> Widget {
    let q = Query::new(QuerySource::Kpi, &[name]);
    let w = widget(
        &format!("kpi-{name}"),
        WidgetKind::Kpi,
        title,
        q,
        [x, 0, 4, 3],
    );
    if name == "total_sales" {
        return with(w, |o| {
            o.unit = Some("$".into());
            o.decimals = Some(2);
        });
    }
    w
}

fn revenue(id: &str, title: &str, by: Dimension, color: &str, x: u32) -> Widget {
    let w = widget(
        id,
        WidgetKind::Bar,
        title,
        Query::breakdown(by),
        [x, 3, 6, 9],
    );
    with(w, |o| {
        o.sort = Some(SortOrder::Desc);
        o.color = Some(color.into());
        o.unit = Some("$".into());
    })
}

/// The v1 page, widget for widget.
pub fn default_v1() -> Dashboard {
    let system_lines = widget(
        "chart-system",
        WidgetKind::Line,
        "CPU and memory",
        Query::new(QuerySource::System, &["cpu_percent", "memory_percent"]),
        [4, 12, 8, 9],
    );
    let widgets = vec![
        kpi("num_orders", "Number of Orders", 0),
        kpi("num_order_items", "Number of Order Items", 4),
        kpi("total_sales", "Total Sales", 8),
        revenue(
            "chart-revenue-by-country",
            "Revenue by Country",
            Dimension::Country,
            BLUE,
            0,
        ),
        revenue(
            "chart-revenue-by-traffic-source",
            "Revenue by Traffic Source",
            Dimension::TrafficSource,
            AMBER,
            6,
        ),
        widget(
            "system",
            WidgetKind::System,
            "System",
            Query::new(QuerySource::System, &[]),
            [0, 12, 4, 9],
        ),
        with(system_lines, |o| {
            o.limit = Some(50);
            o.unit = Some("%".into());
            o.min = Some(0.0);
            o.max = Some(100.0);
        }),
        widget(
            "live-counter",
            WidgetKind::Counter,
            "Live counter",
            Query::new(QuerySource::Counter, &[]),
            [0, 21, 4, 8],
        ),
        with(
            widget(
                "feed",
                WidgetKind::Feed,
                "Activity",
                Query::new(QuerySource::Events, &[]),
                [4, 21, 8, 8],
            ),
            |o| o.limit = Some(20),
        ),
        widget(
            "chart-series",
            WidgetKind::Series,
            "Custom series",
            Query::new(QuerySource::Series, &[]),
            [0, 29, 12, 9],
        ),
    ];
    Dashboard {
        uid: DEFAULT_UID.into(),
        title: "Live overview".into(),
        version: 1,
        widgets,
        ..Dashboard::new("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_v1_page_as_data() {
        let d = default_v1();
        d.validate().unwrap();
        assert_eq!(d.uid, "default");
        let ids: Vec<&str> = d.widgets.iter().map(|w| w.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "kpi-num_orders",
                "kpi-num_order_items",
                "kpi-total_sales",
                "chart-revenue-by-country",
                "chart-revenue-by-traffic-source",
                "system",
                "chart-system",
                "live-counter",
                "feed",
                "chart-series",
            ]
        );
        let titles: Vec<&str> = d.widgets.iter().map(|w| w.title.as_str()).collect();
        for label in [
            "Number of Orders",
            "Number of Order Items",
            "Total Sales",
            "Revenue by Country",
            "Revenue by Traffic Source",
        ] {
            assert!(titles.contains(&label), "{label}");
        }
        // Rows fill the 12 columns with no hole: 3×4, 6+6, 4+8, 4+8, 12.
        let mut rows = std::collections::BTreeMap::<u32, u32>::new();
        for w in &d.widgets {
            *rows.entry(w.grid.y).or_default() += w.grid.w;
        }
        assert!(rows.values().all(|&w| w == 12), "{rows:?}");
        let line = d.widget("chart-system").unwrap();
        assert_eq!(
            line.query.series_names(),
            ["system.cpu_percent", "system.memory_percent"]
        );
        assert_eq!(line.options.limit, Some(50));
        assert_eq!(d.widget("feed").unwrap().options.limit, Some(20));
        let bars = d.widget("chart-revenue-by-traffic-source").unwrap();
        assert_eq!(bars.query.by, Some(Dimension::TrafficSource));
        assert_eq!(bars.options.sort, Some(SortOrder::Desc));
    }

    #[test]
    fn it_survives_json() {
        let d = default_v1();
        let text = serde_json::to_string(&d).unwrap();
        let back: Dashboard = serde_json::from_str(&text).unwrap();
        assert_eq!(back, d);
        assert!(!text.contains("updated_at"), "{text}");
    }
}
