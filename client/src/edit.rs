//! Editing a dashboard in the page: every change is an [`Edit`] applied to
//! a copy by [`apply`], which keeps the dashboard valid (inside the grid,
//! no overlap, a query the kind can draw) or refuses with the reason. Pure,
//! tested natively; `components/editor.rs` turns buttons and keys into
//! edits and saves with `PUT` + `If-Match`.

use livedash_shared::dashboard::{
    Dimension, GridPos, Query, QuerySource, Widget, WidgetKind, WidgetOptions, GRID_COLUMNS,
    MAX_WIDGET_ROWS,
};
use livedash_shared::Dashboard;
use serde_json::Map;

/// One change.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Add a widget of this kind with its default query, below the others.
    Add(WidgetKind),
    /// Remove the widget with this id.
    Remove(String),
    /// Move a widget by columns and rows.
    Move(String, i32, i32),
    /// Grow or shrink a widget by columns and rows.
    Resize(String, i32, i32),
    /// Set a widget's title.
    Retitle(String, String),
    /// Switch a widget's kind (its query is kept when the kind can draw
    /// it, else replaced by the kind's default).
    Rekind(String, WidgetKind),
    /// Set the dashboard's title.
    Rename(String),
    /// Put a widget at a grid place (a pointer drag or resize): what it
    /// lands on is pushed down and the grid compacted ([`crate::layout`]).
    Place(String, GridPos),
    /// Set a widget's query and options (its settings panel; the filters
    /// of the query come with it, see [`crate::widget_config::configure`]).
    Configure(String, Box<Query>, Box<WidgetOptions>),
}

/// The kinds the page offers to add, in menu order.
pub const ADDABLE: [WidgetKind; 12] = [
    WidgetKind::Kpi,
    WidgetKind::Bar,
    WidgetKind::Line,
    WidgetKind::Area,
    WidgetKind::Pie,
    WidgetKind::Gauge,
    WidgetKind::Table,
    WidgetKind::System,
    WidgetKind::Counter,
    WidgetKind::Feed,
    WidgetKind::Series,
    WidgetKind::Clients,
];

/// A new widget's query, options, title and size for a kind.
pub fn template(kind: &WidgetKind) -> (Query, WidgetOptions, &'static str, u32, u32) {
    let mut o = WidgetOptions::default();
    let (q, title, w, h) = match kind {
        WidgetKind::Kpi => (
            Query::new(QuerySource::Kpi, &["num_orders"]),
            "Orders",
            4,
            3,
        ),
        WidgetKind::Bar | WidgetKind::Pie => (
            Query::breakdown(Dimension::Country),
            "Revenue by country",
            6,
            8,
        ),
        WidgetKind::Line | WidgetKind::Area => {
            o.min = Some(0.0);
            o.max = Some(100.0);
            o.unit = Some("%".into());
            (
                Query::new(QuerySource::System, &["cpu_percent", "memory_percent"]),
                "CPU and memory",
                6,
                8,
            )
        }
        WidgetKind::Gauge => {
            o.unit = Some("%".into());
            (
                Query::new(QuerySource::System, &["cpu_percent"]),
                "CPU",
                4,
                6,
            )
        }
        WidgetKind::Table => {
            o.limit = Some(10);
            (
                Query::new(QuerySource::Records, &[]),
                "Recent orders",
                12,
                7,
            )
        }
        WidgetKind::System => (Query::new(QuerySource::System, &[]), "System", 4, 9),
        WidgetKind::Counter => (Query::new(QuerySource::Counter, &[]), "Live counter", 4, 6),
        WidgetKind::Feed => (Query::new(QuerySource::Events, &[]), "Activity", 8, 8),
        WidgetKind::Series => (Query::new(QuerySource::Series, &[]), "Custom series", 12, 9),
        WidgetKind::Clients => (Query::new(QuerySource::Clients, &[]), "Viewers", 3, 3),
        WidgetKind::Other(_) => (Query::new(QuerySource::Kpi, &["num_orders"]), "", 4, 3),
    };
    (q, o, title, w, h)
}

/// An id not used in `d`: the kind's name, then `-2`, `-3`, ….
pub fn new_id(d: &Dashboard, kind: &WidgetKind) -> String {
    let base = kind.as_str();
    let taken = |id: &str| d.widgets.iter().any(|w| w.id == id);
    if !taken(base) {
        return base.to_string();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|id| !taken(id))
        .expect("a free id")
}

