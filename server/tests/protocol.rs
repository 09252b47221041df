//! Protocol v1 rules, checked with real WebSocket clients against the server
//! started in-process on 127.0.0.1:0.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn hello_then_snapshot_and_the_api_snapshot_is_the_same_object() {
    // With 5 s ticks and samples nothing changes between the reads below
    // (once the connection's own clients/event frames are out), so the
    // objects must be equal apart from `ts`.
    let srv = TestServer::start(&["--tick-ms", "5000", "--system-ms", "5000"]).await;
    let mut ws = srv.connect().await;
    let hello = next(&mut ws).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["protocol"], 1);
    assert!(hello["client_id"].as_u64().is_some());
    let first = next(&mut ws).await;
    assert_eq!(first["type"], "snapshot");
    next_of(&mut ws, "clients").await;
    next_of(&mut ws, "event").await;
    send(&mut ws, serde_json::json!({"type": "resync"})).await;
    let mut snap = next_of(&mut ws, "snapshot").await;
    assert_eq!(snap["clients"], 1);
    for k in [
        "seq",
        "orders",
        "kpi_history",
        "system_history",
        "clients",
        "events",
    ] {
        assert!(snap.get(k).is_some(), "snapshot lacks {k}: {snap}");
    }
    let (status, body) = http(srv.addr, "/api/snapshot", "").await;
    assert_eq!(status, 200);
    let mut api: Value = serde_json::from_str(&body).unwrap();
    snap["ts"] = Value::Null;
    api["ts"] = Value::Null;
    assert_eq!(api, snap);
    let (status, _) = http(srv.addr, "/api/snapshot?history=lots", "").await;
    assert_eq!(status, 400);
    srv.stop().await;
}

#[tokio::test]
async fn each_topic_seq_grows_by_exactly_one() {
    let srv = TestServer::start(&[
        "--tick-ms",
        "20",
        "--system-ms",
        "200",
        "--orders-per-sec",
        "200",
    ])
    .await;
    let mut ws = srv.connect().await;
    next_of(&mut ws, "hello").await;
    let snap = next_of(&mut ws, "snapshot").await;
    let mut last: std::collections::HashMap<String, u64> =
        ["orders", "system", "clients", "events"]
            .iter()
            .map(|t| (t.to_string(), snap["seq"][t].as_u64().unwrap()))
            .collect();
    let mut counts = std::collections::HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    while tokio::time::Instant::now() < deadline {
        let v = next(&mut ws).await;
        let topic = match v["type"].as_str().unwrap() {
            "orders" => "orders",
            "system" => "system",
            "clients" => "clients",
            "event" => "events",
            other => panic!("unexpected {other}"),
        };
        let seq = v["seq"].as_u64().unwrap();
        assert_eq!(seq, last[topic] + 1, "{topic} seq jumped: {v}");
        last.insert(topic.to_string(), seq);
        *counts.entry(topic).or_insert(0) += 1;
        if topic == "orders" {
            // Breakdowns sorted descending.
            let revs: Vec<f64> = v["by_country"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["revenue"].as_f64().unwrap())
                .collect();
            assert!(revs.windows(2).all(|w| w[0] >= w[1]), "{revs:?}");
        }
    }
    assert!(counts["orders"] >= 30, "{counts:?}");
    assert!(counts["system"] >= 3, "{counts:?}");
    srv.stop().await;
}

#[tokio::test]
async fn clients_count_follows_connects_and_disconnects_coalesced() {
    let srv = TestServer::start(&["--tick-ms", "1000"]).await;
    let mut a = srv.connect().await;
    next_of(&mut a, "snapshot").await;
    let c = next_of(&mut a, "clients").await;
    assert_eq!(c["count"], 1);
    // Ten more arrive at once: at most a couple of clients frames, not ten.
    let mut others = Vec::new();
    for _ in 0..10 {
        others.push(srv.connect().await);
    }
    let mut seen = Vec::new();
    while seen.last() != Some(&11) {
        seen.push(next_of(&mut a, "clients").await["count"].as_u64().unwrap());
    }
    assert!(seen.len() <= 2, "clients frames not coalesced: {seen:?}");
    drop(others);
    let mut seen = Vec::new();
    while seen.last() != Some(&1) {
        seen.push(next_of(&mut a, "clients").await["count"].as_u64().unwrap());
    }
    assert!(seen.len() <= 2, "{seen:?}");
    let (_, health) = http(srv.addr, "/healthz", "").await;
    let h: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["clients"], 1);
    srv.stop().await;
}

