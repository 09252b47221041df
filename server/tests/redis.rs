//! Replicas on one real Redis (`--redis`): identical frames and seqs on
//! every replica, resume on another replica without a gap, Redis outages
//! (with and without its data), the producer lease hand-over.

mod common;

use common::redis::{leader, until, Proc, TestRedis};
use common::{next, TestServer, Ws};
use livedash_shared::{Seqs, Topic};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A replica on `redis`, fast ticks.
async fn replica(redis: &TestRedis) -> TestServer {
    let url = redis.url();
    TestServer::start(&[
        "--redis",
        &url,
        "--tick-ms",
        "100",
        "--system-ms",
        "200",
        "--ingest-token",
        "t",
    ])
    .await
}

async fn health(srv: &TestServer) -> Value {
    let (_, body) = common::http(srv.addr, "/healthz", "").await;
    serde_json::from_str(&body).unwrap()
}

/// Wait until `check` holds for the replica's `/healthz` `broker`.
async fn wait_broker(srv: &TestServer, what: &str, check: impl Fn(&Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let b = health(srv).await["broker"].clone();
        if check(&b) {
            return;
        }
        assert!(Instant::now() < deadline, "broker never {what}: {b}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Hello and the snapshot: the epoch and the seqs.
async fn open(ws: &mut Ws) -> (String, Seqs) {
    let hello = next(ws).await;
    let epoch = hello["epoch"].as_str().unwrap().to_string();
    loop {
        let snap = next(ws).await;
        if snap["type"] == "snapshot" {
            let epoch = snap["epoch"].as_str().unwrap_or(&epoch).to_string();
            return (epoch, serde_json::from_value(snap["seq"].clone()).unwrap());
        }
    }
}

/// Read `orders` frames until `n` were read; each topic frame must be the
/// next of its topic after `have` (no gap, no duplicate). The `orders`
/// frames by seq.
async fn orders_in_order(ws: &mut Ws, have: &mut Seqs, n: usize) -> BTreeMap<u64, Value> {
    let mut got = BTreeMap::new();
    while got.len() < n {
        let v = next(ws).await;
        assert_ne!(v["type"], "snapshot", "no snapshot expected: {v}");
        let topic = match v["type"].as_str().unwrap() {
            "orders" => Topic::Orders,
            "system" => Topic::System,
            "clients" => Topic::Clients,
            "event" => Topic::Events,
            _ => continue,
        };
        let seq = v["seq"].as_u64().unwrap();
        assert_eq!(seq, have.get(topic) + 1, "{topic:?}: {v}");
        *have.get_mut(topic) = seq;
        if topic == Topic::Orders {
            got.insert(seq, v);
        }
    }
    got
}

async fn leader_of<'a>(a: &'a TestServer, b: &'a TestServer) -> (&'a TestServer, &'a TestServer) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if health(a).await["broker"]["leader"] == true {
            return (a, b);
        }
        if health(b).await["broker"]["leader"] == true {
            return (b, a);
        }
        assert!(Instant::now() < deadline, "no replica took the lease");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn two_replicas_serve_identical_frames_and_seqs() {
    let redis = TestRedis::start();
    let a = replica(&redis).await;
    let b = replica(&redis).await;
    leader_of(&a, &b).await;
    wait_broker(&b, "up", |b| b["ok"] == true).await;
    wait_broker(&a, "up", |b| b["ok"] == true).await;
    let (mut wa, mut wb) = (a.connect().await, b.connect().await);
    let (ea, mut ha) = open(&mut wa).await;
    let (eb, mut hb) = open(&mut wb).await;
    assert_eq!(ea, eb, "one epoch for both replicas");
    let from_a = orders_in_order(&mut wa, &mut ha, 8).await;
    let from_b = orders_in_order(&mut wb, &mut hb, 8).await;
    let common: Vec<u64> = from_a
        .keys()
        .filter(|s| from_b.contains_key(s))
        .copied()
        .collect();
    assert!(common.len() >= 4, "overlap {common:?}");
    for s in common {
        assert_eq!(from_a[&s], from_b[&s], "orders seq {s} differs");
    }
    // The clients count is every replica's viewers: one on each.
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let v = next(&mut wb).await;
        if v["type"] == "clients" && v["count"] == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the count never reached 2");
    }
    // Host metrics per host: each replica's own, as series on every replica
    // (past the snapshot cache's second).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, snap) = common::http(b.addr, "/api/snapshot", "").await;
    let snap: Value = serde_json::from_str(&snap).unwrap();
    let host_cpu = snap["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["name"]
                .as_str()
                .unwrap()
                .starts_with("system.cpu_percent{host=")
        })
        .unwrap_or_else(|| panic!("no per-host series in {}", snap["series"]));
    let v = host_cpu["points"][0]["value"].as_f64().unwrap();
    assert!((0.0..=100.0).contains(&v), "{v}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_client_of_a_stopped_replica_resumes_on_the_other_without_a_gap() {
    let redis = TestRedis::start();
    let a = replica(&redis).await;
    let b = replica(&redis).await;
    let (lead, _) = leader_of(&a, &b).await;
    let lead_addr = lead.addr;
    // The client is on the leader, which then goes away: the other
    // replica takes the lease over and the stream goes on.
    let mut ws = lead.connect().await;
    let (epoch, mut have) = open(&mut ws).await;
    orders_in_order(&mut ws, &mut have, 3).await;
    drop(ws);
    let (lead, other) = if lead_addr == a.addr { (a, b) } else { (b, a) };
    lead.stop().await;
    wait_broker(&other, "leading", |b| b["leader"] == true).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let url = format!("{}?since={}&epoch={epoch}", other.url(), have.to_since());
    let mut ws = other.connect_to(&url).await;
    assert_eq!(next(&mut ws).await["epoch"].as_str(), Some(epoch.as_str()));
    assert_eq!(next(&mut ws).await["type"], "streams");
    let before = have.orders;
    let got = orders_in_order(&mut ws, &mut have, 6).await;
    assert_eq!(got.keys().next(), Some(&(before + 1)), "continues at once");
    other.stop().await;
}

#[tokio::test]
async fn redis_restarted_with_its_data_loses_no_frame() {
    let mut redis = TestRedis::start();
    let a = replica(&redis).await;
    wait_broker(&a, "leading", |b| b["leader"] == true && b["ok"] == true).await;
    let mut ws = a.connect().await;
    let (epoch, mut have) = open(&mut ws).await;
    orders_in_order(&mut ws, &mut have, 3).await;
    redis.kill();
    wait_broker(&a, "down", |b| b["ok"] == false).await;
    assert_eq!(health(&a).await["status"], "degraded");
    let (status, body) = common::request(
        a.addr,
        "POST",
        "/api/v2/write?bucket=b",
        "Authorization: Token t\r\n",
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("Redis"), "{body}");
    assert_eq!(common::metric(&a, "broker_up").await, 0);
    // The client keeps its socket and what it has (no frame, no close).
    tokio::time::sleep(Duration::from_millis(700)).await;
    redis.restart(true);
    wait_broker(&a, "back", |b| b["ok"] == true).await;
    let got = orders_in_order(&mut ws, &mut have, 5).await;
    assert!(got.len() == 5, "seqs go on where they were, none lost");
    assert_eq!(health(&a).await["broker"]["kind"], "redis");
    let url = format!("{}?since={}&epoch={epoch}", a.url(), have.to_since());
    let mut again = a.connect_to(&url).await;
    assert_eq!(
        next(&mut again).await["epoch"].as_str(),
        Some(epoch.as_str())
    );
    a.stop().await;
}

#[tokio::test]
async fn redis_restarted_without_its_data_starts_a_new_epoch() {
    let mut redis = TestRedis::start();
    let a = replica(&redis).await;
    wait_broker(&a, "leading", |b| b["leader"] == true && b["ok"] == true).await;
    let mut ws = a.connect().await;
    let (epoch, mut have) = open(&mut ws).await;
    orders_in_order(&mut ws, &mut have, 3).await;
    redis.restart(false);
    // The connection is told: a snapshot of the new epoch, seqs anew.
    let deadline = Instant::now() + Duration::from_secs(15);
    let snap = loop {
        let v = next(&mut ws).await;
        if v["type"] == "snapshot" {
            break v;
        }
        assert!(Instant::now() < deadline, "no snapshot after the data loss");
    };
    let new_epoch = snap["epoch"].as_str().unwrap();
    assert_ne!(new_epoch, epoch);
    let mut have: Seqs = serde_json::from_value(snap["seq"].clone()).unwrap();
    assert!(have.orders < 5, "seqs start over: {}", have.orders);
    orders_in_order(&mut ws, &mut have, 3).await;
    // An old position is another epoch's: a snapshot.
    let url = format!("{}?since=orders:3&epoch={epoch}", a.url());
    let mut old = a.connect_to(&url).await;
    next(&mut old).await;
    assert_eq!(next(&mut old).await["type"], "snapshot");
    a.stop().await;
}

#[tokio::test]
async fn the_lease_moves_within_seconds_when_its_holder_is_killed() {
    let redis = TestRedis::start();
    let mut procs = vec![Proc::start(&redis, &[]), Proc::start(&redis, &[])];
    let leader = leader(&[&procs[0], &procs[1]]).await;
    let survivor = procs.remove(1 - leader);
    // Connected before its first read of the streams, a client would get
    // a second snapshot when the replica adopts the stream's epoch.
    until(&survivor, "up", |b| b["ok"] == true).await;
    let url = format!("ws://{}/ws", survivor.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let (_, mut have) = open(&mut ws).await;
    orders_in_order(&mut ws, &mut have, 3).await;
    // SIGKILL: the lease is not released, it runs out.
    let killed = Instant::now();
    drop(procs);
    loop {
        if survivor.broker().await["leader"] == true {
            break;
        }
        assert!(killed.elapsed() < Duration::from_secs(6), "no take-over");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = killed.elapsed();
    assert!(took <= Duration::from_millis(4500), "took {took:?}");
    eprintln!("lease taken over after {took:?}");
    // The stream goes on with the next seq: nothing lost, nothing twice.
    let before = have.orders;
    let got = orders_in_order(&mut ws, &mut have, 3).await;
    assert_eq!(got.keys().next(), Some(&(before + 1)));
}

#[tokio::test]
async fn a_replica_resumes_from_the_stream_what_its_buffer_never_held() {
    let redis = TestRedis::start();
    let url = redis.url();
    let a = TestServer::start(&["--redis", &url, "--tick-ms", "20", "--system-ms", "1000"]).await;
    wait_broker(&a, "leading", |b| b["leader"] == true && b["ok"] == true).await;
    let mut ws = a.connect().await;
    let (epoch, mut have) = open(&mut ws).await;
    orders_in_order(&mut ws, &mut have, 3).await;
    drop(ws);
    // ~400 orders frames later a new replica starts: it reads back only
    // the newest 300 of each stream, the rest must come from Redis.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let b = TestServer::start(&["--redis", &url, "--resume-frames", "512"]).await;
    wait_broker(&b, "up", |b| b["ok"] == true).await;
    let url = format!("{}?since={}&epoch={epoch}", b.url(), have.to_since());
    let mut ws = b.connect_to(&url).await;
    assert_eq!(next(&mut ws).await["epoch"].as_str(), Some(epoch.as_str()));
    assert_eq!(next(&mut ws).await["type"], "streams");
    let before = have.orders;
    let got = orders_in_order(&mut ws, &mut have, 380).await;
    assert_eq!(got.keys().next(), Some(&(before + 1)));
    assert_eq!(common::metric(&b, "resumes_total").await, 1);
    a.stop().await;
    b.stop().await;
}

/// Milliseconds from each `orders` tick (its `ts`) to its arrival at a
/// client, over `n` frames: (p50, p99).
async fn tick_to_client_ms(srv: &TestServer, n: usize) -> (u64, u64) {
    let mut ws = srv.connect().await;
    open(&mut ws).await;
    let mut lat = Vec::new();
    while lat.len() < n {
        let v = next(&mut ws).await;
        if v["type"] == "orders" {
            lat.push(common::now_ms().saturating_sub(v["ts"].as_u64().unwrap()));
        }
    }
    lat.sort_unstable();
    (lat[n / 2], lat[n * 99 / 100])
}

/// The Redis hop's added latency (run by hand: `--ignored --nocapture`).
#[tokio::test]
#[ignore]
async fn measure_the_redis_hop() {
    let local = TestServer::start(&["--tick-ms", "50"]).await;
    let (p50, p99) = tick_to_client_ms(&local, 400).await;
    println!("in process: tick → client p50 {p50} ms, p99 {p99} ms");
    local.stop().await;
    let redis = TestRedis::start();
    let url = redis.url();
    let a = TestServer::start(&["--redis", &url, "--tick-ms", "50"]).await;
    let b = TestServer::start(&["--redis", &url, "--tick-ms", "50"]).await;
    let (lead, other) = leader_of(&a, &b).await;
    wait_broker(other, "up", |b| b["ok"] == true).await;
    let (p50, p99) = tick_to_client_ms(lead, 400).await;
    println!("redis, producing replica: tick → client p50 {p50} ms, p99 {p99} ms");
    let (p50, p99) = tick_to_client_ms(other, 400).await;
    println!("redis, other replica: tick → client p50 {p50} ms, p99 {p99} ms");
}
