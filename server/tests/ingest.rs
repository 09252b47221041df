//! `POST /api/ingest/orders` over real sockets: the flag and the token, the
//! records in the next `orders` frame (records and KPIs) over a WebSocket,
//! all or nothing, the body limit, backpressure, metrics.

mod common;

use common::{http, next_of, TestServer};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const TOKEN: &str = "ingest-s3cret";

/// An HTTP answer: status, headers (lower-case names), body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// POST `body` to the ingest endpoint with extra header lines. The body is
/// written by its own task (the server may answer before reading it all),
/// and sent chunked when `chunked`.
async fn post_with(addr: SocketAddr, headers: &str, body: Vec<u8>, chunked: bool) -> Answer {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let framing = if chunked {
        "Transfer-Encoding: chunked\r\n".to_string()
    } else {
        format!("Content-Length: {}\r\n", body.len())
    };
    let head = format!(
        "POST /api/ingest/orders HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{framing}{headers}\r\n"
    );
    let (mut rd, mut wr) = s.split();
    let write = async {
        wr.write_all(head.as_bytes()).await?;
        if chunked {
            for c in body.chunks(64 * 1024) {
                wr.write_all(format!("{:x}\r\n", c.len()).as_bytes())
                    .await?;
                wr.write_all(c).await?;
                wr.write_all(b"\r\n").await?;
            }
            wr.write_all(b"0\r\n\r\n").await?;
        } else {
            wr.write_all(&body).await?;
        }
        Ok::<_, std::io::Error>(())
    };
    let read = async {
        let mut out = Vec::new();
        let _ = rd.read_to_end(&mut out).await;
        out
    };
    let (_, out) = timeout(Duration::from_secs(30), async { tokio::join!(write, read) })
        .await
        .expect("an answer in time");
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("a full answer");
    let mut lines = head.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

/// POST an NDJSON body with the right token.
async fn post(addr: SocketAddr, body: impl Into<Vec<u8>>) -> Answer {
    post_with(
        addr,
        &format!("Authorization: Bearer {TOKEN}\r\nContent-Type: application/x-ndjson\r\n"),
        body.into(),
        false,
    )
    .await
}

/// A valid record; `order_id` = `i`, a distinctive country.
fn record(i: u64, price: f64) -> Value {
    json!({
        "user_id": 900_000 + i, "age": 41, "gender": "M", "country": "Atlantis",
        "traffic_source": "Pushed", "order_id": 500_000 + i, "item_id": 700_000 + i,
        "category": "Jeans", "cost": price / 2.0, "item_status": "Complete",
        "sale_price": price, "created_at": now_ms() - 500
    })
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn ndjson(records: &[Value]) -> String {
    records.iter().map(|r| r.to_string() + "\n").collect()
}

/// Flags of a server that takes ingested records only, ticking fast.
fn ingest_only() -> Vec<&'static str> {
    vec![
        "--source",
        "ingest",
        "--ingest-token",
        TOKEN,
        "--tick-ms",
        "100",
    ]
}

#[tokio::test]
async fn ingest_is_404_without_the_flag() {
    let srv = TestServer::start(&[]).await;
    let a = post(srv.addr, ndjson(&[record(1, 10.0)])).await;
    assert_eq!(a.status, 404, "{}", a.body);
    assert!(a.json()["error"]
        .as_str()
        .unwrap()
        .contains("--ingest-token"));
    let (code, body) = http(srv.addr, "/healthz", "").await;
    assert_eq!(code, 200);
    let h: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(h["source"]["kind"], "generator");
    assert_eq!(h["source"]["ok"], true);
    assert_eq!(h["source"]["ingest"], false);
    srv.stop().await;
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401() {
    let srv = TestServer::start(&["--ingest-token", TOKEN]).await;
    let body = ndjson(&[record(1, 10.0)]).into_bytes();
    for auth in [
        "",
        "Authorization: Bearer nope\r\n",
        "Authorization: Bearer ingest-s3cre\r\n",
        "Authorization: Token ingest-s3cret\r\n",
    ] {
        let a = post_with(srv.addr, auth, body.clone(), false).await;
        assert_eq!(a.status, 401, "{auth:?}: {}", a.body);
        assert!(a.json()["error"].as_str().unwrap().contains("Bearer"));
        assert_eq!(a.json()["line"], Value::Null);
    }
    let a = post(srv.addr, body).await;
    assert_eq!(a.status, 202, "{}", a.body);
    let (_, metrics) = http(srv.addr, "/metrics", "").await;
    assert!(
        metrics.contains("livedash_ingest_requests_total{code=\"401\"} 4\n"),
        "{metrics}"
    );
    assert!(metrics.contains("livedash_ingest_requests_total{code=\"202\"} 1\n"));
    assert!(metrics.contains("livedash_ingest_records_total 1\n"));
    srv.stop().await;
}

/// The next `orders` frame that carries records.
async fn next_with_records(ws: &mut common::Ws) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        assert!(Instant::now() < deadline, "no orders frame with records");
        let o = next_of(ws, "orders").await;
        if !o["records"].as_array().unwrap().is_empty() {
            return o;
        }
    }
}

