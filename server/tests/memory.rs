//! The write path shares a frame's bytes between connections: with ~100 KB
//! `orders` frames (500 order records a tick), each client costs the server
//! a few KiB, not a copy of a frame. (Through tungstenite every connection
//! kept a buffer with the capacity of the biggest frame it had written:
//! ~110–190 KiB each.) Alone in its file: it reads the process's RSS.

mod common;

use common::*;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, Instant};

/// Clients in the test.
const CLIENTS: u64 = 200;

/// This process's resident set, KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// A client that upgrades `/ws` and reads everything with one small
/// buffer (its own memory stays constant), counting bytes into `read`.
async fn drain(addr: std::net::SocketAddr, read: Arc<AtomicU64>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /ws?history=0 HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => read.fetch_add(n as u64, Relaxed),
        };
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_frames_are_not_copied_per_connection() {
    // ~500 records a tick; no filter-set window (it would grow meanwhile).
    let srv = TestServer::start(&["--orders-per-sec", "345", "--max-filter-sets", "0"]).await;
    // A few ticks first: the ring and the snapshot cache hold big frames
    // already, once for everybody.
    sleep(Duration::from_millis(2500)).await;
    let before = rss_kib();
    let counters: Vec<Arc<AtomicU64>> = (0..CLIENTS).map(|_| Arc::default()).collect();
    let tasks: Vec<_> = counters
        .iter()
        .map(|c| tokio::spawn(drain(srv.addr, c.clone())))
        .collect();
    // Every client has read at least three big frames.
    let deadline = Instant::now() + Duration::from_secs(30);
    while counters.iter().any(|c| c.load(Relaxed) < 300_000) {
        assert!(
            Instant::now() < deadline,
            "clients did not get 3 big frames"
        );
        sleep(Duration::from_millis(100)).await;
    }
    let per_client = (rss_kib().saturating_sub(before)) as f64 / CLIENTS as f64;
    println!("{per_client:.1} KiB of RSS per client (client side's 4 KiB buffer included)");
    assert!(
        per_client < 40.0,
        "{per_client:.1} KiB per client: a frame is copied per connection again"
    );
    tasks.iter().for_each(|t| t.abort());
    srv.stop().await;
}
