//! A widget's settings panel, end to end: a bar chart of revenue by
//! country is switched to revenue by traffic source, smallest first, top
//! 3; the chart then draws exactly the server's three smallest traffic
//! sources at the same orders seq; a bad value is refused in the panel;
//! saved, the stored query and options are the new ones.

mod dash_common;

use dash_common::*;
use livedash_e2e::{create_dashboard, http_get, wait_for, Browser, Server};
use serde_json::{json, Value};

fn board() -> Value {
    json!({
        "uid": "cfg", "title": "Configured",
        "widgets": [
            {"id": "bars", "kind": "bar", "title": "Revenue",
             "query": {"source": "breakdown", "by": "country"},
             "grid": {"x": 0, "y": 0, "w": 8, "h": 8}}
        ]
    })
}

async fn fill(b: &Browser, testid: &str, value: &str) -> Result<(), String> {
    let el = b
        .client
        .find(fantoccini::Locator::Css(&format!(
            "[data-testid='{testid}']"
        )))
        .await
        .map_err(|e| format!("{testid}: {e}"))?;
    el.clear()
        .await
        .map_err(|e| format!("clear {testid}: {e}"))?;
    el.send_keys(value)
        .await
        .map_err(|e| format!("type in {testid}: {e}"))
}

#[tokio::test]
async fn a_bar_chart_configured_in_its_panel_draws_the_new_query() {
    // 20 orders/s: every traffic source has sold within a few seconds.
    let server = Server::start(&[
        "--tick-ms",
        "200",
        "--orders-per-sec",
        "20",
        "--admin-token",
        "adm1n",
    ]);
    create_dashboard(server.port, Some("adm1n"), &board().to_string()).await;
    let b = Browser::start("widget_settings").await;
    b.check(|| async {
        b.open_as_admin(&format!("{}/?d=cfg", server.url()), "adm1n")
            .await?;
        // Enough traffic sources sold for a top 3 to leave some out.
        wait_for("the bars, and four traffic sources or more", T, || async {
            let v = read(&b).await;
            let snap: Value =
                serde_json::from_str(&http_get(server.port, "/api/snapshot").await?).ok()?;
            let sources = snap["orders"]["by_traffic_source"].as_array()?.len();
            let bars = widget(&v, "bars")["axis"].as_array()?.len();
            (bars > 3 && sources > 3).then_some(())
        })
        .await?;
        click(&b, "edit-toggle").await?;
        click(&b, "w-settings-bars").await?;
        select(&b, "ws-by-bars", "traffic_source").await?;
        select(&b, "ws-sort-bars", "asc").await?;
        // Not a number: refused in the panel, nothing changes.
        fill(&b, "ws-limit-bars", "three").await?;
        click(&b, "ws-apply-bars").await?;
        wait_for("the refusal", T, || async {
            content(&b, "ws-error-bars")
                .await?
                .starts_with("limit:")
                .then_some(())
        })
        .await?;
        fill(&b, "ws-limit-bars", "3").await?;
        click(&b, "ws-apply-bars").await?;
        // The chart: the server's three smallest traffic sources by
        // revenue, at the orders seq the page shows.
        wait_for("the three smallest traffic sources", T, || async {
            let v = read(&b).await;
            let snap: Value =
                serde_json::from_str(&http_get(server.port, "/api/snapshot").await?).ok()?;
            if snap["seq"]["orders"].as_u64() != v["seq_orders"].as_u64() {
                return None;
            }
            let mut server_rows: Vec<(String, f64)> = snap["orders"]["by_traffic_source"]
                .as_array()?
                .iter()
                .map(|r| (s(&r["name"]), cents(r["revenue"].as_f64().unwrap_or(0.0))))
                .collect();
            server_rows.sort_by(|a, b| a.1.total_cmp(&b.1));
            server_rows.truncate(3);
            let w = widget(&v, "bars");
            let names: Vec<String> = w["axis"].as_array()?.iter().map(s).collect();
            let values: Vec<f64> = w["series"][0]["data"]
                .as_array()?
                .iter()
                .map(|d| {
                    d.as_f64()
                        .or_else(|| d["value"].as_f64())
                        .unwrap_or(f64::NAN)
                })
                .collect();
            let page: Vec<(String, f64)> = names.into_iter().zip(values).collect();
            (page.len() == 3 && page == server_rows).then_some(())
        })
        .await?;
        click(&b, "dashboard-save").await?;
        wait_for("saved", T, || async {
            (b.app_attr("data-dashboard-version").await? == "2").then_some(())
        })
        .await?;
        let stored: Value = serde_json::from_str(
            &http_get(server.port, "/api/dashboards/cfg")
                .await
                .ok_or("GET")?,
        )
        .map_err(|e| e.to_string())?;
        let w = &stored["widgets"][0];
        if w["query"] != json!({"source": "breakdown", "by": "traffic_source"})
            || w["options"] != json!({"limit": 3, "sort": "asc"})
        {
            return Err(format!("stored {w}"));
        }
        Ok(())
    })
    .await;
}