#[tokio::test]
async fn accepted_records_reach_the_next_orders_frame() {
    let srv = TestServer::start(&ingest_only()).await;
    let (_, body) = http(srv.addr, "/healthz", "").await;
    let h: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(h["source"]["kind"], "ingest");
    assert_eq!(h["source"]["ingest"], true);
    let mut ws = srv.connect().await;
    let before = next_of(&mut ws, "orders").await;
    assert_eq!(before["num_order_items"], 0, "the generator is off");
    // As a JSON array this time.
    let recs: Vec<Value> = (1..=3).map(|i| record(i, 10.25 * i as f64)).collect();
    let a = post_with(
        srv.addr,
        &format!("Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"),
        Value::Array(recs.clone()).to_string().into_bytes(),
        false,
    )
    .await;
    assert_eq!(a.status, 202, "{}", a.body);
    assert_eq!(a.json(), json!({"accepted": 3, "expired": 0}));
    let o = next_with_records(&mut ws).await;
    let got = o["records"].as_array().unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0]["country"], "Atlantis");
    assert_eq!(got[2]["order_id"], 500_003);
    assert_eq!(got[1]["sale_price"], 20.5);
    assert_eq!(o["num_order_items"], 3);
    assert_eq!(o["num_orders"], 3);
    assert_eq!(o["total_sales"], 61.5);
    assert_eq!(o["delta"]["num_order_items"], 3);
    assert_eq!(o["by_country"][0]["name"], "Atlantis");
    assert_eq!(o["by_traffic_source"][0]["name"], "Pushed");
    // And NDJSON, gzip-encoded: the KPIs rise by its records.
    let more = ndjson(&[record(4, 1.0), record(5, 2.0)]);
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut z, more.as_bytes()).unwrap();
    let a = post_with(
        srv.addr,
        &format!("Authorization: Bearer {TOKEN}\r\nContent-Encoding: gzip\r\n"),
        z.finish().unwrap(),
        false,
    )
    .await;
    assert_eq!(a.status, 202, "{}", a.body);
    let o = next_with_records(&mut ws).await;
    assert_eq!(o["records"].as_array().unwrap().len(), 2);
    assert_eq!(o["num_order_items"], 5);
    assert_eq!(o["total_sales"], 64.5);
    srv.stop().await;
}

