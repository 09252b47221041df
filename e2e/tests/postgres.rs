//! `livedash --postgres URL` in a real Chromium against a real PostgreSQL:
//! rows inserted with SQL show in the KPI cards; PostgreSQL stopped → the
//! page says "source offline" while staying live; started again → the badge
//! clears and a new row's sale shows in Total Sales. And the tutorial end
//! to end with livedash alone: `livedash produce --postgres URL` writes,
//! `livedash --postgres URL` tails, and the page's KPIs are the table's.

#[path = "../../server/tests/common/pg.rs"]
mod pg;
#[allow(dead_code)]
#[path = "../../server/src/sources/postgres/sql.rs"]
mod sql;

use livedash_e2e::{http_get, wait_for, Browser, Server};
use pg::TestPg;
use serde_json::Value;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// What a person reads: the KPI values, the source badge, the connection.
const READ: &str = r#"
const q = id => document.querySelector(`[data-testid="${id}"]`);
const t = id => (q(id) ? q(id).textContent.trim() : null);
const app = q('app');
return {
  orders: t('kpi-num_orders'), items: t('kpi-num_order_items'), sales: t('kpi-total_sales'),
  badge: t('source-status') ? t('source-status').toLowerCase() : null,
  state: app ? app.dataset.state : null,
};
"#;

async fn read(b: &Browser) -> Option<Value> {
    b.js(READ).await
}

fn item(id: &str, order: &str, user: &str, product: &str, price: f64) -> String {
    format!(
        "INSERT INTO ecommerce.order_items (id, order_id, user_id, product_id, status, created_at, sale_price)
         VALUES ('{id}', '{order}', '{user}', '{product}', 'Complete', now() - interval '2 hours', {price});"
    )
}

/// Wait for `/healthz` to report the source `ok` (or not).
async fn source_ok(port: u16, ok: bool) -> Result<(), String> {
    wait_for(&format!("/healthz source ok={ok}"), T, || async {
        let body = http_get(port, "/healthz").await?;
        let v: Value = serde_json::from_str(&body).ok()?;
        (v["source"]["ok"] == ok).then_some(())
    })
    .await
}

#[tokio::test]
async fn the_page_shows_orders_from_postgres_and_when_it_is_offline() {
    let db = TestPg::start();
    db.psql(sql::ECOMMERCE_DDL);
    db.psql(
        "INSERT INTO ecommerce.users (id, age, gender, country, traffic_source) VALUES
           ('u1', 30, 'F', 'Spain', 'Search'), ('u2', 45, 'M', 'Japan', 'Email');
         INSERT INTO ecommerce.products (id, cost, category) VALUES
           ('p1', 12.0, 'Jeans'), ('p2', 4.0, 'Socks');",
    );
    let url = db.url();
    let server = Server::start(&["--postgres", &url, "--tick-ms", "200"]);
    let b = Browser::start("postgres_source").await;
    b.check(|| async {
        source_ok(server.port, true).await?;
        // Two orders, three items, $40.00 + $10.50 + $25.00 = $75.50.
        db.psql(&format!(
            "BEGIN; {} {} COMMIT; {}",
            item("i1", "o1", "u1", "p1", 40.0),
            item("i2", "o1", "u1", "p2", 10.5),
            item("i3", "o2", "u2", "p1", 25.0)
        ));
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        wait_for("the KPIs of the inserted rows", T, || async {
            let v = read(&b).await?;
            (v["state"] == "live"
                && v["orders"] == "2"
                && v["items"] == "3"
                && v["sales"].as_str()?.contains("$75.50")
                && v["badge"].is_null())
            .then_some(())
        })
        .await?;
        db.stop();
        source_ok(server.port, false).await?;
        wait_for(
            "\"source offline\" while the page stays live",
            T,
            || async {
                let v = read(&b).await?;
                (v["state"] == "live" && v["badge"].as_str()?.contains("source offline"))
                    .then_some(())
            },
        )
        .await?;
        db.up();
        source_ok(server.port, true).await?;
        wait_for("the badge cleared", T, || async {
            let v = read(&b).await?;
            (v["state"] == "live" && v["badge"].is_null()).then_some(())
        })
        .await?;
        db.psql(&item("i4", "o3", "u2", "p2", 19.99));
        wait_for("the new sale in Total Sales", T, || async {
            let v = read(&b).await?;
            (v["items"] == "4" && v["orders"] == "3" && v["sales"].as_str()?.contains("$95.49"))
                .then_some(())
        })
        .await
    })
    .await;
}

/// The digits of a KPI card as a number ("1,234" → 1234, "$1,861.05" →
/// 186105 cents).
fn digits(v: &Value) -> Option<u64> {
    let d: String = v.as_str()?.chars().filter(char::is_ascii_digit).collect();
    d.parse().ok()
}

#[tokio::test]
async fn produce_then_tail_shows_the_tables_numbers() {
    let db = TestPg::start();
    let url = db.url();
    // The tutorial's producer, as a user runs it in a first terminal.
    let mut producer = std::process::Command::new(livedash_e2e::env("LIVEDASH_BIN"))
        .args(["produce", "--postgres", &url, "--orders-per-sec", "20"])
        .args(["--seed", "7"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("livedash produce");
    // Rows already in the table before livedash ever ran are history the
    // lookback fill must show too.
    wait_for("the producer's first rows", T, || async {
        let exists = db.psql("SELECT to_regclass('ecommerce.order_items') IS NOT NULL");
        if exists != "t" {
            return None;
        }
        let n = db.psql("SELECT count(*) FROM ecommerce.order_items");
        (n.parse::<u64>().ok()? >= 10).then_some(())
    })
    .await
    .expect("livedash produce writes rows");
    let server = Server::start(&["--postgres", &url, "--tick-ms", "250"]);
    let b = Browser::start("produce_then_tail").await;
    let result = async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        wait_for("orders from the producer on the page", T, || async {
            let v = read(&b).await?;
            (v["state"] == "live" && digits(&v["items"])? >= 20).then_some(())
        })
        .await?;
        // Stop the producer (SIGTERM: it finishes its batch), then the page
        // must hold exactly what the table holds (all of it is inside the
        // 5-minute window).
        let pid = producer.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .map_err(|e| e.to_string())?;
        producer.wait().map_err(|e| e.to_string())?;
        let row = db.psql(
            "SELECT count(DISTINCT order_id), count(*), round(sum(sale_price)::numeric * 100)
             FROM ecommerce.order_items",
        );
        let want: Vec<u64> = row.split('|').filter_map(|x| x.parse().ok()).collect();
        if want.len() != 3 || want[1] < 20 {
            return Err(format!("unexpected table totals {row:?}"));
        }
        wait_for("the page's KPIs equal the table's totals", T, || async {
            let v = read(&b).await?;
            let got = [
                digits(&v["orders"])?,
                digits(&v["items"])?,
                digits(&v["sales"])?,
            ];
            (got[..] == want[..]).then_some(())
        })
        .await
        .map_err(|e| format!("{e} (table: {want:?})"))
    }
    .await;
    let _ = producer.kill();
    if let Err(e) = result {
        let shot = b.screenshot("produce_then_tail-failure.png").await;
        panic!("produce_then_tail: {e}\n(screenshot: {shot:?})");
    }
}
