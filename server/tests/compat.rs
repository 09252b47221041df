//! The tutorials' own clients against livedash: `/compat/thelook/ws` (the
//! producer's `/ws`: a JSON string holding the window's records, every
//! 5 s, the first at once) and `/compat/system/ws` (the system-dashboard
//! tutorial's messages), over real sockets with tokio-tungstenite.

mod common;

use common::{next, next_of, refused_status, send, TestServer, Ws};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "ingest-t0ken";

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// POST NDJSON records to the ingest endpoint; the HTTP status.
async fn ingest(srv: &TestServer, records: &[Value]) -> u16 {
    let body: String = records.iter().map(|r| r.to_string() + "\n").collect();
    let mut s = TcpStream::connect(srv.addr).await.unwrap();
    let head = format!(
        "POST /api/ingest/orders HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
         Authorization: Bearer {TOKEN}\r\nContent-Type: application/x-ndjson\r\n\
         Content-Length: {}\r\n\r\n",
        srv.addr,
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&out)[9..12].parse().unwrap()
}

/// The next thelook frame, decoded twice as the Streamlit page does
/// (`json.loads(msg.json())`): the frame is a JSON string holding an array.
async fn thelook_frame(ws: &mut Ws) -> Vec<Value> {
    // A period is 5 s: wait a little longer than `next`'s 5 s.
    let outer = loop {
        let m = timeout(Duration::from_secs(8), ws.next())
            .await
            .expect("a thelook frame within a period")
            .expect("open")
            .expect("no error");
        if let Message::Text(t) = m {
            break serde_json::from_str::<Value>(t.as_str()).unwrap();
        }
    };
    let inner = outer
        .as_str()
        .unwrap_or_else(|| panic!("the frame is a JSON string, got {outer}"));
    match serde_json::from_str(inner).expect("the string holds JSON") {
        Value::Array(a) => a,
        other => panic!("an array, got {other}"),
    }
}

/// What the Streamlit page computes: distinct orders, distinct items,
/// total sales in cents.
fn page_kpis(records: &[Value]) -> (u64, u64, i64) {
    let orders: HashSet<u64> = records
        .iter()
        .map(|r| r["order_id"].as_u64().unwrap())
        .collect();
    let items: HashSet<u64> = records
        .iter()
        .map(|r| r["item_id"].as_u64().unwrap())
        .collect();
    let cents = records
        .iter()
        .map(|r| (r["sale_price"].as_f64().unwrap() * 100.0).round() as i64)
        .sum();
    (orders.len() as u64, items.len() as u64, cents)
}

const FIELDS: [&str; 12] = [
    "user_id",
    "age",
    "gender",
    "country",
    "traffic_source",
    "order_id",
    "item_id",
    "category",
    "cost",
    "item_status",
    "sale_price",
    "created_at",
];

#[tokio::test]
async fn thelook_frames_hold_the_window_and_agree_with_the_kpis() {
    let srv = TestServer::start(&[
        "--source",
        "ingest",
        "--ingest-token",
        TOKEN,
        "--tick-ms",
        "100",
    ])
    .await;
    let url = format!("ws://{}/compat/thelook/ws", srv.addr);
    let mut page = srv.connect_to(&url).await;
    // The first frame comes at once, and an empty window is "[]".
    let t0 = Instant::now();
    let first = next(&mut page).await;
    assert_eq!(first, Value::String("[]".into()));
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "no 5 s wait for the first frame"
    );

    // 30 items in 12 orders, known prices.
    let now = now_ms();
    let records: Vec<Value> = (0..30u64)
        .map(|i| {
            json!({
                "user_id": 100 + i % 12, "age": 20 + i, "gender": "F", "country": "Spain",
                "traffic_source": "Email", "order_id": 5_000 + i % 12, "item_id": 9_000 + i,
                "category": "Jeans", "cost": 1.25, "item_status": "Shipped",
                "sale_price": 10.0 + i as f64 * 0.37, "created_at": now - 1_000
            })
        })
        .collect();
    let mut ws = srv.connect().await;
    assert_eq!(ingest(&srv, &records).await, 202);
    let orders = loop {
        let o = next_of(&mut ws, "orders").await;
        if o["num_order_items"] == 30 {
            break o;
        }
    };
    // The next thelook frame (within a period) has every record, with the
    // 12 fields, and the page's numbers are /ws's KPIs.
    let got = thelook_frame(&mut page).await;
    let t1 = Instant::now();
    assert_eq!(got.len(), 30);
    for r in &got {
        let keys: HashSet<&str> = r.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, FIELDS.into_iter().collect());
        assert_eq!(r["created_at"], now - 1_000, "epoch milliseconds, a number");
    }
    let (n_orders, n_items, cents) = page_kpis(&got);
    assert_eq!(n_orders, orders["num_orders"].as_u64().unwrap());
    assert_eq!(n_items, orders["num_order_items"].as_u64().unwrap());
    assert_eq!(n_orders, 12);
    let expected: i64 = (0..30).map(|i| 1000 + 37 * i).sum();
    assert_eq!(cents, expected);
    assert_eq!(
        cents,
        (orders["total_sales"].as_f64().unwrap() * 100.0).round() as i64
    );
    // Let the first socket go; a second one gets the same records at once.
    drop(ws);
    let mut other = srv.connect_to(&url).await;
    let again = timeout(Duration::from_secs(2), thelook_frame(&mut other))
        .await
        .expect("at once");
    assert_eq!(page_kpis(&again), page_kpis(&got));
    // The next frame comes a period later.
    let later = thelook_frame(&mut page).await;
    let gap = t1.elapsed();
    assert!(
        gap > Duration::from_millis(4_000) && gap < Duration::from_millis(6_500),
        "frames every 5 s, got {gap:?}"
    );
    assert_eq!(page_kpis(&later), page_kpis(&got));
    srv.stop().await;
}

