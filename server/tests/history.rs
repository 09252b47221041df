//! `/api/history` and `/api/series` over real sockets, servers started
//! in-process with their own `--data-dir`: the built-in series are listed,
//! a downsampled answer keeps a one-sample spike and dip, errors are JSON,
//! the minute tier survives a restart, the viewer token is required, and
//! (ignored) the latency for 24 h of 1 s data.

mod common;

use common::{http, influx_write, now_ms, TestServer};
use serde_json::Value;
use std::time::{Duration, Instant};

const TOKEN: &str = "hist-s3cret";

async fn get_json(srv: &TestServer, path: &str) -> (u16, Value) {
    let (status, body) = http(srv.addr, path, "").await;
    let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    (status, v)
}

/// Lines of `name` with one point a second for `n` seconds ending at
/// `end`, value 10 except where `special` says.
fn lines(name: &str, end: u64, n: u64, special: &[(u64, f64)]) -> String {
    let mut out = String::with_capacity(n as usize * 32);
    for i in 0..n {
        let v = special
            .iter()
            .find(|(at, _)| *at == i)
            .map_or(10.0, |s| s.1);
        out.push_str(&format!("{name} v={v} {}\n", end - (n - 1 - i) * 1000));
    }
    out
}

/// Poll `/api/history` until the series has its point at `last` (one
/// write is recorded in order, so then all of it is).
async fn wait_for_last(srv: &TestServer, series: &str, last: u64) {
    let path = format!("/api/history?series={series}&from={last}&to={last}");
    for _ in 0..500 {
        let (status, v) = get_json(srv, &path).await;
        if status == 200 && v["series"][0]["points"].as_array().unwrap().len() == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{series} never got its point at {last}");
}

#[tokio::test]
async fn built_in_series_are_listed_and_answered() {
    let srv = TestServer::start(&["--tick-ms", "100", "--system-ms", "200"]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, names) = get_json(&srv, "/api/series").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = names
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for want in [
        "orders.num_orders",
        "orders.num_order_items",
        "orders.total_sales",
        "system.cpu_percent",
        "system.memory_percent",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("orders.revenue.country.")),
        "{names:?}"
    );
    let (status, v) = get_json(
        &srv,
        "/api/history?series=system.memory_percent&series=orders.num_orders&from=now-5m",
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["series"][0]["name"], "system.memory_percent");
    // Memory holds full resolution since the start, 1.5 s ago; before it
    // the (empty) minute tier.
    assert_eq!(v["series"][0]["tier"], "mixed");
    let pts = v["series"][0]["points"].as_array().unwrap();
    assert!(
        pts.iter().all(|p| p.get("count").is_none()),
        "raw points only"
    );
    assert!(pts.len() >= 3, "{v}");
    let m = pts[0]["value"].as_f64().unwrap();
    assert!(m > 0.0 && m <= 100.0, "{m}");
    assert!(!v["series"][1]["points"].as_array().unwrap().is_empty());
    srv.stop().await;
}

#[tokio::test]
async fn a_downsampled_answer_keeps_the_spike_and_the_dip() {
    let srv = TestServer::start(&["--ingest-token", TOKEN]).await;
    let end = now_ms() - 1000;
    let n = 20_000;
    let body = lines("spiky", end, n, &[(12_345, 999.0), (17_001, -5.0)]);
    assert_eq!(influx_write(srv.addr, TOKEN, &body).await, 204);
    let from = end - (n - 1) * 1000;
    wait_for_last(&srv, "spiky.v", end).await;
    let path = format!("/api/history?series=spiky.v&from={from}&to={end}&max_points=100");
    let (status, v) = get_json(&srv, &path).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["from"].as_u64(), v["to"].as_u64()),
        (Some(from), Some(end))
    );
    let s = &v["series"][0];
    assert_eq!(s["tier"], "raw");
    let pts = s["points"].as_array().unwrap();
    assert!(pts.len() <= 100 && pts.len() >= 50, "{}", pts.len());
    let has = |ts: u64, value: f64| {
        pts.iter()
            .any(|p| p["ts"].as_u64() == Some(ts) && p["value"].as_f64() == Some(value))
    };
    assert!(has(from + 12_345_000, 999.0), "the spike was lost");
    assert!(has(from + 17_001_000, -5.0), "the dip was lost");
    let ts: Vec<u64> = pts.iter().map(|p| p["ts"].as_u64().unwrap()).collect();
    assert!(ts.windows(2).all(|w| w[0] < w[1]), "time order");
    // Without downsampling: every point of a small range.
    let path = format!(
        "/api/history?series=spiky.v&from={from}&to={}",
        from + 9_000
    );
    let (_, v) = get_json(&srv, &path).await;
    assert_eq!(v["series"][0]["points"].as_array().unwrap().len(), 10);
    srv.stop().await;
}

