//! `loadgen --deflate` against a real livedash server (started in this
//! process on 127.0.0.1:0): every client negotiates permessage-deflate,
//! every message reaches every client inflated, the bytes on the wire are
//! fewer than the inflated ones, and livedash counted the compressed frames
//! it wrote. Against a server without deflate (the bare proxy), every client
//! is counted as refused, none as connected.

use clap::Parser;
use livedash_bench::{loadgen, proxy};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A livedash server on 127.0.0.1:0 with `args` (fresh data directory);
/// stops when the returned sender is dropped or fires.
async fn livedash(
    args: &[&str],
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tempfile::TempDir,
) {
    let data = tempfile::tempdir().unwrap();
    let mut argv = vec!["livedash", "--dist", "/nonexistent", "--seed", "7"];
    argv.extend(["--data-dir", data.path().to_str().unwrap()]);
    argv.extend_from_slice(args);
    let config = livedash_server::Config::try_parse_from(argv).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let stop = async {
            let _ = rx.await;
        };
        livedash_server::run(listener, config, stop).await.unwrap();
    });
    for _ in 0..500 {
        if get(addr, "/healthz").await.starts_with("HTTP/1.0 200") {
            return (addr, tx, data);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("livedash did not start");
}

/// A GET over HTTP/1.0: the whole response ("" if the server is not up).
async fn get(addr: SocketAddr, path: &str) -> String {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return String::new();
    };
    let req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    let mut out = Vec::new();
    if s.write_all(req.as_bytes()).await.is_err() || s.read_to_end(&mut out).await.is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `livedash_deflated_frames_sent_total` from /metrics.
async fn deflated_frames(addr: SocketAddr) -> u64 {
    get(addr, "/metrics")
        .await
        .lines()
        .find_map(|l| l.strip_prefix("livedash_deflated_frames_sent_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the counter on /metrics")
}

fn options(url: String, clients: usize) -> loadgen::Options {
    loadgen::Options {
        urls: vec![url],
        clients,
        ramp_per_sec: 200,
        hold: Duration::from_secs(3),
        server_pids: vec![std::process::id()],
        source_ips: 1,
        stalled: 0,
        deflate: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deflate_clients_get_every_livedash_frame_compressed() {
    let (addr, stop, _data) = livedash(&["--tick-ms", "250", "--system-ms", "250"]).await;
    let before = deflated_frames(addr).await;
    let r = loadgen::run(options(format!("ws://{addr}/ws?history=0"), 20)).await;
    let sent = deflated_frames(addr).await - before;
    let _ = stop.send(());
    assert_eq!(r.connected, 20, "{r:?}");
    assert_eq!(r.deflate_negotiated, 20, "every client negotiated: {r:?}");
    assert_eq!(
        (r.deflate_refused, r.frame_errors, r.dropped),
        (0, 0, 0),
        "{r:?}"
    );
    // 4 `orders` and 4 `system` frames a second for 3 s.
    assert!(r.messages >= 18, "{r:?}");
    assert_eq!(
        r.complete_share, 1.0,
        "every message to every client: {r:?}"
    );
    assert!(r.orders_frames_per_sec >= 20.0 * 3.0, "{r:?}");
    assert!(r.system_frames_per_sec >= 20.0 * 3.0, "{r:?}");
    // Compressed on the wire, whole JSON once inflated.
    assert!(r.wire_bytes_per_sec > 0.0, "{r:?}");
    assert!(
        r.wire_bytes_per_sec < 0.8 * r.bytes_per_sec,
        "wire {} vs inflated {}",
        r.wire_bytes_per_sec,
        r.bytes_per_sec
    );
    let sample = r.orders_sample.as_deref().expect("an orders frame kept");
    let v: serde_json::Value = serde_json::from_str(sample).expect("inflates to JSON");
    assert_eq!(v["type"], "orders");
    assert!(v["by_country"].is_array(), "{sample}");
    // The server wrote them deflated: at least every frame counted here.
    let counted = (r.frames_per_sec * r.window_s) as u64;
    assert!(sent >= counted, "deflated {sent}, delivered {counted}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_server_without_deflate_is_counted_as_refusing_it() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(proxy::serve(listener, 300, 20.0, async {
        let _ = rx.await;
    }));
    let mut o = options(format!("ws://{addr}/ws"), 10);
    o.hold = Duration::from_secs(1);
    let r = loadgen::run(o).await;
    let _ = tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    assert_eq!(r.deflate_refused, 10, "{r:?}");
    assert_eq!((r.connected, r.deflate_negotiated), (0, 0), "{r:?}");
    assert_eq!(r.failed, 10, "{r:?}");
    assert_eq!(
        r.frames_per_sec, 0.0,
        "no silent fallback to plain frames: {r:?}"
    );
}
