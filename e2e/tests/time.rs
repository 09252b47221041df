//! Time in a real headless Chromium against a real server: the KPI trend
//! lines draw the server's KPI history and follow the live ticks; a range
//! in the URL opens playback drawn from `/api/history`, the scrubber moves
//! what is drawn, and "Back to live" continues the live stream by `seq`
//! without a gap, a duplicate or a new snapshot.

use livedash_e2e::{http_get, wait_for, Browser, Server};
use serde_json::Value;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// The three trend lines (labels and values from ECharts itself), the
/// system chart's lines, the playback bar and the app root's attributes.
const READ: &str = r#"
const q = id => document.querySelector(`[data-testid="${id}"]`);
const opt = el => { const i = el && window.echarts && echarts.getInstanceByDom(el); return i ? i.getOption() : null; };
const line = id => { const o = opt(q(id)); return o ? { labels: o.xAxis[0].data, values: o.series.map(s => s.data) } : null; };
const app = q('app'), bar = q('playback');
return {
  trends: Object.fromEntries(['num_orders', 'num_order_items', 'total_sales'].map(k => [k, line('kpi-trend-' + k)])),
  system: line('chart-system'),
  kpi: q('kpi-num_orders') ? q('kpi-num_orders').textContent : null,
  seq: app ? Number(app.dataset.seqOrders) : -1,
  snapshots: app ? Number(app.dataset.snapshots) : -1,
  replay: app ? app.dataset.playback : null,
  search: location.search,
  bar: bar ? { from: Number(bar.dataset.from), to: Number(bar.dataset.to), cursor: Number(bar.dataset.cursor),
               state: bar.dataset.state, playing: bar.dataset.playing, time: q('playback-time').textContent } : null,
};
"#;

