//! Exactly one replica produces (`--redis`): the producer lease holder
//! alone tails PostgreSQL; pushed records and Influx writes are taken by
//! any replica and seen identically on all; when the lease moves, the new
//! holder's KPIs go on from the stream's, not from its own window.

mod common;

use common::pg::TestPg;
use common::redis::{leader, until, Proc, TestRedis};
use common::{next, Ws};
use livedash_server::sources::postgres::ECOMMERCE_DDL;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Past hello and the snapshot.
async fn open(ws: &mut Ws) {
    while next(ws).await["type"] != "snapshot" {}
}

/// The next `orders` frame.
async fn orders(ws: &mut Ws) -> Value {
    loop {
        let v = next(ws).await;
        if v["type"] == "orders" {
            return v;
        }
    }
}

/// Read `orders` frames until one has a record with item id `item`.
async fn frame_with_item(ws: &mut Ws, item: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = orders(ws).await;
        let recs = v["records"].as_array().unwrap();
        if recs.iter().any(|r| r["item_id"] == item) {
            return v;
        }
        assert!(Instant::now() < deadline, "item {item} never came: {v}");
    }
}

#[tokio::test]
async fn kpis_go_on_from_the_stream_when_the_lease_moves() {
    let redis = TestRedis::start();
    let a = Proc::start(&redis, &["--orders-per-sec", "40"]);
    until(&a, "leading", |b| b["leader"] == true).await;
    // The second replica starts 8 s later: its own generator's window would
    // hold 8 s less than the stream's (a step down on take-over).
    tokio::time::sleep(Duration::from_secs(8)).await;
    let b = Proc::start(&redis, &["--orders-per-sec", "40"]);
    until(&b, "up", |b| b["ok"] == true && b["leader"] == false).await;
    let mut ws = b.connect().await;
    open(&mut ws).await;
    let mut last = orders(&mut ws).await;
    for _ in 0..10 {
        last = orders(&mut ws).await;
    }
    let killed = Instant::now();
    drop(a);
    until(&b, "leading", |b| b["leader"] == true).await;
    eprintln!("lease taken over after {:?}", killed.elapsed());
    // The next frames: the old holder's last ones in flight, then the new
    // holder's, with no gap in seq.
    let mut seq = last["seq"].as_u64().unwrap();
    let mut after = Vec::new();
    while after.len() < 8 {
        let v = orders(&mut ws).await;
        seq += 1;
        assert_eq!(v["seq"], seq, "no gap, nothing twice");
        after.push(v);
    }
    assert!(
        killed.elapsed() > Duration::from_secs(2),
        "frames of the new holder"
    );
    // Nothing expires (5-minute window, seconds of data): every KPI of the
    // following frames is at least the last frame's before the kill.
    for v in &after {
        for k in ["num_orders", "num_order_items", "items_total"] {
            assert!(
                v[k].as_u64() >= last[k].as_u64(),
                "{k} stepped down: {} → {}",
                last[k],
                v[k]
            );
        }
        assert!(v["total_sales"].as_f64() >= last["total_sales"].as_f64());
    }
    // And the new holder produces: the totals move on.
    let end = after.last().unwrap();
    let totals: Vec<&Value> = after.iter().map(|v| &v["items_total"]).collect();
    assert!(
        end["items_total"].as_u64() > last["items_total"].as_u64(),
        "{} then {totals:?}",
        last["items_total"]
    );
}

/// One order item as `POST /api/ingest/orders` takes it.
fn record(item: u64) -> String {
    let now = common::now_ms();
    serde_json::json!({
        "user_id": 1, "age": 30, "gender": "F", "country": "Iceland",
        "traffic_source": "Email", "order_id": item, "item_id": item,
        "category": "Jeans", "cost": 10.5, "item_status": "Shipped",
        "sale_price": 21.0, "created_at": now - 100
    })
    .to_string()
}

async fn ingest(addr: SocketAddr, body: &str) -> (u16, String) {
    common::request_with_body(
        addr,
        "POST",
        "/api/ingest/orders",
        "Authorization: Bearer t\r\nContent-Type: application/x-ndjson\r\n",
        body.as_bytes(),
    )
    .await
}

