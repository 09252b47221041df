//! The page as a browser audit sees it, in `cargo xtask bench`: npm's
//! Lighthouse 12 (`bench/lighthouse`, pinned by its package-lock.json; 13
//! needs Node ≥ 22.19) with its default mobile profile (simulated slow 4G,
//! 4× CPU slowdown) against the page served by a release `livedash` on
//! loopback, in Debian's Chromium with a fresh profile per run. Three runs;
//! the median run (by performance score) is judged, as Lighthouse's own
//! guidance on variability recommends, and every run's scores are listed.
//!
//! `cargo xtask bench --scenario lighthouse` runs only this part and puts
//! its section and target rows into the current BENCHMARKS.md
//! (`report.rs`).

use crate::{root, step, tools};
use serde_json::Value as Json;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs per measurement (the median one is judged).
const RUNS: usize = 3;
/// Goals, as Lighthouse scores (0–100).
const PERFORMANCE: f64 = 90.0;
const ACCESSIBILITY: f64 = 100.0;
const BEST_PRACTICES: f64 = 100.0;
/// The markers around the section in BENCHMARKS.md.
pub const BEGIN: &str = "<!-- lighthouse:begin (written by cargo xtask bench) -->";
pub const END: &str = "<!-- lighthouse:end -->";
/// Every Lighthouse row of the targets table starts with this (tests).
#[cfg(test)]
const ROW_PREFIX: &str = "| Lighthouse";
/// The Chromium flags of every browser test here, plus a fresh profile.
const CHROME_FLAGS: &str = "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
     --disable-background-networking --disable-component-update --disable-sync";

/// What the audit gives the benchmark report.
pub struct Audit {
    /// The BENCHMARKS.md section (markdown, between [`BEGIN`] and [`END`]).
    pub section: String,
    /// (target, judged run, its value, reached) rows for the targets table.
    pub targets: Vec<(String, String, String, bool)>,
}

/// The figures of one Lighthouse report.
#[derive(Debug, Clone, PartialEq)]
struct Run {
    /// Category scores, 0–100.
    performance: f64,
    accessibility: f64,
    best_practices: f64,
    /// Simulated first and largest contentful paint, ms.
    fcp_ms: f64,
    lcp_ms: f64,
    /// Simulated total blocking time, ms.
    tbt_ms: f64,
    /// Cumulative layout shift.
    cls: f64,
    /// Bytes the load transferred (`total-byte-weight`).
    transfer_bytes: f64,
    /// Console errors during the load (`errors-in-console`).
    console_errors: Vec<String>,
    /// Requests answered with a status ≥ 400, or that failed (no answer).
    failed_requests: Vec<String>,
    /// Titles of the audits that lost points in the three categories
    /// (their values are in the runs' table).
    failing: Vec<String>,
}

