//! Dragging and resizing widgets with the pointer, end to end: WebDriver
//! pointer actions (W3C Actions: move, down, move, up) drag a widget by its
//! handle to other cells, where it pushes what it lands on down and the
//! grid compacts; its corner resizes another; the ghost shows the target
//! while the button is down; saved, reloaded: the stored `x/y/w/h` and the
//! page's grid lines are the new ones.

mod dash_common;

use dash_common::*;
use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use livedash_e2e::{create_dashboard, http_get, wait_for, Browser, Server};
use serde_json::{json, Value};
use std::time::Duration;

fn board() -> Value {
    json!({
        "uid": "ptr", "title": "Pointer",
        "widgets": [
            {"id": "orders", "kind": "kpi", "title": "Orders",
             "query": {"source": "kpi", "names": ["num_orders"]},
             "grid": {"x": 0, "y": 0, "w": 4, "h": 3}},
            {"id": "by-country", "kind": "bar", "title": "Revenue by country",
             "query": {"source": "breakdown", "by": "country"},
             "grid": {"x": 0, "y": 3, "w": 6, "h": 8}},
            {"id": "cpu", "kind": "gauge", "title": "CPU",
             "query": {"source": "system", "names": ["cpu_percent"]},
             "grid": {"x": 6, "y": 3, "w": 4, "h": 6}}
        ]
    })
}

/// Every widget's grid lines as the page lays it out:
/// `id → [column start, column end, row start, row end]`.
const GRID_LINES: &str = r#"
const out = {};
for (const w of document.querySelectorAll('[data-testid="widget"]')) {
  const s = getComputedStyle(w);
  out[w.dataset.widgetId] = [s.gridColumnStart, s.gridColumnEnd, s.gridRowStart, s.gridRowEnd];
}
return out;
"#;

/// `id → [x, y, w, h]` as grid lines (what [`GRID_LINES`] reads).
fn lines(places: &[(&str, [u32; 4])]) -> Value {
    let mut m = serde_json::Map::new();
    for (id, [x, y, w, h]) in places {
        m.insert(
            id.to_string(),
            json!([
                (x + 1).to_string(),
                format!("span {w}"),
                (y + 1).to_string(),
                format!("span {h}")
            ]),
        );
    }
    Value::Object(m)
}

/// The stored `id → [x, y, w, h]`.
fn stored_places(d: &Value) -> Value {
    let mut m = serde_json::Map::new();
    for w in d["widgets"].as_array().into_iter().flatten() {
        let g = &w["grid"];
        m.insert(s(&w["id"]), json!([g["x"], g["y"], g["w"], g["h"]]));
    }
    Value::Object(m)
}