/// The first row below every widget.
fn bottom(d: &Dashboard) -> u32 {
    d.widgets
        .iter()
        .map(|w| w.grid.y + w.grid.h)
        .max()
        .unwrap_or(0)
}

fn find<'a>(d: &'a mut Dashboard, id: &str) -> Result<&'a mut Widget, String> {
    d.widgets
        .iter_mut()
        .find(|w| w.id == id)
        .ok_or_else(|| format!("no widget {id:?}"))
}

fn shift(v: u32, by: i32) -> Option<u32> {
    let n = v as i64 + by as i64;
    (n >= 0).then_some(n as u32)
}

/// Apply an edit to a copy of `d`; `Err` says why it cannot be done (the
/// dashboard is unchanged then).
pub fn apply(d: &Dashboard, e: &Edit) -> Result<Dashboard, String> {
    let mut out = d.clone();
    match e {
        Edit::Add(kind) => {
            let (query, options, title, w, h) = template(kind);
            out.widgets.push(Widget {
                id: new_id(d, kind),
                kind: kind.clone(),
                title: title.into(),
                query,
                options,
                grid: GridPos {
                    x: 0,
                    y: bottom(d),
                    w,
                    h,
                },
                extra: Map::new(),
            });
        }
        Edit::Remove(id) => {
            let before = out.widgets.len();
            out.widgets.retain(|w| &w.id != id);
            if out.widgets.len() == before {
                return Err(format!("no widget {id:?}"));
            }
        }
        Edit::Move(id, dx, dy) => {
            let w = find(&mut out, id)?;
            let x = shift(w.grid.x, *dx).ok_or("already at the left edge")?;
            let y = shift(w.grid.y, *dy).ok_or("already at the top")?;
            if x + w.grid.w > GRID_COLUMNS {
                return Err("already at the right edge".into());
            }
            w.grid.x = x;
            w.grid.y = y;
        }
        Edit::Resize(id, dw, dh) => {
            let w = find(&mut out, id)?;
            let nw = shift(w.grid.w, *dw)
                .filter(|n| *n >= 1)
                .ok_or("as narrow as it gets")?;
            let nh = shift(w.grid.h, *dh)
                .filter(|n| *n >= 1)
                .ok_or("as short as it gets")?;
            if w.grid.x + nw > GRID_COLUMNS {
                return Err("no room to the right".into());
            }
            if nh > MAX_WIDGET_ROWS {
                return Err("as tall as it gets".into());
            }
            w.grid.w = nw;
            w.grid.h = nh;
        }
        Edit::Retitle(id, t) => find(&mut out, id)?.title = t.clone(),
        Edit::Rekind(id, kind) => {
            let w = find(&mut out, id)?;
            if !kind.accepts(&w.query.source)
                || (kind.single_value() && w.query.names.len() != 1)
                || (w.kind.single_value() != kind.single_value())
            {
                let (query, options, _, _, _) = template(kind);
                w.query = query;
                w.options = options;
            }
            w.kind = kind.clone();
        }
        Edit::Rename(t) => out.title = t.clone(),
        Edit::Configure(id, query, options) => {
            let w = find(&mut out, id)?;
            w.query = (**query).clone();
            w.options = (**options).clone();
        }
        Edit::Place(id, to) => {
            out.widgets = crate::layout::place(&out.widgets, id, *to)
                .ok_or_else(|| format!("no widget {id:?}"))?;
        }
    }
    // Every rule but the uid (a draft has one; a new one gets it on POST).
    let mut check = out.clone();
    if check.uid.is_empty() {
        check.uid = "draft".into();
    }
    if let Err(invalid) = check.validate() {
        return Err(invalid.to_string());
    }
    Ok(out)
}

