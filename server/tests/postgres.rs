//! `--postgres`: the orders stream tails a real PostgreSQL (started by the
//! harness in `common::pg`). Rows are inserted the way any program would
//! (psql, tokio-postgres clients) into the tutorial's tables, and what a
//! client sees — records in `orders` frames, KPIs in snapshots, the source
//! status in `/healthz` and `streams` frames — is checked.

mod common;

use common::pg::TestPg;
use common::{http, metric, next, TestServer, Ws};
use livedash_server::sources::postgres::rows::id_u64;
use livedash_server::sources::postgres::ECOMMERCE_DDL;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio_postgres::NoTls;

/// A database with the tutorial's tables, three users and two products.
fn shop() -> TestPg {
    let pg = TestPg::start();
    pg.psql(ECOMMERCE_DDL);
    pg.psql(
        "INSERT INTO ecommerce.users (id, age, gender, country, traffic_source, created_at) VALUES
           ('u-br', 34, 'F', 'Brasil', 'Email', now()),
           ('u-cn', 51, 'M', 'China', 'Search', now()),
           ('u-fr', 22, 'F', 'France', 'Facebook', now());
         INSERT INTO ecommerce.products (id, cost, category, name, retail_price) VALUES
           ('p-jeans', 21.5, 'Jeans', 'Blue', 49.0),
           ('p-socks', 2.25, 'Socks', 'Warm', 6.0);",
    );
    pg
}

/// SQL inserting order item `id` (of order `order`) for a user and product.
fn item_sql(id: &str, order: &str, user: &str, product: &str, price: f64) -> String {
    // created_at deliberately 3 days in the past, like the tutorial's
    // random dates: it must not decide whether the row is seen.
    format!(
        "INSERT INTO ecommerce.order_items (id, order_id, user_id, product_id, status, created_at, sale_price)
         VALUES ('{id}', '{order}', '{user}', '{product}', 'Shipped', now() - interval '3 days', {price});"
    )
}

async fn start(pg: &TestPg, tick_ms: &str) -> TestServer {
    TestServer::start(&["--postgres", &pg.url(), "--tick-ms", tick_ms]).await
}