/// Press on the element with `testid`, move by `half`, check the ghost
/// shows `ghost_half`, move on to `(dx, dy)` in all, release.
async fn drag(
    b: &Browser,
    testid: &str,
    half: (f64, f64),
    (dx, dy): (f64, f64),
    ghost_half: [u32; 4],
) -> Result<(), String> {
    b.js(&format!(
        "document.querySelector(\"[data-testid='{testid}']\").scrollIntoView({{block: 'center'}}); return true"
    ))
    .await;
    let el = b
        .client
        .find(fantoccini::Locator::Css(&format!(
            "[data-testid='{testid}']"
        )))
        .await
        .map_err(|e| format!("{testid}: {e}"))?;
    let step = Some(Duration::from_millis(150));
    let press = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: el,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveBy {
            duration: step,
            x: half.0.round(),
            y: half.1.round(),
        });
    b.client
        .perform_actions(press)
        .await
        .map_err(|e| format!("press and move {testid}: {e}"))?;
    let want = ghost_half.map(|n| n.to_string()).join(",");
    wait_for(&format!("the ghost at {want} halfway"), T, || async {
        let g = b
            .js("const g = document.querySelector('[data-testid=drop-ghost]'); return g ? g.dataset.grid : null")
            .await?;
        (g == json!(want)).then_some(())
    })
    .await?;
    let release = MouseActions::new("mouse".into())
        .then(PointerAction::MoveBy {
            duration: step,
            x: (dx - half.0.round()).round(),
            y: (dy - half.1.round()).round(),
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    b.client
        .perform_actions(release)
        .await
        .map_err(|e| format!("move and release {testid}: {e}"))?;
    wait_for("the ghost gone", T, || async {
        let g = b
            .js("return !!document.querySelector('[data-testid=drop-ghost]')")
            .await?;
        (g == json!(false)).then_some(())
    })
    .await
}

#[tokio::test]
async fn widgets_dragged_and_resized_by_pointer_are_saved_where_dropped() {
    let server = Server::start(&["--tick-ms", "200", "--admin-token", "adm1n"]);
    create_dashboard(server.port, Some("adm1n"), &board().to_string()).await;
    let b = Browser::start("dashboard_pointer").await;
    b.check(|| async {
        b.open_as_admin(&format!("{}/?d=ptr", server.url()), "adm1n").await?;
        wait_for("the three widgets", T, || async {
            (layout(&read(&b).await).len() == 3).then_some(())
        })
        .await?;
        click(&b, "edit-toggle").await?;
        // One column and one row step in pixels, from the grid itself.
        let m = b
            .js("const g = document.querySelector('[data-testid=dashboard]'); const s = getComputedStyle(g); \
                 return {col: (g.getBoundingClientRect().width + parseFloat(s.columnGap)) / 12, \
                         row: parseFloat(s.gridAutoRows) + parseFloat(s.rowGap)}")
            .await
            .ok_or("grid measures")?;
        let (col, row) = (m["col"].as_f64().ok_or("col")?, m["row"].as_f64().ok_or("row")?);
        // The KPI by its handle: 6 columns right, 3 rows down, onto the
        // gauge's place. Halfway (3 right, 1 down) the ghost shows (3, 1);
        // dropped at (6, 3) it pushes the gauge down, then
        // everything floats up: the KPI and the bars to the top, the
        // gauge under the KPI.
        drag(
            &b,
            "w-drag-orders",
            (3.0 * col, row),
            (6.0 * col, 3.0 * row),
            [3, 1, 4, 3],
        ).await?;
        let moved = lines(&[
            ("orders", [6, 0, 4, 3]),
            ("by-country", [0, 0, 6, 8]),
            ("cpu", [6, 3, 4, 6]),
        ]);
        wait_for("the layout after the drag", T, || async {
            (b.js(GRID_LINES).await? == moved).then_some(())
        })
        .await?;
        // The bars' corner: 2 columns wider, 2 rows taller; it now covers
        // the KPI's columns, so the KPI and then the gauge go below it.
        drag(
            &b,
            "w-resize-by-country",
            (col, row),
            (2.0 * col, 2.0 * row),
            [0, 0, 7, 9],
        ).await?;
        let want = [
            ("orders", [6, 10, 4, 3]),
            ("by-country", [0, 0, 8, 10]),
            ("cpu", [6, 13, 4, 6]),
        ];
        wait_for("the layout after the resize", T, || async {
            (b.js(GRID_LINES).await? == lines(&want)).then_some(())
        })
        .await?;
        click(&b, "dashboard-save").await?;
        wait_for("saved as version 2", T, || async {
            let v = b.app_attr("data-dashboard-version").await?;
            (v == "2").then_some(())
        })
        .await?;
        let body = http_get(server.port, "/api/dashboards/ptr").await.ok_or("GET")?;
        let stored: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        let expect = json!({"orders": [6, 10, 4, 3], "by-country": [0, 0, 8, 10], "cpu": [6, 13, 4, 6]});
        if stored_places(&stored) != expect || stored["version"] != 2 {
            return Err(format!("stored {stored}"));
        }
        b.client.refresh().await.map_err(|e| e.to_string())?;
        wait_for("the saved layout after a reload", T, || async {
            (b.js(GRID_LINES).await? == lines(&want)).then_some(())
        })
        .await?;
        Ok(())
    })
    .await;
}
