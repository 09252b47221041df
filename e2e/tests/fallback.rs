//! The page's transports. A network that refuses WebSockets: the page
//! falls back to Server-Sent Events (`/api/stream`) and shows the same live
//! numbers (the server runs with the hidden `--disable-websocket`: every
//! upgrade answered 403), from its own origin and from another; and a
//! WebSocket with permessage-deflate, which Chromium offers.

use livedash_e2e::{metric, wait_for, Browser, Server};
use serde_json::Value;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// The digits of a shown number ("$1,234.50" → "123450").
fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// What the page shows: (orders seq, orders, items, sales), read at once.
async fn shown(b: &Browser) -> Option<(u64, String, String, String)> {
    let v = b
        .js(r#"
const t = id => { const e = document.querySelector(`[data-testid="${id}"]`); return e ? e.textContent.trim() : ''; };
const app = document.querySelector('[data-testid="app"]');
return { seq: app ? Number(app.dataset.seqOrders) : -1, state: app ? app.dataset.state : '',
         orders: t('kpi-num_orders'), items: t('kpi-num_order_items'), sales: t('kpi-total_sales') };
"#)
        .await?;
    let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
    (v["state"] == "live").then(|| {
        (
            v["seq"].as_u64().unwrap_or(0),
            s("orders"),
            s("items"),
            s("sales"),
        )
    })
}

#[tokio::test]
async fn a_refused_websocket_falls_back_to_server_sent_events() {
    let server = Server::start(&["--tick-ms", "300", "--disable-websocket"]);
    let port = server.port;
    let b = Browser::start("sse_fallback").await;
    b.check(|| async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        // The KPI cards hold exactly the server's numbers at the same seq.
        let (seq, orders) = wait_for("the page and the server at the same seq", T, || async {
            let (seq, orders, items, sales) = shown(&b).await?;
            let body = livedash_e2e::http_get(port, "/api/snapshot").await?;
            let snap: Value = serde_json::from_str(&body).ok()?;
            let o = &snap["orders"];
            let same = snap["seq"]["orders"].as_u64() == Some(seq)
                && digits(&orders) == o["num_orders"].as_u64()?.to_string()
                && digits(&items) == o["num_order_items"].as_u64()?.to_string()
                && digits(&sales) == digits(&format!("{:.2}", o["total_sales"].as_f64()?));
            same.then_some((seq, orders))
        })
        .await?;
        // Live: the seq moves on, and no WebSocket was ever upgraded.
        wait_for("live frames over SSE", T, || async {
            let (now, ..) = shown(&b).await?;
            (now > seq + 2).then_some(())
        })
        .await?;
        let viewers = metric(port, "livedash_connections").await;
        if viewers != Some(1) {
            return Err(format!(
                "one SSE viewer expected, /metrics says {viewers:?}"
            ));
        }
        println!("fallback page shows {orders} orders at seq {seq} over /api/stream");
        Ok(())
    })
    .await;
    drop(server);
}

/// The CDN case: the bundle comes from server A, the data from server B
/// (`?server=`), and B refuses WebSockets. The page's EventSource is then
/// cross-origin: B's CORS grant for A's origin is what lets it through,
/// and the cards show B's numbers at B's seq.
#[tokio::test]
async fn the_fallback_works_from_another_origin() {
    let a_port = livedash_e2e::free_port();
    let origin = format!("http://127.0.0.1:{a_port}");
    let data = Server::start(&[
        "--tick-ms",
        "300",
        "--disable-websocket",
        "--allowed-origin",
        &origin,
    ]);
    let pages = Server::start_on(a_port, &["--tick-ms", "300", "--connect-src", &data.url()]);
    let port = data.port;
    let b = Browser::start("sse_fallback_cross_origin").await;
    b.check(|| async {
        b.client
            .goto(&format!("{}/?server={}", pages.url(), data.url()))
            .await
            .map_err(|e| e.to_string())?;
        let seq = wait_for("the page at B's numbers and seq", T, || async {
            let (seq, orders, ..) = shown(&b).await?;
            let body = livedash_e2e::http_get(port, "/api/snapshot").await?;
            let snap: Value = serde_json::from_str(&body).ok()?;
            let same = snap["seq"]["orders"].as_u64() == Some(seq)
                && digits(&orders) == snap["orders"]["num_orders"].as_u64()?.to_string();
            same.then_some(seq)
        })
        .await?;
        wait_for("live frames over SSE from B", T, || async {
            let (now, ..) = shown(&b).await?;
            (now > seq + 2).then_some(())
        })
        .await?;
        let (on_b, on_a) = (
            metric(port, "livedash_connections").await,
            metric(pages.port, "livedash_connections").await,
        );
        if (on_b, on_a) != (Some(1), Some(0)) {
            return Err(format!(
                "one SSE viewer on B and none on A expected, got {on_b:?} and {on_a:?}"
            ));
        }
        Ok(())
    })
    .await;
}

/// Chromium offers permessage-deflate on every WebSocket; the server takes
/// it, so the page's frames arrive compressed (once per frame, shared by
/// every client) and the page must show exactly the server's numbers from
/// them. `livedash_deflated_frames_sent_total` grows with the page alone
/// connected: the frames it decoded were the deflated ones.
#[tokio::test]
async fn the_page_reads_permessage_deflated_frames() {
    let server = Server::start(&["--tick-ms", "300"]);
    let port = server.port;
    let b = Browser::start("deflate_page").await;
    b.check(|| async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        let before = wait_for("the page at the server's numbers", T, || async {
            let (seq, orders, items, _) = shown(&b).await?;
            let body = livedash_e2e::http_get(port, "/api/snapshot").await?;
            let snap: Value = serde_json::from_str(&body).ok()?;
            let o = &snap["orders"];
            let same = snap["seq"]["orders"].as_u64() == Some(seq)
                && digits(&orders) == o["num_orders"].as_u64()?.to_string()
                && digits(&items) == o["num_order_items"].as_u64()?.to_string();
            let deflated = metric(port, "livedash_deflated_frames_sent_total").await?;
            same.then_some((seq, deflated))
        })
        .await?;
        let (seq, deflated) = before;
        wait_for("more deflated frames, shown live", T, || async {
            let (now, ..) = shown(&b).await?;
            let d = metric(port, "livedash_deflated_frames_sent_total").await?;
            (now > seq + 2 && d > deflated + 2).then_some(())
        })
        .await?;
        if metric(port, "livedash_connections").await != Some(1) {
            return Err("one connection (the page) expected".into());
        }
        Ok(())
    })
    .await;
}
