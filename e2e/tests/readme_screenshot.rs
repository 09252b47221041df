//! The README's screenshot, taken from a real browser against a real
//! server: a custom dashboard (KPIs, a line, bars, a pie, a gauge, the
//! recent orders table) in the light theme with a filter applied from the
//! URL. The test checks what the picture must show (the light theme, the
//! filter chip, every chart with data, the table full) before it saves `target/e2e/dashboard-light.png`; with
//! `LIVEDASH_UPDATE_DOCS=1` it also writes `docs/dashboard-light.png`.

mod dash_common;

use dash_common::*;
use livedash_e2e::{create_dashboard, wait_for, Browser, Server};
use serde_json::{json, Value};
use std::time::Duration;

fn board() -> Value {
    let w = |id: &str, kind: &str, title: &str, query: Value, grid: [u32; 4]| {
        json!({"id": id, "kind": kind, "title": title, "query": query,
               "grid": {"x": grid[0], "y": grid[1], "w": grid[2], "h": grid[3]}})
    };
    let mut ws = vec![
        w(
            "orders",
            "kpi",
            "Orders",
            json!({"source": "kpi", "names": ["num_orders"]}),
            [0, 0, 3, 3],
        ),
        w(
            "items",
            "kpi",
            "Order items",
            json!({"source": "kpi", "names": ["num_order_items"]}),
            [3, 0, 3, 3],
        ),
        w(
            "sales",
            "kpi",
            "Total sales",
            json!({"source": "kpi", "names": ["total_sales"]}),
            [6, 0, 3, 3],
        ),
        w(
            "viewers",
            "clients",
            "Viewers",
            json!({"source": "clients"}),
            [9, 0, 3, 3],
        ),
        w(
            "by-country",
            "bar",
            "Revenue by country",
            json!({"source": "breakdown", "by": "country"}),
            [0, 3, 5, 8],
        ),
        w(
            "by-source",
            "pie",
            "Revenue by traffic source",
            json!({"source": "breakdown", "by": "traffic_source"}),
            [5, 3, 4, 8],
        ),
        w(
            "cpu",
            "gauge",
            "CPU",
            json!({"source": "system", "names": ["cpu_percent"]}),
            [9, 3, 3, 8],
        ),
        w(
            "host",
            "area",
            "CPU and memory",
            json!({"source": "system", "names": ["cpu_percent", "memory_percent"]}),
            [0, 11, 6, 7],
        ),
        w(
            "recent",
            "table",
            "Recent orders",
            json!({"source": "records"}),
            [6, 11, 6, 7],
        ),
    ];
    ws[6]["options"] = json!({"min": 0, "max": 100, "unit": "%"});
    ws[7]["options"] = json!({"min": 0, "max": 100, "unit": "%"});
    ws[8]["options"] = json!({"limit": 6});
    json!({"uid": "shop", "title": "Shop floor", "widgets": ws})
}

#[tokio::test]
async fn the_readme_screenshot_shows_a_filtered_custom_dashboard_in_the_light_theme() {
    let server = Server::start(&["--tick-ms", "500"]);
    create_dashboard(server.port, None, &board().to_string()).await;
    let b = Browser::start_with("readme_screenshot", &["--window-size=1440,1400"]).await;
    b.check(|| async {
        b.client
            .goto(&format!("{}/?d=shop&theme=light&var-gender=F", server.url()))
            .await
            .map_err(|e| e.to_string())?;
        // Every chart drawn with data, the table full.
        wait_for("every widget with data", Duration::from_secs(60), || async {
            let v = read(&b).await;
            let ws = v["widgets"].as_array()?;
            // A gauge has one value; a line or an area a few points.
            let charts_full = ws.iter().filter(|w| w["series"].is_array()).all(|w| {
                let need = if w["kind"] == "area" { 3 } else { 1 };
                w["series"][0]["data"].as_array().is_some_and(|d| d.len() >= need)
            });
            let rows = widget(&v, "recent")["table"].as_array()?.len();
            let bars = widget(&v, "by-country")["axis"].as_array()?.len();
            (ws.len() == 9 && charts_full && rows == 6 && bars >= 7).then_some(())
        })
        .await?;
        let shown = b
            .js("return {theme: document.documentElement.dataset.theme, \
                 chips: [...document.querySelectorAll('[data-testid=filter-chip]')].map(c => c.dataset.var + '=' + c.dataset.value)}")
            .await
            .ok_or("the page")?;
        if shown != json!({"theme": "light", "chips": ["gender=F"]}) {
            return Err(format!("the page shows {shown}"));
        }
        // A passing alert toast would cover the table: dismiss it.
        b.js("const t = document.querySelector('[data-testid=alert-toast] button'); if (t) t.click(); return true")
            .await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        let png = b.screenshot("dashboard-light.png").await.ok_or("the screenshot")?;
        if std::env::var("LIVEDASH_UPDATE_DOCS").as_deref() == Ok("1") {
            let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/dashboard-light.png");
            std::fs::copy(&png, &docs).map_err(|e| format!("{}: {e}", docs.display()))?;
        }
        Ok(())
    })
    .await;
}
