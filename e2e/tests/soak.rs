//! The long-running tab check: `cargo xtask soak --minutes N` (not part of
//! `cargo xtask test`). One tab at 20 updates per second for N minutes; every
//! minute, after a forced GC, sample the JS heap, the DOM node count and the
//! ECharts instance count. Fails when the heap keeps growing (least-squares
//! slope over the second half above 5 MB per hour) or nodes / instances grow.

use livedash_e2e::{wait_for, Browser, Server};
use std::time::{Duration, Instant};

const SAMPLE: &str = r#"
if (window.gc) { window.gc(); }
return {
  heap: performance.memory ? performance.memory.usedJSHeapSize : -1,
  nodes: document.getElementsByTagName('*').length,
  charts: document.querySelectorAll('[_echarts_instance_]').length,
  seq: Number(document.querySelector('[data-testid=app]').dataset.seqOrders),
  state: document.querySelector('[data-testid=app]').dataset.state,
};
"#;

/// Least-squares slope of y over x.
fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let num: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let den: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

#[tokio::test]
#[ignore = "long: run with cargo xtask soak --minutes N"]
async fn soak() {
    let minutes: u64 = std::env::var("LIVEDASH_SOAK_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(30);
    let server = Server::start(&[
        "--tick-ms",
        "50",
        "--system-ms",
        "200",
        "--orders-per-sec",
        "20",
    ]);
    let b = Browser::start_with(
        "soak",
        &["--enable-precise-memory-info", "--js-flags=--expose-gc"],
    )
    .await;
    b.check(|| async {
        b.client.goto(&server.url()).await.map_err(|e| e.to_string())?;
        wait_for("live", Duration::from_secs(30), || async {
            (b.app_attr("data-state").await.as_deref() == Some("live")).then_some(())
        })
        .await?;
        let start = Instant::now();
        let mut rows: Vec<(f64, f64, u64, u64, u64)> = Vec::new();
        println!("minute\theap_MB\tdom_nodes\techarts\tseq_orders");
        for m in 0..=minutes {
            let due = start + Duration::from_secs(60 * m);
            tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
            let v = b.js(SAMPLE).await.ok_or("sample failed")?;
            let heap = v["heap"].as_f64().unwrap_or(-1.0) / 1e6;
            let row = (
                m as f64,
                heap,
                v["nodes"].as_u64().unwrap_or(0),
                v["charts"].as_u64().unwrap_or(0),
                v["seq"].as_u64().unwrap_or(0),
            );
            println!("{}\t{:.2}\t{}\t{}\t{}", row.0, row.1, row.2, row.3, row.4);
            if v["state"] != "live" {
                return Err(format!("not live at minute {m}: {v}"));
            }
            rows.push(row);
        }
        // Skip the warm-up half: JIT, caches and the 50-point rings fill early.
        let half = &rows[rows.len() / 2..];
        let xs: Vec<f64> = half.iter().map(|r| r.0 / 60.0).collect();
        let ys: Vec<f64> = half.iter().map(|r| r.1).collect();
        let mb_per_hour = slope(&xs, &ys);
        let frames = rows.last().unwrap().4 - rows[0].4;
        println!("heap slope over the second half: {mb_per_hour:.2} MB/h; {frames} orders frames applied");
        // The section `cargo xtask soak` puts into BENCHMARKS.md.
        let mut md = format!(
            "One tab at 20 `orders` updates per second (plus 5 `system` samples per second) for\n\
             {minutes} minutes; every minute, after a forced GC: the JS heap, the DOM node count and\n\
             the ECharts instance count, read in the page.\n\n\
             | minute | JS heap (MB) | DOM nodes | ECharts instances | orders seq |\n|---|---|---|---|---|\n"
        );
        for r in &rows {
            md.push_str(&format!("| {} | {:.2} | {} | {} | {} |\n", r.0, r.1, r.2, r.3, r.4));
        }
        md.push_str(&format!(
            "\nHeap slope over the second half (least squares): **{mb_per_hour:.2} MB per hour** \
             (limit 5); {frames} `orders` frames applied.\n"
        ));
        let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/soak.md");
        std::fs::write(&out, md).map_err(|e| e.to_string())?;
        if mb_per_hour > 5.0 {
            return Err(format!("heap grows {mb_per_hour:.2} MB/h"));
        }
        let nodes: Vec<u64> = half.iter().map(|r| r.2).collect();
        let charts: Vec<u64> = rows.iter().map(|r| r.3).collect();
        if nodes.iter().max() != nodes.iter().min() && nodes.last() > nodes.first() {
            return Err(format!("DOM nodes grow: {nodes:?}"));
        }
        if charts.iter().any(|&c| c != 3) {
            return Err(format!("ECharts instances changed: {charts:?}"));
        }
        Ok(())
    })
    .await;
}