/// The next `series` frame of `name`: (seq, first point's value).
async fn series(ws: &mut Ws, name: &str) -> (u64, f64) {
    loop {
        let v = next(ws).await;
        if v["type"] == "series" && v["name"] == name {
            return (
                v["seq"].as_u64().unwrap(),
                v["points"][0]["value"].as_f64().unwrap(),
            );
        }
    }
}

#[tokio::test]
async fn pushed_records_and_influx_writes_work_on_any_replica() {
    let mut redis = TestRedis::start();
    let flags = ["--source", "ingest", "--ingest-token", "t"];
    let procs = [Proc::start(&redis, &flags), Proc::start(&redis, &flags)];
    let i = leader(&[&procs[0], &procs[1]]).await;
    let (lead, other) = (&procs[i], &procs[1 - i]);
    until(other, "up", |b| b["ok"] == true).await;
    let (mut wl, mut wo) = (lead.connect().await, other.connect().await);
    open(&mut wl).await;
    open(&mut wo).await;
    // Records pushed to the replica that does not produce: 202, and in the
    // holder's next frames, the same frame (same seq) on both replicas.
    let (status, body) = ingest(other.addr, &record(7001)).await;
    assert_eq!(status, 202, "{body}");
    let (fo, fl) = (
        frame_with_item(&mut wo, 7001).await,
        frame_with_item(&mut wl, 7001).await,
    );
    assert_eq!(fo, fl, "one frame, one seq, on every replica");
    assert_eq!(fo["by_country"][0]["name"], "Iceland");
    // And to the holder as well.
    assert_eq!(ingest(lead.addr, &record(7002)).await.0, 202);
    let f = frame_with_item(&mut wo, 7002).await;
    assert!(f["seq"].as_u64() > fo["seq"].as_u64());
    assert_eq!(f["num_order_items"], 2);
    // Influx lines written to either replica: one series frame each,
    // seen with the same seq and value on both.
    let now = common::now_ms();
    let line = format!("room,site=b temp=21.5 {now}\n");
    assert_eq!(common::influx_write(other.addr, "t", &line).await, 204);
    let name = "room.temp{site=b}";
    let (so, sl) = (series(&mut wo, name).await, series(&mut wl, name).await);
    assert_eq!(so, sl);
    assert_eq!(so.1, 21.5);
    // 503 only while Redis is down.
    redis.kill();
    until(other, "down", |b| b["ok"] == false).await;
    let (status, body) = ingest(other.addr, &record(7003)).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("Redis"), "{body}");
    redis.restart(true);
    until(other, "back", |b| b["ok"] == true).await;
    assert_eq!(ingest(other.addr, &record(7004)).await.0, 202);
    let f = frame_with_item(&mut wl, 7004).await;
    assert_eq!(f["num_order_items"], 3, "7003 was refused, not half-taken");
}

/// A database with the tutorial's tables, a user and a product.
fn shop() -> TestPg {
    let pg = TestPg::start();
    pg.psql(ECOMMERCE_DDL);
    pg.psql(
        "INSERT INTO ecommerce.users (id, age, gender, country, traffic_source, created_at)
           VALUES ('u-br', 34, 'F', 'Brasil', 'Email', now());
         INSERT INTO ecommerce.products (id, cost, category, name, retail_price)
           VALUES ('p-jeans', 21.5, 'Jeans', 'Blue', 49.0);",
    );
    pg
}

fn insert(pg: &TestPg, ids: &[&str]) {
    for id in ids {
        pg.psql(&format!(
            "INSERT INTO ecommerce.order_items
               (id, order_id, user_id, product_id, status, created_at, sale_price)
             VALUES ('{id}', 'o-{id}', 'u-br', 'p-jeans', 'Shipped', now(), 40.0);"
        ));
    }
}

/// Two replicas on `pg`: (the lease holder, the other once it has read
/// the streams).
async fn pg_replicas(pg: &TestPg, redis: &TestRedis) -> (Proc, Proc) {
    let flags = ["--postgres", &pg.url()];
    let mut procs = vec![Proc::start(redis, &flags), Proc::start(redis, &flags)];
    let i = leader(&[&procs[0], &procs[1]]).await;
    let holder = procs.remove(i);
    let other = procs.remove(0);
    until(&other, "up", |b| b["ok"] == true).await;
    (holder, other)
}