/// Read `clients` frames until one says `want`.
async fn count_until(ws: &mut Ws, want: u64) {
    loop {
        if next_of(ws, "clients").await["count"].as_u64() == Some(want) {
            return;
        }
    }
}

/// A browser's shared socket reports the tabs it serves: the count counts
/// tabs, never more than 64 per socket, and they leave with the socket.
#[tokio::test]
async fn a_shared_socket_counts_its_tabs_and_they_leave_with_it() {
    let srv = TestServer::start(&["--tick-ms", "1000"]).await;
    let mut a = srv.connect().await;
    next_of(&mut a, "snapshot").await;
    assert_eq!(next_of(&mut a, "clients").await["count"], 1);
    let mut b = srv.connect().await;
    next_of(&mut b, "snapshot").await;
    count_until(&mut a, 2).await;
    send(&mut b, json!({"type": "tabs", "count": 3})).await;
    count_until(&mut a, 4).await;
    // Fewer tabs: the count follows down.
    send(&mut b, json!({"type": "tabs", "count": 2})).await;
    count_until(&mut a, 3).await;
    // A socket cannot claim more than 64 tabs.
    send(&mut b, json!({"type": "tabs", "count": 100000})).await;
    count_until(&mut a, 65).await;
    // The socket goes: its tabs go with it.
    drop(b);
    count_until(&mut a, 1).await;
    let (_, health) = http(srv.addr, "/healthz", "").await;
    let h: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(h["clients"], 1);
    srv.stop().await;
}