#[tokio::test]
async fn pushed_records_join_the_generator_stream() {
    let srv = TestServer::start(&[
        "--ingest-token",
        TOKEN,
        "--tick-ms",
        "100",
        "--orders-per-sec",
        "50",
    ])
    .await;
    let mut ws = srv.connect().await;
    next_of(&mut ws, "orders").await;
    let a = post(srv.addr, ndjson(&[record(1, 12.0)])).await;
    assert_eq!(a.status, 202, "{}", a.body);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut generated = 0;
    loop {
        assert!(Instant::now() < deadline, "the pushed record never came");
        let o = next_of(&mut ws, "orders").await;
        let recs = o["records"].as_array().unwrap();
        generated += recs.iter().filter(|r| r["country"] != "Atlantis").count();
        if recs.iter().any(|r| r["country"] == "Atlantis") {
            let by: Vec<&str> = o["by_country"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap())
                .collect();
            assert!(by.contains(&"Atlantis"), "{by:?}");
            break;
        }
    }
    // The generator goes on beside it.
    for _ in 0..20 {
        let o = next_of(&mut ws, "orders").await;
        generated += o["records"].as_array().unwrap().len();
    }
    assert!(generated > 0, "the generator still runs");
    srv.stop().await;
}

#[tokio::test]
async fn a_bad_line_refuses_the_whole_body() {
    let srv = TestServer::start(&ingest_only()).await;
    let mut ws = srv.connect().await;
    next_of(&mut ws, "orders").await;
    let mut bad = record(3, 5.0);
    bad["sale_price"] = json!("12.5x");
    let a = post(srv.addr, ndjson(&[record(1, 100.0), record(2, 100.0), bad])).await;
    assert_eq!(a.status, 422, "{}", a.body);
    let e = a.json();
    assert_eq!(e["line"], 3);
    assert_eq!(
        e["error"],
        r#"line 3: field "sale_price": expected a number, got "12.5x""#
    );
    // Malformed JSON on line 2: 400, nothing applied.
    let body = format!("{}\n{{\"user_id\": 1,,}}\n", record(4, 100.0));
    let a = post(srv.addr, body).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(a.json()["line"], 2);
    // Then one good record: the next frame has it alone.
    let a = post(srv.addr, ndjson(&[record(9, 7.0)])).await;
    assert_eq!(a.status, 202, "{}", a.body);
    let o = next_with_records(&mut ws).await;
    assert_eq!(o["records"].as_array().unwrap().len(), 1);
    assert_eq!(o["records"][0]["order_id"], 500_009);
    assert_eq!(o["num_order_items"], 1);
    assert_eq!(o["total_sales"], 7.0);
    let (_, metrics) = http(srv.addr, "/metrics", "").await;
    assert!(metrics.contains("livedash_ingest_requests_total{code=\"422\"} 1\n"));
    assert!(metrics.contains("livedash_ingest_requests_total{code=\"400\"} 1\n"));
    assert!(metrics.contains("livedash_ingest_records_total 1\n"));
    srv.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let srv = TestServer::start(&ingest_only()).await;
    let line = record(1, 1.0).to_string() + "\n";
    let big: Vec<u8> = line
        .as_bytes()
        .iter()
        .copied()
        .cycle()
        .take(11 * 1024 * 1024)
        .collect();
    // Declared too large: refused before reading.
    let a = post(srv.addr, big.clone()).await;
    assert_eq!(a.status, 413, "{}", a.body);
    assert!(a.json()["error"].as_str().unwrap().contains("10485760"));
    // Chunked, no length: refused while reading, at the limit.
    let a = post_with(
        srv.addr,
        &format!("Authorization: Bearer {TOKEN}\r\n"),
        big,
        true,
    )
    .await;
    assert_eq!(a.status, 413, "{}", a.body);
    // Under the limit, chunked: fine.
    let a = post_with(
        srv.addr,
        &format!("Authorization: Bearer {TOKEN}\r\n"),
        line.repeat(1000).into_bytes(),
        true,
    )
    .await;
    assert_eq!(a.status, 202, "{}", a.body);
    assert_eq!(a.json()["accepted"], 1000);
    srv.stop().await;
}

