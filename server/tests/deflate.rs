//! permessage-deflate on `/ws` over real sockets, with a minimal raw client
//! (tokio-tungstenite refuses RSV1 frames): negotiated when offered, topic
//! frames arrive with RSV1 and inflate to exactly the plain client's JSON,
//! compressed client messages are understood, and a client that offers
//! nothing gets plain frames. `measure_bytes_per_minute` (ignored) gives the
//! numbers in BENCHMARKS.md.

mod common;

use common::*;
use flate2::{Decompress, FlushDecompress};
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

/// A raw WebSocket client.
struct Raw {
    r: BufReader<TcpStream>,
    /// Bytes read from the socket (handshake excluded).
    wire: u64,
    /// The `101`'s `Sec-WebSocket-Extensions`, if any.
    extensions: Option<String>,
}

/// One server frame: RSV1, opcode, payload (inflated when RSV1 was set).
struct Got {
    rsv1: bool,
    opcode: u8,
    text: String,
}

async fn connect(addr: SocketAddr, path: &str, extensions: Option<&str>) -> Raw {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let ext = extensions.map_or(String::new(), |e| {
        format!("Sec-WebSocket-Extensions: {e}\r\n")
    });
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{ext}\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let extensions = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("sec-websocket-extensions")
            .then(|| v.trim().to_string())
    });
    Raw {
        r: BufReader::new(s),
        wire: 0,
        extensions,
    }
}

impl Raw {
    /// The next data frame (pings answered, other control frames skipped).
    async fn frame(&mut self) -> Got {
        loop {
            let mut h = [0u8; 2];
            timeout(Duration::from_secs(5), self.r.read_exact(&mut h))
                .await
                .expect("a frame in time")
                .unwrap();
            let (rsv1, opcode) = (h[0] & 0x40 != 0, h[0] & 0x0f);
            assert!(h[0] & 0x80 != 0, "the server sends whole messages");
            assert_eq!(h[1] & 0x80, 0, "server frames are not masked");
            let mut len = (h[1] & 0x7f) as u64;
            let mut extra = 0;
            if len == 126 {
                len = self.r.read_u16().await.unwrap() as u64;
                extra = 2;
            } else if len == 127 {
                len = self.r.read_u64().await.unwrap();
                extra = 8;
            }
            let mut payload = vec![0; len as usize];
            self.r.read_exact(&mut payload).await.unwrap();
            self.wire += 2 + extra + len;
            if opcode == 0x9 {
                self.send(0xA, &payload, false).await;
                continue;
            }
            if opcode >= 0x8 {
                continue;
            }
            if rsv1 {
                payload = inflate(&payload);
            }
            let text = String::from_utf8(payload).unwrap();
            return Got { rsv1, opcode, text };
        }
    }

    /// The next text frame's JSON of type `ty`.
    async fn next_of(&mut self, ty: &str) -> (bool, Value) {
        for _ in 0..10_000 {
            let g = self.frame().await;
            assert_eq!(g.opcode, 1);
            let v: Value = serde_json::from_str(&g.text).unwrap();
            if v["type"] == ty {
                return (g.rsv1, v);
            }
        }
        panic!("no {ty}");
    }

    /// Send one masked frame (RSV1 when `compressed`).
    async fn send(&mut self, opcode: u8, payload: &[u8], compressed: bool) {
        let mask = [1u8, 2, 3, 4];
        let mut f = vec![0x80 | opcode | if compressed { 0x40 } else { 0 }];
        assert!(payload.len() < 126);
        f.push(0x80 | payload.len() as u8);
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.r.get_mut().write_all(&f).await.unwrap();
    }
}

/// Inflate one message without context (the server promised none).
fn inflate(z: &[u8]) -> Vec<u8> {
    let mut d = Decompress::new(false);
    let input: Vec<u8> = z.iter().chain(&[0, 0, 0xff, 0xff]).copied().collect();
    let mut out = Vec::with_capacity(1 << 20);
    d.decompress_vec(&input, &mut out, FlushDecompress::Sync)
        .unwrap();
    assert_eq!(d.total_in() as usize, input.len());
    out
}