#[tokio::test]
async fn bad_requests_get_json_errors() {
    let srv = TestServer::start(&[]).await;
    for (path, status, code) in [
        ("/api/history", 400, "bad_request"),
        (
            "/api/history?series=system.cpu_percent&from=yesterday",
            400,
            "bad_request",
        ),
        (
            "/api/history?series=system.cpu_percent&max_points=0",
            400,
            "bad_request",
        ),
        (
            "/api/history?series=system.cpu_percent&max_points=100000",
            400,
            "bad_request",
        ),
        (
            "/api/history?series=system.cpu_percent&from=now&to=now-1h",
            400,
            "bad_request",
        ),
        ("/api/history?series=no.such", 404, "unknown_series"),
    ] {
        let (got, v) = get_json(&srv, path).await;
        assert_eq!(
            (got, v["error"].as_str()),
            (status, Some(code)),
            "{path}: {v}"
        );
        assert!(!v["message"].as_str().unwrap().is_empty());
    }
    let many: String = (0..17).map(|i| format!("series=s{i}&")).collect();
    let (got, v) = get_json(&srv, &format!("/api/history?{many}")).await;
    assert_eq!(got, 400);
    assert!(v["message"].as_str().unwrap().contains("at most 16"), "{v}");
    srv.stop().await;
}

#[tokio::test]
async fn the_minute_tier_survives_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap().to_string();
    let args = ["--data-dir", &dir, "--ingest-token", TOKEN];
    let srv = TestServer::start(&args).await;
    let end = now_ms() - 1000;
    let n = 600; // ten minutes, one a second
    let body = lines("kept", end, n, &[(300, 77.0)]);
    assert_eq!(influx_write(srv.addr, TOKEN, &body).await, 204);
    wait_for_last(&srv, "kept.v", end).await;
    srv.stop().await; // writes the open minutes
    let srv = TestServer::start(&args).await;
    let (_, names) = get_json(&srv, "/api/series").await;
    assert!(
        names.as_array().unwrap().iter().any(|n| n == "kept.v"),
        "{names}"
    );
    let (status, v) = get_json(&srv, "/api/history?series=kept.v&from=now-20m").await;
    assert_eq!(status, 200, "{v}");
    let s = &v["series"][0];
    assert_eq!(s["tier"], "minute", "{v}");
    let pts = s["points"].as_array().unwrap();
    assert!((10..=12).contains(&pts.len()), "{}", pts.len());
    let count: u64 = pts.iter().map(|p| p["count"].as_u64().unwrap()).sum();
    assert_eq!(count, n, "every point in one minute row");
    let max = pts
        .iter()
        .map(|p| p["max"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert_eq!(max, 77.0, "the peak survives in the minute tier");
    assert!(pts.iter().all(|p| p["min"].as_f64() == Some(10.0)));
    srv.stop().await;
}

#[tokio::test]
async fn the_viewer_token_is_required() {
    let srv = TestServer::start(&["--viewer-token", "v1ew"]).await;
    let q = "/api/history?series=system.cpu_percent";
    assert_eq!(http(srv.addr, q, "").await.0, 401);
    assert_eq!(http(srv.addr, "/api/series", "").await.0, 401);
    assert_eq!(http(srv.addr, "/api/series?token=v1ew", "").await.0, 200);
    let bearer = "Authorization: Bearer v1ew\r\n";
    let (status, _) = http(srv.addr, "/api/series", bearer).await;
    assert_eq!(status, 200);
    srv.stop().await;
}

/// `/api/history` latency for 24 h of 1 s data at `max_points=1000`, over
/// a real socket; printed. Run it in release:
/// `cargo test --release -p livedash-server --test history -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn latency_for_24_hours_of_1_s_data() {
    let srv = TestServer::start(&["--ingest-token", TOKEN]).await;
    let end = now_ms() - 1000;
    let n = 86_400;
    assert_eq!(
        influx_write(srv.addr, TOKEN, &lines("day", end, n, &[])).await,
        204
    );
    let from = end - (n - 1) * 1000;
    wait_for_last(&srv, "day.v", end).await;
    let path = format!("/api/history?series=day.v&from={from}&to={end}&max_points=1000");
    let mut times = Vec::new();
    for _ in 0..50 {
        let t0 = Instant::now();
        let (status, v) = get_json(&srv, &path).await;
        times.push(t0.elapsed());
        assert_eq!(status, 200);
        assert!(v["series"][0]["points"].as_array().unwrap().len() <= 1000);
    }
    times.sort();
    println!(
        "/api/history, 86,400 points, max_points=1000: median {:?}, p90 {:?}, max {:?}",
        times[25], times[45], times[49]
    );
    srv.stop().await;
}
