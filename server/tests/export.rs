//! `GET /api/export` over real sockets: the points written to
//! `/api/v2/write` come back row for row (CSV and JSON), the minute tier
//! after a restart, clear 400s and 404s, CORS like every `/api` route.

mod common;

use common::{http, influx_write, now_ms, TestServer};
use serde_json::Value;
use std::time::Duration;

const TOKEN: &str = "exp-s3cret";

/// Wait until `series` has its point at `last`.
async fn wait_for_last(srv: &TestServer, series: &str, last: u64) {
    let path = format!("/api/history?series={series}&from={last}&to={last}");
    for _ in 0..500 {
        let (status, body) = http(srv.addr, &path, "").await;
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if status == 200 && v["series"][0]["points"].as_array().map(Vec::len) == Some(1) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{series} never got its point at {last}");
}

/// `n` points of `room,floor=2 temp=...` one second apart ending at
/// `end`, value `i * 0.25 - 3`: the lines and the (ts, value) pairs.
fn written(end: u64, n: u64) -> (String, Vec<(u64, f64)>) {
    let pts: Vec<(u64, f64)> = (0..n)
        .map(|i| (end - (n - 1 - i) * 1000, i as f64 * 0.25 - 3.0))
        .collect();
    let lines = pts
        .iter()
        .map(|(t, v)| format!("room,floor=2 temp={v} {t}\n"))
        .collect();
    (lines, pts)
}

const NAME: &str = "room.temp{floor=2}";
const ENC: &str = "room.temp%7Bfloor%3D2%7D";

#[tokio::test]
async fn export_returns_what_was_written_as_csv_and_json() {
    let srv = TestServer::start(&["--ingest-token", TOKEN]).await;
    let end = now_ms() - 1000;
    let (lines, pts) = written(end, 2500);
    assert_eq!(influx_write(srv.addr, TOKEN, &lines).await, 204);
    wait_for_last(&srv, ENC, end).await;
    let from = pts[0].0;
    // CSV: a header, then every point, in order, at full resolution.
    let (status, csv) = http(
        srv.addr,
        &format!("/api/export?series={ENC}&from={from}&to={end}"),
        "",
    )
    .await;
    assert_eq!(status, 200, "{csv}");
    let mut rows = csv.lines();
    assert_eq!(rows.next(), Some("ts,value,min,max,count"));
    let got: Vec<(u64, f64)> = rows
        .map(|r| {
            let c: Vec<&str> = r.split(',').collect();
            assert_eq!(c.len(), 5, "{r}");
            assert_eq!(
                (c[1], c[2], c[4]),
                (c[3], c[1], "1"),
                "a sample is a row of one: {r}"
            );
            (c[0].parse().unwrap(), c[1].parse().unwrap())
        })
        .collect();
    assert_eq!(got, pts);
    // A sub-range, as JSON with numbers as numbers.
    let (a, b) = (pts[100].0, pts[199].0);
    let (status, body) = http(
        srv.addr,
        &format!("/api/export?series={ENC}&from={a}&to={b}&format=json"),
        "",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["series"], NAME);
    let got: Vec<(u64, f64)> = v["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["ts"].as_u64().unwrap(), p["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(got, pts[100..200]);
    srv.stop().await;
}

#[tokio::test]
async fn after_a_restart_export_reads_the_minute_tier() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap().to_string();
    let args = ["--data-dir", &dir, "--ingest-token", TOKEN];
    let srv = TestServer::start(&args).await;
    let end = now_ms() - 1000;
    let (lines, pts) = written(end, 300);
    assert_eq!(influx_write(srv.addr, TOKEN, &lines).await, 204);
    wait_for_last(&srv, ENC, end).await;
    srv.stop().await;
    let srv = TestServer::start(&args).await;
    let (status, csv) = http(
        srv.addr,
        &format!("/api/export?series={ENC}&from=now-1h"),
        "",
    )
    .await;
    assert_eq!(status, 200, "{csv}");
    let rows: Vec<Vec<f64>> = csv
        .lines()
        .skip(1)
        .map(|r| r.split(',').map(|c| c.parse().unwrap()).collect())
        .collect();
    // Every minute the points fell in, with their count, min and max.
    let count: f64 = rows.iter().map(|r| r[4]).sum();
    assert_eq!(count, 300.0);
    assert!((5..=7).contains(&rows.len()), "{csv}");
    let min = rows.iter().map(|r| r[2]).fold(f64::MAX, f64::min);
    let max = rows.iter().map(|r| r[3]).fold(f64::MIN, f64::max);
    assert_eq!((min, max), (pts[0].1, pts[299].1));
    srv.stop().await;
}

/// The status line and headers of a GET from the allowed origin.
async fn response_head(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nOrigin: http://app.example\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    text.split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn bad_exports_are_clear_and_cors_is_granted() {
    let srv = TestServer::start(&[
        "--allowed-origin",
        "http://app.example",
        "--system-ms",
        "200",
    ])
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for (path, status, says) in [
        ("/api/export", 400, "name the series"),
        (
            "/api/export?series=system.cpu_percent&format=xml",
            400,
            "csv or json",
        ),
        (
            "/api/export?series=system.cpu_percent&from=5&to=1",
            400,
            "after",
        ),
        (
            "/api/export?series=system.cpu_percent&from=yesterday",
            400,
            "from:",
        ),
        ("/api/export?series=nope.none", 404, "no series is named"),
    ] {
        let (got, body) = http(srv.addr, path, "").await;
        assert_eq!(got, status, "{path}: {body}");
        let v: Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
        assert!(
            v["message"].as_str().unwrap().contains(says),
            "{path}: {body}"
        );
    }
    let head = response_head(srv.addr, "/api/export?series=system.cpu_percent").await;
    assert!(
        head.to_ascii_lowercase()
            .contains("access-control-allow-origin: http://app.example"),
        "{head}"
    );
    assert!(head.contains("text/csv"), "{head}");
    srv.stop().await;
}

/// The cost of exporting a day of 1 s data (86,000 rows), for
/// BENCHMARKS.md: `cargo test --release -p livedash-server --test export
/// -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn export_of_24_hours_of_1_s_data() {
    let srv = TestServer::start(&["--ingest-token", TOKEN]).await;
    let end = now_ms() - 1000;
    // Just under a day: the oldest point is not on the retention edge.
    let n = 86_000u64;
    let lines: String = (0..n)
        .map(|i| format!("day v={} {}\n", i % 100, end - (n - 1 - i) * 1000))
        .collect();
    assert_eq!(influx_write(srv.addr, TOKEN, &lines).await, 204);
    wait_for_last(&srv, "day.v", end).await;
    let from = end - (n - 1) * 1000;
    for format in ["csv", "json"] {
        let path = format!("/api/export?series=day.v&from={from}&to={end}&format={format}");
        let mut times = Vec::new();
        let mut bytes = 0;
        for _ in 0..10 {
            let t0 = std::time::Instant::now();
            let (status, body) = http(srv.addr, &path, "").await;
            times.push(t0.elapsed());
            assert_eq!(status, 200);
            bytes = body.len();
            if format == "csv" {
                assert_eq!(body.lines().count() as u64, n + 1);
            }
        }
        times.sort();
        println!(
            "/api/export {format}, {n} rows, {bytes} bytes: median {:?}, max {:?}",
            times[5], times[9]
        );
    }
    srv.stop().await;
}
