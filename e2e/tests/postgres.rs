//! `livedash --postgres URL` in a real Chromium against a real PostgreSQL:
//! rows inserted with SQL show in the KPI cards; PostgreSQL stopped → the
//! page says "source offline" while staying live; started again → the badge
//! clears and a new row's sale shows in Total Sales.

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
