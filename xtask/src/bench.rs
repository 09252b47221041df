//! `cargo xtask bench [--quick] [--scenario NAME]`: fan-out benchmarks.
//!
//! Each scenario starts a fresh `livedash` (release) and runs `loadgen`
//! against it; most also run the same load against `bare-proxy` (frames of
//! the same mean size and rate, no application logic) in the same run, and
//! report livedash / proxy. The table is printed and BENCHMARKS.md is
//! rewritten from it (never edited by hand).

use crate::{cargo, root, step};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// Clients one loadgen process opens at most: a process here may hold at
/// most 20,000 descriptors (hard RLIMIT_NOFILE, not raisable in this sandbox).
const PER_PROCESS: usize = 9_950;

struct Scenario {
    name: &'static str,
    what: String,
    clients: usize,
    server_args: Vec<String>,
    /// Compare with the limit proxy at this rate (frames per second).
    proxy_hz: Option<f64>,
    hold: u64,
    /// Extra never-reading clients (frozen tabs).
    stalled: usize,
}

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start a server binary that prints `... http://127.0.0.1:PORT` first.
fn start(bin: &str, args: &[String]) -> Result<(Proc, u16), String> {
    let mut child = Command::new(root().join("target/release").join(bin))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start {bin}: {e}"))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .map_err(|e| format!("{bin} stdout: {e}"))?;
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("{bin} printed {line:?}"))?;
    Ok((Proc(child), port))
}

type Json = serde_json::Value;

