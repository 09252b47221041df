//! The long-running tab check: `cargo xtask soak --minutes N` (not part of
//! `cargo xtask test`). One tab at 20 `orders` updates per second for N
//! minutes; every minute, after a forced GC, sample the JS heap, the
//! WebAssembly linear memory (where the Rust state lives), the DOM node
//! count and the ECharts instance count.
//!
//! Fails when, over the second half (least-squares slope), the JS heap grows
//! more than [`JS_HEAP_LIMIT_MB_H`] or the wasm memory more than
//! [`WASM_LIMIT_MB_H`], or when DOM nodes or ECharts instances grow.

use livedash_e2e::{env, wait_for, Browser, Server};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// JS heap growth allowed over the second half, MB per hour. At 25 frames/s
/// (90,000 an hour) it is about 55 bytes kept per applied frame, looser than
/// the wasm limit because `usedJSHeapSize` after a forced GC still moves by
/// a few hundred KB between samples (V8's code and inline caches, ECharts'
/// internal caches), which a 30-minute run's slope picks up.
const JS_HEAP_LIMIT_MB_H: f64 = 5.0;
/// WebAssembly memory growth allowed over the second half, MB per hour:
/// about 11 bytes per applied frame, less than one Rust heap allocation kept
/// per frame (the Yew state is bounded: 50-point rings, a 20-item feed). It
/// is exact (no GC noise), never shrinks and grows in 64 KiB pages, so a
/// bounded state shows a flat second half.
const WASM_LIMIT_MB_H: f64 = 1.0;

/// Trunk's loader dispatches `TrunkApplicationStarted` with the wasm exports
/// (`detail.wasm`, whose `memory` is the `WebAssembly.Memory`) once, at
/// start, and keeps only the JS bindings (`window.wasmBindings`, which do not
/// export the memory). Unless the shipped index.html already keeps the
/// exports as `window.livedashWasm`, the soak serves a copy of the bundle
/// whose index.html gains this classic script; it runs before Trunk's module
/// script (modules are deferred), so it sees the event.
const PROBE: &str = r#"<script>addEventListener("TrunkApplicationStarted", (e) => { window.livedashWasm = e.detail.wasm; });</script>"#;

const SAMPLE: &str = r#"
if (window.gc) { window.gc(); }
const w = window.livedashWasm;
return {
  heap: performance.memory ? performance.memory.usedJSHeapSize : -1,
  wasm: w && w.memory && w.memory.buffer ? w.memory.buffer.byteLength : -1,
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

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let dst = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &dst)?;
        } else {
            std::fs::copy(e.path(), dst)?;
        }
    }
    Ok(())
}

/// The bundle to serve: `LIVEDASH_DIST`, or a copy of it with [`PROBE`].
fn dist_with_probe() -> Result<(PathBuf, bool), String> {
    let src = PathBuf::from(env("LIVEDASH_DIST"));
    let html = std::fs::read_to_string(src.join("index.html"))
        .map_err(|e| format!("{}/index.html: {e}", src.display()))?;
    if html.contains("livedashWasm") {
        return Ok((src, false));
    }
    if !html.contains("TrunkApplicationStarted") {
        return Err(
            "dist/index.html has no TrunkApplicationStarted event (not Trunk 0.21?)".into(),
        );
    }
    let dst = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/soak-dist");
    let _ = std::fs::remove_dir_all(&dst);
    copy_dir(&src, &dst).map_err(|e| format!("copy the bundle: {e}"))?;
    let html = html.replacen("</head>", &format!("{PROBE}\n</head>"), 1);
    std::fs::write(dst.join("index.html"), html).map_err(|e| e.to_string())?;
    Ok((dst, true))
}

/// One sample: minute, JS heap MB, wasm memory MB, DOM nodes, ECharts
/// instances, `orders` seq.
type Row = (f64, f64, f64, u64, u64, u64);

