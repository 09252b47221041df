//! Helpers shared by the dashboard end-to-end tests (`dashboards.rs`,
//! `dashboard_editing.rs`): read every widget in one script, find one,
//! compare money, click and select by test id.

#![allow(dead_code)]

use livedash_e2e::{http_get, wait_for, Browser};
use serde_json::{json, Value};
use std::time::Duration;

pub const T: Duration = Duration::from_secs(20);

/// Every widget (id, kind, grid cell), each chart's option numbers and
/// each table's rows, read in one round trip.
pub const READ_WIDGETS: &str = r#"
const q = id => document.querySelector(`[data-testid="${id}"]`);
const opt = el => { const i = el && window.echarts && echarts.getInstanceByDom(el); return i ? i.getOption() : null; };
const widgets = [...document.querySelectorAll('[data-testid="widget"]')].map(w => {
  const id = w.dataset.widgetId;
  const body = q(id);
  const o = body && body.classList.contains('chart') ? opt(body) : null;
  const table = body && body.tagName === 'TABLE'
    ? [...body.querySelectorAll('tbody tr')].map(tr => [...tr.children].map(td => td.textContent.trim()))
    : null;
  return {
    id, kind: w.dataset.widgetKind,
    col: getComputedStyle(w).gridColumnStart, span: getComputedStyle(w).gridColumnEnd,
    text: body ? body.textContent.trim() : null,
    series: o ? o.series.map(s => ({ type: s.type, name: s.name, data: s.data })) : null,
    axis: o && o.xAxis && o.xAxis[0] ? o.xAxis[0].data : null,
    table,
  };
});
const app = q('app');
return {
  widgets,
  dashboard: app ? app.dataset.dashboard : null,
  seq_orders: app ? Number(app.dataset.seqOrders) : -1,
  state: app ? app.dataset.state : null,
  note: q('dashboard-note') ? q('dashboard-note').textContent : null,
};
"#;

pub async fn read(b: &Browser) -> Value {
    b.js(READ_WIDGETS).await.unwrap_or(Value::Null)
}

pub fn widget<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["widgets"]
        .as_array()
        .and_then(|a| a.iter().find(|w| w["id"] == id))
        .unwrap_or(&Value::Null)
}

pub fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `$1,234.50` → 1234.5.
pub fn money(s: &str) -> Option<f64> {
    s.strip_prefix('$')?.replace(',', "").parse().ok()
}

/// A dashboard with one widget of most kinds, filtered to two countries
/// in its records table.
pub fn sales_dashboard() -> Value {
    json!({
        "uid": "sales",
        "title": "Sales",
        "widgets": [
            {"id": "orders", "kind": "kpi", "title": "Orders",
             "query": {"source": "kpi", "names": ["num_orders"]},
             "grid": {"x": 0, "y": 0, "w": 3, "h": 3}},
            {"id": "viewers", "kind": "clients", "title": "Viewers",
             "query": {"source": "clients"},
             "grid": {"x": 3, "y": 0, "w": 3, "h": 3}},
            {"id": "cpu", "kind": "gauge", "title": "CPU",
             "query": {"source": "system", "names": ["cpu_percent"]},
             "options": {"min": 0, "max": 100, "unit": "%"},
             "grid": {"x": 6, "y": 0, "w": 6, "h": 5}},
            {"id": "by-country", "kind": "pie", "title": "Revenue by country",
             "query": {"source": "breakdown", "by": "country"},
             "grid": {"x": 0, "y": 5, "w": 6, "h": 8}},
            {"id": "by-source", "kind": "table", "title": "Revenue by source",
             "query": {"source": "breakdown", "by": "traffic_source"},
             "grid": {"x": 6, "y": 5, "w": 6, "h": 8}},
            {"id": "recent", "kind": "table", "title": "Recent orders",
             "query": {"source": "records", "filters": {"country": ["China", "United States"]}},
             "options": {"limit": 5},
             "grid": {"x": 0, "y": 13, "w": 12, "h": 6}},
            {"id": "future", "kind": "heatmap", "title": "From a newer page",
             "query": {"source": "kpi", "names": ["num_orders"]},
             "grid": {"x": 0, "y": 19, "w": 12, "h": 3}}
        ]
    })
}

pub fn s(v: &Value) -> String {
    v.as_str().unwrap_or("").to_string()
}

pub async fn click(b: &Browser, testid: &str) -> Result<(), String> {
    // The sticky top bar may cover a control scrolled to the very top.
    b.js(&format!(
        "const e = document.querySelector(\"[data-testid='{testid}']\"); if (e) e.scrollIntoView({{block: 'center'}}); return true"
    ))
    .await;
    b.client
        .find(fantoccini::Locator::Css(&format!(
            "[data-testid='{testid}']"
        )))
        .await
        .map_err(|e| format!("{testid}: {e}"))?
        .click()
        .await
        .map_err(|e| format!("click {testid}: {e}"))?;
    Ok(())
}

pub async fn select(b: &Browser, testid: &str, value: &str) -> Result<(), String> {
    b.client
        .find(fantoccini::Locator::Css(&format!(
            "[data-testid='{testid}']"
        )))
        .await
        .map_err(|e| format!("{testid}: {e}"))?
        .select_by_value(value)
        .await
        .map_err(|e| format!("select {value} in {testid}: {e}"))?;
    Ok(())
}

/// `(id, kind, grid column start, grid column end)` of every widget.
pub fn layout(v: &Value) -> Vec<(String, String, String, String)> {
    v["widgets"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|w| (s(&w["id"]), s(&w["kind"]), s(&w["col"]), s(&w["span"])))
                .collect()
        })
        .unwrap_or_default()
}

/// The pie of `by-country`-like widget `id` equals the server's revenue by
/// country at the same orders seq.
pub async fn pie_matches_server(b: &Browser, port: u16, id: &str) -> Result<(), String> {
    wait_for(
        &format!("{id} equal to the server's revenue by country"),
        T,
        || async {
            let v = read(b).await;
            let body = http_get(port, "/api/snapshot").await?;
            let snap: Value = serde_json::from_str(&body).ok()?;
            if snap["seq"]["orders"].as_u64() != v["seq_orders"].as_u64() {
                return None;
            }
            let pie: Vec<(String, f64)> = widget(&v, id)["series"][0]["data"]
                .as_array()?
                .iter()
                .map(|d| (s(&d["name"]), d["value"].as_f64().unwrap_or(f64::NAN)))
                .collect();
            let server: Vec<(String, f64)> = snap["orders"]["by_country"]
                .as_array()?
                .iter()
                .map(|r| (s(&r["name"]), cents(r["revenue"].as_f64().unwrap_or(0.0))))
                .collect();
            (!pie.is_empty() && pie == server).then_some(())
        },
    )
    .await
}

/// The `textContent` of the element with `testid` (as written, whatever
/// CSS does to its case).
pub async fn content(b: &Browser, testid: &str) -> Option<String> {
    b.js(&format!(
        "const e = document.querySelector(\"[data-testid='{testid}']\"); return e ? e.textContent : null"
    ))
    .await?
    .as_str()
    .map(str::to_string)
}