/// Run loadgen (split over processes) against `port`; merge the reports.
fn load(port: u16, pid: u32, clients: usize, hold: u64, stalled: usize) -> Result<Json, String> {
    let procs = clients.div_ceil(PER_PROCESS).max(1);
    let mut children = Vec::new();
    for i in 0..procs {
        let n = clients / procs + usize::from(i < clients % procs);
        let child = Command::new(root().join("target/release/loadgen"))
            .args([
                "--url",
                &format!("ws://127.0.0.1:{port}/ws?history=0"),
                "--clients",
                &n.to_string(),
                "--ramp",
                &(1000 / procs).to_string(),
                "--hold",
                &hold.to_string(),
                "--server-pid",
                &pid.to_string(),
                "--stalled",
                &if i == 0 { stalled } else { 0 }.to_string(),
                "--json",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("start loadgen: {e}"))?;
        children.push(child);
    }
    let mut reports = Vec::new();
    for c in children {
        let out = c.wait_with_output().map_err(|e| format!("loadgen: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        reports.push(
            serde_json::from_str::<Json>(text.trim())
                .map_err(|e| format!("loadgen output {text:?}: {e}"))?,
        );
    }
    Ok(merge(&reports))
}

/// Sum counts and rates; take the worst of quantiles and shares.
fn merge(rs: &[Json]) -> Json {
    let f = |r: &Json, k: &str| r[k].as_f64().unwrap_or(0.0);
    let sum = |k: &str| rs.iter().map(|r| f(r, k)).sum::<f64>();
    let max = |k: &str, q: &str| {
        rs.iter()
            .map(|r| r[k][q].as_f64().unwrap_or(0.0))
            .fold(0.0, f64::max)
    };
    let min = |k: &str| rs.iter().map(|r| f(r, k)).fold(f64::INFINITY, f64::min);
    let connected = sum("connected");
    let before = rs
        .iter()
        .map(|r| f(r, "server_rss_before_kib"))
        .fold(f64::INFINITY, f64::min);
    let with = rs
        .iter()
        .map(|r| f(r, "server_rss_connected_kib"))
        .fold(0.0, f64::max);
    serde_json::json!({
        "clients": sum("clients"), "connected": connected, "failed": sum("failed"), "dropped": sum("dropped"),
        "frames_per_sec": sum("frames_per_sec"), "bytes_per_sec": sum("bytes_per_sec"),
        "mean_frame_bytes": rs.iter().map(|r| f(r, "mean_frame_bytes")).sum::<f64>() / rs.len().max(1) as f64,
        "complete_share": min("complete_share"),
        "spread_p50": max("spread_ms", "p50"), "spread_p99": max("spread_ms", "p99"), "spread_max": max("spread_ms", "max"),
        "latency_p99": max("latency_ms", "p99"),
        "server_cpu": rs.iter().map(|r| f(r, "server_cpu")).fold(0.0, f64::max),
        "rss_before_kib": before, "rss_connected_kib": with,
        "rss_per_client_kib": if connected > 0.0 && with > before { (with - before) / connected } else { 0.0 },
    })
}

fn scenarios(quick: bool) -> Vec<Scenario> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let hold = if quick { 5 } else { 15 };
    let mut v = Vec::new();
    let sizes: &[usize] = if quick {
        &[200, 1000]
    } else {
        &[1000, 5000, 10_000, 19_900]
    };
    for &n in sizes {
        v.push(Scenario {
            name: "capacity",
            what: format!("{n} clients, default 1 s ticks"),
            clients: n,
            server_args: vec![],
            proxy_hz: (n == 10_000 || quick).then_some(3.0),
            hold,
            stalled: 0,
        });
    }
    let n = if quick { 200 } else { 2000 };
    v.push(Scenario {
        name: "stress",
        what: format!("{n} clients, 20 ticks/s"),
        clients: n,
        server_args: s(&["--tick-ms", "50"]),
        proxy_hz: Some(22.0),
        hold,
        stalled: 0,
    });
    v.push(Scenario {
        name: "bigtick",
        what: format!("{n} clients, ~500 order records per tick"),
        clients: n,
        server_args: s(&["--orders-per-sec", "345"]),
        proxy_hz: Some(3.0),
        hold,
        stalled: 0,
    });
    let n = if quick { 200 } else { 1000 };
    for stalled in [0, n / 10] {
        v.push(Scenario {
            name: "slow",
            what: format!("{n} clients + {stalled} never reading, 20 ticks/s"),
            clients: n,
            server_args: s(&["--tick-ms", "50", "--orders-per-sec", "200"]),
            proxy_hz: None,
            hold: hold.max(15),
            stalled,
        });
    }
    v
}

fn row(name: &str, what: &str, target: &str, r: &Json) -> String {
    let g = |k: &str| r[k].as_f64().unwrap_or(0.0);
    format!(
        "| {name} | {what} | {target} | {:.0}/{:.0} | {:.0} | {:.0} | {:.1} % | {:.1} / {:.1} / {:.1} | {:.1} | {:.2} | {:.1} |",
        g("connected"), g("clients"), g("dropped"), g("frames_per_sec"), g("complete_share") * 100.0,
        g("spread_p50"), g("spread_p99"), g("spread_max"), g("latency_p99"), g("server_cpu"), g("rss_per_client_kib"),
    )
}

pub fn main(args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|a| a == "--quick");
    let only = args
        .iter()
        .position(|a| a == "--scenario")
        .and_then(|i| args.get(i + 1))
        .cloned();
    step(
        "build livedash and the bench tools (release)",
        cargo().args([
            "build",
            "--release",
            "-p",
            "livedash-server",
            "-p",
            "livedash-bench",
        ]),
    )?;
    let t0 = Instant::now();
    println!("==> microbenchmarks");
    let micro = Command::new(root().join("target/release/microbench"))
        .output()
        .map_err(|e| format!("microbench: {e}"))?;
    let m: Json =
        serde_json::from_slice(&micro.stdout).map_err(|e| format!("microbench output: {e}"))?;
    let g = |k: &str| m[k].as_f64().unwrap_or(0.0);
    let micro_table = format!(
        "| measurement | median | target |\n|---|---|---|\n\
         | aggregate one tick of {:.0} new records on a full 5-minute window ({:.0} records) | {:.1} µs | ≤ 200 µs |\n\
         | serialize that `orders` frame once ({:.0} bytes, shared by every client) | {:.1} µs | — |\n",
        g("records_per_tick"), g("window_records"), g("aggregate_tick_us_median"),
        g("frame_bytes_mean"), g("serialize_frame_us_median"),
    );
    println!("{micro_table}");
    let mut rows = Vec::new();
    let mut ratios = Vec::new();
    // For the targets table.
    let (mut held, mut kib_per_client) = (0.0f64, 0.0f64);
    let (mut p99_10k, mut stress_ratio) = (None::<f64>, None::<f64>);
    let mut slow = Vec::new();
    for sc in scenarios(quick) {
        if only.as_deref().is_some_and(|o| o != sc.name) {
            continue;
        }
        println!("==> {}: {}", sc.name, sc.what);
        let mut sargs = vec![
            "--addr".to_string(),
            "127.0.0.1:0".into(),
            "--dist".into(),
            "/nonexistent".into(),
        ];
        sargs.extend(sc.server_args.iter().cloned());
        let (server, port) = start("livedash", &sargs)?;
        let r = load(port, server.0.id(), sc.clients, sc.hold, sc.stalled)?;
        let closed = slow_closed(port);
        drop(server);
        let num = |k: &str| r[k].as_f64().unwrap_or(0.0);
        if sc.name == "capacity" {
            held = held.max(num("connected"));
            kib_per_client = kib_per_client.max(num("rss_per_client_kib"));
            if sc.clients == 10_000 {
                p99_10k = Some(num("spread_p99"));
            }
        }
        println!("    {}", row(sc.name, &sc.what, "livedash", &r));
        rows.push(row(sc.name, &sc.what, "livedash", &r));
        if sc.name == "slow" {
            slow.push(format!(
                "| {} | {:.1} ms | {:.1} KiB | {} |",
                sc.what,
                r["spread_p99"].as_f64().unwrap_or(0.0),
                r["rss_connected_kib"].as_f64().unwrap_or(0.0),
                closed.map_or("?".to_string(), |c| c.to_string()),
            ));
        }
        if sc.proxy_hz.is_some() {
            // The same frames per client per second as livedash delivered.
            let hz = r["frames_per_sec"].as_f64().unwrap_or(0.0)
                / r["connected"].as_f64().unwrap_or(1.0).max(1.0);
            let hz = if hz > 0.0 {
                hz
            } else {
                sc.proxy_hz.unwrap_or(1.0)
            };
            let size = r["mean_frame_bytes"].as_f64().unwrap_or(500.0).max(64.0) as usize;
            let pargs = vec![
                "--frame-bytes".to_string(),
                size.to_string(),
                "--rate-hz".into(),
                hz.to_string(),
            ];
            let (proxy, port) = start("bare-proxy", &pargs)?;
            let p = load(port, proxy.0.id(), sc.clients, sc.hold, 0)?;
            drop(proxy);
            println!("    {}", row(sc.name, &sc.what, "limit proxy", &p));
            rows.push(row(sc.name, &sc.what, "limit proxy", &p));
            // livedash sends several topics; compare delivered bytes/s and
            // frames per message rate normalised by what each was asked to send.
            let ld = r["frames_per_sec"].as_f64().unwrap_or(0.0)
                / r["connected"].as_f64().unwrap_or(1.0).max(1.0);
            let pd = p["frames_per_sec"].as_f64().unwrap_or(0.0)
                / p["connected"].as_f64().unwrap_or(1.0).max(1.0);
            let ratio = format!(
                "| {} | {} | {:.2} | {:.2} | {:.2} | {:.1} vs {:.1} ms |",
                sc.name,
                sc.what,
                r["complete_share"].as_f64().unwrap_or(0.0)
                    / p["complete_share"].as_f64().unwrap_or(1.0).max(1e-9),
                ld / (pd.max(1e-9)),
                r["server_cpu"].as_f64().unwrap_or(0.0)
                    / p["server_cpu"].as_f64().unwrap_or(1.0).max(1e-9),
                r["spread_p99"].as_f64().unwrap_or(0.0),
                p["spread_p99"].as_f64().unwrap_or(0.0),
            );
            ratios.push(ratio);
            if sc.name == "stress" {
                stress_ratio = Some(
                    r["frames_per_sec"].as_f64().unwrap_or(0.0)
                        / p["frames_per_sec"].as_f64().unwrap_or(1.0).max(1e-9),
                );
            }
        }
    }
    let header = "| scenario | load | target | connected | dropped | frames/s | reached all | spread ms p50 / p99 / max | latency p99 ms | server CPU s/s | server KiB/client |\n|---|---|---|---|---|---|---|---|---|---|---|";
    let rheader = "| scenario | load | complete share ratio | frames per client ratio | CPU ratio (livedash/proxy) | p99 spread |\n|---|---|---|---|---|---|";
    let table = format!("{header}\n{}\n", rows.join("\n"));
    let rtable = format!("{rheader}\n{}\n", ratios.join("\n"));
    println!("\n{table}\n{rtable}");
    let yes = |ok: bool| if ok { "reached" } else { "**not reached**" };
    let mut targets = String::from("| target | measured | |\n|---|---|---|\n");
    targets.push_str(&format!(
        "| 20,000 concurrent clients held | {held:.0} (a process here may hold at most 20,000 descriptors) | {} |\n",
        yes(held >= 20_000.0)
    ));
    if let Some(p) = p99_10k {
        targets.push_str(&format!(
            "| p99 fan-out spread ≤ 50 ms at 10k, every message to every client | {p:.1} ms (see the limit proxy in the same run) | {} |\n",
            yes(p <= 50.0)
        ));
    }
    if let Some(r) = stress_ratio {
        targets.push_str(&format!(
            "| delivered frames/s ≥ 0.8 × limit proxy at 2k × 20 Hz | {r:.2} × | {} |\n",
            yes(r >= 0.8)
        ));
    }
    targets.push_str(&format!(
        "| ≤ 16 KiB server RSS per client | {kib_per_client:.1} KiB (worst capacity run) | {} |\n",
        yes(kib_per_client > 0.0 && kib_per_client <= 16.0)
    ));
    targets.push_str(&format!(
        "| 500-record tick aggregated in ≤ 200 µs | {:.1} µs | {} |\n",
        g("aggregate_tick_us_median"),
        yes(g("aggregate_tick_us_median") <= 200.0)
    ));
    println!("{targets}");
    let machine = machine();
    let date = Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let doc = format!(
        "# Benchmarks\n\n\
         Generated by `cargo xtask bench{}` on {date} in {:.0} s — do not edit by hand.\n\n\
         Machine: {machine}. Server and probe run together on the same cores, on loopback.\n\
         Each loadgen process holds at most {PER_PROCESS} clients (the sandbox's hard open-file limit\n\
         is 20,000 per process and cannot be raised), so large runs use several; their reports are\n\
         merged (sums of counts, worst of quantiles).\n\n\
         Columns: *reached all* is the share of messages (first seen in the steady window) that\n\
         reached every connected client; *spread* is each client's arrival minus the first arrival\n\
         of the same message; *latency* is arrival minus the frame's server `ts`; *server KiB/client*\n\
         is (server RSS with the clients − RSS before) / clients.\n\n\
         ## Targets\n\n{targets}\n\
         ## Microbenchmarks\n\n{micro_table}\n\
         ## Results\n\n{table}\n\
         ## Frozen tabs beside normal ones\n\n\
         Never-reading clients with a 4 KiB receive window connect first; the normal clients'\n\
         p99 spread and the server's RSS with and without them, and how many the server closed\n\
         as too slow (close 4008, `livedash_slow_clients_closed_total`).\n\n\
         | load | normal clients' p99 spread | server RSS | closed as too slow |\n|---|---|---|---|\n{}\n\n\
         ## livedash against the limit proxy (same run)\n\n\
         The limit proxy sends frames of livedash's mean frame size at about livedash's total frame\n\
         rate, with no application logic.\n\n{rtable}",
        if quick { " --quick" } else { "" },
        t0.elapsed().as_secs_f64(),
        slow.join("\n"),
    );
    if !quick && only.is_none() {
        // Keep the soak section, which `cargo xtask soak` writes.
        let doc = match soak_section() {
            Some(soak) => format!("{}\n{soak}\n", doc.trim_end()),
            None => doc,
        };
        std::fs::write(root().join("BENCHMARKS.md"), doc)
            .map_err(|e| format!("write BENCHMARKS.md: {e}"))?;
        println!("==> BENCHMARKS.md rewritten");
    } else {
        println!("==> partial run: BENCHMARKS.md left as it is");
    }
    Ok(())
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|k| k.parse::<u64>().ok())
        .map(|k| format!("{:.1} GiB", k as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{cpus} cores, {mem} RAM, Linux {}, {rustc}", kernel.trim())
}

/// `livedash_slow_clients_closed_total` from the server's /metrics.
fn slow_closed(port: u16) -> Option<u64> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    body.lines()
        .find_map(|l| l.strip_prefix("livedash_slow_clients_closed_total "))?
        .trim()
        .parse()
        .ok()
}

const SOAK_BEGIN: &str = "<!-- soak:begin (written by cargo xtask soak) -->";
const SOAK_END: &str = "<!-- soak:end -->";

/// The soak section of the current BENCHMARKS.md, markers included.
fn soak_section() -> Option<String> {
    let doc = std::fs::read_to_string(root().join("BENCHMARKS.md")).ok()?;
    let a = doc.find(SOAK_BEGIN)?;
    let b = doc.find(SOAK_END)? + SOAK_END.len();
    Some(doc[a..b].to_string())
}

/// Replace (or append) the soak section of BENCHMARKS.md.
pub fn put_soak_section(body: &str) -> Result<(), String> {
    let path = root().join("BENCHMARKS.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".into());
    let section =
        format!("{SOAK_BEGIN}\n## Long-running tab (`cargo xtask soak`)\n\n{body}{SOAK_END}");
    let doc = match (doc.find(SOAK_BEGIN), doc.find(SOAK_END)) {
        (Some(a), Some(b)) => format!("{}{section}{}", &doc[..a], &doc[b + SOAK_END.len()..]),
        _ => format!("{}\n{section}\n", doc.trim_end()),
    };
    std::fs::write(&path, doc).map_err(|e| format!("write BENCHMARKS.md: {e}"))
}