#[tokio::test]
async fn ping_pong_and_bad_frames_get_errors_on_a_usable_connection() {
    let srv = TestServer::start(&["--tick-ms", "5000", "--system-ms", "5000"]).await;
    let mut ws = srv.connect().await;
    next_of(&mut ws, "snapshot").await;
    send(&mut ws, serde_json::json!({"type": "ping", "nonce": 42})).await;
    let pong = next_of(&mut ws, "pong").await;
    assert_eq!(pong["nonce"], 42);
    // The tutorial's page sends no nonce; other clients send strings.
    send(&mut ws, serde_json::json!({"type": "ping"})).await;
    let pong = next_of(&mut ws, "pong").await;
    assert!(pong.get("nonce").is_none(), "{pong}");
    send(
        &mut ws,
        serde_json::json!({"type": "ping", "nonce": "tab-3"}),
    )
    .await;
    assert_eq!(next_of(&mut ws, "pong").await["nonce"], "tab-3");
    ws.send(Message::text("{not json")).await.unwrap();
    let e = next_of(&mut ws, "error").await;
    assert_eq!(e["code"], "bad_json");
    send(&mut ws, serde_json::json!({"type": "launch"})).await;
    assert_eq!(next_of(&mut ws, "error").await["code"], "bad_message");
    send(
        &mut ws,
        serde_json::json!({"type": "subscribe", "topics": ["weather"]}),
    )
    .await;
    assert_eq!(next_of(&mut ws, "error").await["code"], "bad_message");
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(next_of(&mut ws, "error").await["code"], "binary");
    send(&mut ws, serde_json::json!({"type": "ping", "nonce": 43})).await;
    assert_eq!(next_of(&mut ws, "pong").await["nonce"], 43);
    // A flood of pings is rate limited, not buffered.
    for n in 0..100 {
        send(&mut ws, serde_json::json!({"type": "ping", "nonce": n})).await;
    }
    let mut limited = false;
    for _ in 0..100 {
        let v = next(&mut ws).await;
        if v["type"] == "error" && v["code"] == "rate_limited" {
            limited = true;
            break;
        }
    }
    assert!(limited);
    let (_, metrics) = http(srv.addr, "/metrics", "").await;
    let errors: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("livedash_client_errors_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(errors >= 5, "{metrics}");
    srv.stop().await;
}

#[tokio::test]
async fn an_oversized_frame_closes_with_1009() {
    let srv = TestServer::start(&[]).await;
    let mut ws = srv.connect().await;
    next_of(&mut ws, "snapshot").await;
    let big = format!(
        "{{\"type\":\"ping\",\"nonce\":1,\"pad\":\"{}\"}}",
        "x".repeat(64 * 1024)
    );
    let _ = ws.send(Message::text(big)).await;
    assert_eq!(close_code(&mut ws).await, 1009);
    srv.stop().await;
}

#[tokio::test]
async fn pause_stops_topics_and_resume_sends_a_snapshot_first() {
    let srv = TestServer::start(&["--tick-ms", "20", "--system-ms", "200"]).await;
    let mut ws = srv.connect().await;
    next_of(&mut ws, "snapshot").await;
    next_of(&mut ws, "orders").await;
    send(&mut ws, serde_json::json!({"type": "pause"})).await;
    // Drain what was already in flight, then nothing but control frames.
    tokio::time::sleep(Duration::from_millis(100)).await;
    while let Ok(Some(_)) = timeout(Duration::from_millis(50), ws.next()).await {}
    send(&mut ws, serde_json::json!({"type": "ping", "nonce": 7})).await;
    let v = next(&mut ws).await;
    assert_eq!(v["type"], "pong", "paused connection got {v}");
    assert!(
        timeout(Duration::from_millis(300), ws.next())
            .await
            .is_err(),
        "frames while paused"
    );
    send(&mut ws, serde_json::json!({"type": "resume"})).await;
    let snap = next(&mut ws).await;
    assert_eq!(snap["type"], "snapshot");
    let o = next_of(&mut ws, "orders").await;
    assert_eq!(
        o["seq"].as_u64(),
        Some(snap["seq"]["orders"].as_u64().unwrap() + 1)
    );
    // resync also answers with a snapshot.
    send(&mut ws, serde_json::json!({"type": "resync"})).await;
    next_of(&mut ws, "snapshot").await;
    srv.stop().await;
}

#[tokio::test]
async fn unsubscribe_and_subscribe_filter_topics() {
    let srv = TestServer::start(&["--tick-ms", "20", "--system-ms", "200"]).await;
    let mut ws = srv.connect().await;
    next_of(&mut ws, "snapshot").await;
    send(
        &mut ws,
        serde_json::json!({"type": "unsubscribe", "topics": ["orders"]}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    while let Ok(Some(_)) = timeout(Duration::from_millis(30), ws.next()).await {}
    let deadline = tokio::time::Instant::now() + Duration::from_millis(700);
    let mut system = 0;
    while tokio::time::Instant::now() < deadline {
        if let Ok(Some(Ok(Message::Text(t)))) = timeout(Duration::from_millis(100), ws.next()).await
        {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            assert_ne!(v["type"], "orders", "unsubscribed topic still sent");
            system += (v["type"] == "system") as u32;
        }
    }
    assert!(system >= 2);
    send(
        &mut ws,
        serde_json::json!({"type": "subscribe", "topics": ["orders"]}),
    )
    .await;
    next_of(&mut ws, "orders").await;
    srv.stop().await;
}

#[tokio::test]
async fn origin_is_checked_before_the_upgrade() {
    let srv = TestServer::start(&["--allowed-origin", "https://cdn.example"]).await;
    let upgrade = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let (status, _) = http(
        srv.addr,
        "/ws",
        &format!("{upgrade}Origin: http://evil.example\r\n"),
    )
    .await;
    assert_eq!(status, 403);
    for origin in [
        format!("http://{}", srv.addr),
        "https://cdn.example".to_string(),
        "http://localhost:8080".to_string(),
    ] {
        let mut req = srv.url().into_client_request().unwrap();
        req.headers_mut().insert("origin", origin.parse().unwrap());
        let (mut ws, _) = connect_async(req)
            .await
            .unwrap_or_else(|e| panic!("{origin}: {e}"));
        assert_eq!(next(&mut ws).await["type"], "hello");
    }
    // No Origin: a non-browser client.
    let mut ws = srv.connect().await;
    assert_eq!(next(&mut ws).await["type"], "hello");
    let (_, metrics) = http(srv.addr, "/metrics", "").await;
    assert!(
        metrics.contains("livedash_origin_rejected_total 1\n"),
        "{metrics}"
    );
    let (status, _) = http(srv.addr, "/ws", "").await;
    assert_eq!(status, 426);
    srv.stop().await;
}

#[tokio::test]
async fn a_client_that_never_reads_does_not_hold_up_the_others() {
    // Big frames at 50 Hz: a stalled reader falls behind within a second.
    let srv = TestServer::start(&["--tick-ms", "20", "--orders-per-sec", "2000"]).await;
    // The stalled client: upgrades, then never reads.
    let mut stalled = TcpStream::connect(srv.addr).await.unwrap();
    stalled
        .write_all(
            format!(
                "GET /ws HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                 Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                srv.addr
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut ws = srv.connect().await;
    let snap = next_of(&mut ws, "snapshot").await;
    let mut last = snap["seq"]["orders"].as_u64().unwrap();
    let start = tokio::time::Instant::now();
    let mut n = 0;
    while start.elapsed() < Duration::from_secs(2) {
        let v = next(&mut ws).await;
        if v["type"] == "orders" {
            let seq = v["seq"].as_u64().unwrap();
            assert_eq!(seq, last + 1, "the reading client lost frames");
            last = seq;
            n += 1;
        }
    }
    assert!(n >= 50, "only {n} orders frames in 2 s");
    drop(stalled);
    srv.stop().await;
}

#[tokio::test]
async fn shutdown_sends_going_away() {
    let srv = TestServer::start(&[]).await;
    let mut ws = srv.connect().await;
    next_of(&mut ws, "snapshot").await;
    let addr = srv.addr;
    let stopping = tokio::spawn(srv.stop());
    assert_eq!(
        close_code_within(&mut ws, Duration::from_secs(2)).await,
        1001
    );
    stopping.await.unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still listening after shutdown"
    );
}

#[tokio::test]
async fn a_viewer_token_is_required_in_the_url_or_the_first_frame() {
    let srv = TestServer::start(&["--viewer-token", "s3cret", "--tick-ms", "5000"]).await;
    // In the URL.
    let mut ws = srv.connect_to(&format!("{}?token=s3cret", srv.url())).await;
    assert_eq!(next(&mut ws).await["type"], "hello");
    // A wrong one in the URL: 401 before the upgrade.
    assert_eq!(
        refused_status(format!("{}?token=nope", srv.url())).await,
        401
    );
    // As the first frame.
    let mut ws = srv.connect().await;
    send(
        &mut ws,
        serde_json::json!({"type": "auth", "token": "s3cret"}),
    )
    .await;
    assert_eq!(next(&mut ws).await["type"], "hello");
    assert_eq!(next(&mut ws).await["type"], "snapshot");
    // A wrong first frame: an error, then close 1008.
    let mut ws = srv.connect().await;
    send(
        &mut ws,
        serde_json::json!({"type": "auth", "token": "guess"}),
    )
    .await;
    let e = next(&mut ws).await;
    assert_eq!(e["code"], "unauthorized");
    assert_eq!(close_code(&mut ws).await, 1008);
    // Nothing at all: closed after the auth timeout.
    let mut ws = srv.connect().await;
    assert_eq!(next(&mut ws).await["code"], "unauthorized");
    assert_eq!(close_code(&mut ws).await, 1008);
    // The snapshot endpoint too.
    assert_eq!(http(srv.addr, "/api/snapshot", "").await.0, 401);
    assert_eq!(
        http(srv.addr, "/api/snapshot?token=s3cret", "").await.0,
        200
    );
    assert_eq!(
        http(
            srv.addr,
            "/api/snapshot",
            "Authorization: Bearer s3cret\r\n"
        )
        .await
        .0,
        200
    );
    let (_, metrics) = http(srv.addr, "/metrics", "").await;
    assert!(
        metrics.contains("livedash_unauthorized_total 4\n"),
        "{metrics}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn admins_stop_and_start_streams() {
    let srv = TestServer::start(&["--admin-token", "adm1n", "--tick-ms", "20"]).await;
    let mut ws = srv.connect().await;
    next_of(&mut ws, "orders").await;
    assert_eq!(
        request(srv.addr, "POST", "/api/streams/orders/stop", "")
            .await
            .0,
        401
    );
    assert_eq!(
        request(
            srv.addr,
            "POST",
            "/api/streams/orders/stop",
            "Authorization: Bearer wrong\r\n"
        )
        .await
        .0,
        401
    );
    assert_eq!(
        request(
            srv.addr,
            "POST",
            "/api/streams/weather/stop",
            "Authorization: Bearer adm1n\r\n"
        )
        .await
        .0,
        404
    );
    let (status, body) = request(
        srv.addr,
        "POST",
        "/api/streams/orders/stop",
        "Authorization: Bearer adm1n\r\n",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"running\":false"), "{body}");
    let e = next_of(&mut ws, "event").await;
    assert!(
        e["text"]
            .as_str()
            .unwrap()
            .contains("orders stream was stopped"),
        "{e}"
    );
    // Drain what was in flight; then no orders for a while.
    tokio::time::sleep(Duration::from_millis(100)).await;
    while let Ok(Some(_)) = timeout(Duration::from_millis(30), ws.next()).await {}
    let quiet = async {
        loop {
            let v = next(&mut ws).await;
            if v["type"] == "orders" {
                return v;
            }
        }
    };
    assert!(
        timeout(Duration::from_millis(400), quiet).await.is_err(),
        "orders while stopped"
    );
    request(
        srv.addr,
        "POST",
        "/api/streams/orders/start",
        "Authorization: Bearer adm1n\r\n",
    )
    .await;
    next_of(&mut ws, "orders").await;
    srv.stop().await;
    // Without --admin-token the endpoints do not exist.
    let srv = TestServer::start(&[]).await;
    assert_eq!(
        request(srv.addr, "POST", "/api/streams/orders/stop", "")
            .await
            .0,
        404
    );
    srv.stop().await;
}

#[tokio::test]
async fn records_0_sends_orders_frames_without_their_records() {
    let srv = TestServer::start(&["--tick-ms", "100", "--orders-per-sec", "500"]).await;
    let mut full = srv.connect().await;
    let mut lite = srv.connect_to(&format!("{}?records=0", srv.url())).await;
    let f = next_of(&mut full, "orders").await;
    assert!(!f["records"].as_array().unwrap().is_empty());
    // The same seq on the lite connection: same aggregate, no records.
    let l = loop {
        let l = next_of(&mut lite, "orders").await;
        if l["seq"].as_u64() >= f["seq"].as_u64() {
            break l;
        }
    };
    let f = if l["seq"] == f["seq"] {
        f
    } else {
        next_of(&mut full, "orders").await
    };
    assert_eq!(l["seq"], f["seq"]);
    assert_eq!(l["records"], serde_json::json!([]));
    assert_eq!(l["total_sales"], f["total_sales"]);
    assert_eq!(l["by_country"], f["by_country"]);
    assert_eq!(
        refused_status(format!("{}?records=maybe", srv.url())).await,
        400
    );
    srv.stop().await;
}

#[tokio::test]
async fn the_server_heartbeat_closes_a_silent_peer() {
    let srv = TestServer::start(&[
        "--ping-ms",
        "100",
        "--tick-ms",
        "5000",
        "--system-ms",
        "5000",
    ])
    .await;
    let mut ws = srv.connect().await;
    // Never read: tungstenite answers pings only while reading, so this
    // peer looks dead to the server.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(close_code(&mut ws).await, 1001);
    let (_, metrics) = http(srv.addr, "/metrics", "").await;
    assert!(
        metrics.contains("livedash_heartbeat_timeouts_total 1\n"),
        "{metrics}"
    );
    // A peer that reads (and so answers pings) stays.
    let mut ws = srv.connect().await;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(600);
    while tokio::time::Instant::now() < deadline {
        match timeout(Duration::from_millis(50), ws.next()).await {
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) => panic!("a live peer was closed"),
            _ => {}
        }
    }
    srv.stop().await;
}

#[tokio::test]
async fn connections_over_the_limit_get_503_before_the_upgrade() {
    let srv = TestServer::start(&["--max-connections", "2"]).await;
    let mut a = srv.connect().await;
    let mut b = srv.connect().await;
    next_of(&mut a, "snapshot").await;
    next_of(&mut b, "snapshot").await;
    assert_eq!(refused_status(srv.url()).await, 503);
    drop(a);
    // Room again once one left.
    let mut ok = false;
    for _ in 0..50 {
        if connect_async(srv.url()).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "a freed slot was not reusable");
    srv.stop().await;
}

/// `livedash_fanout_seconds` observes each topic frame once, when the last
/// connected client has written it: with three clients reading, its count
/// grows with the ticks and never exceeds the topic frames published (a
/// per-connection observation would count each frame three times), and a
/// frame that nobody received is not observed.
#[tokio::test]
async fn fanout_histogram_counts_each_frame_once_after_its_last_write() {
    let srv = TestServer::start(&["--tick-ms", "50"]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        metric(&srv, "fanout_seconds_count").await,
        0,
        "no receivers yet"
    );
    let mut readers = Vec::new();
    for _ in 0..3 {
        let mut ws = srv.connect().await;
        readers.push(tokio::spawn(async move {
            while let Some(Ok(_)) = ws.next().await {}
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let observed = metric(&srv, "fanout_seconds_count").await;
    let (_, snap) = http(srv.addr, "/api/snapshot", "").await;
    let snap: Value = serde_json::from_str(&snap).unwrap();
    let published: u64 = snap["seq"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(
        observed >= 15,
        "about 30 orders ticks reached 3 clients, observed {observed}"
    );
    assert!(
        observed <= published,
        "observed {observed} > {published} topic frames published"
    );
    let (_, text) = http(srv.addr, "/metrics", "").await;
    let le_inf = text
        .lines()
        .find_map(|l| l.strip_prefix("livedash_fanout_seconds_bucket{le=\"+Inf\"} "))
        .unwrap();
    assert!(le_inf.parse::<u64>().unwrap() >= observed);
    for r in readers {
        r.abort();
    }
    srv.stop().await;
}
