//! The pure part of dragging and resizing widgets with a pointer: where a
//! pointer's travel puts a widget on the 12-column grid ([`GridMetrics`],
//! [`target`]) and how the other widgets make room ([`place`]: the widgets
//! it lands on are pushed down, then every widget floats up as far as it
//! can, as in Grafana's grid). No web-sys here: `cargo test` covers it;
//! `widgets/drag.rs` turns pointer events into these calls and the result
//! into an [`crate::edit::Edit::Place`].

use livedash_shared::dashboard::{GridPos, Widget, GRID_COLUMNS, MAX_WIDGET_ROWS};

/// The grid's measures on screen, in CSS pixels, read from the grid
/// element when a drag starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridMetrics {
    /// Width of the grid's content box (12 columns and 11 gaps).
    pub width: f64,
    /// Gap between columns.
    pub col_gap: f64,
    /// Height of one row (`grid-auto-rows`).
    pub row_px: f64,
    /// Gap between rows.
    pub row_gap: f64,
}

impl GridMetrics {
    /// Distance from one column's start to the next.
    pub fn col_step(&self) -> f64 {
        (self.width + self.col_gap) / GRID_COLUMNS as f64
    }

    /// Distance from one row's start to the next.
    pub fn row_step(&self) -> f64 {
        self.row_px + self.row_gap
    }

    /// The cell under a point given from the grid's top-left corner
    /// (clamped to the grid's columns and to row 0).
    pub fn cell(&self, x: f64, y: f64) -> (u32, u32) {
        let col = (x / self.col_step())
            .floor()
            .clamp(0.0, (GRID_COLUMNS - 1) as f64);
        let row = (y / self.row_step()).floor().max(0.0);
        (col as u32, row as u32)
    }
}

/// What a pointer gesture does to a widget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gesture {
    /// Dragged by its handle: the top-left corner follows the pointer.
    Move,
    /// Dragged by its bottom-right corner: the size follows the pointer.
    Resize,
}

/// Where a widget that started at `start` goes when the pointer has
/// travelled `(dx, dy)` pixels: whole cells (rounded to the nearest),
/// kept on the grid (inside the 12 columns, at least 1×1, at most
/// [`MAX_WIDGET_ROWS`] tall).
pub fn target(start: GridPos, gesture: Gesture, dx: f64, dy: f64, m: &GridMetrics) -> GridPos {
    let cols = (dx / m.col_step()).round() as i64;
    let rows = (dy / m.row_step()).round() as i64;
    let mut g = start;
    match gesture {
        Gesture::Move => {
            let max_x = (GRID_COLUMNS - g.w) as i64;
            g.x = (g.x as i64 + cols).clamp(0, max_x) as u32;
            g.y = (g.y as i64 + rows).max(0) as u32;
        }
        Gesture::Resize => {
            let max_w = (GRID_COLUMNS - g.x) as i64;
            g.w = (g.w as i64 + cols).clamp(1, max_w) as u32;
            g.h = (g.h as i64 + rows).clamp(1, MAX_WIDGET_ROWS as i64) as u32;
        }
    }
    g
}

/// Put widget `id` at `to` and make room: widgets it now overlaps are
/// pushed below it (and those below them in turn), then every widget
/// floats up as far as it can without overlapping one above it (the
/// placed widget first, so it stays in the column it was dropped in).
/// The result never overlaps. `None` when there is no widget `id`.
pub fn place(widgets: &[Widget], id: &str, to: GridPos) -> Option<Vec<Widget>> {
    let moved = widgets.iter().position(|w| w.id == id)?;
    let mut out = widgets.to_vec();
    out[moved].grid = to;
    push_down(&mut out, moved);
    compact(&mut out, moved);
    Some(out)
}

/// Sort widget indices top to bottom, then left to right, `first` ahead of
/// the others on its row (`usize::MAX`: none). The one sort of widgets in
/// the page ([`push_down`], [`compact`], `widgets::reading_order`): each
/// distinct sort call is another copy of the sort in the wasm.
pub fn sort_by_place(ws: &[Widget], order: &mut [usize], first: usize) {
    order.sort_by_key(|i| (ws[*i].grid.y, *i != first, ws[*i].grid.x));
}

