//! `GET /api/stream` (Server-Sent Events) over real sockets: the `/ws`
//! frames in order with `topic:seq` ids, resume by `Last-Event-ID` without
//! gap or duplicate, heartbeat comments, the `/ws` rules (token, Origin,
//! slots) and the write timeout for a client that stops reading.

mod common;

use common::*;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{timeout, Instant};

/// One event as the browser would see it.
#[derive(Debug, Default)]
struct Event {
    event: String,
    id: Option<String>,
    data: String,
    /// Comment lines seen before this event (heartbeats).
    comments: usize,
}

impl Event {
    fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap()
    }
}

/// A minimal EventSource over HTTP/1.1 (chunked body).
struct Sse {
    r: BufReader<TcpStream>,
    /// Decoded body bytes not yet parsed into events.
    body: Vec<u8>,
}

/// Open `path`; the status, the response head, and the stream.
async fn open(addr: SocketAddr, path: &str, headers: &str) -> (u16, String, Sse) {
    open_on(TcpStream::connect(addr).await.unwrap(), addr, path, headers).await
}

async fn open_on(
    mut s: TcpStream,
    addr: SocketAddr,
    path: &str,
    headers: &str,
) -> (u16, String, Sse) {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{headers}\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut r = BufReader::new(s);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = timeout(Duration::from_secs(5), r.read_line(&mut line))
            .await
            .expect("a response head in time")
            .unwrap();
        if n == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let status = head[9..12].parse().unwrap();
    (
        status,
        head,
        Sse {
            r,
            body: Vec::new(),
        },
    )
}

impl Sse {
    /// Read one chunk into `body`; false at the end of the body or socket.
    async fn chunk(&mut self) -> bool {
        let mut size = String::new();
        if self.r.read_line(&mut size).await.unwrap_or(0) == 0 {
            return false;
        }
        let n = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if n == 0 {
            return false;
        }
        let mut buf = vec![0; n + 2];
        if self.r.read_exact(&mut buf).await.is_err() {
            return false;
        }
        self.body.extend_from_slice(&buf[..n]);
        true
    }

    /// The next event (comments counted, not returned), within 5 s.
    async fn next(&mut self) -> Option<Event> {
        timeout(Duration::from_secs(5), self.next_untimed())
            .await
            .expect("an event in time")
    }

