//! Snapshots cost producers nothing: many clients asking for snapshots do
//! not slow the `orders` ticks, asks are coalesced per connection, cached
//! snapshots are followed by the frames since (no gap), and a paused page
//! can reconnect paused.

mod common;

use common::*;
use futures_util::StreamExt;
use serde_json::Value;
use std::time::Duration;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_flood_from_many_clients_keeps_the_orders_period() {
    let srv = TestServer::start(&[
        "--tick-ms",
        "50",
        "--system-ms",
        "200",
        "--orders-per-sec",
        "200",
    ])
    .await;
    let mut observer = srv.connect().await;
    next_of(&mut observer, "snapshot").await;
    // 30 clients each ask for a snapshot 10 times a second for 3 s (within
    // the message rate limit), reading everything they get.
    let flooders: Vec<_> = (0..30)
        .map(|_| {
            let url = srv.url();
            tokio::spawn(async move {
                let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
                let (mut tx, mut rx) = ws.split();
                let reader = tokio::spawn(async move {
                    let mut snapshots = 0;
                    while let Some(Ok(m)) = rx.next().await {
                        if let tokio_tungstenite::tungstenite::Message::Text(t) = m {
                            if t.as_str().starts_with("{\"type\":\"snapshot\"") {
                                snapshots += 1;
                            }
                        }
                    }
                    snapshots
                });
                for _ in 0..30 {
                    let m = tokio_tungstenite::tungstenite::Message::text(r#"{"type":"resync"}"#);
                    futures_util::SinkExt::send(&mut tx, m).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                futures_util::SinkExt::close(&mut tx).await.ok();
                reader.await.unwrap()
            })
        })
        .collect();
    // Meanwhile the observer's `orders` frames keep their 50 ms period: the
    // producer stamps `ts` when it ticks, so a producer held up by snapshot
    // work shows as wide gaps.
    let mut ts = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        let v = next(&mut observer).await;
        if v["type"] == "orders" {
            ts.push(v["ts"].as_u64().unwrap());
        }
    }
    let mut per_client = Vec::new();
    for f in flooders {
        per_client.push(f.await.unwrap());
    }
    assert!(ts.len() >= 48, "{} orders frames in 3 s at 50 ms", ts.len());
    let widest = ts.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(
        widest <= 250,
        "a tick came {widest} ms after the previous one"
    );
    // Coalesced: one snapshot per 2 s per connection at most (the first
    // one plus at most two more in ~3 s), whatever they asked for.
    let most = *per_client.iter().max().unwrap();
    assert!(most <= 3, "a client got {most} snapshots for 30 resyncs");
    assert!(metric(&srv, "resyncs_merged_total").await >= 30 * 20);
    // And built at most about once a second per size, not per ask.
    let built = metric(&srv, "snapshots_built_total").await;
    assert!(built <= 12, "{built} snapshots built for ~100 sent");
    srv.stop().await;
}

#[tokio::test]
async fn a_cached_snapshot_is_followed_by_the_frames_since() {
    let srv = TestServer::start(&[
        "--tick-ms",
        "20",
        "--system-ms",
        "200",
        "--orders-per-sec",
        "200",
    ])
    .await;
    let mut a = srv.connect().await;
    next_of(&mut a, "snapshot").await;
    // B arrives 400 ms later and gets A's cached snapshot (20 ticks old).
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut b = srv.connect().await;
    let snap = next_of(&mut b, "snapshot").await;
    assert_eq!(metric(&srv, "snapshots_built_total").await, 1);
    let mut last: std::collections::HashMap<String, u64> = ["orders", "system", "events"]
        .iter()
        .map(|t| (t.to_string(), snap["seq"][t].as_u64().unwrap()))
        .collect();
    let mut orders = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(800) {
        let v = next(&mut b).await;
        let topic = match v["type"].as_str().unwrap() {
            "event" => "events",
            "clients" => continue,
            t => t,
        };
        let seq = v["seq"].as_u64().unwrap();
        assert_eq!(
            seq,
            last[topic] + 1,
            "{topic} jumped after a cached snapshot"
        );
        last.insert(topic.into(), seq);
        orders += (topic == "orders") as u32;
    }
    assert!(orders >= 30, "{orders} orders frames");
    srv.stop().await;
}

#[tokio::test]
async fn paused_1_opens_without_snapshot_or_frames_until_resume() {
    let srv = TestServer::start(&["--tick-ms", "20", "--system-ms", "200"]).await;
    let mut ws = srv.connect_to(&format!("{}?paused=1", srv.url())).await;
    assert_eq!(next(&mut ws).await["type"], "hello");
    let quiet = tokio::time::timeout(Duration::from_millis(600), next(&mut ws)).await;
    assert!(quiet.is_err(), "a frame while paused: {:?}", quiet.ok());
    send(&mut ws, serde_json::json!({"type": "resume"})).await;
    let snap: Value = next(&mut ws).await;
    assert_eq!(snap["type"], "snapshot");
    let o = next_of(&mut ws, "orders").await;
    assert_eq!(o["seq"], snap["seq"]["orders"].as_u64().unwrap() + 1);
    assert_eq!(
        refused_status(format!("{}?paused=yes", srv.url())).await,
        400
    );
    srv.stop().await;
}

/// Item ids of a frame's (or a snapshot's) `orders.records`.
fn item_ids(records: &Value) -> Vec<u64> {
    records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["item_id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_snapshot_carries_the_newest_records_of_the_frames_before_it() {
    let srv = TestServer::start(&["--tick-ms", "100", "--orders-per-sec", "200"]).await;
    let mut a = srv.connect().await;
    let first = next_of(&mut a, "snapshot").await["seq"]["orders"]
        .as_u64()
        .unwrap();
    // A sees every record from its snapshot on, by seq.
    let mut seen: Vec<(u64, u64)> = Vec::new();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut b = srv.connect().await;
    let snap = next_of(&mut b, "snapshot").await;
    let at = snap["seq"]["orders"].as_u64().unwrap();
    assert!(at > first + 3, "the snapshot is {} ticks on", at - first);
    let got = item_ids(&snap["orders"]["records"]);
    assert_eq!(got.len(), 100, "the newest 100 records");
    while seen.last().is_none_or(|&(seq, _)| seq < at) {
        let v = next_of(&mut a, "orders").await;
        let seq = v["seq"].as_u64().unwrap();
        seen.extend(item_ids(&v["records"]).into_iter().map(|id| (seq, id)));
    }
    let want: Vec<u64> = seen
        .iter()
        .filter(|&&(seq, _)| seq <= at)
        .map(|&(_, id)| id)
        .collect();
    assert_eq!(
        got,
        want[want.len() - 100..],
        "the frames' newest, in order"
    );
    // And the next frame's records are new ones, after those.
    let after = item_ids(&next_of(&mut b, "orders").await["records"]);
    assert!(after.iter().all(|id| !got.contains(id)), "nothing twice");
    // Without records, none; filtered, the newest matching ones only.
    let mut c = srv.connect_to(&format!("{}?records=0", srv.url())).await;
    let snap = next_of(&mut c, "snapshot").await;
    assert_eq!(snap["orders"]["records"], serde_json::json!([]));
    let mut d = srv
        .connect_to(&format!("{}?var-country=China", srv.url()))
        .await;
    let snap = next_of(&mut d, "snapshot").await;
    let china = snap["orders"]["records"].as_array().unwrap();
    assert!(!china.is_empty(), "{snap}");
    assert!(china.iter().all(|r| r["country"] == "China"), "{snap}");
    let all: Vec<u64> = seen.iter().map(|&(_, id)| id).collect();
    let newest = china.last().unwrap()["item_id"].as_u64().unwrap();
    assert!(
        all.contains(&newest) || newest > *all.last().unwrap(),
        "a real record"
    );
    srv.stop().await;
}