async fn read(b: &Browser) -> Value {
    b.js(READ).await.unwrap_or(Value::Null)
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// `#12` labels of a live trend as seqs.
fn seqs(v: &Value) -> Vec<u64> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l.as_str()?.strip_prefix('#')?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn tenth(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Whether the live trends equal the server's KPI history for the same
/// seqs: consecutive seqs ending at the last applied one.
fn trends_match(v: &Value, history: &[Value]) -> Result<usize, String> {
    let t = &v["trends"];
    let s = seqs(&t["num_orders"]["labels"]);
    if s.is_empty() || s.last() != v["seq"].as_u64().as_ref() {
        return Err(format!("trend seqs {s:?} do not end at seq {}", v["seq"]));
    }
    if s.windows(2).any(|w| w[1] != w[0] + 1) {
        return Err(format!("trend seqs not consecutive: {s:?}"));
    }
    for (key, round) in [
        ("num_orders", 0),
        ("num_order_items", 0),
        ("total_sales", 2),
    ] {
        let want: Vec<f64> = s
            .iter()
            .map(|q| {
                let k = history.iter().find(|k| k["seq"].as_u64() == Some(*q));
                let x = k.and_then(|k| k[key].as_f64()).unwrap_or(f64::NAN);
                if round == 2 {
                    cents(x)
                } else {
                    x
                }
            })
            .collect();
        let got = nums(&t[key]["values"][0]);
        if got != want {
            return Err(format!("{key}: drawn {got:?}, server {want:?}"));
        }
    }
    Ok(s.len())
}

async fn kpi_history(port: u16) -> Vec<Value> {
    let body = http_get(port, "/api/snapshot?history=3600")
        .await
        .unwrap_or_default();
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    v["kpi_history"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn kpi_trends_draw_the_servers_kpi_history_and_follow_the_ticks() {
    let server = Server::start(&["--tick-ms", "100"]);
    let b = Browser::start("kpi_trends").await;
    b.check(|| async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        // The snapshot's history, then live frames: bounded at 50 points,
        // every one equal to the server's figure for its seq.
        let deadline = std::time::Instant::now() + T;
        let (mut first, mut last_err) = (0, String::new());
        loop {
            let v = read(&b).await;
            let h = kpi_history(server.port).await;
            match trends_match(&v, &h) {
                Ok(n) => {
                    let seq = v["seq"].as_u64().unwrap_or(0);
                    if first == 0 {
                        first = seq;
                    }
                    if n == 50 && seq > first + 60 {
                        break;
                    }
                }
                Err(e) => last_err = e,
            }
            if std::time::Instant::now() > deadline {
                return Err(format!("trends never matched 50 live points: {last_err}"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    })
    .await;
}

/// `/api/history` of `series` over `[from, to]` as the page asks for it.
async fn history(port: u16, series: &[&str], from: u64, to: u64) -> Vec<Vec<(u64, f64)>> {
    let q: Vec<String> = series.iter().map(|s| format!("series={s}")).collect();
    let path = format!(
        "/api/history?{}&from={from}&to={to}&max_points=2000",
        q.join("&")
    );
    let body = http_get(port, &path).await.unwrap_or_default();
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    v["series"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    s["points"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| (p["ts"].as_u64().unwrap(), p["value"].as_f64().unwrap()))
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What the page must draw at `cursor`: every KPI point since the range
/// start, the last 50 system points.
fn expected(h: &[Vec<(u64, f64)>], cursor: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let upto =
        |i: usize| -> Vec<(u64, f64)> { h[i].iter().copied().filter(|p| p.0 <= cursor).collect() };
    let orders = upto(0).iter().map(|p| p.1).collect();
    let tail = |v: Vec<(u64, f64)>| -> Vec<f64> {
        let n = v.len().saturating_sub(50);
        v[n..].iter().map(|p| tenth(p.1)).collect()
    };
    (orders, tail(upto(1)), tail(upto(2)))
}

fn drawn(v: &Value) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    (
        nums(&v["trends"]["num_orders"]["values"][0]),
        nums(&v["system"]["values"][0]),
        nums(&v["system"]["values"][1]),
    )
}

#[tokio::test]
async fn playback_draws_history_scrubs_and_returns_to_live_without_a_gap() {
    let server = Server::start(&["--tick-ms", "100", "--system-ms", "200"]);
    // Some history first: ~150 ticks, ~75 system samples.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let b = Browser::start("playback").await;
    let names = [
        "orders.num_orders",
        "system.cpu_percent",
        "system.memory_percent",
    ];
    b.check(|| async {
        b.client
            .goto(&format!("{}/?from=now-5m&to=now", server.url()))
            .await
            .map_err(|e| e.to_string())?;
        let v = wait_for("the playback bar with its data", T, || async {
            let v = read(&b).await;
            (v["bar"]["state"] == "ready" && v["replay"] == "true").then_some(v)
        })
        .await?;
        let bar = &v["bar"];
        let (from, to) = (bar["from"].as_u64().unwrap(), bar["to"].as_u64().unwrap());
        if to - from != 300_000 || bar["cursor"].as_u64() != Some(to) {
            return Err(format!("range {bar}"));
        }
        let h = history(server.port, &names, from, to).await;
        if h.len() != 3 || h[0].len() < 40 || h[1].len() < 55 {
            return Err(format!("too little history: {:?}", h.iter().map(Vec::len).collect::<Vec<_>>()));
        }
        // At the end of the range: everything /api/history has.
        let want = expected(&h, to);
        wait_for("the charts drawing /api/history", T, || async {
            (drawn(&read(&b).await) == want).then_some(())
        })
        .await
        .map_err(|e| format!("{e}: drawn {:?}, want {want:?}", drawn(&v)))?;
        let v = read(&b).await;
        let last = *want.0.last().unwrap() as u64;
        if v["kpi"].as_str().map(|s| s.replace(',', "")) != Some(last.to_string()) {
            return Err(format!("KPI card {} at the end, history says {last}", v["kpi"]));
        }
        // The README's picture of playback (`LIVEDASH_UPDATE_SCREENSHOT=1`).
        if std::env::var("LIVEDASH_UPDATE_SCREENSHOT").is_ok() {
            if let Some(p) = b.screenshot("playback.png").await {
                let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
                std::fs::create_dir_all(&docs).map_err(|e| e.to_string())?;
                std::fs::copy(p, docs.join("playback.png")).map_err(|e| e.to_string())?;
            }
        }
        // Scrub to the middle of the history: the points up to the cursor.
        let mid = h[0][h[0].len() / 2].0;
        b.js(&format!(
            "const s = document.querySelector('[data-testid=playback-scrubber]'); \
             s.value = '{mid}'; s.dispatchEvent(new Event('input', {{bubbles: true}})); return s.value;"
        ))
        .await;
        let v = wait_for("the cursor moved", T, || async {
            let v = read(&b).await;
            (v["bar"]["cursor"].as_u64().is_some_and(|c| c < to)).then_some(v)
        })
        .await?;
        let cursor = v["bar"]["cursor"].as_u64().unwrap();
        let want_mid = expected(&h, cursor);
        if want_mid.0.len() >= want.0.len() || want_mid.0.is_empty() {
            return Err(format!("scrubbing to {cursor} does not cut the KPI points"));
        }
        wait_for("the charts drawing the points up to the cursor", T, || async {
            (drawn(&read(&b).await) == want_mid).then_some(())
        })
        .await
        .map_err(|e| format!("{e} (cursor {cursor})"))?;
        // Play at 60×: the cursor moves on its own.
        let speed = b
            .client
            .find(fantoccini::Locator::Css("[data-testid='playback-speed']"))
            .await
            .map_err(|e| e.to_string())?;
        speed.select_by_value("60").await.map_err(|e| e.to_string())?;
        click(&b, "playback-play").await?;
        wait_for("playing moves the cursor", T, || async {
            let v = read(&b).await;
            v["bar"]["cursor"].as_u64().is_some_and(|c| c > cursor + 5_000).then_some(())
        })
        .await?;
        // Back to live: the live stream, never interrupted, continues.
        let before = read(&b).await;
        let seq_before = before["seq"].as_u64().unwrap();
        click(&b, "playback-live").await?;
        let v = wait_for("live trends after back to live", T, || async {
            let v = read(&b).await;
            let s = seqs(&v["trends"]["num_orders"]["labels"]);
            (v["bar"].is_null() && v["replay"] == "false" && s.len() == 50).then_some(v)
        })
        .await?;
        let h = kpi_history(server.port).await;
        trends_match(&v, &h)?;
        let s = seqs(&v["trends"]["num_orders"]["labels"]);
        if v["seq"].as_u64().unwrap() < seq_before + 50 && !s.contains(&seq_before) {
            return Err(format!("seq {seq_before} (before back to live) missing from {s:?}"));
        }
        if v["snapshots"] != 1 {
            return Err(format!("{} snapshots: a resync happened", v["snapshots"]));
        }
        if v["search"] != "" {
            return Err(format!("the address bar still names a range: {}", v["search"]));
        }
        // Replay from the page puts the range in the address bar.
        click(&b, "playback-open").await?;
        wait_for("the range in the address bar", T, || async {
            let v = read(&b).await;
            (v["search"] == "?from=now-5m&to=now" && v["bar"]["state"] == "ready").then_some(())
        })
        .await
    })
    .await;
}

async fn click(b: &Browser, testid: &str) -> Result<(), String> {
    b.client
        .find(fantoccini::Locator::Css(&format!(
            "[data-testid='{testid}']"
        )))
        .await
        .map_err(|e| format!("{testid}: {e}"))?
        .click()
        .await
        .map_err(|e| format!("click {testid}: {e}"))
}
