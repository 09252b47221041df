//! Dashboards in a real headless Chromium against a real server: the page
//! draws the dashboard the URL names from the widget catalogue, with the
//! server's numbers in its charts and tables; the theme switch recolours
//! the charts; a chart exports exactly what it shows.

mod dash_common;

use dash_common::*;
use livedash_e2e::{create_dashboard, http_get, wait_for, Browser, Server};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn the_default_dashboard_is_the_v1_page_from_the_catalogue() {
    let server = Server::start(&["--tick-ms", "200"]);
    let b = Browser::start("dashboard_default").await;
    b.check(|| async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        let v = wait_for("the default dashboard with data", T, || async {
            let v = read(&b).await;
            let bars = widget(&v, "chart-revenue-by-country");
            (v["state"] == "live"
                && bars["series"][0]["data"]
                    .as_array()
                    .is_some_and(|d| !d.is_empty()))
            .then_some(v)
        })
        .await?;
        if v["dashboard"] != "default" || v["note"] != Value::Null {
            return Err(format!("not the server's default: {v}"));
        }
        let kinds: Vec<(String, String)> = v["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| (s(&w["id"]), s(&w["kind"])))
            .collect();
        let want: Vec<(String, String)> = [
            ("kpi-num_orders", "kpi"),
            ("kpi-num_order_items", "kpi"),
            ("kpi-total_sales", "kpi"),
            ("chart-revenue-by-country", "bar"),
            ("chart-revenue-by-traffic-source", "bar"),
            ("system", "system"),
            ("chart-system", "line"),
            ("live-counter", "counter"),
            ("feed", "feed"),
            ("chart-series", "series"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        if kinds != want {
            return Err(format!("widgets {kinds:?}"));
        }
        // Placed by their grid: the traffic-source bars start at column 7.
        let src = widget(&v, "chart-revenue-by-traffic-source");
        if src["col"] != "7" {
            return Err(format!("traffic-source bars at {src}"));
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_dashboard_named_in_the_url_draws_the_servers_numbers() {
    let server = Server::start(&["--tick-ms", "200"]);
    create_dashboard(server.port, None, &sales_dashboard().to_string()).await;
    let b = Browser::start("dashboard_by_url").await;
    b.check(|| async {
        b.client
            .goto(&format!("{}/?d=sales", server.url()))
            .await
            .map_err(|e| e.to_string())?;
        // Page and server at the same orders seq: the pie and the
        // breakdown table hold exactly the server's revenue, in cents.
        let (v, snap) = wait_for("the page and the server at the same seq", T, || async {
            let v = read(&b).await;
            let body = http_get(server.port, "/api/snapshot").await?;
            let snap: Value = serde_json::from_str(&body).ok()?;
            let pie = &widget(&v, "by-country")["series"][0]["data"];
            let ready = v["state"] == "live"
                && pie.as_array().is_some_and(|d| !d.is_empty())
                && snap["seq"]["orders"].as_u64() == v["seq_orders"].as_u64();
            ready.then_some((v, snap))
        })
        .await?;
        if v["dashboard"] != "sales" {
            return Err(format!("dashboard {}", v["dashboard"]));
        }
        let ids: Vec<String> = v["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| s(&w["id"]))
            .collect();
        if ids
            != [
                "orders",
                "viewers",
                "cpu",
                "by-country",
                "by-source",
                "recent",
                "future",
            ]
        {
            return Err(format!("widgets {ids:?}"));
        }
        let pie: Vec<(String, f64)> = widget(&v, "by-country")["series"][0]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (s(&d["name"]), d["value"].as_f64().unwrap_or(f64::NAN)))
            .collect();
        let server_rows = |k: &str| -> Vec<(String, f64)> {
            snap["orders"][k]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|r| (s(&r["name"]), cents(r["revenue"].as_f64().unwrap_or(0.0))))
                        .collect()
                })
                .unwrap_or_default()
        };
        if pie != server_rows("by_country") {
            return Err(format!(
                "pie {pie:?} vs server {:?}",
                server_rows("by_country")
            ));
        }
        let table: Vec<(String, f64)> = widget(&v, "by-source")["table"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    s(&r[0]),
                    money(r[1].as_str().unwrap_or("")).unwrap_or(f64::NAN),
                )
            })
            .collect();
        if table != server_rows("by_traffic_source") {
            return Err(format!(
                "table {table:?} vs server {:?}",
                server_rows("by_traffic_source")
            ));
        }
        // The KPI shows the server's count.
        let orders = snap["orders"]["num_orders"].as_u64().unwrap_or(0);
        let shown = s(&widget(&v, "orders")["text"]).replace(',', "");
        if shown != orders.to_string() {
            return Err(format!("KPI {shown} vs server {orders}"));
        }
        // The gauge holds one CPU value within its bounds.
        let g = &widget(&v, "cpu")["series"][0];
        let cpu = g["data"][0]["value"].as_f64().unwrap_or(-1.0);
        if g["type"] != "gauge" || !(0.0..=100.0).contains(&cpu) {
            return Err(format!("gauge {g}"));
        }
        // The unknown kind is a placeholder that says so.
        let future = widget(&v, "future");
        if future["kind"] != "heatmap" || !s(&future["text"]).contains("heatmap") {
            return Err(format!("placeholder {future}"));
        }
        // Recent orders arrive (the page asked for records), filtered and cut.
        let rows = wait_for("recent orders in the table", T, || async {
            let v = read(&b).await;
            let rows = widget(&v, "recent")["table"].as_array().cloned()?;
            (!rows.is_empty()).then_some(rows)
        })
        .await?;
        if rows.len() > 5 {
            return Err(format!("{} rows, limit 5", rows.len()));
        }
        for r in &rows {
            let country = s(&r[2]);
            let price = money(r[6].as_str().unwrap_or(""));
            if !(country == "China" || country == "United States") || price.is_none_or(|p| p <= 0.0)
            {
                return Err(format!("row {r} breaks the filter or has no price"));
            }
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_missing_dashboard_falls_back_to_the_default_and_says_so() {
    let server = Server::start(&["--tick-ms", "200"]);
    let b = Browser::start("dashboard_missing").await;
    b.check(|| async {
        b.client
            .goto(&format!("{}/?d=nope", server.url()))
            .await
            .map_err(|e| e.to_string())?;
        let v = wait_for("the fallback", T, || async {
            let v = read(&b).await;
            (v["widgets"].as_array().is_some_and(|w| w.len() == 10)).then_some(v)
        })
        .await?;
        let note = s(&v["note"]);
        if !note.contains("nope") || v["dashboard"] != "default" {
            return Err(format!("note {note:?}, dashboard {}", v["dashboard"]));
        }
        Ok(())
    })
    .await;
}

/// The revenue-by-country chart's ECharts instance id, axis label colour,
/// and the root's theme.
const READ_THEME: &str = r#"
const el = document.querySelector('[data-testid="chart-revenue-by-country"]');
const i = el && window.echarts && echarts.getInstanceByDom(el);
const o = i ? i.getOption() : null;
return {
  theme: document.documentElement.dataset.theme || null,
  instance: el ? el.getAttribute('_echarts_instance_') : null,
  label: o ? o.xAxis[0].axisLabel.color : null,
  bars: o ? (o.series[0].data || []).length : 0,
  bg: getComputedStyle(document.body).backgroundColor,
  stored: localStorage.getItem('livedash.theme'),
  href: location.href,
};
"#;

async fn theme(b: &Browser) -> Value {
    b.js(READ_THEME).await.unwrap_or(Value::Null)
}

#[tokio::test]
async fn switching_the_theme_recolours_the_charts_and_is_kept() {
    let server = Server::start(&["--tick-ms", "200"]);
    let b = Browser::start("dashboard_theme").await;
    b.check(|| async {
        b.client
            .goto(&format!("{}/?theme=dark", server.url()))
            .await
            .map_err(|e| e.to_string())?;
        let dark = wait_for("a dark chart with bars", T, || async {
            let v = theme(&b).await;
            (v["theme"] == "dark" && v["bars"].as_u64() > Some(0)).then_some(v)
        })
        .await?;
        let pick = b
            .client
            .find(fantoccini::Locator::Css("[data-testid='theme-picker']"))
            .await
            .map_err(|e| e.to_string())?;
        pick.select_by_value("light")
            .await
            .map_err(|e| e.to_string())?;
        // A new ECharts instance (the theme is fixed at init) in other
        // colours, with its data; the page's surface changed too.
        let light = wait_for("the chart re-created in light colours", T, || async {
            let v = theme(&b).await;
            (v["theme"] == "light"
                && v["instance"] != dark["instance"]
                && v["label"] != dark["label"]
                && v["bars"].as_u64() > Some(0))
            .then_some(v)
        })
        .await?;
        if light["bg"] == dark["bg"] {
            return Err(format!("the page background stayed {}", light["bg"]));
        }
        if light["stored"] != "light" || !s(&light["href"]).contains("theme=light") {
            return Err(format!("the pick was not kept: {light}"));
        }
        // Without ?theme= the stored pick applies; with it, the URL wins.
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        wait_for("light from localStorage", T, || async {
            let v = theme(&b).await;
            (v["theme"] == "light" && v["label"] == light["label"]).then_some(())
        })
        .await?;
        b.client
            .goto(&format!("{}/?theme=dark", server.url()))
            .await
            .map_err(|e| e.to_string())?;
        wait_for("dark from the URL", T, || async {
            let v = theme(&b).await;
            (v["theme"] == "dark" && v["label"] == dark["label"]).then_some(())
        })
        .await
    })
    .await;
}

/// Capture what the page downloads: every Blob given to
/// `URL.createObjectURL`, and the file names of `<a download>` clicks.
const CAPTURE_DOWNLOADS: &str = r#"
window.__blobs = []; window.__names = [];
const make = URL.createObjectURL.bind(URL);
URL.createObjectURL = b => { window.__blobs.push(b); return make(b); };
HTMLAnchorElement.prototype.click = function () { window.__names.push(this.download); };
return true;
"#;

#[tokio::test]
async fn a_chart_exports_exactly_the_numbers_it_shows() {
    let server = Server::start(&["--tick-ms", "200"]);
    let b = Browser::start("dashboard_export").await;
    b.check(|| async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        wait_for("bars", T, || async {
            let v = read(&b).await;
            let d = &widget(&v, "chart-revenue-by-country")["series"][0]["data"];
            d.as_array().is_some_and(|d| d.len() >= 2).then_some(())
        })
        .await?;
        // Pause: the numbers hold still while they are compared.
        b.client
            .find(fantoccini::Locator::Css("[data-testid='pause-toggle']"))
            .await
            .map_err(|e| e.to_string())?
            .click()
            .await
            .map_err(|e| e.to_string())?;
        tokio::time::sleep(Duration::from_millis(600)).await;
        b.js(CAPTURE_DOWNLOADS).await.ok_or("capture")?;
        for id in ["export-csv-chart-revenue-by-country", "export-json-chart-revenue-by-country"] {
            b.client
                .find(fantoccini::Locator::Css(&format!("[data-testid='{id}']")))
                .await
                .map_err(|e| e.to_string())?
                .click()
                .await
                .map_err(|e| e.to_string())?;
        }
        let files = b
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 Promise.all(window.__blobs.map(b => b.text())).then(t => done({texts: t, names: window.__names, types: window.__blobs.map(b => b.type)}));",
                vec![],
            )
            .await
            .map_err(|e| e.to_string())?;
        let v = read(&b).await;
        let w = widget(&v, "chart-revenue-by-country");
        let names: Vec<String> = w["axis"].as_array().unwrap().iter().map(s).collect();
        let values: Vec<f64> = w["series"][0]["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        if files["names"] != json!(["livedash-chart-revenue-by-country.csv", "livedash-chart-revenue-by-country.json"])
            || files["types"] != json!(["text/csv", "application/json"])
        {
            return Err(format!("downloads {files}"));
        }
        let csv = s(&files["texts"][0]);
        let mut lines = csv.lines();
        if lines.next() != Some("category,Revenue") {
            return Err(format!("CSV header: {csv}"));
        }
        let rows: Vec<(String, f64)> = lines
            .map(|l| {
                let (n, v) = l.rsplit_once(',').unwrap_or((l, ""));
                (n.trim_matches('"').to_string(), v.parse().unwrap_or(f64::NAN))
            })
            .collect();
        let shown: Vec<(String, f64)> = names.into_iter().zip(values).collect();
        if rows != shown {
            return Err(format!("CSV {rows:?} vs chart {shown:?}"));
        }
        let json_rows: Value = serde_json::from_str(&s(&files["texts"][1])).map_err(|e| e.to_string())?;
        let from_json: Vec<(String, f64)> = json_rows
            .as_array()
            .ok_or("JSON is not an array")?
            .iter()
            .map(|r| (s(&r["category"]), r["Revenue"].as_f64().unwrap_or(f64::NAN)))
            .collect();
        if from_json != shown {
            return Err(format!("JSON {from_json:?} vs chart {shown:?}"));
        }
        Ok(())
    })
    .await;
}