/// Deflate as a browser does (raw deflate, sync flush, tail removed).
fn deflate(text: &[u8]) -> Vec<u8> {
    let mut c = flate2::Compress::new(flate2::Compression::default(), false);
    let mut out = Vec::with_capacity(text.len() + 64);
    c.compress_vec(text, &mut out, flate2::FlushCompress::Sync)
        .unwrap();
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deflate_when_offered_plain_otherwise_same_json() {
    let srv = TestServer::start(&["--tick-ms", "100"]).await;
    let offer = "permessage-deflate; client_max_window_bits";
    let mut z = connect(srv.addr, "/ws", Some(offer)).await;
    assert_eq!(
        z.extensions.as_deref(),
        Some("permessage-deflate; server_no_context_takeover")
    );
    let mut plain = connect(srv.addr, "/ws", None).await;
    assert_eq!(plain.extensions, None, "nothing offered, nothing answered");
    assert_eq!(z.next_of("snapshot").await.1["type"], "snapshot");
    plain.next_of("snapshot").await;
    let mut plain_by_seq = HashMap::new();
    let mut compressed = Vec::new();
    for _ in 0..15 {
        let (rsv1, v) = z.next_of("orders").await;
        assert!(rsv1, "topic frames are compressed");
        compressed.push(v);
        let (rsv1, v) = plain.next_of("orders").await;
        assert!(!rsv1);
        plain_by_seq.insert(v["seq"].as_u64().unwrap(), v);
    }
    let same = compressed
        .iter()
        .filter(|v| plain_by_seq.get(&v["seq"].as_u64().unwrap()) == Some(v))
        .count();
    assert!(same >= 10, "the same JSON after inflating ({same} of 15)");
    // A compressed client message (as browsers send them) is understood,
    // twice (the inflater's context carries over).
    for nonce in ["first", "second"] {
        let ping = format!(r#"{{"type":"ping","nonce":"{nonce}"}}"#);
        z.send(0x1, &deflate(ping.as_bytes()), true).await;
        let (_, pong) = z.next_of("pong").await;
        assert_eq!(pong["nonce"], nonce);
    }
    assert!(metric(&srv, "deflated_frames_sent_total").await >= 15);
    srv.stop().await;
}

#[tokio::test]
async fn offers_we_cannot_honour_get_plain_frames() {
    let srv = TestServer::start(&["--tick-ms", "100"]).await;
    let offer = "permessage-deflate; server_max_window_bits=10";
    let mut ws = connect(srv.addr, "/ws", Some(offer)).await;
    assert_eq!(ws.extensions, None);
    let (rsv1, _) = ws.next_of("orders").await;
    assert!(!rsv1);
    let both = "permessage-deflate; client_no_context_takeover; server_no_context_takeover";
    let ws = connect(srv.addr, "/ws", Some(both)).await;
    assert_eq!(
        ws.extensions.as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
    srv.stop().await;
}

/// Bytes on the wire per client per minute, with and without deflate, for
/// the page's stream (`records=0`) and a records stream, at the default
/// 1 s ticks and 2 orders/s. `cargo test -p livedash-server --test deflate
/// -- --ignored --nocapture` (takes `LIVEDASH_MEASURE_SECS`, default 60).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn measure_bytes_per_minute() {
    let secs: u64 = std::env::var("LIVEDASH_MEASURE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let srv = TestServer::start(&[]).await;
    let offer = Some("permessage-deflate; client_max_window_bits");
    let mut clients = Vec::new();
    for (name, path, ext) in [
        (
            "page stream (records=0), plain",
            "/ws?history=60&records=0",
            None,
        ),
        (
            "page stream (records=0), deflate",
            "/ws?history=60&records=0",
            offer,
        ),
        ("records stream, plain", "/ws", None),
        ("records stream, deflate", "/ws", offer),
    ] {
        let mut c = connect(srv.addr, path, ext).await;
        c.next_of("snapshot").await;
        c.wire = 0; // the live stream only
        clients.push((name, c));
    }
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|(name, mut c)| {
            tokio::spawn(async move {
                let end = Instant::now() + Duration::from_secs(secs);
                let mut frames = 0;
                let mut last_orders = String::new();
                while Instant::now() < end {
                    let g = c.frame().await;
                    if g.text.starts_with(r#"{"type":"orders""#) {
                        last_orders = g.text;
                    }
                    frames += 1;
                }
                (name, c.wire, frames, last_orders)
            })
        })
        .collect();
    for t in tasks {
        let (name, wire, frames, orders) = t.await.unwrap();
        let per_min = wire as f64 * 60.0 / secs as f64;
        println!("{name}: {:.1} KiB/min ({frames} frames)", per_min / 1024.0);
        // The CPU it costs: deflating that stream's last orders frame, once
        // per frame (never per client).
        let n = 2000;
        let t0 = std::time::Instant::now();
        let mut z = 0;
        for _ in 0..n {
            z = livedash_server::deflate::deflate(orders.as_bytes()).len();
        }
        let us = t0.elapsed().as_secs_f64() * 1e6 / n as f64;
        println!(
            "  its orders frame: {} B → {z} B deflated, {us:.1} µs to deflate",
            orders.len()
        );
    }
    srv.stop().await;
}
