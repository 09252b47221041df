//! The dashboard in a real headless Chromium against a real server.

use livedash_e2e::{wait_for, Browser, Server};
use serde_json::Value;
use std::time::Duration;

/// Everything a person would look at, read in one round trip.
const READ_PAGE: &str = r#"
const q = id => document.querySelector(`[data-testid="${id}"]`);
const t = id => (q(id) ? q(id).textContent.trim() : null);
const canvas = id => { const c = q(id) && q(id).querySelector('canvas'); return c ? c.width * c.height : 0; };
const app = q('app');
return {
  orders: t('kpi-num_orders'), items: t('kpi-num_order_items'), sales: t('kpi-total_sales'),
  status: (t('connection-status') || '').toLowerCase(), clients: t('client-count'),
  counter: t('live-counter'), feed: q('feed') ? q('feed').children.length : -1,
  country: canvas('chart-revenue-by-country'), source: canvas('chart-revenue-by-traffic-source'),
  system: canvas('chart-system'),
  charts: document.querySelectorAll('[_echarts_instance_]').length,
  state: app ? app.dataset.state : null, stale: app ? app.dataset.stale : null,
  seq_orders: app ? Number(app.dataset.seqOrders) : -1,
  seq_system: app ? Number(app.dataset.seqSystem) : -1,
  paused: app ? app.dataset.paused : null,
};
"#;

async fn page(b: &Browser) -> Value {
    b.js(READ_PAGE).await.unwrap_or(Value::Null)
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or("").to_string()
}

/// The page is live with data in every widget.
fn full(v: &Value) -> bool {
    v["state"] == "live"
        && s(v, "orders").chars().any(|c| c.is_ascii_digit())
        && s(v, "sales").contains('$')
        && v["country"].as_u64() > Some(0)
        && v["source"].as_u64() > Some(0)
        && v["system"].as_u64() > Some(0)
        && v["charts"] == 3
}

const T: Duration = Duration::from_secs(20);

/// Wait until the page shows the full live dashboard.
async fn wait_full(b: &Browser, what: &str, limit: Duration) -> Result<(), String> {
    wait_for(what, limit, || async { full(&page(b).await).then_some(()) }).await
}

/// Switch to the tab with this index.
async fn tab(b: &Browser, i: usize) {
    let w = b.client.windows().await.expect("windows");
    b.client
        .switch_to_window(w[i].clone())
        .await
        .expect("switch");
}

/// Open a new tab at `url`; it becomes current.
async fn open_tab(b: &Browser, url: &str) {
    let w = b.client.new_window(true).await.expect("new tab");
    b.client.switch_to_window(w.handle).await.expect("switch");
    b.client.goto(url).await.expect("goto");
}

