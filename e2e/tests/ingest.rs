//! Records pushed with `POST /api/ingest/orders` (NDJSON, as the README's
//! curl example sends them) are what the page shows with `--source ingest`:
//! the KPI cards and the Revenue by Country bars hold exactly their sums; a
//! refused body (one bad line) changes nothing on the page.

use livedash_e2e::{wait_for, Browser, Server};
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T: Duration = Duration::from_secs(20);
const TOKEN: &str = "1ngest";

/// `POST /api/ingest/orders` with the token, as curl would send it: the
/// status and the body of the answer.
async fn push(port: u16, ndjson: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let req = format!(
        "POST /api/ingest/orders HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\
         Authorization: Bearer {TOKEN}\r\nContent-Type: application/x-ndjson\r\n\
         Content-Length: {}\r\n\r\n{ndjson}",
        ndjson.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

fn record(order: u64, item: u64, country: &str, price: f64, now: u128) -> String {
    format!(
        r#"{{"user_id":{order},"age":34,"gender":"F","country":"{country}","traffic_source":"Email","order_id":{order},"item_id":{item},"category":"Jeans","cost":1.5,"item_status":"Shipped","sale_price":{price},"created_at":{now}}}"#
    )
}

/// What a person reads: the KPI cards and the country bars (names and
/// values from ECharts itself).
const READ: &str = r#"
const q = id => document.querySelector(`[data-testid="${id}"]`);
const t = id => (q(id) ? q(id).textContent.trim() : null);
const el = q('chart-revenue-by-country');
const i = el && window.echarts && echarts.getInstanceByDom(el);
const o = i ? i.getOption() : null;
const axis = o && o.xAxis && o.xAxis[0] ? o.xAxis[0].data : null;
const app = q('app');
return {
  state: app ? app.dataset.state : null,
  orders: t('kpi-num_orders'), items: t('kpi-num_order_items'), sales: t('kpi-total_sales'),
  names: axis || [],
  values: o && o.series && o.series[0] ? (o.series[0].data || []) : [],
};
"#;

/// The country bars as (name, value) pairs, sorted by name.
fn bars(v: &Value) -> Vec<(String, f64)> {
    let names = v["names"].as_array().cloned().unwrap_or_default();
    let values = v["values"].as_array().cloned().unwrap_or_default();
    let mut out: Vec<(String, f64)> = names
        .iter()
        .zip(values.iter())
        .filter_map(|(n, x)| {
            let x = x.as_f64().or_else(|| x["value"].as_f64())?;
            Some((n.as_str()?.to_string(), x))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test]
async fn pushed_ndjson_records_are_the_numbers_on_the_page() {
    let server = Server::start(&[
        "--source",
        "ingest",
        "--ingest-token",
        TOKEN,
        "--tick-ms",
        "200",
    ]);
    let b = Browser::start("ingest_source").await;
    b.check(|| async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        wait_for("an empty live page", T, || async {
            let v = b.js(READ).await?;
            (v["state"] == "live" && v["orders"] == "0").then_some(())
        })
        .await?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        // Two orders, three items: Spain 45.00 + 5.25, Japan 7.50.
        let body = [
            record(10, 100, "Spain", 45.0, now),
            record(10, 101, "Spain", 5.25, now),
            record(11, 102, "Japan", 7.5, now),
        ]
        .join("\n");
        let (status, answer) = push(server.port, &body).await;
        if status != 202 || !answer.contains("\"accepted\":3") {
            return Err(format!("ingest answered {status}: {answer}"));
        }
        wait_for("the pushed records in the KPIs and bars", T, || async {
            let v = b.js(READ).await?;
            let want = vec![("Japan".to_string(), 7.5), ("Spain".to_string(), 50.25)];
            (v["orders"] == "2"
                && v["items"] == "3"
                && v["sales"].as_str()?.contains("$57.75")
                && bars(&v) == want)
                .then_some(())
        })
        .await?;
        // All or nothing: a good line then a bad one → 422 naming line 2,
        // and the page keeps its numbers.
        let bad = format!(
            "{}\n{{\"user_id\":3,\"sale_price\":\"lots\"}}",
            record(12, 103, "Spain", 99.0, now)
        );
        let (status, answer) = push(server.port, &bad).await;
        if status != 422 || !answer.contains('2') {
            return Err(format!("a bad second line answered {status}: {answer}"));
        }
        tokio::time::sleep(Duration::from_millis(800)).await;
        let v = b.js(READ).await.ok_or("page unreadable")?;
        if v["orders"] != "2" || !v["sales"].as_str().unwrap_or("").contains("$57.75") {
            return Err(format!("a refused body changed the page: {v}"));
        }
        Ok(())
    })
    .await;
}
