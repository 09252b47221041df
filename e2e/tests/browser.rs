//! The dashboard in a real headless Chromium against a real server.

use livedash_e2e::{metric, wait_for, Browser, Server};
use serde_json::Value;
use std::time::Duration;

/// Everything a person would look at, read in one round trip.
const READ_PAGE: &str = r#"
const q = id => document.querySelector(`[data-testid="${id}"]`);
const t = id => (q(id) ? q(id).textContent.trim() : null);
// What each chart holds, from ECharts itself (a sized canvas proves nothing:
// an empty chart has one).
const opt = id => { const el = q(id); const i = el && window.echarts && echarts.getInstanceByDom(el); return i ? i.getOption() : null; };
const axis = o => (o.xAxis && o.xAxis[0] && o.xAxis[0].data) || [];
const bars = id => { const o = opt(id); const s = o && o.series && o.series[0]; return s ? { names: axis(o), values: s.data || [] } : null; };
const lines = () => { const o = opt('chart-system'); const s = o && o.series; return s && s.length == 2 ? { labels: axis(o).length, cpu: s[0].data || [], mem: s[1].data || [] } : null; };
const app = q('app');
return {
  orders: t('kpi-num_orders'), items: t('kpi-num_order_items'), sales: t('kpi-total_sales'),
  status: (t('connection-status') || '').toLowerCase(), clients: t('client-count'),
  counter: t('live-counter'), feed: q('feed') ? q('feed').children.length : -1,
  country: bars('chart-revenue-by-country'), source: bars('chart-revenue-by-traffic-source'),
  system: lines(),
  charts: document.querySelectorAll('[_echarts_instance_]').length,
  chart_boxes: document.querySelectorAll('[data-testid^="chart-"], [data-testid^="kpi-trend-"]').length,
  state: app ? app.dataset.state : null, stale: app ? app.dataset.stale : null,
  seq_orders: app ? Number(app.dataset.seqOrders) : -1,
  seq_system: app ? Number(app.dataset.seqSystem) : -1,
  paused: app ? app.dataset.paused : null,
  undecodable: app ? Number(app.dataset.undecodable) : -1,
  toggle: q('connect-toggle') ? q('connect-toggle').checked : null,
  token_form: !!q('token-form'),
  href: location.href,
};
"#;

async fn page(b: &Browser) -> Value {
    match b.client.execute(READ_PAGE, vec![]).await {
        Ok(v) => v,
        Err(e) => {
            if std::env::var("E2E_DEBUG").is_ok() {
                eprintln!("READ_PAGE: {e}");
            }
            Value::Null
        }
    }
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or("").to_string()
}

/// Numbers of a JSON array.
fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// A bar chart with data: as many names as bars, sorted descending.
fn bars_drawn(b: &Value) -> bool {
    let values = nums(&b["values"]);
    let names = b["names"].as_array().map(Vec::len).unwrap_or(0);
    !values.is_empty() && names == values.len() && values.windows(2).all(|w| w[0] >= w[1])
}

/// The system chart holds the points the state implies: one per sample
/// since the server started (the snapshot's history, then live frames), at
/// most 50, in both series and on the axis.
fn lines_drawn(v: &Value) -> bool {
    let l = &v["system"];
    let n = nums(&l["cpu"]).len();
    let expect = v["seq_system"].as_u64().unwrap_or(0).min(50) as usize;
    n > 0 && n == expect && nums(&l["mem"]).len() == n && l["labels"].as_u64() == Some(n as u64)
}

/// The page is live with data in every widget.
fn full(v: &Value) -> bool {
    v["state"] == "live"
        && s(v, "orders").chars().any(|c| c.is_ascii_digit())
        && s(v, "sales").contains('$')
        && bars_drawn(&v["country"])
        && bars_drawn(&v["source"])
        && lines_drawn(v)
        // One ECharts instance per chart box (no leaked or doubled
        // instance), and at least the three v1 charts.
        && v["charts"] == v["chart_boxes"]
        && v["charts"].as_u64().is_some_and(|n| n >= 3)
}

fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Compare a drawn bar chart with the server's rows, exactly (the page
/// rounds to cents).
fn same_bars(drawn: &Value, rows: &Value, what: &str) -> Result<(), String> {
    let rows = rows.as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    let values: Vec<f64> = rows
        .iter()
        .filter_map(|r| r["revenue"].as_f64())
        .map(cents)
        .collect();
    let drawn_names: Vec<&str> = drawn["names"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if drawn_names != names || nums(&drawn["values"]) != values {
        return Err(format!(
            "{what}: drawn {drawn} but the server has {names:?} {values:?}"
        ));
    }
    Ok(())
}

/// The charts show exactly the server's data: read the page, then the
/// server's snapshot, until both are at the same `orders` seq; then the
/// country and traffic-source bars must equal the server's (sorted
/// descending), and at the same `system` seq the CPU line must end with the
/// server's last samples.
async fn charts_match_the_server(b: &Browser, port: u16) -> Result<(), String> {
    let found = wait_for("the page and the server at the same seq", T, || async {
        let v = page(b).await;
        let body = livedash_e2e::http_get(port, "/api/snapshot").await?;
        let snap: Value = serde_json::from_str(&body).ok()?;
        (snap["seq"]["orders"].as_u64() == v["seq_orders"].as_u64() && full(&v))
            .then_some((v, snap))
    })
    .await?;
    let (v, snap) = found;
    same_bars(
        &v["country"],
        &snap["orders"]["by_country"],
        "revenue by country",
    )?;
    same_bars(
        &v["source"],
        &snap["orders"]["by_traffic_source"],
        "revenue by traffic source",
    )?;
    if snap["seq"]["system"].as_u64() == v["seq_system"].as_u64() {
        let cpu = nums(&v["system"]["cpu"]);
        let hist: Vec<f64> = snap["system_history"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["cpu_percent"].as_f64()).collect())
            .unwrap_or_default();
        let tail = &hist[hist.len().saturating_sub(cpu.len())..];
        let close = tail.len() == cpu.len()
            && tail
                .iter()
                .zip(&cpu)
                .all(|(a, b)| ((a * 10.0).round() / 10.0 - b).abs() < 0.11);
        if !close {
            return Err(format!("system chart {cpu:?} vs server {tail:?}"));
        }
    }
    Ok(())
}

const T: Duration = Duration::from_secs(20);

