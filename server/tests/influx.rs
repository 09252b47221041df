//! `POST /api/v2/write` (the InfluxDB v2 write API) over real sockets: the
//! token, precision, gzip, all or nothing, series names, the `series`
//! frames a WebSocket client sees (values and seq), the snapshot, hostile
//! bodies, the series bound, and a real InfluxDB client library.

mod common;

use common::{next, next_of, TestServer, Ws};
use flate2::write::GzEncoder;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const TOKEN: &str = "infl-s3cret";

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

    /// The status and InfluxDB's error `code`.
    fn code(&self) -> (u16, String) {
        let (status, code, _) = self.error();
        (status, code)
    }

    /// InfluxDB's error shape: `{"code": ..., "message": ...}`.
    fn error(&self) -> (u16, String, String) {
        let v = self.json();
        let code = v["code"].as_str().expect("a code").to_string();
        let msg = v["message"].as_str().expect("a message").to_string();
        (self.status, code, msg)
    }
}

/// POST `body` to `target` (path and query) with extra header lines.
async fn post_raw(addr: SocketAddr, target: &str, headers: &str, body: Vec<u8>) -> Answer {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    );
    let (mut rd, mut wr) = s.split();
    let write = async {
        wr.write_all(head.as_bytes()).await?;
        wr.write_all(&body).await?;
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

/// Write line protocol with the token, `precision` (None: the default).
async fn write(addr: SocketAddr, precision: Option<&str>, body: impl Into<Vec<u8>>) -> Answer {
    let q = precision
        .map(|p| format!("&precision={p}"))
        .unwrap_or_default();
    post_raw(
        addr,
        &format!("/api/v2/write?org=acme&bucket=telegraf{q}"),
        &format!("Authorization: Token {TOKEN}\r\nContent-Type: text/plain; charset=utf-8\r\n"),
        body.into(),
    )
    .await
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut z = GzEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

async fn server(extra: &[&str]) -> TestServer {
    let mut args = vec!["--ingest-token", TOKEN, "--tick-ms", "1000"];
    args.extend_from_slice(extra);
    TestServer::start(&args).await
}

/// A WebSocket client past its hello and snapshot; the snapshot.
async fn client(srv: &TestServer) -> (Ws, Value) {
    let mut ws = srv.connect().await;
    assert_eq!(next(&mut ws).await["type"], "hello");
    let snap = next(&mut ws).await;
    assert_eq!(snap["type"], "snapshot");
    (ws, snap)
}

/// `series` frames until `want` points arrived in all; (name → points
/// as (ts, value)), and every frame's seq.
async fn collect_series(ws: &mut Ws, want: usize) -> (BTreeMap<String, Vec<(u64, f64)>>, Vec<u64>) {
    let mut got: BTreeMap<String, Vec<(u64, f64)>> = BTreeMap::new();
    let mut seqs = Vec::new();
    let mut n = 0;
    while n < want {
        let f = next_of(ws, "series").await;
        seqs.push(f["seq"].as_u64().unwrap());
        let pts = got
            .entry(f["name"].as_str().unwrap().to_string())
            .or_default();
        for p in f["points"].as_array().unwrap() {
            pts.push((p["ts"].as_u64().unwrap(), p["value"].as_f64().unwrap()));
            n += 1;
        }
    }
    (got, seqs)
}

#[tokio::test]
async fn without_the_ingest_token_the_route_is_not_there() {
    let srv = TestServer::start(&[]).await;
    let a = write(srv.addr, None, "m v=1").await;
    assert_eq!(a.error().0, 404);
    assert_eq!(a.error().1, "not found");
    srv.stop().await;
}

#[tokio::test]
async fn the_token_is_required_as_token_or_bearer() {
    let srv = server(&[]).await;
    let target = "/api/v2/write?bucket=b";
    for headers in [
        String::new(),
        "Authorization: Token wrong\r\n".into(),
        "Authorization: Basic aW5mbDpzM2NyZXQ=\r\n".into(),
        format!("Authorization: {TOKEN}\r\n"),
        format!("Authorization: Token {TOKEN}x\r\n"),
    ] {
        let a = post_raw(srv.addr, target, &headers, b"m v=1".to_vec()).await;
        let (status, code, msg) = a.error();
        assert_eq!((status, code.as_str()), (401, "unauthorized"), "{headers}");
        assert!(msg.contains("unauthorized access"), "{msg}");
        assert_eq!(a.header("www-authenticate"), Some("Token"));
    }
    for scheme in ["Token", "Bearer", "token"] {
        let h = format!("Authorization: {scheme} {TOKEN}\r\n");
        let a = post_raw(srv.addr, target, &h, b"m v=1".to_vec()).await;
        assert_eq!((a.status, a.body.as_str()), (204, ""), "{scheme}");
    }
    // A bucket is required, as InfluxDB requires one; the precision must
    // be one of InfluxDB's.
    let h = format!("Authorization: Token {TOKEN}\r\n");
    let a = post_raw(srv.addr, "/api/v2/write?org=o", &h, b"m v=1".to_vec()).await;
    assert_eq!(a.code(), (400, "invalid".to_string()));
    let a = write(srv.addr, Some("h"), "m v=1").await;
    let (status, code, msg) = a.error();
    assert_eq!((status, code.as_str()), (400, "invalid"));
    assert!(msg.contains("precision"), "{msg}");
    srv.stop().await;
}

#[tokio::test]
async fn points_reach_a_websocket_client_with_their_values_and_seq() {
    let srv = server(&[]).await;
    let (mut ws, snap) = client(&srv).await;
    assert_eq!(snap["seq"]["series"], 0);
    assert_eq!(snap["series"], serde_json::json!([]));
    // Each precision, converted to milliseconds; tags sorted by key.
    let t = 1_764_000_000_123u64;
    let cases = [
        ("s", format!("{}", t / 1000), t / 1000 * 1000),
        ("ms", format!("{t}"), t),
        ("us", format!("{}456", t), t),
        ("ns", format!("{}456789", t), t),
    ];
    for (p, stamp, _) in &cases {
        let body = format!(
            "weather,station=oslo,country=no temp=-3.5,hum=81i,ok=true,note=\"cold\" {stamp}\n"
        );
        let a = write(srv.addr, Some(p), body).await;
        assert_eq!(a.status, 204, "{p}: {}", a.body);
    }
    let (got, seqs) = collect_series(&mut ws, 12).await;
    let want_ts: Vec<u64> = cases.iter().map(|c| c.2).collect();
    let temp = &got["weather.temp{country=no,station=oslo}"];
    assert_eq!(temp.iter().map(|p| p.0).collect::<Vec<_>>(), want_ts);
    assert!(temp.iter().all(|p| p.1 == -3.5));
    assert!(got["weather.hum{country=no,station=oslo}"]
        .iter()
        .all(|p| p.1 == 81.0));
    assert!(got["weather.ok{country=no,station=oslo}"]
        .iter()
        .all(|p| p.1 == 1.0));
    assert_eq!(got.len(), 3, "the string field is not a series: {got:?}");
    // seq grows by exactly one per series frame.
    assert_eq!(seqs[0], 1);
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    // The default precision is ns; no timestamp takes the server's clock.
    let before = now_ms();
    assert_eq!(
        write(srv.addr, None, "m v=7 1764000000999999999\nm v=8")
            .await
            .status,
        204
    );
    let (got, more) = collect_series(&mut ws, 2).await;
    assert_eq!(got["m.v"][0], (1_764_000_000_999, 7.0));
    assert!((before..before + 5_000).contains(&got["m.v"][1].0));
    assert_eq!(more[0], seqs.last().unwrap() + 1);
    srv.stop().await;
}

fn now_ms() -> u64 {
    livedash_shared::now_ms()
}

#[tokio::test]
async fn a_new_client_draws_series_from_its_snapshot() {
    let srv = server(&["--series-points", "5"]).await;
    let (mut ws, _) = client(&srv).await;
    let body: String = (1..=8)
        .map(|i| {
            format!(
                "disk,path=/,device=sda1 used_percent={}.5 {}000\n",
                i * 10,
                1_764_000_000 + i
            )
        })
        .collect();
    assert_eq!(write(srv.addr, Some("ms"), body).await.status, 204);
    let (_, seqs) = collect_series(&mut ws, 8).await;
    // A tab opened now gets the newest 5 points in its snapshot, and seq.
    tokio::time::sleep(Duration::from_millis(1100)).await; // past the snapshot cache
    let (_, snap) = client(&srv).await;
    assert_eq!(snap["seq"]["series"].as_u64(), seqs.last().copied());
    let s = &snap["series"][0];
    assert_eq!(s["name"], "disk.used_percent{device=sda1,path=/}");
    let values: Vec<f64> = s["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, [40.5, 50.5, 60.5, 70.5, 80.5]);
    assert_eq!(s["points"][4]["ts"], 1_764_000_008_000u64);
    // /api/snapshot is the same object.
    let (status, body) = common::http(srv.addr, "/api/snapshot", "").await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["series"][0]["points"].as_array().unwrap().len(), 5);
    srv.stop().await;
}

#[tokio::test]
async fn gzip_bodies_are_read_and_a_gzip_bomb_is_refused() {
    let srv = server(&["--ingest-max-bytes", "100000"]).await;
    let (mut ws, _) = client(&srv).await;
    let h = format!("Authorization: Token {TOKEN}\r\nContent-Encoding: gzip\r\n");
    let target = "/api/v2/write?bucket=b&precision=ms";
    let a = post_raw(srv.addr, target, &h, gzip(b"zipped v=42 1764000000000\n")).await;
    assert_eq!(a.status, 204, "{}", a.body);
    let (got, _) = collect_series(&mut ws, 1).await;
    assert_eq!(got["zipped.v"], [(1_764_000_000_000, 42.0)]);
    // 10 MB of spaces in a 10 KB body: refused once 100 kB are decoded.
    let bomb = gzip(&vec![b' '; 10_000_000]);
    assert!(bomb.len() < 100_000);
    let a = post_raw(srv.addr, target, &h, bomb).await;
    assert_eq!(a.code(), (413, "request too large".to_string()));
    // Not gzip at all.
    let a = post_raw(srv.addr, target, &h, b"m v=1".to_vec()).await;
    assert_eq!(a.error().0, 400);
    srv.stop().await;
}

#[tokio::test]
async fn one_bad_line_refuses_the_whole_request() {
    let srv = server(&[]).await;
    let (mut ws, _) = client(&srv).await;
    let cases: [(&[u8], &str); 7] = [
        (b"good v=1 1\ngood v=2 2\nbad v=1i2 3\n", "line 3:"),
        (b"good v=1 1\ntrunc,host=a\n", "line 2:"),
        (b"good v=1 1\nnan v=NaN 2\n", "line 2:"),
        (
            b"good v=1 1\n\ninf v=1e999 2\n",
            "line 3: field \"v\": inf is not a finite number",
        ),
        (
            b"good v=1 1\nneg v=1 -1\n",
            "line 2: timestamp -1 is before 1970",
        ),
        (
            b"good v=1 1\nbad,host=\xff\xfe v=1 1\n",
            "line 2: invalid UTF-8",
        ),
        (
            b"good v=1 1\nm,a=1,a=2 v=1\n",
            "line 2: duplicate tag \"a\"",
        ),
    ];
    for (body, want) in cases {
        let a = write(srv.addr, Some("ms"), body.to_vec()).await;
        let (status, code, msg) = a.error();
        assert_eq!((status, code.as_str()), (400, "invalid"), "{msg}");
        assert!(msg.starts_with(want), "{msg} should start with {want}");
    }
    // Nothing of those was published: the first series frame is this one.
    assert_eq!(write(srv.addr, Some("ms"), "after v=9 5").await.status, 204);
    let f = next_of(&mut ws, "series").await;
    assert_eq!(
        (f["name"].as_str(), f["seq"].as_u64()),
        (Some("after.v"), Some(1))
    );
    srv.stop().await;
}

#[tokio::test]
async fn hostile_bodies_are_refused_and_the_server_keeps_serving() {
    let srv = server(&[]).await;
    // A 10 MB single line (a measurement name) is refused.
    let line = format!("{} v=1", "m".repeat(10_000_000));
    let a = write(srv.addr, None, line).await;
    assert_eq!(a.error().0, 400);
    // Over the body limit (10 MiB): 413 before reading it all.
    let a = write(srv.addr, None, vec![b'x'; 11 * 1024 * 1024]).await;
    assert_eq!(a.code(), (413, "request too large".to_string()));
    // Empty and comment-only bodies.
    for body in ["", "# just a comment\n"] {
        let (status, code, msg) = write(srv.addr, None, body).await.error();
        assert_eq!(
            (status, code.as_str(), msg.as_str()),
            (400, "invalid", "writing requires points")
        );
    }
    // Unknown encodings.
    let h = format!("Authorization: Token {TOKEN}\r\nContent-Encoding: br\r\n");
    let a = post_raw(srv.addr, "/api/v2/write?bucket=b", &h, b"m v=1".to_vec()).await;
    assert_eq!(a.error().0, 415);
    // A line of string fields only is valid and makes no series.
    assert_eq!(write(srv.addr, None, "log msg=\"hi\"").await.status, 204);
    // Still serving.
    let (status, _) = common::http(srv.addr, "/healthz", "").await;
    assert_eq!(status, 200);
    srv.stop().await;
}

#[tokio::test]
async fn the_series_bound_refuses_whole_requests() {
    let srv = server(&["--max-series", "100"]).await;
    let (mut ws, _) = client(&srv).await;
    let lines = |from: usize, to: usize| -> String {
        (from..to)
            .map(|i| format!("host{i:03} load=1 1\n"))
            .collect()
    };
    let (status, code, msg) = write(srv.addr, Some("s"), lines(0, 101)).await.error();
    assert_eq!((status, code.as_str()), (422, "unprocessable entity"));
    assert!(
        msg.contains("101 new series") && msg.contains("--max-series"),
        "{msg}"
    );
    assert_eq!(write(srv.addr, Some("s"), lines(0, 100)).await.status, 204);
    // Known series can still be written; a new one cannot.
    assert_eq!(write(srv.addr, Some("s"), lines(50, 100)).await.status, 204);
    assert_eq!(
        write(srv.addr, Some("s"), lines(99, 101)).await.error().0,
        422
    );
    let (got, seqs) = collect_series(&mut ws, 150).await;
    assert_eq!(got.len(), 100);
    assert_eq!(got["host099.load"].len(), 2);
    // One frame per series per flush: the second write's points join the
    // first's frame when that was not flushed yet.
    assert!((100..=150).contains(&seqs.len()), "{seqs:?}");
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
    srv.stop().await;
}

#[tokio::test]
async fn a_burst_of_series_is_spread_over_flushes() {
    let srv = server(&[]).await;
    let (mut ws, _) = client(&srv).await;
    // 1,000 series at once (a Telegraf agent's flush) ...
    let body: String = (0..1000)
        .map(|i| format!("cpu,core={i:04} usage={i} 1\n"))
        .collect();
    let t0 = tokio::time::Instant::now();
    assert_eq!(write(srv.addr, Some("s"), body).await.status, 204);
    // ... arrive as 1,000 frames, 32 per 250 ms, in write order, no gap.
    let (got, seqs) = collect_series(&mut ws, 1000).await;
    let took = t0.elapsed();
    assert_eq!(got.len(), 1000);
    assert_eq!(got["cpu.usage{core=0999}"], [(1000, 999.0)]);
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
    assert!(
        took >= Duration::from_millis(250 * (1000 / 32 - 1)),
        "{took:?}"
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
    srv.stop().await;
}

/// The Rust InfluxDB v2 client library (crate `influxdb2`), unchanged,
/// pointed at livedash.
#[tokio::test]
async fn the_influxdb2_client_library_writes_unchanged() {
    use influxdb2::models::DataPoint;
    let srv = server(&[]).await;
    let (mut ws, _) = client(&srv).await;
    let client = influxdb2::Client::new(format!("http://{}", srv.addr), "acme", TOKEN);
    let points = vec![
        DataPoint::builder("cpu_load_short")
            .tag("region", "us-west")
            .tag("host", "server01")
            .field("value", 0.64)
            .timestamp(1_764_000_000_500_000_000)
            .build()
            .unwrap(),
        DataPoint::builder("cpu_load_short")
            .tag("host", "server01")
            .tag("region", "us-west")
            .field("value", 27.99)
            .field("count", 3i64)
            .timestamp(1_764_000_001_000_000_000)
            .build()
            .unwrap(),
    ];
    client
        .write("telegraf", futures_util::stream::iter(points))
        .await
        .expect("the client's write succeeds");
    let (got, _) = collect_series(&mut ws, 3).await;
    assert_eq!(
        got["cpu_load_short.value{host=server01,region=us-west}"],
        [(1_764_000_000_500, 0.64), (1_764_000_001_000, 27.99)]
    );
    assert_eq!(
        got["cpu_load_short.count{host=server01,region=us-west}"],
        [(1_764_000_001_000, 3.0)]
    );
    // A wrong token is an error the library reports.
    let bad = influxdb2::Client::new(format!("http://{}", srv.addr), "acme", "nope");
    let p = DataPoint::builder("m").field("v", 1.0).build().unwrap();
    let e = bad
        .write("telegraf", futures_util::stream::iter(vec![p]))
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("401"), "{e:?}");
    srv.stop().await;
}