#[tokio::test]
async fn thelook_carries_the_generators_window() {
    let srv = TestServer::start(&["--orders-per-sec", "200", "--tick-ms", "100"]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut page = srv
        .connect_to(&format!("ws://{}/compat/thelook/ws", srv.addr))
        .await;
    let recs = thelook_frame(&mut page).await;
    assert!(recs.len() > 100, "{} records", recs.len());
    let now = now_ms();
    for r in &recs {
        let t = r["created_at"].as_u64().unwrap();
        assert!(t <= now && t + 300_000 > now, "inside the 5 min window");
        assert!(r["age"].is_u64() && r["cost"].is_f64() && r["country"].is_string());
    }
    srv.stop().await;
}

/// Frames of a system socket for `limit`, with their arrival times.
async fn collect(ws: &mut Ws, limit: Duration) -> Vec<(Instant, Value)> {
    let end = tokio::time::Instant::now() + limit;
    let mut out = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout_at(end, ws.next()).await {
        if let Message::Text(t) = m.unwrap() {
            out.push((Instant::now(), serde_json::from_str(t.as_str()).unwrap()));
        }
    }
    out
}

fn of<'a>(frames: &'a [(Instant, Value)], ty: &str) -> Vec<&'a (Instant, Value)> {
    frames.iter().filter(|(_, v)| v["type"] == ty).collect()
}

#[tokio::test]
async fn system_messages_follow_the_tutorial() {
    let srv = TestServer::start(&["--orders-per-sec", "20"]).await;
    let url = format!("ws://{}/compat/system/ws", srv.addr);
    let mut a = srv.connect_to(&url).await;
    let hello = next(&mut a).await;
    assert_eq!(hello["type"], "connection", "connection comes first");
    assert!(hello["message"].as_str().is_some_and(|m| !m.is_empty()));

    let frames = collect(&mut a, Duration::from_millis(5_300)).await;
    let metrics = of(&frames, "metrics");
    assert!(metrics.len() >= 4, "metrics every ~1 s: {}", metrics.len());
    for (_, m) in &metrics {
        for k in ["cpu", "memory"] {
            let x = m[k]
                .as_f64()
                .unwrap_or_else(|| panic!("{k} is a number: {m}"));
            assert!((0.0..=100.0).contains(&x), "{m}");
        }
        assert!(
            m["network_sent"].is_u64() && m["network_recv"].is_u64(),
            "{m}"
        );
        assert!(m["timestamp"].is_string());
    }
    for w in metrics.windows(2).skip(1) {
        let gap = w[1].0 - w[0].0;
        assert!(
            gap > Duration::from_millis(700),
            "at most one a second: {gap:?}"
        );
    }
    let data = of(&frames, "data");
    assert!(
        (2..=3).contains(&data.len()),
        "data every 2 s: {}",
        data.len()
    );
    for (_, d) in &data {
        let v = d["value"]
            .as_u64()
            .unwrap_or_else(|| panic!("an integer: {d}"));
        assert!((1..=100).contains(&v), "{d}");
        assert_eq!(d["label"], "Orders");
    }
    let counts = of(&frames, "client_count");
    assert_eq!(counts.first().map(|c| c.1["count"].clone()), Some(json!(1)));

    // A second client (of any kind) is announced to the first.
    let mut b = srv.connect_to(&url).await;
    assert_eq!(next(&mut b).await["type"], "connection");
    let t = Instant::now();
    loop {
        let v = timeout(Duration::from_secs(3), next_of(&mut a, "client_count"))
            .await
            .expect("client_count within the coalescing second");
        if v["count"] == 2 {
            break;
        }
    }
    assert!(t.elapsed() < Duration::from_secs(3));
    // A native /ws viewer counts too.
    let _native = srv.connect().await;
    loop {
        let v = timeout(Duration::from_secs(3), next_of(&mut a, "client_count"))
            .await
            .expect("client_count for a /ws viewer");
        if v["count"] == 3 {
            break;
        }
    }

    // ping → pong; request_metrics → a metrics frame at once; others ignored.
    send(&mut b, json!({"type": "bogus"})).await;
    b.send_text("not json").await;
    send(&mut b, json!({"type": "ping"})).await;
    let pong = timeout(Duration::from_secs(2), next_of(&mut b, "pong"))
        .await
        .unwrap();
    assert_eq!(pong, json!({"type": "pong"}));
    next_of(&mut b, "metrics").await; // in step with the regular frames
    send(&mut b, json!({"type": "request_metrics"})).await;
    let asked = Instant::now();
    let m = next_of(&mut b, "metrics").await;
    assert!(
        asked.elapsed() < Duration::from_millis(500),
        "answered, not the next regular one"
    );
    assert!(m["cpu"].is_number());
    srv.stop().await;
}