/// Push every widget that overlaps a settled one below it, settling
/// widgets top to bottom starting with `first`.
fn push_down(ws: &mut [Widget], first: usize) {
    let mut order: Vec<usize> = (0..ws.len()).filter(|i| *i != first).collect();
    sort_by_place(ws, &mut order, first);
    let mut settled = vec![first];
    for i in order {
        while let Some(below) = settled
            .iter()
            .filter(|s| ws[**s].grid.overlaps(&ws[i].grid))
            .map(|s| ws[*s].grid.y + ws[*s].grid.h)
            .max()
        {
            ws[i].grid.y = below;
        }
        settled.push(i);
    }
}

/// Float every widget up as far as it goes, top to bottom (`first`, the
/// placed one, wins ties with a widget on its row).
fn compact(ws: &mut [Widget], first: usize) {
    let mut order: Vec<usize> = (0..ws.len()).collect();
    sort_by_place(ws, &mut order, first);
    let mut settled: Vec<usize> = Vec::with_capacity(ws.len());
    for i in order {
        let mut g = ws[i].grid;
        while g.y > 0 {
            let up = GridPos { y: g.y - 1, ..g };
            if settled.iter().any(|s| ws[*s].grid.overlaps(&up)) {
                break;
            }
            g = up;
        }
        ws[i].grid = g;
        settled.push(i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livedash_shared::dashboard::{Query, QuerySource, WidgetKind, WidgetOptions};

    fn w(id: &str, x: u32, y: u32, wd: u32, h: u32) -> Widget {
        Widget {
            id: id.into(),
            kind: WidgetKind::Kpi,
            title: String::new(),
            query: Query::new(QuerySource::Kpi, &["num_orders"]),
            options: WidgetOptions::default(),
            grid: GridPos { x, y, w: wd, h },
            extra: Default::default(),
        }
    }

    fn grid(ws: &[Widget], id: &str) -> (u32, u32, u32, u32) {
        let g = ws.iter().find(|w| w.id == id).unwrap().grid;
        (g.x, g.y, g.w, g.h)
    }

    fn no_overlap(ws: &[Widget]) {
        for (i, a) in ws.iter().enumerate() {
            for b in &ws[i + 1..] {
                assert!(!a.grid.overlaps(&b.grid), "{} overlaps {}", a.id, b.id);
            }
        }
    }

    /// A 1212 px grid with 12 px gaps: 100 px columns, 112 px apart;
    /// 40 px rows, 52 px apart.
    const M: GridMetrics = GridMetrics {
        width: 1332.0,
        col_gap: 12.0,
        row_px: 40.0,
        row_gap: 12.0,
    };

    #[test]
    fn a_point_falls_in_its_cell() {
        assert_eq!(M.col_step(), 112.0);
        assert_eq!(M.cell(0.0, 0.0), (0, 0));
        assert_eq!(M.cell(111.9, 51.9), (0, 0));
        assert_eq!(M.cell(112.0, 52.0), (1, 1));
        assert_eq!(M.cell(5000.0, 520.0), (11, 10));
        assert_eq!(M.cell(-30.0, -30.0), (0, 0));
    }

    #[test]
    fn pointer_travel_rounds_to_whole_cells_and_stays_on_the_grid() {
        let g = GridPos {
            x: 2,
            y: 3,
            w: 4,
            h: 5,
        };
        let m = |dx, dy| target(g, Gesture::Move, dx, dy, &M);
        assert_eq!(m(0.0, 0.0), g);
        assert_eq!(m(55.0, 25.0), g, "under half a cell: stays");
        assert_eq!((m(57.0, 27.0).x, m(57.0, 27.0).y), (3, 4));
        assert_eq!((m(-1000.0, -1000.0).x, m(-1000.0, -1000.0).y), (0, 0));
        assert_eq!(m(5000.0, 0.0).x, 8, "the right edge holds it");
        let r = |dx, dy| target(g, Gesture::Resize, dx, dy, &M);
        assert_eq!((r(224.0, 104.0).w, r(224.0, 104.0).h), (6, 7));
        assert_eq!((r(-5000.0, -5000.0).w, r(-5000.0, -5000.0).h), (1, 1));
        assert_eq!(r(5000.0, 0.0).w, 10);
        assert_eq!(r(0.0, 1e9).h, MAX_WIDGET_ROWS);
        assert_eq!((r(5000.0, 0.0).x, r(5000.0, 0.0).y), (2, 3));
    }

    #[test]
    fn a_dropped_widget_pushes_what_it_lands_on_down() {
        // a | b side by side, c below a.
        let ws = [w("a", 0, 0, 6, 4), w("b", 6, 0, 6, 4), w("c", 0, 4, 6, 3)];
        // c onto b's place: b goes below c, a stays.
        let out = place(
            &ws,
            "c",
            GridPos {
                x: 6,
                y: 0,
                w: 6,
                h: 3,
            },
        )
        .unwrap();
        assert_eq!(grid(&out, "c"), (6, 0, 6, 3));
        assert_eq!(grid(&out, "b"), (6, 3, 6, 4));
        assert_eq!(grid(&out, "a"), (0, 0, 6, 4));
        no_overlap(&out);
        // a wider over both: they go below it, side by side as before.
        let out = place(
            &ws,
            "a",
            GridPos {
                x: 0,
                y: 0,
                w: 12,
                h: 4,
            },
        )
        .unwrap();
        assert_eq!(grid(&out, "b"), (6, 4, 6, 4));
        assert_eq!(grid(&out, "c"), (0, 4, 6, 3));
        no_overlap(&out);
    }

    #[test]
    fn widgets_float_up_into_the_room_left_behind() {
        let ws = [w("a", 0, 0, 6, 4), w("b", 0, 4, 6, 4), w("c", 0, 8, 12, 2)];
        // a moves right: b floats to the top, c under the taller of them.
        let out = place(
            &ws,
            "a",
            GridPos {
                x: 6,
                y: 0,
                w: 6,
                h: 4,
            },
        )
        .unwrap();
        assert_eq!(grid(&out, "a"), (6, 0, 6, 4));
        assert_eq!(grid(&out, "b"), (0, 0, 6, 4));
        assert_eq!(grid(&out, "c"), (0, 4, 12, 2));
        // Dropped far below everything: it floats up under the others.
        let out = place(
            &ws,
            "a",
            GridPos {
                x: 0,
                y: 50,
                w: 6,
                h: 4,
            },
        )
        .unwrap();
        assert_eq!(grid(&out, "b"), (0, 0, 6, 4));
        assert_eq!(grid(&out, "c"), (0, 4, 12, 2));
        assert_eq!(grid(&out, "a"), (0, 6, 6, 4));
        // A resize that grows into c pushes it down.
        let out = place(
            &ws,
            "b",
            GridPos {
                x: 0,
                y: 4,
                w: 6,
                h: 6,
            },
        )
        .unwrap();
        assert_eq!(grid(&out, "c"), (0, 10, 12, 2));
        no_overlap(&out);
        assert!(place(
            &ws,
            "nope",
            GridPos {
                x: 0,
                y: 0,
                w: 1,
                h: 1
            }
        )
        .is_none());
    }

    #[test]
    fn every_drop_on_the_default_dashboard_leaves_no_overlap() {
        let d = livedash_shared::Dashboard::default_v1();
        for id in d.widgets.iter().map(|w| w.id.clone()) {
            let g = d.widget(&id).unwrap().grid;
            for x in 0..=(GRID_COLUMNS - g.w) {
                for y in [0, 3, 7, 20] {
                    let out = place(&d.widgets, &id, GridPos { x, y, ..g }).unwrap();
                    no_overlap(&out);
                    assert_eq!(out.len(), d.widgets.len());
                }
            }
        }
    }
}
