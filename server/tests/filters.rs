//! Server-side filters over real sockets: `?var-...` on `/ws` and
//! `/api/snapshot`, the `filter` client frame, one shared aggregator per
//! distinct filter set (byte-identical frames, `livedash_filter_sets`),
//! the filtered numbers against a plain recomputation from the unfiltered
//! records stream, the set dropped with its last user, and clear errors.

mod common;

use common::{http, metric, next_of, refused_status, request_with_body, send, TestServer, Ws};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

const TOKEN: &str = "filter-ingest";

/// A server fed only by ingested records, ticking every 100 ms.
async fn server(extra: &[&str]) -> TestServer {
    let mut args = vec![
        "--source",
        "ingest",
        "--ingest-token",
        TOKEN,
        "--tick-ms",
        "100",
    ];
    args.extend_from_slice(extra);
    TestServer::start(&args).await
}

/// `n` known records cycling through 3 countries, 3 sources, 2 genders,
/// with 2 items per order; `base` keeps ids distinct between batches.
fn records(base: u64, n: u64) -> Vec<Value> {
    let countries = ["China", "Spain", "United States"];
    let sources = ["Search", "Email", "Organic"];
    (0..n)
        .map(|i| {
            let k = base + i;
            json!({
                "user_id": k, "age": 20 + (k % 50), "gender": if k.is_multiple_of(2) { "F" } else { "M" },
                "country": countries[(k % 3) as usize],
                "traffic_source": sources[((k / 3) % 3) as usize],
                "order_id": k / 2, "item_id": k, "category": "Jeans", "cost": 1.0,
                "item_status": "Complete", "sale_price": 1.0 + (k % 17) as f64 * 2.25,
                "created_at": common::now_ms() - 200
            })
        })
        .collect()
}

async fn ingest(srv: &TestServer, recs: &[Value]) {
    let body: String = recs.iter().map(|r| r.to_string() + "\n").collect();
    let h = format!("Authorization: Bearer {TOKEN}\r\nContent-Type: application/x-ndjson\r\n");
    let (status, text) =
        request_with_body(srv.addr, "POST", "/api/ingest/orders", &h, body.as_bytes()).await;
    assert_eq!(status, 202, "{text}");
}

/// The next text frame, raw, within 5 s.
async fn raw(ws: &mut Ws) -> String {
    loop {
        let m = timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("no error");
        if let Message::Text(t) = m {
            return t.to_string();
        }
    }
}

/// Cents, to compare money exactly.
fn cents(v: f64) -> i64 {
    (v * 100.0).round() as i64
}

/// KPIs and breakdowns of `recs` (those matching `keep`), by a plain
/// group-by: (orders, items, cents, by_country, by_source), breakdowns as
/// name → cents.
type Recomputed = (u64, u64, i64, BTreeMap<String, i64>, BTreeMap<String, i64>);
fn recompute(recs: &[Value], keep: impl Fn(&Value) -> bool) -> Recomputed {
    let live: Vec<&Value> = recs.iter().filter(|r| keep(r)).collect();
    let orders: HashSet<u64> = live
        .iter()
        .map(|r| r["order_id"].as_u64().unwrap())
        .collect();
    let mut by_c = BTreeMap::new();
    let mut by_s = BTreeMap::new();
    let mut total = 0;
    for r in &live {
        let c = cents(r["sale_price"].as_f64().unwrap());
        total += c;
        *by_c
            .entry(r["country"].as_str().unwrap().to_string())
            .or_insert(0) += c;
        *by_s
            .entry(r["traffic_source"].as_str().unwrap().to_string())
            .or_insert(0) += c;
    }
    (orders.len() as u64, live.len() as u64, total, by_c, by_s)
}

/// The same numbers as an `orders` body shows them.
fn shown(o: &Value) -> Recomputed {
    let bars = |k: &str| -> BTreeMap<String, i64> {
        o[k].as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["name"].as_str().unwrap().to_string(),
                    cents(b["revenue"].as_f64().unwrap()),
                )
            })
            .collect()
    };
    (
        o["num_orders"].as_u64().unwrap(),
        o["num_order_items"].as_u64().unwrap(),
        cents(o["total_sales"].as_f64().unwrap()),
        bars("by_country"),
        bars("by_traffic_source"),
    )
}

fn china_search(r: &Value) -> bool {
    r["country"] == "China" && r["traffic_source"] == "Search"
}

/// Read `orders` frames of `ws` until `done` holds for one; returns it.
async fn orders_until(ws: &mut Ws, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let v: Value = serde_json::from_str(&raw(ws).await).unwrap();
        if v["type"] == "orders" && done(&v) {
            return v;
        }
    }
    panic!("no such orders frame");
}