#[tokio::test]
#[ignore = "long: run with cargo xtask soak --minutes N"]
async fn soak() {
    let minutes: u64 = std::env::var("LIVEDASH_SOAK_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(30);
    let (dist, probed) = dist_with_probe().expect("bundle");
    let dist = dist.display().to_string();
    let server = Server::start(&[
        "--dist",
        dist.as_str(),
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
        let mut rows: Vec<Row> = Vec::new();
        println!("minute\theap_MB\twasm_MB\tdom_nodes\techarts\tseq_orders");
        for m in 0..=minutes {
            let due = start + Duration::from_secs(60 * m);
            tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
            let v = b.js(SAMPLE).await.ok_or("sample failed")?;
            let wasm = v["wasm"].as_f64().unwrap_or(-1.0);
            if wasm < 0.0 {
                return Err(format!("the wasm memory is not readable from the page: {v}"));
            }
            let row = (
                m as f64,
                v["heap"].as_f64().unwrap_or(-1.0) / 1e6,
                wasm / 1e6,
                v["nodes"].as_u64().unwrap_or(0),
                v["charts"].as_u64().unwrap_or(0),
                v["seq"].as_u64().unwrap_or(0),
            );
            println!(
                "{}\t{:.2}\t{:.2}\t{}\t{}\t{}",
                row.0, row.1, row.2, row.3, row.4, row.5
            );
            if v["state"] != "live" {
                return Err(format!("not live at minute {m}: {v}"));
            }
            rows.push(row);
        }
        // Skip the warm-up half: JIT, caches and the 50-point rings fill early.
        let half = &rows[rows.len() / 2..];
        let xs: Vec<f64> = half.iter().map(|r| r.0 / 60.0).collect();
        let js: Vec<f64> = half.iter().map(|r| r.1).collect();
        let wasm: Vec<f64> = half.iter().map(|r| r.2).collect();
        let (js_mb_h, wasm_mb_h) = (slope(&xs, &js), slope(&xs, &wasm));
        let frames = rows.last().unwrap().5 - rows[0].5;
        println!(
            "second half: JS heap {js_mb_h:.2} MB/h (limit {JS_HEAP_LIMIT_MB_H}), \
             wasm memory {wasm_mb_h:.2} MB/h (limit {WASM_LIMIT_MB_H}); {frames} orders frames applied"
        );
        // The section `cargo xtask soak` puts into BENCHMARKS.md.
        let mut md = format!(
            "One tab at 20 `orders` updates per second (plus 5 `system` samples per second) for\n\
             {minutes} minutes; every minute, after a forced GC, read in the page: the JS heap\n\
             (`performance.memory.usedJSHeapSize`), the WebAssembly linear memory where the Rust\n\
             state lives (`memory.buffer.byteLength` of the wasm exports{}), the DOM node\n\
             count and the ECharts instance count.\n\n\
             | minute | JS heap (MB) | wasm memory (MB) | DOM nodes | ECharts instances | orders seq |\n\
             |---|---|---|---|---|---|\n",
            if probed {
                ", kept from Trunk's `TrunkApplicationStarted` event by one script the soak adds to a copy of the bundle's index.html"
            } else {
                ", kept by the page as `window.livedashWasm`"
            },
        );
        for r in &rows {
            md.push_str(&format!(
                "| {} | {:.2} | {:.2} | {} | {} | {} |\n",
                r.0, r.1, r.2, r.3, r.4, r.5
            ));
        }
        let mark = |v: f64, limit: f64| if v > limit { "**over the limit**" } else { "within" };
        md.push_str(&format!(
            "\nSlopes over the second half (least squares, minutes {}–{}): JS heap **{js_mb_h:.2} MB per hour** \
             (limit {JS_HEAP_LIMIT_MB_H}: {}), wasm memory **{wasm_mb_h:.2} MB per hour** (limit {WASM_LIMIT_MB_H}: {}); \
             {frames} `orders` frames applied. At 25 frames/s, 1 MB/h is about 11 bytes kept per frame. \
             The wasm limit is the tighter one: that memory is exact and never shrinks; the JS heap \
             moves by a few hundred KB between samples even after a forced GC.\n",
            half[0].0,
            rows.last().unwrap().0,
            mark(js_mb_h, JS_HEAP_LIMIT_MB_H),
            mark(wasm_mb_h, WASM_LIMIT_MB_H),
        ));
        let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/soak.md");
        std::fs::write(&out, md).map_err(|e| e.to_string())?;
        if js_mb_h > JS_HEAP_LIMIT_MB_H {
            return Err(format!("JS heap grows {js_mb_h:.2} MB/h"));
        }
        if wasm_mb_h > WASM_LIMIT_MB_H {
            return Err(format!("wasm memory grows {wasm_mb_h:.2} MB/h"));
        }
        let nodes: Vec<u64> = half.iter().map(|r| r.3).collect();
        let charts: Vec<u64> = rows.iter().map(|r| r.4).collect();
        if nodes.iter().max() != nodes.iter().min() && nodes.last() > nodes.first() {
            return Err(format!("DOM nodes grow: {nodes:?}"));
        }
        // However many charts the dashboard has, never one more or less
        // over the run (a leaked or lost instance).
        if charts.first() == Some(&0) || charts.windows(2).any(|w| w[0] != w[1]) {
            return Err(format!("ECharts instances changed: {charts:?}"));
        }
        Ok(())
    })
    .await;
}
