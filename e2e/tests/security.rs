//! The page under the server's Content-Security-Policy in a real headless
//! Chromium: it goes live with no violation, and the same page whose
//! inline loader no longer matches the policy's hash does not (so these
//! tests can fail).
//!
//! Violations during load are read afterwards with a buffered
//! `ReportingObserver`, which gets the `csp-violation` reports queued
//! before it existed.

use livedash_e2e::{wait_for, Browser, Server};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T: Duration = Duration::from_secs(20);

/// The page's state: live, charts drawn, and the CSP violations so far.
const READ_PAGE: &str = r#"
const q = id => document.querySelector(`[data-testid="${id}"]`);
const canvas = id => { const c = q(id) && q(id).querySelector('canvas'); return c ? c.width * c.height : 0; };
const app = q('app');
if (!window.__cspReports) {
  window.__cspReports = [];
  const keep = r => window.__cspReports.push(
    `${r.body.effectiveDirective} blocked ${r.body.blockedURL || '(inline)'}`);
  document.addEventListener('securitypolicyviolation',
    e => window.__cspReports.push(`${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'} (event)`));
  if (window.ReportingObserver) {
    window.__cspObserver = new ReportingObserver(rs => rs.forEach(keep),
      { types: ['csp-violation'], buffered: true });
    window.__cspObserver.observe();
  }
}
if (window.__cspObserver) {
  window.__cspObserver.takeRecords().forEach(r => window.__cspReports.push(
    `${r.body.effectiveDirective} blocked ${r.body.blockedURL || '(inline)'}`));
}
return {
  state: app ? app.dataset.state : null,
  charts: document.querySelectorAll('[_echarts_instance_]').length,
  chart_boxes: document.querySelectorAll('[data-testid^="chart-"], [data-testid^="kpi-trend-"]').length,
  country: canvas('chart-revenue-by-country'), source: canvas('chart-revenue-by-traffic-source'),
  system: canvas('chart-system'),
  orders: q('kpi-num_orders') ? q('kpi-num_orders').textContent.trim() : '',
  reporting: !!window.ReportingObserver,
  csp: window.__cspReports,
};
"#;

async fn page(b: &Browser) -> Value {
    b.js(READ_PAGE).await.unwrap_or(Value::Null)
}

/// Live, with every chart drawn.
fn live(v: &Value) -> bool {
    v["state"] == "live"
        && v["charts"].as_u64() >= Some(3)
        && v["charts"] == v["chart_boxes"]
        && v["country"].as_u64() > Some(0)
        && v["source"].as_u64() > Some(0)
        && v["system"].as_u64() > Some(0)
        && v["orders"]
            .as_str()
            .is_some_and(|s| s.chars().any(|c| c.is_ascii_digit()))
}

