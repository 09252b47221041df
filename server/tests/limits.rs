//! Limits and liveness over real sockets: connection slots taken before the
//! upgrade, viewers counted only once authenticated, the per-address cap,
//! the heartbeat deadline, abuse (1008) with forgiveness, and slow clients
//! (lag → snapshot, repeated lag or a blocked write → 4008).

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpSocket;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{client_async, connect_async, WebSocketStream};

/// `/healthz` as JSON.
async fn health(srv: &TestServer) -> Value {
    serde_json::from_str(&http(srv.addr, "/healthz", "").await.1).unwrap()
}

/// A WebSocket client whose kernel receive buffer is tiny, so the server's
/// writes block soon after it stops reading.
async fn small_window_client(
    srv: &TestServer,
    window: u32,
) -> WebSocketStream<tokio::net::TcpStream> {
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(window).unwrap();
    let tcp = sock.connect(srv.addr).await.unwrap();
    client_async(srv.url(), tcp).await.unwrap().0
}

/// The server and this test share one thread (a current-thread runtime),
/// and the 400 requests are written with blocking std sockets, so the
/// server cannot run while they go out: when it does, all 400 are waiting
/// at once and every check happens before any upgrade completes. A limit
/// counted after the 101 (in the connection task) lets all of them in,
/// every time; a slot taken before the 101 lets exactly five.
#[tokio::test(flavor = "current_thread")]
async fn concurrent_upgrades_never_overshoot_max_connections() {
    use std::io::Write;
    let srv = TestServer::start(&["--max-connections", "5", "--tick-ms", "5000"]).await;
    let req = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        srv.addr
    );
    let mut socks = Vec::new();
    for round in 0..3 {
        socks.clear();
        tokio::time::sleep(Duration::from_millis(300)).await; // slots come back
        let mut std_socks = Vec::new();
        for _ in 0..400 {
            // Connected asynchronously, so the server accepts as they come.
            let s = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
            let s = s.into_std().unwrap();
            s.set_nonblocking(false).unwrap();
            std_socks.push(s);
        }
        // Let the server accept them all (it runs only while we await).
        tokio::time::sleep(Duration::from_millis(300)).await;
        for s in &mut std_socks {
            s.write_all(req.as_bytes()).unwrap();
        }
        for s in std_socks {
            s.set_nonblocking(true).unwrap();
            socks.push(tokio::net::TcpStream::from_std(s).unwrap());
        }
        let mut upgraded = 0;
        for s in &mut socks {
            let mut buf = [0u8; 12];
            timeout(Duration::from_secs(10), s.read_exact(&mut buf))
                .await
                .expect("an answer in time")
                .unwrap();
            match &buf[9..12] {
                b"101" => upgraded += 1,
                b"503" => {}
                other => panic!("unexpected status {:?}", String::from_utf8_lossy(other)),
            }
        }
        assert_eq!(
            upgraded, 5,
            "round {round}: exactly --max-connections upgrades"
        );
    }
    assert_eq!(metric(&srv, "limit_rejected_total").await, 3 * 395);
    // A slot is given back when a connection ends.
    socks.clear();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut held = Vec::new();
    while held.len() < 5 {
        match connect_async(srv.url()).await {
            Ok((ws, _)) => held.push(ws),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
        assert!(Instant::now() < deadline, "freed slots were not reusable");
    }
    assert_eq!(refused_status(srv.url()).await, 503);
    srv.stop().await;
}

#[tokio::test]
async fn a_socket_that_has_not_authenticated_is_not_a_viewer() {
    let srv = TestServer::start(&["--viewer-token", "s3cret", "--tick-ms", "5000"]).await;
    let mut ws = srv.connect().await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(health(&srv).await["clients"], 0, "not counted before auth");
    send(
        &mut ws,
        serde_json::json!({"type": "auth", "token": "s3cret"}),
    )
    .await;
    next_of(&mut ws, "snapshot").await;
    let c = next_of(&mut ws, "clients").await;
    assert_eq!(c["count"], 1);
    let e = next_of(&mut ws, "event").await;
    assert_eq!(e["text"], "A client connected (1 online)");
    srv.stop().await;
}