    async fn next_untimed(&mut self) -> Option<Event> {
        let mut e = Event::default();
        loop {
            while let Some(end) = self.body.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.body.drain(..=end).collect();
                let line = String::from_utf8(line[..line.len() - 1].to_vec()).unwrap();
                if line.is_empty() {
                    if e.event.is_empty() && e.data.is_empty() && e.id.is_none() {
                        continue; // a comment-only or retry-only block
                    }
                    return Some(e);
                }
                let (field, value) = line.split_once(':').unwrap_or((&line, ""));
                match field {
                    "" => e.comments += 1,
                    "event" => e.event = value.to_string(),
                    "data" => e.data.push_str(value),
                    "id" => e.id = Some(value.to_string()),
                    "retry" => {}
                    other => panic!("unknown field {other}"),
                }
            }
            if !self.chunk().await {
                return None;
            }
        }
    }

    /// Events until one of type `ty`.
    async fn next_of(&mut self, ty: &str) -> Event {
        for _ in 0..10_000 {
            let e = self.next().await.expect("the stream is open");
            if e.event == ty {
                return e;
            }
        }
        panic!("no {ty} event");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_snapshot_then_frames_in_order_as_on_the_websocket() {
    let srv =
        TestServer::start(&["--tick-ms", "100", "--system-ms", "200", "--ping-ms", "300"]).await;
    let (status, head, mut sse) = open(srv.addr, "/api/stream", "").await;
    assert_eq!(status, 200);
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    let hello = sse.next().await.unwrap();
    assert_eq!((hello.event.as_str(), &hello.id), ("hello", &None));
    assert_eq!(hello.json()["type"], "hello");
    let snap = sse.next().await.unwrap();
    assert_eq!(snap.event, "snapshot");
    let snap_seq = snap.json()["seq"]["orders"].as_u64().unwrap();
    let mut ws = srv.connect().await;
    // Read the WebSocket meanwhile (it answers the server's pings then).
    let ws_reader = tokio::spawn(async move {
        let mut frames = std::collections::HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            let v = next_of(&mut ws, "orders").await;
            frames.insert(v["seq"].as_u64().unwrap(), v);
        }
        frames
    });
    let mut last = snap_seq;
    let mut ws_orders = std::collections::HashMap::new();
    let mut comments = 0;
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let e = sse.next().await.unwrap();
        comments += e.comments;
        let v = e.json();
        assert_eq!(v["type"], e.event, "event: names the frame type");
        if e.event == "streams" {
            continue;
        }
        let topic = if e.event == "event" {
            "events"
        } else {
            e.event.as_str()
        };
        let seq = v["seq"].as_u64().unwrap();
        assert_eq!(e.id, Some(format!("{topic}:{seq}")));
        if e.event == "orders" {
            assert_eq!(seq, last + 1, "orders frames in order, none missing");
            last = seq;
            ws_orders.insert(seq, e.data.clone());
        }
    }
    assert!(
        last >= snap_seq + 10,
        "live frames flowed ({snap_seq}..{last})"
    );
    assert!(
        comments >= 3,
        "heartbeat comments every --ping-ms ({comments})"
    );
    // The same bytes as the WebSocket's frames of the same seq.
    let mut matched = 0;
    for (seq, v) in ws_reader.await.unwrap() {
        if let Some(text) = ws_orders.get(&seq) {
            assert_eq!(serde_json::from_str::<Value>(text).unwrap(), v);
            matched += 1;
        }
    }
    assert!(
        matched >= 5,
        "the WebSocket saw the same frames ({matched})"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_event_id_resumes_without_gap_or_duplicate() {
    let srv = TestServer::start(&["--tick-ms", "50", "--system-ms", "200"]).await;
    let (_, _, mut sse) = open(srv.addr, "/api/stream", "").await;
    sse.next_of("snapshot").await;
    let mut last_id = None;
    let mut orders = 0;
    for _ in 0..5 {
        let e = sse.next_of("orders").await;
        orders = e.json()["seq"].as_u64().unwrap();
        last_id = e.id.clone();
    }
    // Gone for a while: frames of every topic are published meanwhile.
    drop(sse);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let id = last_id.unwrap();
    let (status, _, mut sse) =
        open(srv.addr, "/api/stream", &format!("Last-Event-ID: {id}\r\n")).await;
    assert_eq!(status, 200);
    assert_eq!(sse.next().await.unwrap().event, "hello");
    let mut seen_system = false;
    for i in 0..30 {
        let e = sse.next().await.unwrap();
        assert_ne!(e.event, "snapshot", "resumed from the ring, no snapshot");
        if e.event == "system" {
            seen_system = true;
        }
        if e.event == "orders" {
            let seq = e.json()["seq"].as_u64().unwrap();
            assert_eq!(seq, orders + 1, "frame {i}: no gap, no duplicate");
            orders = seq;
        }
    }
    assert!(orders > 10, "missed orders frames were sent ({orders})");
    assert!(seen_system, "other topics resumed too");
    // The same through `?last_event_id=` (a new EventSource object).
    let (_, _, mut again) = open(srv.addr, &format!("/api/stream?last_event_id={id}"), "").await;
    again.next_of("hello").await;
    assert_eq!(again.next().await.unwrap().event, "streams");
    // A position the server no longer holds (or never had): a snapshot.
    let (_, _, mut gone) = open(srv.addr, "/api/stream", "Last-Event-ID: orders:99999\r\n").await;
    gone.next_of("hello").await;
    assert_eq!(gone.next().await.unwrap().event, "snapshot");
    srv.stop().await;
}

#[tokio::test]
async fn token_origin_and_slots_follow_the_websocket_rules() {
    let srv = TestServer::start(&[
        "--viewer-token",
        "s3cret",
        "--max-connections",
        "1",
        "--tick-ms",
        "5000",
    ])
    .await;
    let addr = srv.addr;
    assert_eq!(open(addr, "/api/stream", "").await.0, 401, "no token");
    assert_eq!(open(addr, "/api/stream?token=nope", "").await.0, 401);
    let evil = "Origin: https://evil.example\r\n";
    assert_eq!(open(addr, "/api/stream?token=s3cret", evil).await.0, 403);
    let own = format!("Origin: http://{addr}\r\n");
    let (status, _, mut held) = open(addr, "/api/stream?token=s3cret", &own).await;
    assert_eq!(status, 200);
    held.next_of("snapshot").await;
    let (status, _, _) = open(addr, "/api/stream", "Authorization: Bearer s3cret\r\n").await;
    assert_eq!(status, 503, "the one slot is taken");
    let ws = format!("ws://{addr}/ws?token=s3cret");
    assert_eq!(refused_status(ws.as_str()).await, 503, "shared with /ws");
    assert_eq!(metric(&srv, "limit_rejected_total").await, 2);
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _, _) = open(addr, "/api/stream?token=s3cret", "").await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the slot came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_blocked_past_the_write_timeout_is_closed() {
    let srv = TestServer::start(&[
        "--tick-ms",
        "20",
        "--orders-per-sec",
        "2000",
        "--send-buffer-kib",
        "4",
        "--write-timeout-ms",
        "500",
    ])
    .await;
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock.connect(srv.addr).await.unwrap();
    let (status, _, frozen) = open_on(tcp, srv.addr, "/api/stream", "").await;
    assert_eq!(status, 200);
    // A reader elsewhere keeps getting frames meanwhile.
    let (_, _, mut healthy) = open(srv.addr, "/api/stream", "").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&srv, "slow_clients_closed_total").await == 0 {
        assert!(
            Instant::now() < deadline,
            "the frozen stream was never closed"
        );
        healthy.next_of("orders").await;
    }
    let before = healthy.next_of("orders").await.json()["seq"]
        .as_u64()
        .unwrap();
    let after = healthy.next_of("orders").await.json()["seq"]
        .as_u64()
        .unwrap();
    assert!(after > before, "the other stream is unaffected");
    // The frozen socket ends: draining it reaches EOF.
    let mut s = frozen.r;
    let mut sink = vec![0u8; 1 << 16];
    timeout(Duration::from_secs(10), async {
        while s.read(&mut sink).await.unwrap_or(0) > 0 {}
    })
    .await
    .expect("the socket was closed");
    srv.stop().await;
}