/// Read one Lighthouse JSON report.
fn parse(r: &Json) -> Result<Run, String> {
    let score = |c: &str| {
        r["categories"][c]["score"]
            .as_f64()
            .map(|s| (s * 100.0).round())
            .ok_or_else(|| format!("no {c} score in the report"))
    };
    let metric = |a: &str| r["audits"][a]["numericValue"].as_f64().unwrap_or(f64::NAN);
    let items = |a: &str| -> Vec<Json> {
        r["audits"][a]["details"]["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let console_errors = items("errors-in-console")
        .iter()
        .map(|i| {
            format!(
                "{}: {}",
                i["source"].as_str().unwrap_or(""),
                i["description"].as_str().unwrap_or("")
            )
        })
        .collect();
    let failed_requests = items("network-requests")
        .iter()
        .filter(|i| i["statusCode"].as_f64().is_some_and(|s| s >= 400.0) || i["failed"] == true)
        .map(|i| format!("{} ({})", i["url"].as_str().unwrap_or(""), i["statusCode"]))
        .collect();
    let mut failing = Vec::new();
    for c in ["performance", "accessibility", "best-practices"] {
        for a in r["categories"][c]["auditRefs"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let id = a["id"].as_str().unwrap_or("");
            let audit = &r["audits"][id];
            let weighted = a["weight"].as_f64().unwrap_or(0.0) > 0.0;
            if weighted && audit["score"].as_f64().is_some_and(|s| s < 0.9) {
                failing.push(audit["title"].as_str().unwrap_or(id).to_string());
            }
        }
    }
    Ok(Run {
        performance: score("performance")?,
        accessibility: score("accessibility")?,
        best_practices: score("best-practices")?,
        fcp_ms: metric("first-contentful-paint"),
        lcp_ms: metric("largest-contentful-paint"),
        tbt_ms: metric("total-blocking-time"),
        cls: metric("cumulative-layout-shift"),
        transfer_bytes: metric("total-byte-weight"),
        console_errors,
        failed_requests,
        failing,
    })
}

/// The section and targets from the runs' reports (pure).
fn audit(reports: &[Json]) -> Result<Audit, String> {
    let runs: Vec<Run> = reports.iter().map(parse).collect::<Result<_, _>>()?;
    if runs.is_empty() {
        return Err("no Lighthouse run".into());
    }
    let mut by_perf: Vec<&Run> = runs.iter().collect();
    by_perf.sort_by(|a, b| a.performance.total_cmp(&b.performance));
    let m = by_perf[by_perf.len() / 2];
    let mut rows = String::from(
        "| run | performance | accessibility | best practices | FCP | LCP | TBT | CLS | transferred |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for (i, r) in runs.iter().enumerate() {
        rows.push_str(&format!(
            "| {}{} | {:.0} | {:.0} | {:.0} | {:.2} s | {:.2} s | {:.0} ms | {:.3} | {:.0} KB |\n",
            i + 1,
            if std::ptr::eq(r, m) { " (median)" } else { "" },
            r.performance,
            r.accessibility,
            r.best_practices,
            r.fcp_ms / 1000.0,
            r.lcp_ms / 1000.0,
            r.tbt_ms,
            r.cls,
            r.transfer_bytes / 1000.0,
        ));
    }
    let mut failing: Vec<&String> = runs.iter().flat_map(|r| &r.failing).collect();
    failing.sort();
    failing.dedup();
    let failing = if failing.is_empty() {
        "none".to_string()
    } else {
        failing
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let section = format!(
        "{BEGIN}\n## The page in a Lighthouse audit\n\n\
         npm `lighthouse` 12.8 (`bench/lighthouse`), its default mobile profile (simulated slow 4G,\n\
         4× CPU slowdown, Moto G Power screen) against the page served by a release `livedash`\n\
         (default flags, fresh data directory) on loopback, in Debian's Chromium with a fresh\n\
         profile per run; {RUNS} runs, the median one (by performance score) judged. The\n\
         simulated times are Lighthouse's model of that phone on that network, not loopback times.\n\n\
         {rows}\n\
         Audits that lost points in any run (score < 0.9, weighted): {failing}.\n{END}"
    );
    let run = format!("median of {RUNS} runs (mobile, slow 4G, 4× CPU)");
    let all = |f: fn(&Run) -> f64| {
        runs.iter()
            .map(|r| format!("{:.0}", f(r)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let score_row = |name: &str, goal: f64, value: f64, each: String| {
        (
            format!("Lighthouse {name} ≥ {goal:.0}"),
            run.clone(),
            format!("{value:.0} (runs: {each})"),
            value >= goal,
        )
    };
    let errors: usize = runs
        .iter()
        .map(|r| r.console_errors.len() + r.failed_requests.len())
        .sum();
    let mut problems: Vec<&String> = runs
        .iter()
        .flat_map(|r| r.console_errors.iter().chain(&r.failed_requests))
        .collect();
    problems.sort();
    problems.dedup();
    let targets = vec![
        score_row(
            "performance",
            PERFORMANCE,
            m.performance,
            all(|r| r.performance),
        ),
        score_row(
            "accessibility",
            ACCESSIBILITY,
            m.accessibility,
            all(|r| r.accessibility),
        ),
        score_row(
            "best practices",
            BEST_PRACTICES,
            m.best_practices,
            all(|r| r.best_practices),
        ),
        (
            "Lighthouse clean load: no console error and no failed request".to_string(),
            format!("every one of the {RUNS} runs"),
            if errors == 0 {
                "none".to_string()
            } else {
                problems
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            errors == 0,
        ),
    ];
    Ok(Audit { section, targets })
}

/// A livedash killed on drop.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start the release server on a free loopback port with a fresh data
/// directory; returns it and its port.
fn start_server(bin: &Path, dist: &Path, data: &Path) -> Result<(Server, u16), String> {
    let _ = std::fs::remove_dir_all(data);
    let mut child = Command::new(bin)
        .args(["--addr", "127.0.0.1:0", "--dist"])
        .arg(dist)
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start livedash: {e}"))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .map_err(|e| format!("livedash stdout: {e}"))?;
    let server = Server(child);
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("livedash printed {line:?}"))?;
    Ok((server, port))
}

/// Install Lighthouse, then audit the page in `dist` served by `bin`.
pub fn measure(bin: &Path) -> Result<Audit, String> {
    tools::ensure_lighthouse()?;
    let (chromium, _) = tools::ensure_browser()?;
    let dir = root().join("target/lighthouse");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (server, port) = start_server(bin, &root().join("dist"), &dir.join("data"))?;
    // Let the first ticks fill the dashboard, as a visitor would find it.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let cli = root().join("bench/lighthouse/node_modules/lighthouse/cli/index.js");
    let mut reports = Vec::new();
    for i in 0..RUNS {
        let profile = dir.join(format!("profile-{i}"));
        let _ = std::fs::remove_dir_all(&profile);
        let out = dir.join(format!("report-{i}.json"));
        let _ = std::fs::remove_file(&out);
        step(
            &format!("lighthouse run {} of {RUNS} (mobile profile)", i + 1),
            Command::new("node")
                .arg(&cli)
                .arg(format!("http://127.0.0.1:{port}/"))
                .args([
                    "--output=json",
                    "--quiet",
                    "--only-categories=performance,accessibility,best-practices",
                ])
                .arg(format!("--output-path={}", out.display()))
                .arg(format!(
                    "--chrome-flags={CHROME_FLAGS} --user-data-dir={}",
                    profile.display()
                ))
                .env("CHROME_PATH", &chromium)
                .env("PATH", tools::path()),
        )?;
        let text = std::fs::read_to_string(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        reports.push(serde_json::from_str(&text).map_err(|e| format!("{}: {e}", out.display()))?);
        let _ = std::fs::remove_dir_all(&profile);
    }
    drop(server);
    audit(&reports)
}

/// `cargo xtask bench --scenario lighthouse`: build, audit, print, and
/// update BENCHMARKS.md's Lighthouse section and rows.
pub fn only() -> Result<(), String> {
    let bin = crate::build_all()?;
    let a = measure(&bin)?;
    println!("{}", a.section);
    crate::report::update(&a.section, BEGIN, END, &a.targets)?;
    println!("==> BENCHMARKS.md: Lighthouse section and targets updated");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(perf: f64, a11y: f64, status: u16) -> Json {
        json!({
            "categories": {
                "performance": {"score": perf, "auditRefs": [{"id": "total-blocking-time", "weight": 30}]},
                "accessibility": {"score": a11y, "auditRefs": [{"id": "color-contrast", "weight": 7}]},
                "best-practices": {"score": 1.0, "auditRefs": []},
            },
            "audits": {
                "first-contentful-paint": {"numericValue": 1200.0},
                "largest-contentful-paint": {"numericValue": 2500.0},
                "total-blocking-time": {"numericValue": 310.0, "score": 0.6, "title": "Total Blocking Time", "displayValue": "310 ms"},
                "cumulative-layout-shift": {"numericValue": 0.01},
                "total-byte-weight": {"numericValue": 420000.0},
                "color-contrast": {"score": if a11y < 1.0 { 0.0 } else { 1.0 }, "title": "Contrast"},
                "errors-in-console": {"details": {"items": []}},
                "network-requests": {"details": {"items": [
                    {"url": "http://x/", "statusCode": 200},
                    {"url": "http://x/favicon.ico", "statusCode": status},
                ]}},
            },
        })
    }

    #[test]
    fn the_median_run_is_judged_and_failures_are_named() {
        let a = audit(&[
            report(0.95, 1.0, 200),
            report(0.71, 0.96, 200),
            report(0.88, 1.0, 200),
        ])
        .unwrap();
        // Median by performance: 88 (not the best 95, not the worst 71).
        assert_eq!(a.targets[0].2, "88 (runs: 95, 71, 88)");
        assert!(!a.targets[0].3, "88 < 90");
        assert_eq!(a.targets[1].2, "100 (runs: 100, 96, 100)");
        assert!(a.targets[1].3);
        assert!(a.targets[3].3, "no errors");
        assert!(a.section.contains(
            "| 3 (median) | 88 | 100 | 100 | 1.20 s | 2.50 s | 310 ms | 0.010 | 420 KB |"
        ));
        assert!(
            a.section
                .contains("weighted): Contrast; Total Blocking Time."),
            "{}",
            a.section
        );
    }

    #[test]
    fn a_404_fails_the_clean_load_target() {
        let a = audit(&[report(0.95, 1.0, 404)]).unwrap();
        assert!(!a.targets[3].3);
        assert!(a.targets[3].2.contains("favicon.ico"), "{}", a.targets[3].2);
    }

    #[test]
    fn rows_and_section_replace_the_old_ones() {
        let a = audit(&[report(0.95, 1.0, 200)]).unwrap();
        let doc = format!(
            "# B\n\n| target | worst scenario | its value | |\n|---|---|---|---|\n| a | b | c | reached |\n\
             | Lighthouse performance ≥ 90 | x | 12 (old) | z |\n\nmore\n\n{BEGIN}\nold\n{END}\ntail\n"
        );
        let put = |doc: &str| crate::report::put(doc, &a.section, BEGIN, END, &a.targets);
        let out = put(&doc);
        assert!(
            !out.contains("12 (old)") && !out.contains("\nold\n"),
            "{out}"
        );
        assert_eq!(out.matches(ROW_PREFIX).count(), 4);
        let table_end = out.find("\n\nmore").unwrap();
        assert!(out[..table_end].ends_with("| none | reached |"), "{out}");
        assert!(out.contains("\ntail\n"));
        // Again: idempotent.
        assert_eq!(put(&out), out);
    }
}
