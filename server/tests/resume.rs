//! Resume by seq: a client that reconnects with `?since=` (or sends
//! `resume {since}`) gets exactly the frames it missed, in order, without a
//! snapshot; a snapshot when they are gone or the epoch is another's.

mod common;

use common::{next, send, TestServer, Ws};
use livedash_shared::{Seqs, Topic};
use serde_json::{json, Value};
use std::time::Duration;

/// The topic of a topic frame (`None` for hello, snapshot, streams, ...).
fn topic_of(v: &Value) -> Option<Topic> {
    Some(match v["type"].as_str()? {
        "orders" => Topic::Orders,
        "system" => Topic::System,
        "clients" => Topic::Clients,
        "event" => Topic::Events,
        "series" => Topic::Series,
        "alert" => Topic::Alerts,
        _ => return None,
    })
}

/// Read frames, tracking per-topic seqs from `have`: every topic frame
/// must be exactly the next of its topic (no gap, no duplicate). Stops
/// once `orders` reached `until`; returns the topic frames read.
async fn read_in_order(ws: &mut Ws, have: &mut Seqs, until: u64) -> Vec<(Topic, u64)> {
    let mut got = Vec::new();
    while have.orders < until {
        let v = next(ws).await;
        assert_ne!(v["type"], "snapshot", "resumed: no snapshot expected");
        let Some(t) = topic_of(&v) else { continue };
        let seq = v["seq"].as_u64().unwrap();
        assert_eq!(seq, have.get(t) + 1, "{t:?} after {}: {v}", have.get(t));
        *have.get_mut(t) = seq;
        got.push((t, seq));
    }
    got
}

/// Connect, take hello and snapshot, follow a few ticks; the epoch and the
/// seqs applied when it leaves.
async fn follow_then_leave(srv: &TestServer, ticks: u64) -> (String, Seqs) {
    let mut ws = srv.connect().await;
    let hello = next(&mut ws).await;
    assert_eq!(hello["type"], "hello");
    let epoch = hello["epoch"]
        .as_str()
        .expect("hello has an epoch")
        .to_string();
    let snap = next(&mut ws).await;
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["epoch"].as_str(), Some(epoch.as_str()));
    let mut have: Seqs = serde_json::from_value(snap["seq"].clone()).unwrap();
    let until = have.orders + ticks;
    read_in_order(&mut ws, &mut have, until).await;
    drop(ws);
    (epoch, have)
}

fn resume_url(srv: &TestServer, have: &Seqs, epoch: &str) -> String {
    format!("{}?since={}&epoch={epoch}", srv.url(), have.to_since())
}

#[tokio::test]
async fn reconnect_with_since_gets_exactly_the_missed_frames() {
    let srv = TestServer::start(&["--tick-ms", "50", "--system-ms", "100"]).await;
    let (epoch, mut have) = follow_then_leave(&srv, 3).await;
    let left_at = have;
    // Away for ~10 orders ticks and ~5 system samples.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut ws = srv.connect_to(&resume_url(&srv, &have, &epoch)).await;
    let hello = next(&mut ws).await;
    assert_eq!(hello["epoch"].as_str(), Some(epoch.as_str()));
    let status = next(&mut ws).await;
    assert_eq!(
        status["type"], "streams",
        "the status comes first: {status}"
    );
    let got = read_in_order(&mut ws, &mut have, left_at.orders + 12).await;
    let orders: Vec<u64> = got
        .iter()
        .filter(|(t, _)| *t == Topic::Orders)
        .map(|&(_, s)| s)
        .collect();
    let want: Vec<u64> = (left_at.orders + 1..=left_at.orders + 12).collect();
    assert_eq!(orders, want, "every missed orders frame once, in order");
    assert!(
        have.system >= left_at.system + 3,
        "system frames too: {got:?}"
    );
    assert!(common::metric(&srv, "resumes_total").await >= 1);
    srv.stop().await;
}

#[tokio::test]
async fn resume_frame_on_an_open_socket_continues_after_pause() {
    let srv = TestServer::start(&["--tick-ms", "50", "--system-ms", "100"]).await;
    let mut ws = srv.connect().await;
    let epoch = next(&mut ws).await["epoch"].as_str().unwrap().to_string();
    let snap = next(&mut ws).await;
    let mut have: Seqs = serde_json::from_value(snap["seq"].clone()).unwrap();
    let until = have.orders + 2;
    read_in_order(&mut ws, &mut have, until).await;
    send(&mut ws, json!({"type": "pause"})).await;
    // Frames already in flight when the pause arrived are still applied.
    let quiet = tokio::time::Instant::now() + Duration::from_millis(300);
    while let Ok(v) = tokio::time::timeout_at(quiet, next(&mut ws)).await {
        if let Some(t) = topic_of(&v) {
            *have.get_mut(t) = v["seq"].as_u64().unwrap();
        }
    }
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let since = serde_json::to_value(have).unwrap();
    send(
        &mut ws,
        json!({"type": "resume", "since": since, "epoch": epoch}),
    )
    .await;
    let left_at = have.orders;
    let got = read_in_order(&mut ws, &mut have, left_at + 30).await;
    assert!(got.len() >= 30, "the ~40 orders frames missed while paused");
    srv.stop().await;
}

#[tokio::test]
async fn another_epoch_or_trimmed_frames_get_a_snapshot() {
    let srv = TestServer::start(&[
        "--tick-ms",
        "20",
        "--system-ms",
        "20",
        "--resume-frames",
        "512",
    ])
    .await;
    let (epoch, have) = follow_then_leave(&srv, 2).await;
    // Another process's seqs: a snapshot, whatever the numbers.
    let mut ws = srv.connect_to(&resume_url(&srv, &have, "other")).await;
    let hello = next(&mut ws).await;
    assert_eq!(hello["type"], "hello");
    let snap = next(&mut ws).await;
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["epoch"].as_str(), Some(epoch.as_str()));
    drop(ws);
    // ~55 frames a second (system samples are at least 200 ms apart):
    // after 11 s the 512 kept no longer reach back.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let mut ws = srv.connect_to(&resume_url(&srv, &have, &epoch)).await;
    next(&mut ws).await;
    let snap = next(&mut ws).await;
    assert_eq!(snap["type"], "snapshot", "trimmed: a snapshot");
    assert!(snap["seq"]["orders"].as_u64().unwrap() > have.orders + 200);
    assert!(common::metric(&srv, "resumes_failed_total").await >= 2);
    srv.stop().await;
}

#[tokio::test]
async fn a_bad_since_is_refused_before_the_upgrade() {
    let srv = TestServer::start(&[]).await;
    for q in ["since=orders:x", "since=bogus:1", "since=orders:1,orders:2"] {
        let (status, body) = common::http(
            srv.addr,
            &format!("/ws?{q}"),
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
        )
        .await;
        assert_eq!(status, 400, "{q}: {body}");
        assert!(body.contains("since"), "{body}");
    }
    srv.stop().await;
}
