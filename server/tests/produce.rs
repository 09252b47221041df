//! `livedash produce --postgres URL` against a real PostgreSQL: the
//! tutorial's schema and columns, rows at the asked rate that join like
//! the tutorial's `/ws` query, honest times, products loaded once, and a
//! database restart survived.

mod common;

use common::pg::TestPg;
use livedash_server::config::Secret;
use livedash_server::produce::{run, Args, Totals};
use std::collections::HashSet;
use std::time::Duration;
use tokio::sync::oneshot;

fn args(pg: &TestPg, rate: f64, seed: u64) -> Args {
    Args {
        postgres: Secret(pg.url()),
        orders_per_sec: rate,
        seed: Some(seed),
        report_secs: 1,
    }
}

/// Run the producer in a task; stop it with the returned sender.
fn start(a: Args) -> (oneshot::Sender<()>, tokio::task::JoinHandle<Totals>) {
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        run(a, async {
            let _ = rx.await;
        })
        .await
        .expect("valid connection string")
    });
    (tx, task)
}

async fn stop(tx: oneshot::Sender<()>, task: tokio::task::JoinHandle<Totals>) -> Totals {
    let _ = tx.send(());
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the producer stops at once")
        .unwrap()
}

fn count(pg: &TestPg, sql: &str) -> u64 {
    pg.psql(sql)
        .parse()
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Column names and types of a table, in order.
fn columns(pg: &TestPg, table: &str) -> String {
    pg.psql(&format!(
        "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) \
         FROM information_schema.columns WHERE table_schema = 'ecommerce' AND table_name = '{table}'"
    ))
}

/// The tutorial's `/ws` query (THELOOK.md), without the time filter.
const TUTORIAL_JOIN: &str =
    "FROM ecommerce.users u JOIN ecommerce.order_items o ON u.id = o.user_id \
     JOIN ecommerce.products p ON p.id = o.product_id";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_the_tutorials_tables_at_the_asked_rate() {
    let pg = TestPg::start();
    let (tx, task) = start(args(&pg, 20.0, 1));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let t = stop(tx, task).await;

    let ts = "timestamp without time zone";
    assert_eq!(
        columns(&pg, "users"),
        format!(
            "id text, first_name text, last_name text, email text, age bigint, gender text, \
             state text, street_address text, postal_code text, city text, country text, \
             latitude double precision, longitude double precision, traffic_source text, \
             created_at {ts}"
        )
    );
    assert_eq!(
        columns(&pg, "orders"),
        format!(
            "order_id text, user_id text, status text, gender text, created_at {ts}, \
             returned_at {ts}, shipped_at {ts}, delivered_at {ts}, num_of_item bigint"
        )
    );
    assert_eq!(
        columns(&pg, "order_items"),
        format!(
            "id text, order_id text, user_id text, product_id bigint, inventory_item_id bigint, \
             status text, created_at {ts}, shipped_at {ts}, delivered_at {ts}, returned_at {ts}, \
             sale_price double precision"
        )
    );
    assert_eq!(
        columns(&pg, "products"),
        "id bigint, cost double precision, category text, name text, brand text, \
         retail_price double precision, department text, sku text, distribution_center_id bigint"
    );
    assert_eq!(
        count(
            &pg,
            "SELECT count(*) FROM pg_indexes WHERE schemaname = 'ecommerce'"
        ),
        0,
        "no keys, no indexes: as pandas to_sql makes them"
    );

    // Counts: what the producer says it wrote is there, at about the rate
    // (20 orders/s for ~2.5 s; Poisson, so a wide band).
    let orders = count(&pg, "SELECT count(*) FROM ecommerce.orders");
    let items = count(&pg, "SELECT count(*) FROM ecommerce.order_items");
    let users = count(&pg, "SELECT count(*) FROM ecommerce.users");
    assert_eq!((t.users, t.orders, t.items), (users, orders, items));
    assert!((20..=110).contains(&orders), "orders {orders}");
    assert!(items >= orders && items <= 4 * orders, "items {items}");
    assert!(users > 0 && users <= orders + users, "users {users}");
    assert!(t.batches >= 3, "a batch every 0.5 s: {}", t.batches);
    let sum_items = count(&pg, "SELECT sum(num_of_item) FROM ecommerce.orders");
    assert_eq!(sum_items, items, "num_of_item adds up to the order items");

    // Every order item joins to its user and product, all 12 fields set.
    let joined = count(
        &pg,
        &format!(
            "SELECT count(*) {TUTORIAL_JOIN} WHERE u.age IS NOT NULL AND u.gender IS NOT NULL \
             AND u.country IS NOT NULL AND u.traffic_source IS NOT NULL AND o.order_id IS NOT NULL \
             AND p.category IS NOT NULL AND p.cost IS NOT NULL AND o.status IS NOT NULL \
             AND o.sale_price IS NOT NULL AND o.created_at IS NOT NULL"
        ),
    );
    assert_eq!(joined, items);
    // ... and the tutorial's own query (its 5-minute filter) finds them:
    // times are honest. The cluster's time zone is not UTC-dependent here
    // because the comparison is in UTC.
    let recent = count(
        &pg,
        &format!(
            "SELECT count(*) {TUTORIAL_JOIN} \
             WHERE o.created_at >= (now() AT TIME ZONE 'utc') - interval '5 minute'"
        ),
    );
    assert_eq!(recent, items);
    let skew = pg.psql(
        "SELECT max(abs(extract(epoch FROM (now() AT TIME ZONE 'utc') - created_at))) \
         FROM ecommerce.order_items",
    );
    let skew: f64 = skew.parse().unwrap();
    assert!(skew < 10.0, "created_at within seconds of now: {skew}");
    let orphans = count(
        &pg,
        "SELECT count(*) FROM ecommerce.order_items o \
         LEFT JOIN ecommerce.orders r ON r.order_id = o.order_id WHERE r.order_id IS NULL",
    );
    assert_eq!(orphans, 0, "every item's order exists");

    // Values from the tutorial's sets.
    let statuses: HashSet<String> = pg
        .psql("SELECT DISTINCT status FROM ecommerce.order_items")
        .lines()
        .map(String::from)
        .collect();
    let allowed = ["Shipped", "Complete", "Processing", "Cancelled", "Returned"];
    assert!(!statuses.is_empty());
    assert!(
        statuses.iter().all(|s| allowed.contains(&s.as_str())),
        "{statuses:?}"
    );
    let categories: HashSet<String> = livedash_server::generator::category_names()
        .map(String::from)
        .collect();
    for c in pg
        .psql(&format!("SELECT DISTINCT p.category {TUTORIAL_JOIN}"))
        .lines()
    {
        assert!(categories.contains(c), "category {c:?}");
    }
    let ids = count(
        &pg,
        "SELECT count(DISTINCT id) FROM ecommerce.order_items WHERE id ~ \
         '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'",
    );
    assert_eq!(ids, items, "ids are distinct uuids as text");

    // A second run adds rows but no products.
    let products = count(&pg, "SELECT count(*) FROM ecommerce.products");
    assert_eq!(
        products as usize,
        livedash_server::produce::catalogue::catalogue().len()
    );
    let (tx, task) = start(args(&pg, 20.0, 2));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let t2 = stop(tx, task).await;
    assert!(t2.items > 0);
    assert_eq!(
        count(&pg, "SELECT count(*) FROM ecommerce.products"),
        products
    );
    assert_eq!(
        count(&pg, "SELECT count(*) FROM ecommerce.order_items"),
        items + t2.items
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goes_on_after_a_database_restart() {
    let pg = TestPg::start();
    let (tx, task) = start(args(&pg, 40.0, 3));
    let items = || count(&pg, "SELECT count(*) FROM ecommerce.order_items");
    wait_until(Duration::from_secs(10), || {
        pg.psql("SELECT to_regclass('ecommerce.order_items') IS NOT NULL") == "t" && items() > 0
    })
    .await;
    pg.stop();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    pg.up();
    let before = items();
    wait_until(Duration::from_secs(15), || items() > before + 20).await;
    let t = stop(tx, task).await;
    assert!(t.reconnects >= 1, "{t:?}");
    assert_eq!(t.items, items(), "what it counted is what is there");
    assert_eq!(
        count(
            &pg,
            "SELECT count(*) - count(DISTINCT id) FROM ecommerce.order_items"
        ),
        0,
        "no batch written twice"
    );
}

async fn wait_until(limit: Duration, mut ok: impl FnMut() -> bool) {
    let end = tokio::time::Instant::now() + limit;
    while !ok() {
        assert!(tokio::time::Instant::now() < end, "timed out");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn the_binary_has_the_subcommand_and_stops_on_sigterm() {
    let exe = env!("CARGO_BIN_EXE_livedash");
    let help = std::process::Command::new(exe)
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("produce"), "{help}");
    assert!(
        help.contains("--tick-ms"),
        "the server's flags are still there"
    );
    let bad = std::process::Command::new(exe)
        .args(["produce", "--postgres", "port=notaport"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--postgres"));

    let pg = TestPg::start();
    let child = std::process::Command::new(exe)
        .args([
            "produce",
            "--orders-per-sec",
            "30",
            "--seed",
            "9",
            "--report-secs",
            "1",
        ])
        .arg("--postgres")
        .arg(pg.url())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    // SAFETY: signalling the child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("loaded 1440 products"), "{log}");
    assert!(
        log.contains("order items in the last"),
        "a summary line: {log}"
    );
    assert!(count(&pg, "SELECT count(*) FROM ecommerce.order_items") > 0);
}

/// How many rows a second one producer writes when asked for far more than
/// the tutorial's pace (`cargo test -p livedash-server --test produce --
/// --ignored --nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn measure_write_rate() {
    let pg = TestPg::start();
    let (tx, task) = start(args(&pg, 5_000.0, 4));
    tokio::time::sleep(Duration::from_secs(1)).await; // schema, products
    let before = count(&pg, "SELECT count(*) FROM ecommerce.order_items");
    let t0 = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = count(&pg, "SELECT count(*) FROM ecommerce.order_items");
    let secs = t0.elapsed().as_secs_f64();
    let t = stop(tx, task).await;
    println!(
        "asked 5000 orders/s: {:.0} order items/s written ({} orders, {} users, {} items in all, {} batches)",
        (after - before) as f64 / secs,
        t.orders,
        t.users,
        t.items,
        t.batches
    );
}
