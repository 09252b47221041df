//! Dragging and resizing widgets with a pointer (mouse, pen, touch): a
//! handle in the widget's tools moves it, its bottom-right corner resizes
//! it. On `pointerdown` the page listens to the window for the moves and
//! the release (and captures the pointer), wherever the pointer goes; while it moves, a ghost
//! shows the cells the widget will take; on release the page applies one
//! [`Edit::Place`] (what it lands on is pushed down, the grid compacted).
//! The arithmetic is pure, in [`crate::layout`]; the keyboard and the
//! buttons keep working as before.

use crate::edit::Edit;
use crate::layout::{self, Gesture, GridMetrics};
use gloo_events::EventListener;
use livedash_shared::dashboard::{GridPos, Widget, GRID_ROW_PX};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use yew::prelude::*;

/// A pointer drag in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Drag {
    /// The widget being moved or resized.
    pub id: String,
    /// Moving or resizing.
    pub gesture: Gesture,
    /// Its place when the drag started.
    pub start: GridPos,
    /// Where the pointer went down (client pixels).
    pub x0: f64,
    /// Where the pointer went down (client pixels).
    pub y0: f64,
    /// The grid's measures, read when the drag started.
    pub metrics: GridMetrics,
    /// Where it goes if released now (the ghost shows it).
    pub to: GridPos,
}

/// The page's drag state and where the finished drag goes.
#[derive(Clone)]
pub struct DragCx {
    /// The drag in progress, if any (what the page draws: the ghost).
    pub state: UseStateHandle<Option<Drag>>,
    /// Receives the [`Edit::Place`] of a finished drag.
    pub on_edit: Callback<Edit>,
    /// The drag as the window's listeners see it, and those listeners
    /// (the moves and the release are listened to on the window while a
    /// drag lasts, so a re-render of the widget cannot lose them).
    pub live: Rc<RefCell<Live>>,
}

/// What the window's listeners share during a drag.
#[derive(Default)]
pub struct Live {
    /// The drag in progress.
    drag: Option<Drag>,
    /// `pointermove`, `pointerup`, `pointercancel` on the window.
    listeners: Vec<EventListener>,
}

/// `12px` → 12.0; anything else (`normal`, `auto`) → `or`.
fn px(v: &str, or: f64) -> f64 {
    crate::number::parse_f64(v.trim().trim_end_matches("px")).unwrap_or(or)
}

/// The measures of the grid that holds `el`.
fn metrics_of(el: &web_sys::Element) -> Option<GridMetrics> {
    let grid = el.closest(".dash-grid").ok()??;
    let style = web_sys::window()?.get_computed_style(&grid).ok()??;
    let get = |name: &str| style.get_property_value(name).unwrap_or_default();
    Some(GridMetrics {
        width: grid.get_bounding_client_rect().width(),
        col_gap: px(&get("column-gap"), 0.0),
        row_px: px(&get("grid-auto-rows"), GRID_ROW_PX as f64),
        row_gap: px(&get("row-gap"), 0.0),
    })
}

fn on_down(w: &Widget, gesture: Gesture, cx: &DragCx) -> Callback<PointerEvent> {
    let (id, start, cx) = (w.id.clone(), w.grid, cx.clone());
    Callback::from(move |e: PointerEvent| {
        if e.button() != 0 {
            return;
        }
        let Some(el) = e.target_dyn_into::<web_sys::Element>() else {
            return;
        };
        let (Some(metrics), Some(window)) = (metrics_of(&el), web_sys::window()) else {
            return;
        };
        e.prevent_default();
        let _ = el.set_pointer_capture(e.pointer_id());
        let d = Drag {
            id: id.clone(),
            gesture,
            start,
            x0: e.client_x() as f64,
            y0: e.client_y() as f64,
            metrics,
            to: start,
        };
        let listen = |name: &'static str, f: fn(&DragCx, &PointerEvent)| {
            let cx = cx.clone();
            EventListener::new(&window, name, move |ev| {
                if let Some(pe) = ev.dyn_ref::<PointerEvent>() {
                    f(&cx, pe);
                }
            })
        };
        let listeners = vec![
            listen("pointermove", moved),
            listen("pointerup", released),
            listen("pointercancel", cancelled),
        ];
        *cx.live.borrow_mut() = Live {
            drag: Some(d.clone()),
            listeners,
        };
        cx.state.set(Some(d));
    })
}

/// Where the drag goes with the pointer at `e`.
fn to_at(d: &Drag, e: &PointerEvent) -> GridPos {
    let dx = e.client_x() as f64 - d.x0;
    let dy = e.client_y() as f64 - d.y0;
    layout::target(d.start, d.gesture, dx, dy, &d.metrics)
}

fn moved(cx: &DragCx, e: &PointerEvent) {
    let mut live = cx.live.borrow_mut();
    let Some(d) = live.drag.as_mut() else {
        return;
    };
    let to = to_at(d, e);
    if to != d.to {
        d.to = to;
        cx.state.set(Some(d.clone()));
    }
}

/// End the drag: forget it, and drop the window's listeners once the
/// current one has returned (a listener must not drop itself).
fn finish(cx: &DragCx) -> Option<Drag> {
    let d = cx.live.borrow_mut().drag.take();
    cx.state.set(None);
    let live = cx.live.clone();
    wasm_bindgen_futures::spawn_local(async move {
        if live.borrow().drag.is_none() {
            live.borrow_mut().listeners.clear();
        }
    });
    d
}

fn released(cx: &DragCx, e: &PointerEvent) {
    let Some(d) = finish(cx) else {
        return;
    };
    // The release's own position counts even if no move reported it.
    let to = to_at(&d, e);
    if to != d.start {
        cx.on_edit.emit(Edit::Place(d.id, to));
    }
}

fn cancelled(cx: &DragCx, _: &PointerEvent) {
    finish(cx);
}

/// The move handle, in the widget's tools.
pub fn handle(w: &Widget, cx: &DragCx) -> Html {
    html! {
        <span class="drag-handle" data-testid={format!("w-drag-{}", w.id)} title="Drag to move"
              aria-hidden="true" onpointerdown={on_down(w, Gesture::Move, cx)}>
            { "⠿" }
        </span>
    }
}

/// The resize corner, at the widget's bottom right.
pub fn corner(w: &Widget, cx: &DragCx) -> Html {
    html! {
        <span class="resize-corner" data-testid={format!("w-resize-{}", w.id)} title="Drag to resize"
              aria-hidden="true" onpointerdown={on_down(w, Gesture::Resize, cx)}>
        </span>
    }
}

/// Where the dragged widget will go, drawn under the widgets.
pub fn ghost(cx: &DragCx) -> Option<Html> {
    let d = (*cx.state).as_ref()?;
    Some(html! {
        <div class="drop-ghost" key="drop-ghost" data-testid="drop-ghost" aria-hidden="true"
             data-grid={format!("{},{},{},{}", d.to.x, d.to.y, d.to.w, d.to.h)}
             style={super::grid_style(&d.to)}></div>
    })
}

/// Whether `id` is the widget being dragged (drawn see-through).
pub fn is_dragged(cx: Option<&DragCx>, id: &str) -> bool {
    cx.and_then(|c| (*c.state).as_ref())
        .is_some_and(|d| d.id == id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pixel_values_parse() {
        assert_eq!(super::px("12px", 0.0), 12.0);
        assert_eq!(super::px(" 40px ", 0.0), 40.0);
        assert_eq!(super::px("normal", 7.0), 7.0);
    }
}