/// Wait until the page shows the full live dashboard.
async fn wait_full(b: &Browser, what: &str, limit: Duration) -> Result<(), String> {
    wait_for(what, limit, || async { full(&page(b).await).then_some(()) }).await
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
        charts_match_the_server(&b, server.port).await?;
        println!(
            "first full paint (navigation to live KPIs and 3 drawn charts): {} ms",
            t0.elapsed().as_millis()
        );
        b.open_tab(&server.url()).await;
        for i in [0, 1] {
            b.tab(i).await;
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
        b.open_tab(&server.url()).await;
        b.open_tab(&server.url()).await;
        let mut seqs = Vec::new();
        for i in 0..3 {
            b.tab(i).await;
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
        b.tab(2).await;
        b.client.close_window().await.map_err(|e| e.to_string())?;
        for i in 0..2 {
            b.tab(i).await;
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
        b.open_tab(&server.url()).await;
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
        charts_match_the_server(&b, server.port).await?;
        // The check reads data, not pixels: an emptied chart keeps its
        // sized canvas (the old check passed it) but is no longer "drawn".
        let canvas = b
            .js(
                "const el = document.querySelector('[data-testid=chart-revenue-by-country]'); \
                 echarts.getInstanceByDom(el).clear(); \
                 const c = el.querySelector('canvas'); return c ? c.width * c.height : 0",
            )
            .await
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        let v = page(&b).await;
        if canvas == 0 || full(&v) {
            return Err(format!(
                "an empty chart counted as drawn: canvas {canvas}, {v}"
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
        if v["stale"] != "true" || v["orders"] != old["orders"] || !bars_drawn(&v["country"]) {
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
    // A's page may connect to B only because A's CSP lists B
    // (`--connect-src`); B accepts A's origin (`--allowed-origin`).
    let a_port = livedash_e2e::free_port();
    let origin = format!("http://127.0.0.1:{a_port}");
    let b_srv = Server::start(&["--tick-ms", "200", "--allowed-origin", &origin]);
    let b_ws = format!("ws://127.0.0.1:{}", b_srv.port);
    let a = Server::start_on(a_port, &["--tick-ms", "200", "--connect-src", &b_ws]);
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
    let b_srv = Server::start(&[
        "--tick-ms",
        "200",
        "--allowed-origin",
        &cdn_origin,
        "--admin-token",
        "adm1n",
    ]);
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
        edit_and_save_across_origins(&b, &b_srv).await
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

/// The widget ids the page shows and the dashboard's stored version.
const WIDGET_IDS: &str = "const a = document.querySelector('[data-testid=app]'); \
    return {version: a && a.dataset.dashboardVersion, dashboard: a && a.dataset.dashboard, \
    editing: !!document.querySelector('.is-editing'), \
    ids: [...document.querySelectorAll('[data-testid=widget]')].map(w => w.dataset.widgetId).sort()}";

/// From a page served by another origin (a CDN), with the admin token:
/// edit the default dashboard on server B and save it there. The `PUT`
/// carries `If-Match` and `Authorization`, so the browser sends a CORS
/// preflight first; B must allow both. Reloaded, the page shows B's copy.
async fn edit_and_save_across_origins(b: &Browser, b_srv: &Server) -> Result<(), String> {
    b.admin_token("adm1n").await?;
    let before = wait_for("the default dashboard from B", T, || async {
        let v = b.js(WIDGET_IDS).await?;
        (v["dashboard"] == "default" && v["version"] == "1" && !v["ids"].as_array()?.is_empty())
            .then_some(v)
    })
    .await?;
    click(b, "edit-toggle").await;
    wait_for("edit mode", T, || async {
        (b.js(WIDGET_IDS).await?["editing"] == true).then_some(())
    })
    .await?;
    b.js(
        "const s = document.querySelector('[data-testid=widget-kind]'); s.value = 'clients'; \
          s.dispatchEvent(new Event('change', {bubbles: true})); return true",
    )
    .await;
    click(b, "widget-add").await;
    click(b, "dashboard-save").await;
    let saved = wait_for("saved on B as version 2", T, || async {
        let v = b.js(WIDGET_IDS).await?;
        (v["version"] == "2" && v["editing"] == false).then_some(v)
    })
    .await?;
    let n = before["ids"].as_array().map_or(0, Vec::len);
    if saved["ids"].as_array().map(Vec::len) != Some(n + 1) {
        return Err(format!("before {before}, after {saved}"));
    }
    let body = livedash_e2e::http_get(b_srv.port, "/api/dashboards/default")
        .await
        .ok_or("GET from B")?;
    let stored: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    let mut ids: Vec<Value> = stored["widgets"]
        .as_array()
        .ok_or("widgets")?
        .iter()
        .map(|w| w["id"].clone())
        .collect();
    ids.sort_by_key(|v| v.as_str().unwrap_or("").to_string());
    if stored["version"] != 2 || Value::Array(ids) != saved["ids"] {
        return Err(format!("B stored {stored}; the page showed {saved}"));
    }
    b.client.refresh().await.map_err(|e| e.to_string())?;
    wait_for("B's saved dashboard after a reload", T, || async {
        let v = b.js(WIDGET_IDS).await?;
        (v["version"] == "2" && v["ids"] == saved["ids"]).then_some(())
    })
    .await
}

/// Click an element by test id.
async fn click(b: &Browser, testid: &str) {
    b.js(&format!(
        "document.querySelector('[data-testid={testid}]').click()"
    ))
    .await;
}

/// Answer the page's request for a viewer token: `Some` types it, `None`
/// cancels. Works with the in-page form and, so that the tests can be run
/// against the old page, with a `window.prompt`. Returns whether the form
/// (not a prompt) was used.
async fn answer_token(b: &Browser, token: Option<&str>) -> Result<bool, String> {
    let form = wait_for("a token form or prompt", T, || async {
        if b.client.get_alert_text().await.is_ok() {
            return Some(false);
        }
        page(b).await["token_form"].as_bool().filter(|f| *f)
    })
    .await?;
    if !form {
        match token {
            Some(t) => {
                b.client
                    .send_alert_text(t)
                    .await
                    .map_err(|e| e.to_string())?;
                b.client.accept_alert().await.map_err(|e| e.to_string())?;
            }
            None => b.client.dismiss_alert().await.map_err(|e| e.to_string())?,
        }
        return Ok(false);
    }
    // Accessible: a labelled password input, a submit and a cancel button.
    let a11y = b
        .js(
            "const i = document.querySelector('[data-testid=token-input]'); \
             return !!i && i.type == 'password' && !!i.labels && i.labels.length > 0 \
               && document.querySelector('[data-testid=token-submit]').type == 'submit' \
               && document.querySelector('[data-testid=token-cancel]').type == 'button'",
        )
        .await;
    if a11y != Some(Value::Bool(true)) {
        return Err(format!(
            "token form: labelled password input and buttons: {a11y:?}"
        ));
    }
    match token {
        Some(t) => {
            let input = b
                .client
                .find(fantoccini::Locator::Css("[data-testid='token-input']"))
                .await
                .map_err(|e| e.to_string())?;
            input.send_keys(t).await.map_err(|e| e.to_string())?;
            click(b, "token-submit").await;
        }
        None => click(b, "token-cancel").await,
    }
    Ok(true)
}

#[tokio::test]
async fn a_wrong_url_token_gives_way_to_the_token_typed_in_the_form() {
    let server = Server::start(&["--tick-ms", "200", "--viewer-token", "s3cret"]);
    let b = Browser::start("token_form").await;
    b.check(|| async {
        b.client
            .goto(&format!("{}/?token=wrong&x=1#top", server.url()))
            .await
            .map_err(|e| e.to_string())?;
        let used_form = answer_token(&b, Some("s3cret")).await?;
        wait_full(&b, "live with the typed token", T).await?;
        let v = page(&b).await;
        let href = s(&v, "href");
        if href.contains("token=") || !href.contains("?x=1#top") {
            return Err(format!("address bar: {href}"));
        }
        if !used_form {
            return Err("a window.prompt asked for the token, not the page".into());
        }
        if v["token_form"] == true {
            return Err("the token form stays open while live".into());
        }
        let kept = b
            .js("return sessionStorage.getItem('livedash.token')")
            .await
            .unwrap_or_default();
        if kept != "s3cret" {
            return Err(format!("stored token: {kept}"));
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn cancelling_the_token_form_goes_offline_and_one_click_connects_again() {
    let server = Server::start(&["--tick-ms", "200", "--viewer-token", "s3cret"]);
    let b = Browser::start("token_cancel").await;
    b.check(|| async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        // No token: the server waits for an `auth` frame, then refuses.
        let used_form = answer_token(&b, None).await?;
        let v = match wait_for("offline", T, || async {
            let v = page(&b).await;
            s(&v, "status").contains("offline").then_some(v)
        })
        .await
        {
            Ok(v) => v,
            Err(e) => return Err(format!("{e}: {}", page(&b).await)),
        };
        if v["toggle"] != false {
            return Err(format!("offline but the toggle shows on: {v}"));
        }
        if !used_form {
            return Err("a window.prompt asked for the token, not the page".into());
        }
        // One click connects again (here with the right token kept).
        b.js("sessionStorage.setItem('livedash.token', 's3cret')")
            .await;
        click(&b, "connect-toggle").await;
        wait_full(&b, "live after one click", T).await?;
        if page(&b).await["toggle"] != true {
            return Err("live but the toggle shows off".into());
        }
        Ok(())
    })
    .await;
}

/// A fake WebSocket server on a free port that sends `frames` on every
/// connection, then holds it open; counts connections.
async fn fake_server(frames: Vec<String>) -> (u16, std::sync::Arc<std::sync::atomic::AtomicU32>) {
    use futures_util::{SinkExt, StreamExt};
    use std::sync::atomic::{AtomicU32, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(AtomicU32::new(0));
    let n = count.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            n.fetch_add(1, Ordering::SeqCst);
            let frames = frames.clone();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                for f in frames {
                    if ws.send(f.into()).await.is_err() {
                        return;
                    }
                }
                // Hold it open; read (and ignore) until the page closes it.
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    (port, count)
}

#[tokio::test]
async fn a_server_of_another_protocol_is_shown_and_not_retried() {
    use std::sync::atomic::Ordering;
    let hello = |p: u32| {
        format!(
            r#"{{"type":"hello","protocol":{p},"server_version":"9.0.0","client_id":1,"tick_ms":1000,"system_ms":1000,"lookback_ms":300000}}"#
        )
    };
    let (v99, v99_conns) = fake_server(vec![hello(99)]).await;
    // Same protocol number, but an unknown frame and a snapshot of another
    // shape (a server that changed without saying so).
    let (bad_snap, _) = fake_server(vec![
        hello(1),
        r#"{"type":"brand_new","x":1}"#.into(),
        r#"{"type":"snapshot","seq":"v2"}"#.into(),
    ])
    .await;
    // Serves the page only; its CSP lets the page reach the fake servers.
    let (src1, src2) = (
        format!("ws://127.0.0.1:{v99}"),
        format!("ws://127.0.0.1:{bad_snap}"),
    );
    let pages = Server::start(&[
        "--tick-ms",
        "60000",
        "--connect-src",
        &src1,
        "--connect-src",
        &src2,
    ]);
    let b = Browser::start("incompatible").await;
    b.check(|| async {
        b.client
            .goto(&format!("{}/?server=ws://127.0.0.1:{v99}/ws", pages.url()))
            .await
            .map_err(|e| e.to_string())?;
        let v = wait_for("the incompatible state", T, || async {
            let v = page(&b).await;
            s(&v, "status").contains("incompatible").then_some(v)
        })
        .await?;
        let msg = b.text("incompatible").await.unwrap_or_default();
        if !msg.contains("protocol 99") || !msg.contains("protocol 1") {
            return Err(format!("message: {msg:?} ({v})"));
        }
        if b.text("reload-page").await.is_none() {
            return Err("no reload button".into());
        }
        // No reconnecting: still one connection a while later.
        tokio::time::sleep(Duration::from_secs(4)).await;
        let v = page(&b).await;
        if v99_conns.load(Ordering::SeqCst) != 1 || !s(&v, "status").contains("incompatible") {
            return Err(format!(
                "{} connections; {v}",
                v99_conns.load(Ordering::SeqCst)
            ));
        }
        b.client
            .goto(&format!(
                "{}/?server=ws://127.0.0.1:{bad_snap}/ws",
                pages.url()
            ))
            .await
            .map_err(|e| e.to_string())?;
        let v = wait_for("an undecodable snapshot to end waiting", T, || async {
            let v = page(&b).await;
            s(&v, "status").contains("incompatible").then_some(v)
        })
        .await?;
        if v["undecodable"] != 1 || b.text("undecodable-frames").await.is_none() {
            return Err(format!("the unknown frame was not counted: {v}"));
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn pause_survives_a_server_restart() {
    let mut server = Server::start(&["--tick-ms", "200"]);
    let port = server.port;
    let b = Browser::start("pause_restart").await;
    b.check(|| async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        wait_full(&b, "live", T).await?;
        click(&b, "pause-toggle").await;
        wait_for("paused", T, || async {
            (page(&b).await["paused"] == "true").then_some(())
        })
        .await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let frozen = page(&b).await;
        server.kill();
        wait_for("reconnecting", T, || async {
            s(&page(&b).await, "status")
                .contains("reconnecting")
                .then_some(())
        })
        .await?;
        server = Server::start_on(port, &["--tick-ms", "200"]);
        wait_for(
            "reconnected while paused",
            Duration::from_secs(35),
            || async {
                let v = page(&b).await;
                (server.clients().await == Some(1) && v["state"] == "live").then_some(())
            },
        )
        .await?;
        // Live frames flow on the server; the page stays frozen, and the
        // server sent it no snapshot (it opened the socket paused).
        let ticks0 = metric(port, "livedash_orders_ticks_total").await;
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let v = page(&b).await;
            for k in ["seq_orders", "orders", "sales", "counter", "paused"] {
                if v[k] != frozen[k] {
                    return Err(format!("{k} moved while paused: {frozen} → {v}"));
                }
            }
        }
        let ticks1 = metric(port, "livedash_orders_ticks_total").await;
        if ticks1 <= ticks0 {
            return Err(format!("the server did not tick: {ticks0:?} {ticks1:?}"));
        }
        let snaps = metric(port, "livedash_snapshots_sent_total").await;
        if snaps != Some(0) {
            return Err(format!("snapshots sent to a paused page: {snaps:?}"));
        }
        // Resume: a snapshot brings it current.
        click(&b, "pause-toggle").await;
        wait_for("current again", T, || async {
            let v = page(&b).await;
            let body = livedash_e2e::http_get(port, "/api/snapshot").await?;
            let snap: Value = serde_json::from_str(&body).ok()?;
            let now = snap["seq"]["orders"].as_u64()?;
            (full(&v)
                && v["paused"] == "false"
                && v["seq_orders"] != frozen["seq_orders"]
                && v["seq_orders"].as_u64()? + 2 >= now)
                .then_some(())
        })
        .await?;
        Ok(())
    })
    .await;
    drop(server);
}
