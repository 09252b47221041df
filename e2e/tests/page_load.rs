//! The page's own cost: time from navigation to a fully drawn dashboard
//! (every KPI card holding a number, every chart holding data) and the bytes
//! it downloads, measured inside Chromium on loopback.
//!
//! The browser is opened with `pageLoadStrategy: none`, so `goto` returns as
//! soon as the navigation is sent, and a script polls the new document every
//! 10 ms; `performance.now()` in that document counts from its navigation
//! start. A load whose first poll already found everything drawn is marked
//! `upper_bound` (the page was faster than the poll could see).
//!
//! This test checks that every load ends fully drawn with coherent data,
//! that no request of a cold load fails and that every bundle file comes
//! compressed; the time goal (≤ 700 ms) and the size goal are judged by
//! `cargo xtask bench`, which runs this test and reads
//! `target/e2e/page-load.json`.

use livedash_e2e::{Browser, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Cold loads, each in a fresh browser profile (empty HTTP cache).
const COLD: usize = 5;
/// Warm loads, one after another in the last browser.
const WARM: usize = 5;

/// Polls the new document until the dashboard is fully drawn; resolves with
/// the time and what was drawn, or `{stale: true}` when it runs in the
/// previous document (the navigation has not committed yet).
const POLL: &str = r#"
const done = arguments[arguments.length - 1];
const url = arguments[0];
if (window.__livedash_old || !location.href.startsWith(url)) { done({ stale: true }); return; }
const q = id => document.querySelector(`[data-testid="${id}"]`);
const t = id => (q(id) ? q(id).textContent.trim() : '');
const digit = s => /[0-9]/.test(s);
const kpis = ['kpi-num_orders', 'kpi-num_order_items', 'kpi-total_sales'];
function drawn() {
  if (!kpis.every(id => digit(t(id)))) return null;
  const boxes = Array.from(document.querySelectorAll('[data-testid^="chart-"]'));
  if (boxes.length < 3 || !window.echarts) return null;
  const charts = {};
  for (const el of boxes) {
    const i = echarts.getInstanceByDom(el);
    const o = i && i.getOption();
    const s = o && o.series && o.series[0];
    if (!s || !s.data || s.data.length == 0) return null;
    const axis = (o.xAxis && o.xAxis[0] && o.xAxis[0].data) || [];
    charts[el.dataset.testid] = { values: s.data, names: axis };
  }
  return { kpis: kpis.map(t), charts };
}
let polls = 0;
const deadline = performance.now() + 20000;
(function poll() {
  polls += 1;
  const d = drawn();
  if (d || performance.now() > deadline) {
    const res = performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'))
      .map(e => ({ name: e.name, status: e.responseStatus, transfer: e.transferSize, encoded: e.encodedBodySize, decoded: e.decodedBodySize,
        start: e.startTime, end: e.responseEnd }));
    done({ ms: performance.now(), drawn: d, upper_bound: polls == 1, resources: res });
    return;
  }
  setTimeout(poll, 10);
})();
"#;

/// One load: navigate and poll until drawn (retrying while the script runs
/// in the previous document).
async fn load(b: &Browser, url: &str) -> Result<Value, String> {
    // Mark the current document so the poll can tell it from the new one.
    let _ = b.js("window.__livedash_old = 1; return 1;").await;
    b.client.goto(url).await.map_err(|e| e.to_string())?;
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if Instant::now() > until {
            return Err(format!("{url}: no drawn dashboard within 30 s"));
        }
        match b.client.execute_async(POLL, vec![json!(url)]).await {
            Ok(v) if v["stale"] == true => tokio::time::sleep(Duration::from_millis(5)).await,
            Ok(v) if v["drawn"].is_null() => return Err(format!("not fully drawn in 20 s: {v}")),
            Ok(v) => return Ok(v),
            // The document went away under the script (the navigation
            // committed): poll the new one.
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// What was drawn is data a person can read: numbers in the KPI cards, bar
/// charts with one name per bar, sorted descending.
fn coherent(v: &Value) -> Result<(), String> {
    let d = &v["drawn"];
    for k in d["kpis"].as_array().into_iter().flatten() {
        let s = k.as_str().unwrap_or("");
        if !s.chars().any(|c| c.is_ascii_digit()) {
            return Err(format!("a KPI card without a number: {s:?}"));
        }
    }
    for id in [
        "chart-revenue-by-country",
        "chart-revenue-by-traffic-source",
    ] {
        let c = &d["charts"][id];
        let values: Vec<f64> = c["values"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        let names = c["names"].as_array().map(Vec::len).unwrap_or(0);
        if values.is_empty() || names != values.len() || values.windows(2).any(|w| w[0] < w[1]) {
            return Err(format!("{id} drawn incoherently: {c}"));
        }
    }
    Ok(())
}

/// Every request of a cold load succeeded (no 404 for a favicon or a
/// `config.json`), and every file of the bundle bigger than 1 KB came
/// compressed (the server's precompressed variants reach every file).
fn clean_and_compressed(v: &Value) -> Result<(), String> {
    let resources = v["resources"].as_array().cloned().unwrap_or_default();
    if resources.len() < 5 {
        return Err(format!("too few requests seen: {resources:?}"));
    }
    for r in &resources {
        let name = r["name"].as_str().unwrap_or("");
        let status = r["status"].as_u64().unwrap_or(0);
        if !(200..400).contains(&status) {
            return Err(format!("{name} answered {status}"));
        }
        let decoded = r["decoded"].as_f64().unwrap_or(0.0);
        let encoded = r["encoded"].as_f64().unwrap_or(0.0);
        let bundle_file = !name.contains("/api/") && !name.contains("/ws");
        if bundle_file && decoded > 1024.0 && encoded >= decoded {
            return Err(format!(
                "{name} came uncompressed: {encoded} of {decoded} bytes"
            ));
        }
    }
    Ok(())
}

/// The order of a cold load's requests that keeps a slow network's
/// bandwidth for what draws the first data: `config.json` asked once (the
/// preload the page reads), and ECharts' script only after the wasm and
/// the dashboard arrived (the page inserts it once the first data is
/// painted; index.html does not load it).
fn first_data_first(v: &Value) -> Result<(), String> {
    let resources = v["resources"].as_array().cloned().unwrap_or_default();
    let named = |part: &str| -> Vec<&Value> {
        resources
            .iter()
            .filter(|r| r["name"].as_str().is_some_and(|n| n.contains(part)))
            .collect()
    };
    let configs = named("/config.json").len();
    if configs != 1 {
        return Err(format!("config.json requested {configs} times"));
    }
    let one = |part: &str| -> Result<(f64, f64), String> {
        let r = named(part)
            .first()
            .copied()
            .ok_or_else(|| format!("no request for {part}"))?;
        Ok((
            r["start"].as_f64().unwrap_or(0.0),
            r["end"].as_f64().unwrap_or(f64::MAX),
        ))
    };
    let (echarts_start, _) = one("/echarts.min.js")?;
    for before in ["_bg.wasm", "/api/dashboards/default"] {
        let (_, end) = one(before)?;
        if echarts_start < end {
            return Err(format!(
                "ECharts asked for at {echarts_start} ms, before {before} arrived at {end} ms"
            ));
        }
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::test]
async fn the_page_is_fully_drawn_soon_after_navigation() {
    // Several orders per second so both bar charts hold bars from the start.
    let server = Server::start(&["--orders-per-sec", "20"]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let url = format!("{}/", server.url().trim_end_matches('/'));
    let mut cold = Vec::new();
    let mut first = Value::Null;
    let mut last = None;
    for i in 0..COLD {
        let b = Browser::start_no_wait(&format!("page_load_cold{i}")).await;
        let v = load(&b, &url)
            .await
            .unwrap_or_else(|e| panic!("cold load {i}: {e}"));
        coherent(&v).unwrap_or_else(|e| panic!("cold load {i}: {e}"));
        clean_and_compressed(&v).unwrap_or_else(|e| panic!("cold load {i}: {e}"));
        first_data_first(&v).unwrap_or_else(|e| panic!("cold load {i}: {e}"));
        if i == 0 {
            first = v.clone();
        }
        cold.push(v);
        last = Some(b);
    }
    let b = last.expect("a browser");
    let mut warm = Vec::new();
    for i in 0..WARM {
        let v = load(&b, &url)
            .await
            .unwrap_or_else(|e| panic!("warm load {i}: {e}"));
        coherent(&v).unwrap_or_else(|e| panic!("warm load {i}: {e}"));
        warm.push(v);
    }
    let ms = |v: &[Value]| {
        v.iter()
            .filter_map(|x| x["ms"].as_f64())
            .collect::<Vec<_>>()
    };
    let (cold_ms, warm_ms) = (ms(&cold), ms(&warm));
    let upper = |v: &[Value]| v.iter().filter(|x| x["upper_bound"] == true).count();
    // What a first visit downloads, as the server sent it (brotli where the
    // browser accepts it) and as the page uses it.
    let resources = first["resources"].clone();
    let sum = |k: &str| {
        resources
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r[k].as_f64())
            .sum::<f64>()
    };
    let report = json!({
        "cold_ms": cold_ms,
        "warm_ms": warm_ms,
        "cold_median_ms": median(cold_ms.clone()),
        "cold_max_ms": cold_ms.iter().cloned().fold(0.0, f64::max),
        "warm_median_ms": median(warm_ms.clone()),
        "warm_max_ms": warm_ms.iter().cloned().fold(0.0, f64::max),
        "upper_bound_loads": upper(&cold) + upper(&warm),
        "first_visit_transfer_bytes": sum("transfer"),
        "first_visit_encoded_bytes": sum("encoded"),
        "first_visit_decoded_bytes": sum("decoded"),
        "resources": resources,
    });
    println!("page load: {report:#}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e");
    std::fs::create_dir_all(&dir).expect("target/e2e");
    std::fs::write(dir.join("page-load.json"), report.to_string()).expect("page-load.json");
}