trait SendText {
    async fn send_text(&mut self, t: &str);
}

impl SendText for Ws {
    async fn send_text(&mut self, t: &str) {
        use futures_util::SinkExt;
        self.send(Message::text(t.to_string())).await.unwrap();
    }
}

fn with_origin(
    url: &str,
    origin: &str,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert("origin", origin.parse().unwrap());
    req
}

#[tokio::test]
async fn origin_and_viewer_token_as_for_ws() {
    let srv = TestServer::start(&["--allowed-origin", "http://localhost:5500"]).await;
    for path in ["/compat/thelook/ws", "/compat/system/ws"] {
        let url = format!("ws://{}{path}", srv.addr);
        assert_eq!(
            refused_status(with_origin(&url, "http://evil.example")).await,
            403
        );
        let (mut ws, _) =
            tokio_tungstenite::connect_async(with_origin(&url, "http://localhost:5500"))
                .await
                .expect("the allowed origin");
        next(&mut ws).await;
        let (_, body) = common::http(srv.addr, path, "").await;
        assert!(body.contains("WebSocket"), "{body}");
    }
    srv.stop().await;

    let srv = TestServer::start(&["--viewer-token", "v1ew"]).await;
    let url = format!("ws://{}/compat/system/ws", srv.addr);
    assert_eq!(refused_status(url.as_str()).await, 401);
    assert_eq!(
        refused_status(format!("{url}?token=nope").as_str()).await,
        401
    );
    let mut ws = srv.connect_to(&format!("{url}?token=v1ew")).await;
    assert_eq!(next(&mut ws).await["type"], "connection");
    // A frame over 4 KiB closes with 1009, as on /ws.
    ws.send_text(&"x".repeat(5000)).await;
    assert_eq!(common::close_code(&mut ws).await, 1009);
    srv.stop().await;
}

#[tokio::test]
async fn compat_sockets_take_connection_slots() {
    let srv = TestServer::start(&["--max-connections", "2"]).await;
    let url = format!("ws://{}/compat/system/ws", srv.addr);
    let _a = srv.connect_to(&url).await;
    let _b = srv
        .connect_to(&format!("ws://{}/compat/thelook/ws", srv.addr))
        .await;
    assert_eq!(refused_status(url.as_str()).await, 503);
    assert_eq!(
        refused_status(srv.url().as_str()).await,
        503,
        "shared with /ws"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_costs_the_others_nothing() {
    let srv = TestServer::start(&[
        "--source",
        "ingest",
        "--ingest-token",
        TOKEN,
        "--tick-ms",
        "100",
        "--write-timeout-ms",
        "3000",
        "--compat-max-records",
        "50000",
        "--send-buffer-kib",
        "64",
    ])
    .await;
    // 40,000 records: a thelook frame of about 10 MB, more than /ws's 8 MiB
    // write buffer cap.
    let now = now_ms();
    let records: Vec<Value> = (0..40_000u64)
        .map(|i| {
            json!({
                "user_id": i, "age": 30, "gender": "M", "country": "Japan",
                "traffic_source": "Search", "order_id": i / 2, "item_id": i,
                "category": "Outerwear & Coats", "cost": 50.5, "item_status": "Complete",
                "sale_price": 101.0, "created_at": now - 2_000
            })
        })
        .collect();
    for chunk in records.chunks(5_000) {
        assert_eq!(ingest(&srv, chunk).await, 202);
    }
    let mut ws = srv.connect().await;
    while next_of(&mut ws, "orders").await["num_order_items"] != 40_000 {}
    drop(ws);
    // A client with a tiny receive window that never reads...
    let url = format!("ws://{}/compat/thelook/ws", srv.addr);
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock.connect(srv.addr).await.unwrap();
    let (_stuck, _) = tokio_tungstenite::client_async(url.as_str(), tcp)
        .await
        .unwrap();
    // ...is closed as too slow, while a reading client gets every frame.
    let mut page = srv.connect_to(&url).await;
    let t0 = Instant::now();
    assert_eq!(thelook_frame(&mut page).await.len(), 40_000);
    let deadline = Instant::now() + Duration::from_secs(5);
    while common::metric(&srv, "slow_clients_closed_total").await == 0 {
        assert!(Instant::now() < deadline, "the stuck client is closed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(thelook_frame(&mut page).await.len(), 40_000);
    assert!(t0.elapsed() < Duration::from_secs(12));
    srv.stop().await;
}