async fn wait_metric(srv: &TestServer, name: &str, want: u64) {
    for _ in 0..100 {
        if metric(srv, name).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(metric(srv, name).await, want, "{name}");
}

#[tokio::test]
async fn one_aggregator_per_filter_set_equal_to_a_recomputation() {
    let srv = server(&[]).await;
    let base = srv.url();
    let mut all = srv.connect().await;
    let mut b = srv
        .connect_to(&format!(
            "{base}?var-country=China&var-traffic_source=Search"
        ))
        .await;
    // The same set spelled in another order: the same aggregator.
    let mut c = srv
        .connect_to(&format!(
            "{base}?var-traffic_source=Search&var-country=China&history=0"
        ))
        .await;
    for ws in [&mut all, &mut b, &mut c] {
        next_of(ws, "snapshot").await;
    }
    assert_eq!(metric(&srv, "filter_sets").await, 1);

    let sent = records(1_000, 90);
    ingest(&srv, &sent).await;
    // The unfiltered records stream: every record the window accepted.
    let mut seen: Vec<Value> = Vec::new();
    while seen.len() < sent.len() {
        let o = next_of(&mut all, "orders").await;
        seen.extend(o["records"].as_array().unwrap().iter().cloned());
    }
    let want = recompute(&seen, china_search);
    assert!(want.1 > 0 && want.1 < 90, "a real subset: {want:?}");
    let got_b = orders_until(&mut b, |o| o["num_order_items"] == want.1).await;
    assert_eq!(shown(&got_b), want);
    // Records of a filtered frame are the matching ones only.
    // b already read up to the frame with every record (c did not), so it
    // may be a frame ahead: read until three seqs are common (bounded).
    let (mut frames_b, mut frames_c) = (BTreeMap::new(), BTreeMap::new());
    for _ in 0..20 {
        if frames_b
            .keys()
            .filter(|s| frames_c.contains_key(*s))
            .count()
            >= 3
        {
            break;
        }
        for (ws, into) in [(&mut b, &mut frames_b), (&mut c, &mut frames_c)] {
            let t = raw(ws).await;
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == "orders" {
                assert!(v["records"].as_array().unwrap().iter().all(china_search));
                into.insert(v["seq"].as_u64().unwrap(), t);
            }
        }
    }
    let common: Vec<_> = frames_b
        .keys()
        .filter(|s| frames_c.contains_key(s))
        .collect();
    assert!(common.len() >= 3, "{frames_b:?} {frames_c:?}");
    for s in common {
        assert_eq!(frames_b[s], frames_c[s], "byte-identical frames, seq {s}");
    }
    assert_eq!(metric(&srv, "filter_sets").await, 1);

    // A set created now starts from the window: right at once.
    let (status, body) = http(srv.addr, "/api/snapshot?var-country=Spain&var-gender=F", "").await;
    assert_eq!(status, 200, "{body}");
    let snap: Value = serde_json::from_str(&body).unwrap();
    let spain_f = |r: &Value| r["country"] == "Spain" && r["gender"] == "F";
    assert_eq!(shown(&snap["orders"]), recompute(&seen, spain_f));
    let mut d = srv
        .connect_to(&format!("{base}?var-country=Spain&var-gender=F"))
        .await;
    let snap = next_of(&mut d, "snapshot").await;
    assert_eq!(shown(&snap["orders"]), recompute(&seen, spain_f));
    assert_eq!(metric(&srv, "filter_sets").await, 2);

    // The set goes with its last user.
    drop(b);
    wait_metric(&srv, "filter_sets", 2).await;
    drop(c);
    wait_metric(&srv, "filter_sets", 1).await;
    drop(d);
    wait_metric(&srv, "filter_sets", 0).await;
    srv.stop().await;
}

#[tokio::test]
async fn the_filter_frame_changes_the_numbers_and_bad_filters_are_refused() {
    let srv = server(&["--max-filter-sets", "1"]).await;
    let sent = records(5_000, 60);
    ingest(&srv, &sent).await;
    let mut ws = srv.connect().await;
    // Wait until the window holds them all.
    let first = next_of(&mut ws, "snapshot").await;
    if first["orders"]["num_order_items"] != 60 {
        orders_until(&mut ws, |o| o["num_order_items"] == 60).await;
    }
    send(&mut ws, json!({"type": "filter", "vars": {"item_status": ["Complete"], "age_band": ["25-34", "35-44"]}})).await;
    let snap = next_of(&mut ws, "snapshot").await;
    let band = |r: &Value| (25..=44).contains(&r["age"].as_u64().unwrap());
    assert_eq!(shown(&snap["orders"]), recompute(&sent, band));
    assert_eq!(metric(&srv, "filter_sets").await, 1);

    // Unknown variable, bad value: an error, the filter stays.
    send(
        &mut ws,
        json!({"type": "filter", "vars": {"colour": ["red"]}}),
    )
    .await;
    let e = next_of(&mut ws, "error").await;
    assert_eq!(e["code"], "bad_filter");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("unknown filter variable \"var-colour\""));
    send(
        &mut ws,
        json!({"type": "filter", "vars": {"country": [""]}}),
    )
    .await;
    assert_eq!(next_of(&mut ws, "error").await["code"], "bad_filter");
    let o = next_of(&mut ws, "orders").await;
    assert_eq!(shown(&o).1, recompute(&sent, band).1, "still filtered");

    // One set is the limit: another connection's new set is refused.
    let mut other = srv
        .connect_to(&format!("{}?var-country=Spain", srv.url()))
        .await;
    next_of(&mut other, "hello").await;
    let e = next_of(&mut other, "error").await;
    assert_eq!(e["code"], "too_many_filter_sets");
    assert!(e["message"].as_str().unwrap().contains("--max-filter-sets"));
    assert_eq!(common::close_code(&mut other).await, 1013);

    // Back to unfiltered: the set is gone and the numbers are the whole.
    send(&mut ws, json!({"type": "filter", "vars": {}})).await;
    next_of(&mut ws, "snapshot").await; // possibly cached: frames follow
    let o = next_of(&mut ws, "orders").await;
    assert_eq!(shown(&o), recompute(&sent, |_| true));
    wait_metric(&srv, "filter_sets", 0).await;

    // Bad filters in URLs: 400 with the reason.
    assert_eq!(
        refused_status(format!("{}?var-colour=red", srv.url())).await,
        400
    );
    let (status, body) = http(srv.addr, "/api/snapshot?var-age_band=20-30", "").await;
    assert_eq!(status, 400);
    assert!(body.contains("var-age_band must be one of"), "{body}");
    srv.stop().await;
}