/// A copy of `d` to be created as a new dashboard: no uid (the server
/// assigns one), version 0, this title.
pub fn duplicate(d: &Dashboard, title: &str) -> Dashboard {
    Dashboard {
        uid: String::new(),
        title: title.into(),
        version: 0,
        updated_at: None,
        ..d.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank() -> Dashboard {
        let mut d = Dashboard::new("Mine");
        d.uid = "mine".into();
        d
    }

    #[test]
    fn widgets_are_added_below_with_fresh_ids_and_valid_queries() {
        let mut d = blank();
        for k in ADDABLE {
            d = apply(&d, &Edit::Add(k.clone())).unwrap_or_else(|e| panic!("{k}: {e}"));
        }
        d = apply(&d, &Edit::Add(WidgetKind::Kpi)).unwrap();
        assert_eq!(d.widgets.len(), 13);
        assert_eq!(d.widgets[0].id, "kpi");
        assert_eq!(d.widgets[12].id, "kpi-2");
        assert_eq!(d.widgets[1].grid.y, 3);
        assert_eq!(d.widgets[12].grid.y, bottom(&d) - 3);
        d.validate().unwrap();
    }

    #[test]
    fn moves_and_resizes_stay_on_the_grid_and_apart() {
        let d = apply(&blank(), &Edit::Add(WidgetKind::Kpi)).unwrap();
        let d = apply(&d, &Edit::Add(WidgetKind::Bar)).unwrap();
        let m = apply(&d, &Edit::Move("kpi".into(), 8, 0)).unwrap();
        assert_eq!(m.widget("kpi").unwrap().grid.x, 8);
        assert!(apply(&m, &Edit::Move("kpi".into(), 1, 0)).is_err());
        assert!(apply(&d, &Edit::Move("kpi".into(), -1, 0)).is_err());
        // Into the bars below: refused, naming the overlap.
        let e = apply(&d, &Edit::Move("kpi".into(), 0, 1)).unwrap_err();
        assert!(e.contains("overlap"), "{e}");
        let r = apply(&d, &Edit::Resize("bar".into(), 6, 2)).unwrap();
        assert_eq!((r.widgets[1].grid.w, r.widgets[1].grid.h), (12, 10));
        assert!(apply(&r, &Edit::Resize("bar".into(), 1, 0)).is_err());
        assert!(apply(&d, &Edit::Resize("kpi".into(), 0, -3)).is_err());
        assert!(apply(&d, &Edit::Remove("nope".into())).is_err());
        assert_eq!(
            apply(&d, &Edit::Remove("kpi".into()))
                .unwrap()
                .widgets
                .len(),
            1
        );
    }

    #[test]
    fn a_chart_switches_kind_keeping_its_query_where_it_fits() {
        let d = apply(&blank(), &Edit::Add(WidgetKind::Bar)).unwrap();
        let pie = apply(&d, &Edit::Rekind("bar".into(), WidgetKind::Pie)).unwrap();
        assert_eq!(pie.widgets[0].query, d.widgets[0].query);
        // A line cannot draw a breakdown: it gets the line's default.
        let line = apply(&d, &Edit::Rekind("bar".into(), WidgetKind::Line)).unwrap();
        assert_eq!(line.widgets[0].query.source, QuerySource::System);
        let gauge = apply(&line, &Edit::Rekind("bar".into(), WidgetKind::Gauge)).unwrap();
        assert_eq!(gauge.widgets[0].query.names, ["cpu_percent"]);
        let t = apply(&gauge, &Edit::Retitle("bar".into(), "CPU now".into())).unwrap();
        assert_eq!(t.widgets[0].title, "CPU now");
        assert!(apply(&t, &Edit::Rename(String::new())).is_err());
        assert_eq!(apply(&t, &Edit::Rename("Ops".into())).unwrap().title, "Ops");
    }

    #[test]
    fn a_placed_widget_makes_room_instead_of_being_refused() {
        let d = apply(&blank(), &Edit::Add(WidgetKind::Kpi)).unwrap();
        let d = apply(&d, &Edit::Add(WidgetKind::Bar)).unwrap();
        // The bars dropped on the KPI's place: the KPI goes below them.
        let to = GridPos {
            x: 0,
            y: 0,
            w: 8,
            h: 8,
        };
        let p = apply(&d, &Edit::Place("bar".into(), to)).unwrap();
        assert_eq!(p.widget("bar").unwrap().grid, to);
        assert_eq!(p.widget("kpi").unwrap().grid.y, 8);
        assert!(apply(&d, &Edit::Place("nope".into(), to)).is_err());
        let wide = GridPos { x: 6, w: 8, ..to };
        assert!(apply(&d, &Edit::Place("bar".into(), wide)).is_err());
    }

    #[test]
    fn a_duplicate_has_no_uid_and_no_version() {
        let d = Dashboard::default_v1();
        let c = duplicate(&d, "Copy");
        assert!(c.uid.is_empty());
        assert_eq!((c.version, c.title.as_str()), (0, "Copy"));
        assert_eq!(c.widgets, d.widgets);
    }
}