#[tokio::test]
async fn flooding_gets_429_with_retry_after() {
    // A tick an hour away: nothing drains, so the 10-record queue fills.
    let srv = TestServer::start(&[
        "--source",
        "ingest",
        "--ingest-token",
        TOKEN,
        "--tick-ms",
        "3600000",
        "--ingest-queue",
        "10",
    ])
    .await;
    let four: Vec<Value> = (1..=4).map(|i| record(i, 1.0)).collect();
    let mut codes = Vec::new();
    let mut refused = None;
    for _ in 0..5 {
        let a = post(srv.addr, ndjson(&four)).await;
        codes.push(a.status);
        if a.status == 429 {
            refused = Some(a);
        }
    }
    assert_eq!(codes, [202, 202, 429, 429, 429]);
    let a = refused.unwrap();
    assert_eq!(a.header("retry-after"), Some("1"));
    assert!(a.json()["error"]
        .as_str()
        .unwrap()
        .contains("--ingest-queue"));
    // Two records still fit.
    let a = post(srv.addr, ndjson(&four[..2])).await;
    assert_eq!(a.status, 202, "{}", a.body);
    let (_, metrics) = http(srv.addr, "/metrics", "").await;
    assert!(metrics.contains("livedash_ingest_requests_total{code=\"429\"} 3\n"));
    srv.stop().await;
}

#[tokio::test]
async fn expired_records_are_counted_not_added() {
    let srv = TestServer::start(&ingest_only()).await;
    let mut ws = srv.connect().await;
    next_of(&mut ws, "orders").await;
    let mut old = record(1, 50.0);
    old["created_at"] = json!(now_ms() - 301_000);
    let a = post(srv.addr, ndjson(&[old, record(2, 3.0)])).await;
    assert_eq!(a.status, 202, "{}", a.body);
    assert_eq!(a.json(), json!({"accepted": 2, "expired": 1}));
    let o = next_with_records(&mut ws).await;
    assert_eq!(o["records"].as_array().unwrap().len(), 1);
    assert_eq!(o["total_sales"], 3.0);
    let (_, metrics) = http(srv.addr, "/metrics", "").await;
    assert!(
        metrics.contains("livedash_ingest_expired_total 1\n"),
        "{metrics}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn a_stopped_stream_or_a_wrong_type_is_refused() {
    let srv = TestServer::start(&["--ingest-token", TOKEN, "--admin-token", "adm"]).await;
    let body = ndjson(&[record(1, 1.0)]);
    let a = post_with(
        srv.addr,
        &format!(
            "Authorization: Bearer {TOKEN}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
        ),
        body.clone().into_bytes(),
        false,
    )
    .await;
    assert_eq!(a.status, 415, "{}", a.body);
    let a = post_with(
        srv.addr,
        &format!("Authorization: Bearer {TOKEN}\r\nContent-Type: text/plain; charset=utf-8\r\n"),
        body.clone().into_bytes(),
        false,
    )
    .await;
    assert_eq!(a.status, 202, "{}", a.body);
    let (code, _) = common::request(
        srv.addr,
        "POST",
        "/api/streams/orders/stop",
        "Authorization: Bearer adm\r\n",
    )
    .await;
    assert_eq!(code, 200);
    let a = post(srv.addr, body).await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(a.header("retry-after"), Some("5"));
    srv.stop().await;
}

/// Not an assertion: how fast one request path takes records. Run with
/// `cargo test --release -p livedash-server --test ingest -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn measure_ingest_rate() {
    let n = 100_000u64;
    let srv = TestServer::start(&[
        "--source",
        "ingest",
        "--ingest-token",
        TOKEN,
        "--ingest-max-bytes",
        "104857600",
        "--ingest-queue",
        "1000000",
    ])
    .await;
    let body = ndjson(&(0..n).map(|i| record(i, 9.99)).collect::<Vec<_>>());
    let bytes = body.len();
    let t0 = Instant::now();
    let a = post(srv.addr, body).await;
    let dt = t0.elapsed();
    assert_eq!(a.status, 202, "{}", a.body);
    println!(
        "ingest: {n} records ({:.1} MB NDJSON) in {:.0} ms: {:.0} records/s, {:.1} MB/s",
        bytes as f64 / 1e6,
        dt.as_secs_f64() * 1e3,
        n as f64 / dt.as_secs_f64(),
        bytes as f64 / 1e6 / dt.as_secs_f64()
    );
    srv.stop().await;
}
