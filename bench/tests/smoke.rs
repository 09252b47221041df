//! The bench tools against each other: 20 clients for 2 s on the limit
//! proxy; every message reaches every client.

use livedash_bench::{loadgen, proxy};
use std::time::Duration;

/// 20 reading clients (and `stalled` never reading) against `addr` for 2 s.
fn twenty_clients(addr: std::net::SocketAddr, stalled: usize) -> loadgen::Options {
    loadgen::Options {
        urls: vec![format!("ws://{addr}/ws")],
        clients: 20,
        ramp_per_sec: 200,
        hold: Duration::from_secs(2),
        server_pids: vec![std::process::id()],
        source_ips: 1,
        stalled,
        deflate: false,
    }
}

#[tokio::test(flavor = "current_thread")]
async fn loadgen_sees_every_message_of_the_proxy() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(proxy::serve(listener, 300, 20.0, async {
        let _ = rx.await;
    }));
    let r = loadgen::run(twenty_clients(addr, 2)).await;
    let _ = tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    assert_eq!(r.connected, 20, "{r:?}");
    assert_eq!(r.dropped, 0, "{r:?}");
    assert!(r.messages >= 30, "{r:?}");
    assert_eq!(r.complete_share, 1.0, "{r:?}");
    assert!((r.mean_frame_bytes - 300.0).abs() < 1.0, "{r:?}");
    // 20 clients × 20 Hz nominal = 400 frames/s; all of them `orders`.
    assert!(r.frames_per_sec > 300.0, "{r:?}");
    assert_eq!(r.orders_frames_per_sec, r.frames_per_sec, "{r:?}");
    assert_eq!(r.system_frames_per_sec, 0.0, "{r:?}");
    assert!(r.server_rss_connected_kib > 0);
}

/// The bare write loop speaks enough WebSocket for the load generator:
/// every frame of every round reaches every client, and each round it
/// reports counts every connected client.
#[tokio::test(flavor = "current_thread")]
async fn loadgen_sees_every_frame_of_the_write_floor() {
    use livedash_bench::floor;
    use std::sync::{Arc, Mutex};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let rounds = Arc::new(Mutex::new(Vec::new()));
    let seen = rounds.clone();
    std::thread::spawn(move || {
        floor::serve(listener, 300, 20.0, |r| *seen.lock().unwrap() = r.to_vec())
    });
    let r = loadgen::run(twenty_clients(addr, 0)).await;
    assert_eq!(r.connected, 20, "{r:?}");
    assert_eq!(r.dropped, 0, "{r:?}");
    assert_eq!(r.complete_share, 1.0, "{r:?}");
    assert!((r.mean_frame_bytes - 300.0).abs() < 1.0, "{r:?}");
    assert!(r.frames_per_sec > 300.0, "{r:?}");
    let rounds = rounds.lock().unwrap().clone();
    let full: Vec<_> = rounds.iter().filter(|x| x.clients == 20).collect();
    assert!(full.len() >= 30, "{rounds:?}");
    assert!(
        full.iter().all(|x| x.short == 0 && x.wall_us > 0.0),
        "{rounds:?}"
    );
}