#[tokio::test]
async fn the_per_address_cap_applies_to_loopback_when_asked() {
    let srv = TestServer::start(&["--max-per-ip", "2", "--limit-loopback"]).await;
    let a = srv.connect().await;
    let _b = srv.connect().await;
    assert_eq!(refused_status(srv.url()).await, 503);
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(5);
    while connect_async(srv.url()).await.is_err() {
        assert!(Instant::now() < deadline, "the address's slot came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    srv.stop().await;
    // Without --limit-loopback, loopback is exempt (local load tests).
    let srv = TestServer::start(&["--max-per-ip", "2"]).await;
    let _held: Vec<_> = futures_util::future::join_all((0..4).map(|_| srv.connect())).await;
    srv.stop().await;
}

#[tokio::test]
async fn a_silent_peer_is_closed_two_periods_after_its_last_frame() {
    let srv = TestServer::start(&[
        "--ping-ms",
        "1000",
        "--tick-ms",
        "5000",
        "--system-ms",
        "5000",
    ])
    .await;
    let mut ws = srv.connect().await;
    // Speak just after the server's first ping tick, then fall silent and
    // never read (reading would answer the server's pings).
    tokio::time::sleep(Duration::from_millis(1150)).await;
    send(&mut ws, serde_json::json!({"type": "ping"})).await;
    // Still open 1.7 s later (under two periods)...
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert_eq!(metric(&srv, "heartbeat_timeouts_total").await, 0);
    // ...and closed by 2.4 s. Checked only on ping ticks, it stayed open
    // until the 4th tick, 2.85 s after the frame.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(metric(&srv, "heartbeat_timeouts_total").await, 1);
    srv.stop().await;
}

#[tokio::test]
async fn abusive_frames_close_with_1008_but_strikes_are_forgiven_over_time() {
    let srv = TestServer::start(&["--tick-ms", "5000", "--system-ms", "5000"]).await;
    // A flood of garbage: closed with 1008.
    let mut ws = srv.connect().await;
    for _ in 0..60 {
        if ws.send(Message::text("{garbage")).await.is_err() {
            break;
        }
    }
    assert_eq!(close_code(&mut ws).await, 1008);
    assert_eq!(metric(&srv, "clients_closed_abuse_total").await, 1);
    // A client with bad frames now and then is never closed for them.
    let mut ws = srv.connect().await;
    next_of(&mut ws, "snapshot").await;
    for _ in 0..40 {
        ws.send(Message::text("{garbage")).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    for _ in 0..14 {
        ws.send(Message::text("{garbage")).await.unwrap();
    }
    send(
        &mut ws,
        serde_json::json!({"type": "ping", "nonce": "still here"}),
    )
    .await;
    let pong = next_of(&mut ws, "pong").await;
    assert_eq!(pong["nonce"], "still here");
    assert_eq!(metric(&srv, "clients_closed_abuse_total").await, 1);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_blocked_past_the_timeout_closes_the_client() {
    // Big frames at 50 Hz into a tiny window that is never read.
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
    let mut frozen = small_window_client(&srv, 4096).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&srv, "slow_clients_closed_total").await == 0 {
        assert!(
            Instant::now() < deadline,
            "the frozen client was never closed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Its socket ends: draining it reaches the end (a close frame, or EOF
    // when the close frame could not be written either).
    let drained = timeout(Duration::from_secs(10), async {
        while let Some(Ok(m)) = frozen.next().await {
            if let Message::Close(f) = m {
                return f.map(|f| u16::from(f.code));
            }
        }
        None
    })
    .await
    .expect("the socket ends");
    assert!(matches!(drained, None | Some(4008)), "{drained:?}");
    srv.stop().await;
}

/// Read frames for `d`; returns them as JSON.
async fn read_for(ws: &mut WebSocketStream<tokio::net::TcpStream>, d: Duration) -> Vec<Value> {
    let mut out = Vec::new();
    let deadline = Instant::now() + d;
    while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let Message::Text(t) = m {
            out.push(serde_json::from_str(t.as_str()).unwrap());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_client_gets_a_snapshot_and_repeated_lag_closes_it() {
    let srv = TestServer::start(&[
        "--tick-ms",
        "20",
        "--orders-per-sec",
        "1000",
        "--send-buffer-kib",
        "4",
        "--ring-capacity",
        "16",
    ])
    .await;
    let mut ws = small_window_client(&srv, 32 * 1024).await;
    let first = read_for(&mut ws, Duration::from_millis(300)).await;
    assert_eq!(first[1]["type"], "snapshot");
    // Stop reading: the ring laps this client. When it reads again it gets
    // a snapshot it did not ask for, then contiguous frames again.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut seen = Vec::new();
    let mut after = loop {
        let v = read_for(&mut ws, Duration::from_millis(100)).await;
        seen.extend(v.iter().map(|v| format!("{}{}", v["type"], v["seq"])));
        assert!(
            Instant::now() < deadline,
            "no snapshot replaced the missed frames: {seen:?}"
        );
        if let Some(i) = v.iter().position(|v| v["type"] == "snapshot") {
            break v[i..].to_vec();
        }
    };
    after.extend(read_for(&mut ws, Duration::from_millis(500)).await);
    let snap = after.remove(0);
    let mut last = snap["seq"]["orders"].as_u64().unwrap();
    for v in &after {
        match v["type"].as_str() {
            // Lagged again (a busy machine): the new snapshot resets.
            Some("snapshot") => last = v["seq"]["orders"].as_u64().unwrap(),
            Some("orders") => {
                let seq = v["seq"].as_u64().unwrap();
                assert_eq!(seq, last + 1, "a gap after the lag snapshot");
                last = seq;
            }
            _ => {}
        }
    }
    assert!(metric(&srv, "lag_resyncs_total").await >= 1);
    // Keep lagging: more than 10 lag resyncs in a minute closes with 4008.
    let deadline = Instant::now() + Duration::from_secs(40);
    let code = loop {
        assert!(
            Instant::now() < deadline,
            "a chronically slow client stayed"
        );
        tokio::time::sleep(Duration::from_millis(700)).await;
        let t = Instant::now() + Duration::from_millis(200);
        let mut closed = None;
        while let Ok(Some(m)) = tokio::time::timeout_at(t, ws.next()).await {
            match m {
                Ok(Message::Close(f)) => {
                    closed = Some(f.map(|f| u16::from(f.code)));
                    break;
                }
                Ok(_) => {}
                Err(_) => {
                    closed = Some(None);
                    break;
                }
            }
        }
        if let Some(c) = closed {
            break c;
        }
    };
    assert_eq!(code, Some(4008));
    assert!(metric(&srv, "slow_clients_closed_total").await >= 1);
    srv.stop().await;
}