/// `?var-...` on the stream: the snapshot and the `orders` events are the
/// filter set's (the same numbers as a recomputation over the posted
/// records), without `id:`s; the set is shared with `/ws` and goes when
/// the stream closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_stream_gets_the_filter_sets_numbers() {
    let token = "sse-filter";
    let srv = TestServer::start(&[
        "--source",
        "ingest",
        "--ingest-token",
        token,
        "--tick-ms",
        "100",
    ])
    .await;
    let now = common::now_ms();
    let countries = ["China", "Spain", "China", "Japan"];
    let body: String = (0..40u64)
        .map(|i| {
            serde_json::json!({
                "user_id": i, "age": 30, "gender": "F", "country": countries[(i % 4) as usize],
                "traffic_source": "Search", "order_id": i, "item_id": 9_000 + i,
                "category": "Jeans", "cost": 1.0, "item_status": "Complete",
                "sale_price": 1.25 * i as f64, "created_at": now - 100
            })
            .to_string()
                + "\n"
        })
        .collect();
    let h = format!("Authorization: Bearer {token}\r\nContent-Type: application/x-ndjson\r\n");
    let (status, _) =
        common::request_with_body(srv.addr, "POST", "/api/ingest/orders", &h, body.as_bytes())
            .await;
    assert_eq!(status, 202);
    // China: i % 4 in {0, 2}, i.e. the even i; 1.25 * (0 + 2 + ... + 38).
    let want_sales = 1.25 * (0..40).step_by(2).sum::<u64>() as f64;
    let path = "/api/stream?var-country=China&records=0";
    let (status, _, mut sse) = open(srv.addr, path, "").await;
    assert_eq!(status, 200);
    let snap = sse.next_of("snapshot").await;
    assert_eq!(snap.id.as_deref(), Some(""));
    let mut o = snap.json()["orders"].clone();
    while o["num_order_items"] != 20 {
        let e = sse.next_of("orders").await;
        assert_eq!(e.id, None, "no resume ids on a filtered stream");
        o = e.json();
    }
    assert_eq!(o["total_sales"].as_f64(), Some(want_sales));
    let names: Vec<&str> = o["by_country"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["China"]);
    assert_eq!(common::metric(&srv, "filter_sets").await, 1);
    let (status, body) = common::http(srv.addr, "/api/stream?var-nope=1", "").await;
    assert_eq!(status, 400);
    assert!(
        body.contains("unknown filter variable \"var-nope\""),
        "{body}"
    );
    drop(sse);
    let mut left = 1;
    for _ in 0..100 {
        left = common::metric(&srv, "filter_sets").await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(left, 0, "the set went with the stream");
    srv.stop().await;
}
