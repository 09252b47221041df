//! Charts that read cleanly while live: sampled every 100 ms while the
//! server ticks four times a second (new countries and values arriving all
//! the time), every chart's drawn texts — axis labels, legend — are read
//! from ECharts' own display list (what is painted on the canvas, with its
//! fade-in/fade-out states): no label is clipped at the chart's edge, no two
//! horizontal labels overlap, and no axis shows one label twice (an update
//! animation caught mid-way draws the old and the new labels at once).

use livedash_e2e::{wait_for, Browser, Server};
use serde_json::Value;
use std::time::Duration;

/// Per chart box: the canvas size and every visible text with its box in
/// canvas pixels (after rotation) and rotation.
const TEXTS: &str = r#"
try {
const out = [];
for (const el of document.querySelectorAll('[data-testid^="chart-"]')) {
  const i = window.echarts && echarts.getInstanceByDom(el);
  if (!i) continue;
  const zr = i.getZr();
  const texts = [];
  for (const e of zr.storage.getDisplayList(true)) {
    // Text is painted by the `tspan` children of a text element.
    if ((e.type !== 'tspan' && e.type !== 'text') || e.ignore || e.invisible) continue;
    const st = e.style || {};
    const op = st.opacity === undefined ? 1 : st.opacity;
    if (!st.text || op < 0.05) continue;
    e.updateTransform && e.updateTransform();
    const r = e.getBoundingRect().clone();
    const m = e.getComputedTransform ? e.getComputedTransform() : e.transform;
    if (m) r.applyTransform(m);
    const rot = e.rotation || (e.parent && e.parent.rotation) || 0;
    texts.push({ t: String(st.text), x: r.x, y: r.y, w: r.width, h: r.height, rot: Math.round(rot * 1000) });
  }
  out.push({ id: el.dataset.testid, w: zr.getWidth(), h: zr.getHeight(), texts });
}
return out;
} catch (e) { return { error: String(e) }; }
"#;

/// What is wrong with one sample of one chart, if anything.
fn faults(chart: &Value) -> Vec<String> {
    let id = chart["id"].as_str().unwrap_or("?");
    let (w, h) = (
        chart["w"].as_f64().unwrap_or(0.0),
        chart["h"].as_f64().unwrap_or(0.0),
    );
    let texts: Vec<&Value> = chart["texts"].as_array().into_iter().flatten().collect();
    let f = |t: &Value, k: &str| t[k].as_f64().unwrap_or(0.0);
    let mut out = Vec::new();
    for t in &texts {
        let (x, y, tw, th) = (f(t, "x"), f(t, "y"), f(t, "w"), f(t, "h"));
        if x < -1.0 || y < -1.0 || x + tw > w + 1.0 || y + th > h + 1.0 {
            out.push(format!(
                "{id}: {:?} clipped ({x:.0},{y:.0} {tw:.0}×{th:.0} in {w}×{h})",
                t["t"]
            ));
        }
    }
    for (i, a) in texts.iter().enumerate() {
        for b in &texts[i + 1..] {
            if a["rot"] != 0 || b["rot"] != 0 {
                // Rotated labels: their boxes are not their outlines.
                if a["t"] == b["t"] && a["rot"] == b["rot"] {
                    out.push(format!("{id}: {:?} drawn twice", a["t"]));
                }
                continue;
            }
            let ox =
                f(a, "x").max(f(b, "x")) < (f(a, "x") + f(a, "w")).min(f(b, "x") + f(b, "w")) - 1.0;
            let oy =
                f(a, "y").max(f(b, "y")) < (f(a, "y") + f(a, "h")).min(f(b, "y") + f(b, "h")) - 1.0;
            if ox && oy {
                out.push(format!("{id}: {:?} over {:?}", a["t"], b["t"]));
            }
        }
    }
    out
}

#[tokio::test]
async fn live_charts_never_show_two_states_or_clipped_labels() {
    let server = Server::start(&[
        "--tick-ms",
        "250",
        "--system-ms",
        "250",
        "--orders-per-sec",
        "40",
    ]);
    let b = Browser::start("chart_labels").await;
    b.check(|| async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        wait_for("charts with labels", Duration::from_secs(30), || async {
            let v = b.js(TEXTS).await?;
            let n = v
                .as_array()?
                .iter()
                .filter(|c| c["texts"].as_array().is_some_and(|t| t.len() > 3))
                .count();
            (n >= 3).then_some(())
        })
        .await?;
        let mut samples = 0;
        let mut labels = 0;
        for _ in 0..40 {
            let v = b.js(TEXTS).await.ok_or("no texts")?;
            for chart in v.as_array().into_iter().flatten() {
                labels += chart["texts"].as_array().map_or(0, Vec::len);
                let bad = faults(chart);
                if !bad.is_empty() {
                    return Err(format!("sample {samples}: {}", bad.join("; ")));
                }
            }
            samples += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!("{samples} samples, {labels} labels read, none clipped or overlapping");
        Ok(())
    })
    .await;
}