/// `/api/snapshot` once its orders show `items` items (it is cached for up
/// to a second), or the last one after 3 s.
async fn snapshot_with(srv: &TestServer, items: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let snap: Value =
            serde_json::from_str(&http(srv.addr, "/api/snapshot", "").await.1).unwrap();
        if snap["orders"]["num_order_items"] == items || Instant::now() > deadline {
            return snap;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn health(srv: &TestServer) -> Value {
    let (status, body) = http(srv.addr, "/healthz", "").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Wait until `/healthz` says the source is `ok` (or not).
async fn wait_source(srv: &TestServer, ok: bool, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let h = health(srv).await;
        if h["source"]["ok"] == ok {
            return h;
        }
        assert!(Instant::now() < deadline, "source ok={ok} not reached: {h}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A client past its hello and snapshot; returns the snapshot too.
async fn client(srv: &TestServer) -> (Ws, Value) {
    let mut ws = srv.connect().await;
    assert_eq!(next(&mut ws).await["type"], "hello");
    let snap = next(&mut ws).await;
    assert_eq!(snap["type"], "snapshot");
    (ws, snap)
}

/// What one client saw: every record by item id (all copies), and when
/// each id was first seen.
#[derive(Default)]
struct Seen {
    copies: HashMap<u64, Vec<Value>>,
    first: HashMap<u64, Instant>,
    source_down_frames: usize,
}

impl Seen {
    fn take(&mut self, frame: &Value) {
        match frame["type"].as_str() {
            Some("orders") => {
                for r in frame["records"].as_array().unwrap() {
                    let id = r["item_id"].as_u64().unwrap();
                    self.first.entry(id).or_insert_with(Instant::now);
                    self.copies.entry(id).or_default().push(r.clone());
                }
            }
            Some("streams") if frame["source"]["ok"] == false => self.source_down_frames += 1,
            _ => {}
        }
    }

    fn count(&self, id: &str) -> usize {
        self.copies.get(&id_u64(id)).map_or(0, Vec::len)
    }
}

/// Read frames for `d` (or until `done`), recording what was seen.
async fn watch(ws: &mut Ws, seen: &mut Seen, d: Duration, done: impl Fn(&Seen) -> bool) {
    let deadline = Instant::now() + d;
    while Instant::now() < deadline && !done(seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, next(ws)).await {
            Ok(f) => seen.take(&f),
            Err(_) => break,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_inserted_by_psql_is_on_the_wire_within_2s_with_its_join() {
    let pg = shop();
    let srv = start(&pg, "100").await;
    let h = wait_source(&srv, true, Duration::from_secs(5)).await;
    assert_eq!(h["source"]["kind"], "postgres");
    assert_eq!(h["status"], "ok");
    let (mut ws, _) = client(&srv).await;
    let t0 = Instant::now();
    pg.psql(&item_sql("oi-1", "o-1", "u-br", "p-jeans", 49.0));
    let committed = t0.elapsed();
    let mut seen = Seen::default();
    watch(&mut ws, &mut seen, Duration::from_secs(2), |s| {
        s.count("oi-1") > 0
    })
    .await;
    assert_eq!(
        seen.count("oi-1"),
        1,
        "the row arrives within 2 s of its commit"
    );
    let lag = seen.first[&id_u64("oi-1")] - t0 - committed;
    assert!(lag < Duration::from_secs(2), "{lag:?}");
    let r = &seen.copies[&id_u64("oi-1")][0];
    assert_eq!(r["country"], "Brasil");
    assert_eq!(r["traffic_source"], "Email");
    assert_eq!(r["age"], 34);
    assert_eq!(r["gender"], "F");
    assert_eq!(r["category"], "Jeans");
    assert_eq!(r["cost"], 21.5);
    assert_eq!(r["sale_price"], 49.0);
    assert_eq!(r["item_status"], "Shipped");
    assert_eq!(r["order_id"], id_u64("o-1"));
    // The KPIs count it, though its created_at is three days old.
    let snap = snapshot_with(&srv, 1).await;
    assert_eq!(snap["orders"]["num_order_items"], 1);
    assert_eq!(snap["orders"]["total_sales"], 49.0);
    assert_eq!(snap["orders"]["by_country"][0]["name"], "Brasil");
    assert_eq!(snap["streams"]["source"]["ok"], true);
    assert!(metric(&srv, "source_polls_total").await > 0);
    assert_eq!(metric(&srv, "source_rows_total").await, 1);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_committing_out_of_order_deliver_every_row_exactly_once() {
    let pg = shop();
    let srv = start(&pg, "100").await;
    wait_source(&srv, true, Duration::from_secs(5)).await;
    let (mut ws, _) = client(&srv).await;
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (c, conn) = tokio_postgres::connect(&pg.url(), NoTls).await.unwrap();
        tokio::spawn(conn);
        clients.push(c);
    }
    // Client 0 opens its transaction first and inserts (its xid and serials
    // are the smallest), then holds it open while the others commit.
    let mut early = clients.remove(0);
    let tx = early.transaction().await.unwrap();
    for i in 0..5 {
        tx.batch_execute(&item_sql(
            &format!("early-{i}"),
            "o-early",
            "u-cn",
            "p-socks",
            6.0,
        ))
        .await
        .unwrap();
    }
    let mut tasks = Vec::new();
    for (k, c) in clients.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for t in 0..4 {
                let mut sql = String::from("BEGIN;");
                for i in 0..5 {
                    sql += &item_sql(&format!("c{k}-t{t}-{i}"), "o-late", "u-fr", "p-jeans", 10.0);
                }
                sql += "COMMIT;";
                c.batch_execute(&sql).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut seen = Seen::default();
    // The later transactions wait behind the open one (they are below no
    // horizon yet): nothing is lost by reading past it.
    watch(&mut ws, &mut seen, Duration::from_millis(800), |_| false).await;
    tx.commit().await.unwrap();
    let total = 5 + 7 * 4 * 5;
    watch(&mut ws, &mut seen, Duration::from_secs(3), |s| {
        s.copies.len() == total
    })
    .await;
    // A little longer: no second copy turns up.
    watch(&mut ws, &mut seen, Duration::from_millis(700), |_| false).await;
    assert_eq!(seen.copies.len(), total, "every row arrives");
    for (id, copies) in &seen.copies {
        assert_eq!(copies.len(), 1, "item {id} arrived {} times", copies.len());
    }
    for i in 0..5 {
        assert_eq!(seen.count(&format!("early-{i}")), 1);
    }
    let snap = snapshot_with(&srv, total as u64).await;
    assert_eq!(snap["orders"]["num_order_items"], total);
    assert_eq!(snap["orders"]["total_sales"], 5.0 * 6.0 + 140.0 * 10.0);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_and_up_keeps_clients_and_loses_nothing() {
    let pg = shop();
    let srv = start(&pg, "100").await;
    wait_source(&srv, true, Duration::from_secs(5)).await;
    let (mut ws, _) = client(&srv).await;
    let mut seen = Seen::default();
    pg.psql(&item_sql("before-0", "o-1", "u-br", "p-jeans", 20.0));
    watch(&mut ws, &mut seen, Duration::from_secs(2), |s| {
        s.count("before-0") > 0
    })
    .await;
    assert_eq!(seen.count("before-0"), 1);
    // Committed just before the crash: the tailer may not have read them.
    let mut sql = String::new();
    for i in 0..20 {
        sql += &item_sql(&format!("edge-{i}"), "o-2", "u-cn", "p-socks", 3.0);
    }
    pg.psql(&sql);
    pg.stop();
    let h = wait_source(&srv, false, Duration::from_secs(5)).await;
    assert_eq!(h["source"]["kind"], "postgres");
    assert_eq!(h["status"], "degraded");
    assert!(
        !h["source"]["error"].as_str().unwrap_or("").is_empty(),
        "it says why: {h}"
    );
    // Clients stay connected: frames keep coming (ticks, the status).
    watch(&mut ws, &mut seen, Duration::from_millis(1500), |_| false).await;
    assert!(
        seen.source_down_frames >= 1,
        "a streams frame said the source is down"
    );
    let (_, again) = client(&srv).await;
    assert_eq!(
        again["streams"]["source"]["ok"], false,
        "new clients see it too"
    );
    pg.up();
    wait_source(&srv, true, Duration::from_secs(15)).await;
    let mut sql = String::new();
    for i in 0..10 {
        sql += &item_sql(&format!("after-{i}"), "o-3", "u-fr", "p-jeans", 7.0);
    }
    pg.psql(&sql);
    watch(&mut ws, &mut seen, Duration::from_secs(3), |s| {
        s.copies.len() == 31
    })
    .await;
    watch(&mut ws, &mut seen, Duration::from_millis(500), |_| false).await;
    assert_eq!(
        seen.copies.len(),
        31,
        "before, edge and after rows all arrive"
    );
    assert!(seen.copies.values().all(|c| c.len() == 1), "each once");
    assert!(metric(&srv, "source_reconnects_total").await >= 1);
    assert_eq!(health(&srv).await["status"], "ok");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_livedash_restart_fills_the_window_and_sends_only_the_rows_it_missed() {
    let pg = shop();
    let srv = start(&pg, "100").await;
    wait_source(&srv, true, Duration::from_secs(5)).await;
    let (mut ws, _) = client(&srv).await;
    let mut sql = String::new();
    for i in 0..12 {
        sql += &item_sql(
            &format!("a-{i}"),
            &format!("oa-{}", i / 2),
            "u-br",
            "p-jeans",
            10.0,
        );
    }
    pg.psql(&sql);
    let mut seen = Seen::default();
    watch(&mut ws, &mut seen, Duration::from_secs(2), |s| {
        s.copies.len() == 12
    })
    .await;
    assert_eq!(seen.copies.len(), 12);
    drop(ws);
    srv.stop().await;
    // While livedash is down.
    let mut sql = String::new();
    for i in 0..5 {
        sql += &item_sql(&format!("down-{i}"), "o-down", "u-cn", "p-socks", 4.0);
    }
    pg.psql(&sql);
    let srv = start(&pg, "1000").await;
    let (mut ws, snap) = client(&srv).await;
    let mut seen = Seen::default();
    if !snap["orders"].is_null() {
        seen.take(&snap["orders"]); // a tick before we connected
    }
    watch(&mut ws, &mut seen, Duration::from_secs(3), |s| {
        s.copies.len() == 5
    })
    .await;
    watch(&mut ws, &mut seen, Duration::from_millis(1200), |_| false).await;
    for i in 0..5 {
        assert_eq!(seen.count(&format!("down-{i}")), 1, "down-{i} exactly once");
    }
    assert_eq!(
        seen.copies.len(),
        5,
        "no row from before the restart is sent again"
    );
    // The window holds both: the earlier rows from the fill, the new ones.
    let snap = snapshot_with(&srv, 17).await;
    assert_eq!(snap["orders"]["num_order_items"], 17);
    assert_eq!(snap["orders"]["num_orders"], 7);
    assert_eq!(snap["orders"]["total_sales"], 140.0);
    assert_eq!(metric(&srv, "source_fill_rows_total").await, 12);
    srv.stop().await;
    // Restarted again with nothing new: the first snapshot already has the
    // whole window's KPIs from the fill.
    let srv = start(&pg, "200").await;
    wait_source(&srv, true, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut ws, snap) = client(&srv).await;
    assert_eq!(snap["orders"]["num_order_items"], 17, "{}", snap["orders"]);
    assert_eq!(snap["orders"]["total_sales"], 140.0);
    let mut seen = Seen::default();
    seen.take(&snap["orders"]);
    watch(&mut ws, &mut seen, Duration::from_secs(1), |_| false).await;
    assert!(
        seen.copies.is_empty(),
        "the fill is not re-sent as new records"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_without_their_user_wait_then_go_out_counted() {
    let pg = shop();
    let srv = start(&pg, "100").await;
    wait_source(&srv, true, Duration::from_secs(5)).await;
    let (mut ws, _) = client(&srv).await;
    let mut seen = Seen::default();
    // The user comes a second later (another transaction): the row waits
    // for it and goes out whole.
    pg.psql(&item_sql("late-user", "o-1", "u-new", "p-jeans", 30.0));
    watch(&mut ws, &mut seen, Duration::from_secs(1), |_| false).await;
    assert_eq!(seen.count("late-user"), 0, "waits for its user");
    pg.psql("INSERT INTO ecommerce.users (id, age, gender, country, traffic_source) VALUES ('u-new', 40, 'M', 'Japan', 'Organic')");
    watch(&mut ws, &mut seen, Duration::from_secs(2), |s| {
        s.count("late-user") > 0
    })
    .await;
    assert_eq!(seen.copies[&id_u64("late-user")][0]["country"], "Japan");
    // A user that never comes: sent after the grace with what is known.
    let t0 = Instant::now();
    pg.psql(&item_sql("ghost", "o-2", "u-ghost", "p-socks", 5.0));
    pg.psql(&item_sql("behind-ghost", "o-3", "u-br", "p-socks", 5.0));
    watch(&mut ws, &mut seen, Duration::from_secs(8), |s| {
        s.count("behind-ghost") > 0
    })
    .await;
    let waited = t0.elapsed();
    assert!(waited >= Duration::from_secs(4), "{waited:?}");
    let ghost = &seen.copies[&id_u64("ghost")][0];
    assert_eq!(ghost["country"], "Unknown");
    assert_eq!(ghost["category"], "Socks", "what is known is kept");
    assert_eq!(seen.copies[&id_u64("behind-ghost")][0]["country"], "Brasil");
    assert_eq!(metric(&srv, "source_incomplete_rows_total").await, 1);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tables_yet_is_reported_then_recovered_and_the_password_never_shows() {
    let pg = TestPg::start();
    pg.psql("CREATE ROLE shop LOGIN PASSWORD 'hunter2-secret' SUPERUSER");
    let url = format!(
        "{} user=shop password=hunter2-secret",
        pg.url().replace("user=postgres ", "")
    );
    let srv = TestServer::start(&["--postgres", &url, "--tick-ms", "100"]).await;
    let h = wait_source(&srv, false, Duration::from_secs(3)).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut h = h;
    while !h["source"]["error"]
        .as_str()
        .unwrap_or("")
        .contains("order_items")
    {
        assert!(
            Instant::now() < deadline,
            "the error names the missing table: {h}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        h = health(&srv).await;
    }
    let (_, metrics) = http(srv.addr, "/metrics", "").await;
    for text in [h.to_string(), metrics] {
        assert!(!text.contains("hunter2"), "{text}");
    }
    pg.psql(ECOMMERCE_DDL);
    wait_source(&srv, true, Duration::from_secs(15)).await;
    srv.stop().await;
}

/// Throughput and lag: 4 clients insert 2,000 rows/s for 30 s; prints rows
/// per second delivered and commit-to-frame lag percentiles.
/// `cargo test -p livedash-server --test postgres -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn measure_rows_per_second_and_lag() {
    let rate: usize = std::env::var("PG_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let secs: u64 = std::env::var("PG_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let pg = shop();
    let srv = start(&pg, "100").await;
    wait_source(&srv, true, Duration::from_secs(5)).await;
    let (mut ws, _) = client(&srv).await;
    let writers = 4;
    let per_tick = rate / writers / 10; // every 100 ms
    let commits = std::sync::Arc::new(std::sync::Mutex::new(HashMap::<u64, Instant>::new()));
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (c, conn) = tokio_postgres::connect(&pg.url(), NoTls).await.unwrap();
        tokio::spawn(conn);
        let commits = commits.clone();
        tasks.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(100));
            for t in 0..secs * 10 {
                every.tick().await;
                let ids: Vec<String> = (0..per_tick).map(|i| format!("w{w}-{t}-{i}")).collect();
                let mut sql = String::from("BEGIN;");
                for id in &ids {
                    sql += &item_sql(id, id, "u-cn", "p-jeans", 12.5);
                }
                sql += "COMMIT;";
                c.batch_execute(&sql).await.unwrap();
                let now = Instant::now();
                let mut m = commits.lock().unwrap();
                for id in &ids {
                    m.insert(id_u64(id), now);
                }
            }
        }));
    }
    let total = per_tick * writers * (secs as usize) * 10;
    let start = Instant::now();
    let mut seen = Seen::default();
    watch(&mut ws, &mut seen, Duration::from_secs(secs + 20), |s| {
        s.copies.len() >= total
    })
    .await;
    let took = seen
        .first
        .values()
        .max()
        .map_or(Duration::ZERO, |t| *t - start);
    for t in tasks {
        t.await.unwrap();
    }
    let commits = commits.lock().unwrap().clone();
    let mut lags: Vec<f64> = seen
        .first
        .iter()
        .filter_map(|(id, t)| {
            commits
                .get(id)
                .map(|c| t.saturating_duration_since(*c).as_secs_f64() * 1000.0)
        })
        .collect();
    lags.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| lags[((lags.len() as f64 - 1.0) * p) as usize];
    let dups = seen.copies.values().filter(|c| c.len() > 1).count();
    println!(
        "postgres source: {} of {total} rows in {:.1} s = {:.0} rows/s; lag commit→frame ms p50 {:.0} p90 {:.0} p99 {:.0} max {:.0}; duplicates {dups}; tick 100 ms",
        seen.copies.len(),
        took.as_secs_f64(),
        seen.copies.len() as f64 / took.as_secs_f64(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0),
    );
    assert_eq!(seen.copies.len(), total);
    assert_eq!(dups, 0);
    srv.stop().await;
}