fn violations(v: &Value) -> Vec<String> {
    v["csp"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The response headers (lowercased names) of `GET path`.
async fn headers(port: u16, path: &str) -> HashMap<String, String> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .expect("a response in time")
        .expect("read");
    let text = String::from_utf8_lossy(&out);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    head.lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

/// A copy of the built bundle (files only, as trunk writes them).
fn copy_dist(name: &str) -> PathBuf {
    let dist = std::env::temp_dir().join(format!("livedash-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dist);
    std::fs::create_dir_all(&dist).unwrap();
    for e in std::fs::read_dir(livedash_e2e::env("LIVEDASH_DIST")).unwrap() {
        let e = e.unwrap();
        // Without the precompressed variants: the server loads those at
        // start (as it hashes the loader), so a loader changed afterwards
        // would not be what a browser asking for br gets.
        let compressed = matches!(
            e.path().extension().and_then(|x| x.to_str()),
            Some("br" | "gz")
        );
        if e.file_type().unwrap().is_file() && !compressed {
            std::fs::copy(e.path(), dist.join(e.file_name())).unwrap();
        }
    }
    dist
}

/// Change the inline loader's text without changing what it does: a
/// comment at its start (the page's meaning is the same, its hash is not).
fn touch_inline_loader(dist: &Path) {
    let path = dist.join("index.html");
    let html = std::fs::read_to_string(&path).unwrap();
    let at = html
        .find("<script type=\"module\">")
        .expect("trunk's inline module loader in index.html");
    let at = at + "<script type=\"module\">".len();
    let html = format!("{}/* changed */{}", &html[..at], &html[at..]);
    std::fs::write(&path, html).unwrap();
}

#[tokio::test]
async fn the_page_goes_live_under_its_csp_without_a_violation() {
    let server = Server::start(&[
        "--tick-ms",
        "250",
        "--system-ms",
        "250",
        "--orders-per-sec",
        "40",
    ]);
    // The policy is on the page, and it names the loader by hash, not by
    // 'unsafe-inline'.
    let h = headers(server.port, "/").await;
    let csp = h
        .get("content-security-policy")
        .cloned()
        .unwrap_or_default();
    let script_src = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src "))
        .unwrap_or("");
    assert!(script_src.contains("'sha256-"), "CSP: {csp:?}");
    assert!(script_src.contains("'wasm-unsafe-eval'"), "CSP: {csp:?}");
    assert!(!script_src.contains("unsafe-inline"), "CSP: {csp:?}");
    assert!(csp.contains("frame-ancestors 'none'"), "CSP: {csp:?}");
    assert_eq!(
        h.get("x-content-type-options").map(String::as_str),
        Some("nosniff")
    );
    let html =
        std::fs::read_to_string(Path::new(&livedash_e2e::env("LIVEDASH_DIST")).join("index.html"))
            .unwrap();
    assert!(
        html.contains("<script type=\"module\">"),
        "the bundle has an inline loader (else this test proves little)"
    );
    println!("CSP of the real bundle: {csp}");

    let b = Browser::start("csp_live").await;
    b.check(|| async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        let v = wait_for("live under the CSP with 3 drawn charts", T, || async {
            let v = page(&b).await;
            live(&v).then_some(v)
        })
        .await?;
        if v["reporting"] != true {
            return Err("no ReportingObserver: violations cannot be read".into());
        }
        // Hover the charts: ECharts' tooltips style themselves inline.
        for id in [
            "chart-revenue-by-country",
            "chart-revenue-by-traffic-source",
            "chart-system",
        ] {
            b.js(&format!(
                r#"const c = document.querySelector('[data-testid="{id}"] canvas');
                   const r = c.getBoundingClientRect();
                   for (const [fx, fy] of [[0.3, 0.5], [0.5, 0.5], [0.7, 0.4]]) {{
                     const o = {{clientX: r.left + r.width * fx, clientY: r.top + r.height * fy, bubbles: true}};
                     c.dispatchEvent(new MouseEvent('mousemove', o));
                   }}"#
            ))
            .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        // Let a few more ticks and redraws happen under the policy.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let v = page(&b).await;
        let bad = violations(&v);
        if !bad.is_empty() {
            return Err(format!("CSP violations: {bad:?}"));
        }
        if !live(&v) {
            return Err(format!("no longer live: {v}"));
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_loader_that_does_not_match_the_csp_hash_never_goes_live() {
    // The server reads index.html at startup: changing the loader after
    // that leaves the policy with the old hash, as if it were missing.
    let dist = copy_dist("csp-stale");
    let dist_s = dist.to_string_lossy().to_string();
    let server = Server::start(&["--tick-ms", "250", "--dist", &dist_s]);
    // Serving (it prints its address before it reads the bundle).
    let csp = headers(server.port, "/").await["content-security-policy"].clone();
    touch_inline_loader(&dist);
    assert_eq!(
        headers(server.port, "/").await["content-security-policy"],
        csp,
        "the policy is computed once, at startup"
    );
    let b = Browser::start("csp_blocked").await;
    b.check(|| async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        let v = wait_for("the blocked loader reported", T, || async {
            let v = page(&b).await;
            violations(&v)
                .iter()
                .any(|r| r.starts_with("script-src-elem blocked inline"))
                .then_some(v)
        })
        .await?;
        if v["state"] == "live" || v["charts"] != 0 {
            return Err(format!("the page ran without its loader: {v}"));
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let v = page(&b).await;
        if v["state"] == "live" || v["charts"] != 0 {
            return Err(format!("the page went live with a blocked loader: {v}"));
        }
        Ok(())
    })
    .await;
    drop(server);
    // The changed page itself is fine: restarted, the server hashes it anew.
    let server = Server::start(&["--tick-ms", "250", "--dist", &dist_s]);
    let b = Browser::start("csp_rehashed").await;
    b.check(|| async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        let v = wait_for("live after a restart", T, || async {
            let v = page(&b).await;
            live(&v).then_some(v)
        })
        .await?;
        let bad = violations(&v);
        if !bad.is_empty() {
            return Err(format!("CSP violations: {bad:?}"));
        }
        Ok(())
    })
    .await;
    let _ = std::fs::remove_dir_all(&dist);
}

#[tokio::test]
async fn connect_src_lets_a_page_pointed_at_another_server_connect() {
    // Server B has the data and allows A's origin; the page comes from A
    // with ?server=B. A's CSP must list B in connect-src.
    let port_a = livedash_e2e::free_port();
    let origin_a = format!("http://127.0.0.1:{port_a}");
    let b_srv = Server::start(&["--tick-ms", "200", "--allowed-origin", &origin_a]);
    // Without --connect-src: the WebSocket to B is refused by the browser.
    let a = Server::start_on(port_a, &["--tick-ms", "60000"]);
    let b = Browser::start("csp_connect_refused").await;
    b.check(|| async {
        b.client
            .goto(&format!("{}/?server={}", a.url(), b_srv.url()))
            .await
            .map_err(|e| e.to_string())?;
        let v = wait_for("the blocked connection reported", T, || async {
            let v = page(&b).await;
            violations(&v)
                .iter()
                .any(|r| r.starts_with("connect-src blocked ws://127.0.0.1"))
                .then_some(v)
        })
        .await?;
        if v["state"] == "live" || b_srv.clients().await != Some(0) {
            return Err(format!("connected in spite of connect-src: {v}"));
        }
        Ok(())
    })
    .await;
    drop(b);
    drop(a);
    // With --connect-src B: live through B, no violation.
    let a = Server::start_on(
        port_a,
        &["--tick-ms", "60000", "--connect-src", &b_srv.url()],
    );
    let b = Browser::start("csp_connect_allowed").await;
    b.check(|| async {
        b.client
            .goto(&format!("{}/?server={}", a.url(), b_srv.url()))
            .await
            .map_err(|e| e.to_string())?;
        let v = wait_for("live through server B", T, || async {
            let v = page(&b).await;
            live(&v).then_some(v)
        })
        .await?;
        let bad = violations(&v);
        if !bad.is_empty() {
            return Err(format!("CSP violations: {bad:?}"));
        }
        if b_srv.clients().await != Some(1) {
            return Err("B does not count the tab".into());
        }
        Ok(())
    })
    .await;
}