#[tokio::test]
async fn two_tabs_show_the_live_dashboard_and_two_clients() {
    let server = Server::start(&[
        "--tick-ms",
        "250",
        "--system-ms",
        "250",
        "--orders-per-sec",
        "40",
    ]);
    let b = Browser::start("two_tabs").await;
    b.check(|| async {
        let t0 = std::time::Instant::now();
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        wait_full(&b, "a first full paint", T).await?;
        println!(
            "first full paint (navigation to live KPIs and 3 drawn charts): {} ms",
            t0.elapsed().as_millis()
        );
        open_tab(&b, &server.url()).await;
        for i in [0, 1] {
            tab(&b, i).await;
            let first = wait_for("a full live dashboard", T, || async {
                let v = page(&b).await;
                (full(&v) && v["clients"] == "2").then_some(v)
            })
            .await?;
            // Live data: the numbers move.
            wait_for("changing KPIs, counter and seq", T, || {
                let first = first.clone();
                let b = &b;
                async move {
                    let v = page(b).await;
                    (v["seq_orders"].as_u64() > first["seq_orders"].as_u64()
                        && v["counter"] != first["counter"]
                        && (v["orders"] != first["orders"] || v["sales"] != first["sales"]))
                        .then_some(())
                }
            })
            .await?;
        }
        let labels = b
            .js("return document.body.innerText")
            .await
            .unwrap_or_default();
        let labels = labels.as_str().unwrap_or("");
        for l in [
            "Number of Orders",
            "Number of Order Items",
            "Total Sales",
            "Revenue by Country",
            "Revenue by Traffic Source",
        ] {
            if !labels.contains(l) {
                return Err(format!("label {l:?} missing"));
            }
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        b.screenshot("dashboard.png").await;
        if std::env::var("LIVEDASH_UPDATE_SCREENSHOT").is_ok() {
            if let Some(p) = b.screenshot("dashboard.png").await {
                let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
                std::fs::create_dir_all(&docs).map_err(|e| e.to_string())?;
                std::fs::copy(p, docs.join("screenshot.png")).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn three_tabs_agree_and_closing_one_leaves_two() {
    let server = Server::start(&["--tick-ms", "500"]);
    let b = Browser::start("three_tabs").await;
    b.check(|| async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        open_tab(&b, &server.url()).await;
        open_tab(&b, &server.url()).await;
        let mut seqs = Vec::new();
        for i in 0..3 {
            tab(&b, i).await;
            let v = wait_for("3 clients", T, || async {
                let v = page(&b).await;
                (full(&v) && v["clients"] == "3").then_some(v)
            })
            .await?;
            seqs.push(v["seq_orders"].as_u64().unwrap_or(0));
        }
        // Read one after another, so allow the ticks that passed in between.
        let spread = seqs.iter().max().unwrap() - seqs.iter().min().unwrap();
        if spread > 3 {
            return Err(format!("tabs disagree on the orders seq: {seqs:?}"));
        }
        tab(&b, 2).await;
        b.client.close_window().await.map_err(|e| e.to_string())?;
        for i in 0..2 {
            tab(&b, i).await;
            wait_for("2 clients after closing a tab", T, || async {
                (page(&b).await["clients"] == "2").then_some(())
            })
            .await?;
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_new_tab_draws_everything_from_the_snapshot_before_the_next_tick() {
    // One tick every 30 s: only the snapshot can explain full charts.
    let server = Server::start(&["--tick-ms", "30000", "--system-ms", "30000"]);
    let b = Browser::start("snapshot_first").await;
    b.check(|| async {
        // The first tick happens 30 s in; use a tab to wait until it did.
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        wait_full(&b, "the first tick", Duration::from_secs(40)).await?;
        let before = page(&b).await;
        open_tab(&b, &server.url()).await;
        let v = wait_for(
            "a full dashboard in the new tab",
            Duration::from_secs(5),
            || async {
                let v = page(&b).await;
                full(&v).then_some(v)
            },
        )
        .await?;
        if v["seq_orders"] != before["seq_orders"] || v["orders"] != before["orders"] {
            return Err(format!(
                "new tab differs from the snapshot: {v} vs {before}"
            ));
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn server_restart_reconnects_with_backoff_and_a_fresh_snapshot() {
    let mut server = Server::start(&["--tick-ms", "200"]);
    let port = server.port;
    let b = Browser::start("restart").await;
    b.check(|| async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        wait_full(&b, "live", T).await?;
        // Let the old server's seq grow well past what a new one starts at.
        wait_for("seq > 20", T, || async {
            (page(&b).await["seq_orders"].as_u64() > Some(20)).then_some(())
        })
        .await?;
        let old = page(&b).await;
        server.kill();
        let v = wait_for("reconnecting", T, || async {
            let v = page(&b).await;
            s(&v, "status").contains("reconnecting").then_some(v)
        })
        .await?;
        if v["stale"] != "true" || v["orders"] != old["orders"] || v["country"].as_u64() == Some(0)
        {
            return Err(format!(
                "last data must stay visible and be marked stale: {v}"
            ));
        }
        if let Ok(text) = b.client.get_alert_text().await {
            return Err(format!("an error popup appeared: {text:?}"));
        }
        // The countdown grows from one attempt to the next.
        let secs = |v: &Value| {
            s(v, "status")
                .split_whitespace()
                .find_map(|w| w.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let max_seen = std::cell::Cell::new(secs(&v));
        let grew = wait_for("a growing backoff", Duration::from_secs(25), || {
            let (b, max_seen) = (&b, &max_seen);
            async move {
                let n = secs(&page(b).await);
                if n > max_seen.get() + 1 || (max_seen.get() >= 4 && n >= 4) {
                    return Some(());
                }
                max_seen.set(max_seen.get().max(n));
                None
            }
        })
        .await;
        grew?;
        // A slower tick, so the new server's seqs stay far below the old ones.
        server = Server::start_on(port, &["--tick-ms", "1000"]);
        let v = wait_for(
            "live again within the backoff cap",
            Duration::from_secs(35),
            || async {
                let v = page(&b).await;
                full(&v).then_some(v)
            },
        )
        .await?;
        if v["stale"] != "false" {
            return Err(format!("stale after reconnect: {v}"));
        }
        let new_seq = v["seq_orders"].as_u64().unwrap_or(0);
        if new_seq >= old["seq_orders"].as_u64().unwrap_or(0) {
            return Err(format!(
                "seq {new_seq} did not come from the new server's snapshot"
            ));
        }
        // And it keeps counting from there.
        wait_for("seq continuing", T, || async {
            (page(&b).await["seq_orders"].as_u64() > Some(new_seq)).then_some(())
        })
        .await?;
        Ok(())
    })
    .await;
    drop(server);
}

#[tokio::test]
async fn connect_toggle_and_pause_resume() {
    let server = Server::start(&["--tick-ms", "200"]);
    let b = Browser::start("toggle_pause").await;
    b.check(|| async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        wait_full(&b, "live", T).await?;
        // Pause: numbers freeze while the socket stays open.
        b.js("document.querySelector('[data-testid=pause-toggle]').click()")
            .await;
        wait_for("paused", T, || async {
            (page(&b).await["paused"] == "true").then_some(())
        })
        .await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let frozen = page(&b).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let later = page(&b).await;
        if later["seq_orders"] != frozen["seq_orders"] || later["counter"] != frozen["counter"] {
            return Err(format!("paused page still moves: {frozen} → {later}"));
        }
        if server.clients().await != Some(1) || later["state"] != "live" {
            return Err("the socket must stay open while paused".into());
        }
        // Resume: a snapshot brings it current.
        b.js("document.querySelector('[data-testid=pause-toggle]').click()")
            .await;
        wait_for("current again", T, || async {
            (page(&b).await["seq_orders"].as_u64() > frozen["seq_orders"].as_u64()).then_some(())
        })
        .await?;
        // Connect off: the socket closes and the server's count drops.
        b.js("document.querySelector('[data-testid=connect-toggle]').click()")
            .await;
        wait_for("offline", T, || async {
            s(&page(&b).await, "status")
                .contains("offline")
                .then_some(())
        })
        .await?;
        wait_for("server count 0", T, || async {
            (server.clients().await == Some(0)).then_some(())
        })
        .await?;
        b.js("document.querySelector('[data-testid=connect-toggle]').click()")
            .await;
        wait_full(&b, "live again", T).await?;
        wait_for("server count 1", T, || async {
            (server.clients().await == Some(1)).then_some(())
        })
        .await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn server_override_points_a_static_page_at_another_server() {
    // Server A serves the page; server B (another port) has the data and
    // allows A's origin, as a CDN deployment would.
    let a = Server::start(&["--tick-ms", "200"]);
    let origin = a.url();
    let b_srv = Server::start(&["--tick-ms", "200", "--allowed-origin", &origin]);
    let b = Browser::start("server_override").await;
    b.check(|| async {
        b.client
            .goto(&format!("{}/?server={}", a.url(), b_srv.url()))
            .await
            .map_err(|e| e.to_string())?;
        wait_full(&b, "live through server B", T).await?;
        wait_for("B counts the tab, A does not", T, || async {
            (b_srv.clients().await == Some(1) && a.clients().await == Some(0)).then_some(())
        })
        .await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_frozen_server_is_noticed_by_the_heartbeat() {
    let server = Server::start(&["--tick-ms", "200"]);
    let b = Browser::start("sigstop").await;
    struct Cont<'a>(&'a Server);
    impl Drop for Cont<'_> {
        fn drop(&mut self) {
            self.0.signal("CONT");
        }
    }
    b.check(|| async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        wait_full(&b, "live", T).await?;
        server.signal("STOP");
        let _cont = Cont(&server);
        // The pong deadline is 12 s; allow a little more.
        wait_for(
            "the heartbeat to notice",
            Duration::from_secs(16),
            || async { (page(&b).await["state"] != "live").then_some(()) },
        )
        .await?;
        server.signal("CONT");
        wait_full(&b, "live after SIGCONT", Duration::from_secs(40)).await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn config_json_beside_the_page_points_it_at_another_server() {
    // A copy of the bundle with a config.json, as it would sit on a CDN.
    let dist = std::env::temp_dir().join(format!("livedash-cdn-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dist);
    std::fs::create_dir_all(&dist).unwrap();
    for e in std::fs::read_dir(livedash_e2e::env("LIVEDASH_DIST")).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), dist.join(e.file_name())).unwrap();
        }
    }
    // Server B has the data and allows the CDN's origin.
    let cdn_port = livedash_e2e::free_port();
    let cdn_origin = format!("http://127.0.0.1:{cdn_port}");
    let b_srv = Server::start(&["--tick-ms", "200", "--allowed-origin", &cdn_origin]);
    std::fs::write(
        dist.join("config.json"),
        format!("{{\"server\": \"ws://127.0.0.1:{}/ws\"}}", b_srv.port),
    )
    .unwrap();
    let dist_s = dist.to_string_lossy().to_string();
    let cdn = Server::start_on(cdn_port, &["--tick-ms", "60000", "--dist", &dist_s]);
    let b = Browser::start("config_json").await;
    b.check(|| async {
        b.client.goto(&cdn.url()).await.map_err(|e| e.to_string())?;
        wait_full(&b, "live through config.json's server", T).await?;
        wait_for("B counts the tab, the CDN does not", T, || async {
            (b_srv.clients().await == Some(1) && cdn.clients().await == Some(0)).then_some(())
        })
        .await?;
        Ok(())
    })
    .await;
    let _ = std::fs::remove_dir_all(&dist);
}

#[tokio::test]
async fn a_viewer_token_in_the_page_url_opens_a_protected_dashboard() {
    let server = Server::start(&["--tick-ms", "200", "--viewer-token", "s3cret"]);
    let b = Browser::start("viewer_token").await;
    b.check(|| async {
        b.client
            .goto(&format!("{}/?token=s3cret", server.url()))
            .await
            .map_err(|e| e.to_string())?;
        wait_full(&b, "live with the token", T).await?;
        // Kept in sessionStorage, never in a cookie.
        let kept = b
            .js("return [sessionStorage.getItem('livedash.token'), document.cookie]")
            .await
            .unwrap_or_default();
        if kept != serde_json::json!(["s3cret", ""]) {
            return Err(format!("token storage: {kept}"));
        }
        Ok(())
    })
    .await;
}