/// livedash's own sessions on the database.
fn sessions(pg: &TestPg) -> u64 {
    let out = pg.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'livedash';");
    out.split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("{out}"))
}

#[tokio::test]
async fn only_the_lease_holder_tails_postgres_and_the_next_one_goes_on() {
    let pg = shop();
    let redis = TestRedis::start();
    let (holder, survivor) = pg_replicas(&pg, &redis).await;
    let mut ws = survivor.connect().await;
    open(&mut ws).await;
    // (Whether they come as the holder's window fill or as new records
    // depends on how far its tailer got; the KPIs count them either way.)
    insert(&pg, &["i-1", "i-2", "i-3"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut items = 0;
    while items < 3 {
        items = orders(&mut ws).await["num_order_items"].as_u64().unwrap();
        assert!(Instant::now() < deadline, "the rows never came");
    }
    assert_eq!(items, 3);
    // One replica reads the database; the other read nothing.
    assert_eq!(survivor.metric("source_rows_total").await, 0);
    assert_eq!(sessions(&pg), 1, "one livedash session on the database");
    let (_, health) = common::http(survivor.addr, "/healthz", "").await;
    assert!(
        health.contains("\"status\":\"ok\""),
        "standby is healthy: {health}"
    );
    // The holder dies; the survivor takes the lease, tails from the saved
    // cursor, and its window is the stream's: 3 items, then 5, never
    // fewer, each item once.
    drop(holder);
    until(&survivor, "leading", |b| b["leader"] == true).await;
    insert(&pg, &["i-4", "i-5"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = orders(&mut ws).await;
        let n = v["num_order_items"].as_u64().unwrap();
        assert!((3..=5).contains(&n), "{n} items: {v}");
        if n == 5 {
            break;
        }
        assert!(Instant::now() < deadline, "the new rows never came");
    }
    assert!(survivor.metric("source_rows_total").await >= 2);
    assert_eq!(sessions(&pg), 1);
    // Later frames still hold exactly 5 (nothing counted twice).
    for _ in 0..5 {
        assert_eq!(orders(&mut ws).await["num_order_items"], 5);
    }
}

/// Rows from before the replicas started are the first holder's window
/// fill, never records of a frame: they reach the other replica beside
/// the frame (its filtered view counts them too), and the next holder's
/// first frames hold them.
#[tokio::test]
async fn the_holders_window_fill_reaches_the_other_replica_and_the_next_holder() {
    let pg = shop();
    insert(&pg, &["f-1", "f-2"]);
    let redis = TestRedis::start();
    let (holder, survivor) = pg_replicas(&pg, &redis).await;
    // The user of every row is in Brasil: the filtered view counts both.
    let mut all = survivor.connect().await;
    let mut brasil = survivor.connect_query("var-country=Brasil").await;
    let mut nobody = survivor.connect_query("var-country=Spain").await;
    for ws in [&mut all, &mut brasil, &mut nobody] {
        open(ws).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while orders(&mut all).await["num_order_items"] != 2 {
        assert!(Instant::now() < deadline, "the fill never counted");
    }
    while orders(&mut brasil).await["num_order_items"] != 2 {
        assert!(
            Instant::now() < deadline,
            "the filtered view lacks the fill"
        );
    }
    let f = orders(&mut brasil).await;
    assert_eq!(f["total_sales"], 80.0, "{f}");
    assert_eq!(orders(&mut nobody).await["num_order_items"], 0);
    // The holder dies; every frame of the new holder holds both rows.
    drop(holder);
    until(&survivor, "leading", |b| b["leader"] == true).await;
    let seen = orders(&mut all).await["seq"].as_u64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut after = 0;
    while after < 5 {
        let v = orders(&mut all).await;
        assert_eq!(v["num_order_items"], 2, "{v}");
        if v["seq"].as_u64().unwrap() > seen {
            after += 1;
        }
        assert!(Instant::now() < deadline, "no frames after the hand-over");
    }
    assert!(survivor.metric("source_fill_rows_total").await >= 2);
}
