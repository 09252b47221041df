//! `cargo xtask bench [--quick] [--scenario NAME]`: fan-out benchmarks
//! (`--scenario cluster`: only the replicas-on-Redis comparison,
//! [`crate::cluster_bench`]; `--scenario deflate`: only compress once at
//! scale, [`crate::deflate_bench`]).
//!
//! Each scenario starts a fresh `livedash` (release) and runs `loadgen`
//! against it; some also run the same nominal load against `bare-proxy` (a
//! single-threaded broadcast loop with no application logic, frames of
//! livedash's mean size at livedash's nominal periodic rate) in the same run,
//! and report livedash / proxy. Every target's reference is independent of
//! what is measured (a fixed number or livedash's configured nominal rate),
//! and each target is judged on its worst scenario. The tables are printed
//! and BENCHMARKS.md is rewritten from them (never edited by hand).

use crate::{cargo, root, step};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// Clients one loadgen process opens at most: a process here may hold at
/// most 20,000 descriptors (hard RLIMIT_NOFILE, not raisable in this sandbox).
const PER_PROCESS: usize = 9_950;

/// The label of the bare write loop's rows.
const FLOOR: &str = "bare write loop (1 thread)";

struct Scenario {
    name: &'static str,
    what: String,
    clients: usize,
    server_args: Vec<String>,
    /// Also run the bare proxy at the same nominal load.
    compare: bool,
    hold: u64,
    /// Extra never-reading clients (frozen tabs).
    stalled: usize,
    /// Also run the bare write loop ([`crate::floor_bench`]) at the same
    /// nominal load.
    floor: bool,
}

/// A child process killed on drop.
pub(crate) struct Proc(pub(crate) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether servers and load generators are pinned to separate cores
/// (`taskset` exists and there are at least two cores).
fn pinning() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
        && Command::new("taskset")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
}

/// `program` run on CPU `core` when pinning is on (taskset execs it: the
/// pid is the program's own).
pub(crate) fn pinned(core: Option<u32>, program: impl AsRef<std::ffi::OsStr>) -> Command {
    match core.filter(|_| pinning()) {
        Some(c) => {
            let mut cmd = Command::new("taskset");
            cmd.arg("-c").arg(c.to_string()).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

/// The core servers run on; load generators get the other one.
pub(crate) const SERVER_CORE: u32 = 0;
const LOADGEN_CORE: u32 = 1;

/// Start a release binary of ours that prints `... http://127.0.0.1:PORT`
/// first, on the server core.
pub(crate) fn start(bin: &str, args: &[String]) -> Result<(Proc, u16), String> {
    let mut cmd = pinned(Some(SERVER_CORE), root().join("target/release").join(bin));
    cmd.args(args);
    start_cmd(bin, cmd)
}

/// Start the Node `ws` peer (bench/node-peer/server.js) on the server core.
pub(crate) fn start_node(args: &[String]) -> Result<(Proc, u16), String> {
    let mut cmd = pinned(Some(SERVER_CORE), "node");
    cmd.arg(root().join("bench/node-peer/server.js")).args(args);
    start_cmd("node peer", cmd)
}

pub(crate) fn start_cmd(bin: &str, mut cmd: Command) -> Result<(Proc, u16), String> {
    let mut child = cmd
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

pub(crate) type Json = serde_json::Value;

/// Run loadgen (split over processes) against `port`; merge the reports.
pub(crate) fn load(
    port: u16,
    pid: u32,
    clients: usize,
    hold: u64,
    stalled: usize,
) -> Result<Json, String> {
    load_over(&[port], &[pid], clients, hold, stalled)
}

/// Run loadgen (split over processes) against servers on `ports` (each
/// process spreads its clients over all of them, client i → port i mod n);
/// CPU and RSS of every pid summed; merge the reports.
pub(crate) fn load_over(
    ports: &[u16],
    pids: &[u32],
    clients: usize,
    hold: u64,
    stalled: usize,
) -> Result<Json, String> {
    load_over_with(ports, pids, clients, hold, stalled, &[])
}

/// [`load_over`] with `extra` loadgen flags (`--deflate`).
pub(crate) fn load_over_with(
    ports: &[u16],
    pids: &[u32],
    clients: usize,
    hold: u64,
    stalled: usize,
    extra: &[&str],
) -> Result<Json, String> {
    let procs = clients.div_ceil(PER_PROCESS).max(1);
    let mut children = Vec::new();
    for i in 0..procs {
        let n = clients / procs + usize::from(i < clients % procs);
        // One load generator process runs on the other core; several (above
        // PER_PROCESS clients) share both cores with the server.
        let core = (procs == 1).then_some(LOADGEN_CORE);
        let mut cmd = pinned(core, root().join("target/release/loadgen"));
        for port in ports {
            cmd.arg("--url")
                .arg(format!("ws://127.0.0.1:{port}/ws?history=0"));
        }
        for pid in pids {
            cmd.arg("--server-pid").arg(pid.to_string());
        }
        let child = cmd
            .args([
                "--clients",
                &n.to_string(),
                "--ramp",
                &(1000 / procs).to_string(),
                "--hold",
                &hold.to_string(),
                "--stalled",
                &if i == 0 { stalled } else { 0 }.to_string(),
                "--json",
            ])
            .args(extra)
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
        "orders_frames_per_sec": sum("orders_frames_per_sec"), "system_frames_per_sec": sum("system_frames_per_sec"),
        "mean_frame_bytes": rs.iter().map(|r| f(r, "mean_frame_bytes")).sum::<f64>() / rs.len().max(1) as f64,
        "orders_mean_bytes": rs.iter().map(|r| f(r, "orders_mean_bytes")).sum::<f64>() / rs.len().max(1) as f64,
        "complete_share": min("complete_share"),
        "spread_p50": max("spread_ms", "p50"), "spread_p99": max("spread_ms", "p99"), "spread_max": max("spread_ms", "max"),
        "latency_p50": max("latency_ms", "p50"), "latency_p99": max("latency_ms", "p99"), "latency_max": max("latency_ms", "max"),
        "server_cpu": rs.iter().map(|r| f(r, "server_cpu")).fold(0.0, f64::max),
        "rss_before_kib": before, "rss_connected_kib": with,
        "fanout_p50_ms": rs.iter().map(|r| f(r, "fanout_p50_ms")).fold(0.0, f64::max),
        "fanout_p99_ms": rs.iter().map(|r| f(r, "fanout_p99_ms")).fold(0.0, f64::max),
        "fanout_frames": rs.iter().map(|r| f(r, "fanout_frames")).fold(0.0, f64::max),
        "rss_per_client_kib": if connected > 0.0 && with > before { (with - before) / connected } else { 0.0 },
        // `loadgen --deflate` (deflate_bench.rs).
        "wire_bytes_per_sec": sum("wire_bytes_per_sec"), "deflate_negotiated": sum("deflate_negotiated"),
        "deflate_refused": sum("deflate_refused"), "frame_errors": sum("frame_errors"),
        "orders_sample": rs.iter().find_map(|r| r["orders_sample"].as_str()),
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
            compare: n == 10_000 || (quick && n == 1000),
            hold,
            stalled: 0,
            floor: n != 5000,
        });
    }
    let n = if quick { 200 } else { 2000 };
    v.push(Scenario {
        name: "stress",
        what: format!("{n} clients, 20 ticks/s"),
        clients: n,
        server_args: s(&["--tick-ms", "50"]),
        compare: true,
        hold,
        stalled: 0,
        floor: true,
    });
    v.push(Scenario {
        name: "bigtick",
        what: format!("{n} clients, ~500 order records per tick"),
        clients: n,
        server_args: s(&["--orders-per-sec", "345"]),
        compare: true,
        hold,
        stalled: 0,
        floor: false,
    });
    let n = if quick { 200 } else { 1000 };
    for stalled in [0, n / 10] {
        v.push(Scenario {
            name: "slow",
            what: format!("{n} clients + {stalled} never reading, 20 ticks/s"),
            clients: n,
            server_args: s(&["--tick-ms", "50", "--orders-per-sec", "200"]),
            compare: false,
            hold: hold.max(15),
            stalled,
            floor: false,
        });
    }
    v
}

/// livedash's nominal periodic frames per client per second under `args`:
/// one `orders` frame per tick plus one `system` frame per sample, from the
/// flags and livedash's documented defaults (1000 ms each), never from a
/// measurement. `clients` and `event` frames are data-driven and not counted.
fn nominal_hz(args: &[String]) -> f64 {
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(1000.0)
    };
    1000.0 / flag("--tick-ms") + 1000.0 / flag("--system-ms")
}

pub(crate) fn num(r: &Json, k: &str) -> f64 {
    r[k].as_f64().unwrap_or(0.0)
}

/// Periodic (`orders` + `system`) frames delivered per connected client per
/// second, over the nominal rate.
fn delivered_share(r: &Json, nominal: f64) -> f64 {
    let per_client = (num(r, "orders_frames_per_sec") + num(r, "system_frames_per_sec"))
        / num(r, "connected").max(1.0);
    per_client / nominal.max(1e-9)
}

/// One livedash run, for the targets.
struct Run {
    name: &'static str,
    what: String,
    clients: usize,
    nominal_hz: f64,
    r: Json,
    /// The Node `ws` peer under the same load, in scenarios that compare.
    node: Option<Json>,
    /// The bare write loop under the same load, where it ran.
    floor: Option<Json>,
}

impl Run {
    fn label(&self) -> String {
        format!("{}: {}", self.name, self.what)
    }
}

/// One row of the targets table: judged on its worst scenario.
struct Target {
    target: String,
    worst: String,
    value: String,
    reached: bool,
}

/// The run with the largest `key` (the worst one when larger is worse).
fn worst_by<'a>(runs: impl Iterator<Item = &'a Run>, key: impl Fn(&Run) -> f64) -> Option<&'a Run> {
    runs.max_by(|a, b| key(a).total_cmp(&key(b)))
}

fn targets(runs: &[Run], micro: &Json) -> Vec<Target> {
    let mut t = Vec::new();
    // Capacity: the capacity run that lost the most clients (the largest on a tie).
    let cap = || runs.iter().filter(|r| r.name == "capacity");
    if let Some(w) = worst_by(cap(), |r| {
        let lost = num(&r.r, "failed") + num(&r.r, "dropped");
        lost * 1e9 + r.clients as f64
    }) {
        let most = cap().map(|r| num(&r.r, "connected")).fold(0.0, f64::max);
        let lost_any = cap().any(|r| num(&r.r, "failed") + num(&r.r, "dropped") > 0.0);
        t.push(Target {
            target: "20,000 concurrent clients held (default flags, loopback)".into(),
            worst: w.label(),
            value: format!(
                "{:.0}/{} connected, {:.0} dropped; most held in any run: {most:.0} (the server process here may hold at most 20,000 descriptors)",
                num(&w.r, "connected"),
                w.clients,
                num(&w.r, "dropped"),
            ),
            reached: most >= 20_000.0 && !lost_any,
        });
    }
    // Fan-out spread, every scenario up to 10k clients.
    let upto10k = || runs.iter().filter(|r| r.clients <= 10_000);
    if let Some(w) = worst_by(upto10k(), |r| num(&r.r, "spread_p99")) {
        let incomplete = upto10k()
            .filter(|r| num(&r.r, "complete_share") < 1.0)
            .count();
        t.push(Target {
            target: "p99 fan-out spread ≤ 50 ms and every message to every client, any scenario up to 10k clients".into(),
            worst: w.label(),
            value: format!(
                "p99 {:.1} ms, {:.1} % of messages reached all ({incomplete} of {} runs missed some client)",
                num(&w.r, "spread_p99"),
                num(&w.r, "complete_share") * 100.0,
                upto10k().count(),
            ),
            reached: num(&w.r, "spread_p99") <= 50.0 && incomplete == 0,
        });
    }
    // Delivery against the configured nominal rate.
    if let Some(w) = worst_by(runs.iter(), |r| -delivered_share(&r.r, r.nominal_hz)) {
        let share = delivered_share(&w.r, w.nominal_hz);
        t.push(Target {
            target: "each client gets ≥ 0.8 × its nominal periodic frames (`orders` per tick + `system` per sample, from the flags), every scenario".into(),
            worst: w.label(),
            value: format!(
                "{share:.2} × ({:.2} of {:.2} frames per client per s)",
                share * w.nominal_hz,
                w.nominal_hz
            ),
            reached: share >= 0.8,
        });
    }
    // Memory per client, every scenario.
    if let Some(w) = worst_by(runs.iter(), |r| num(&r.r, "rss_per_client_kib")) {
        let kib = num(&w.r, "rss_per_client_kib");
        t.push(Target {
            target: "≤ 16 KiB server RSS per client, every scenario".into(),
            worst: w.label(),
            value: format!("{kib:.1} KiB"),
            reached: kib > 0.0 && kib <= 16.0,
        });
    }
    // Against the Node `ws` peer measured in the same run.
    let with_node = || runs.iter().filter_map(|r| r.node.as_ref().map(|n| (r, n)));
    let cpu_ratio = |r: &Run, n: &Json| cpu_ratio_of(&r.r, n);
    if let Some((w, n)) =
        with_node().max_by(|a, b| cpu_ratio(a.0, a.1).total_cmp(&cpu_ratio(b.0, b.1)))
    {
        let ratio = cpu_ratio(w, n);
        // What the kernel alone costs per frame in that scenario: the
        // bare write loop's CPU per delivered frame against the same peer.
        let floor = w.floor.as_ref().map_or(String::new(), |f| {
            format!(
                "; the bare write loop, one write per frame and nothing else: {:.1} µs ({:.2}× Node)",
                cpu_us_per_frame(f),
                cpu_ratio_of(f, n)
            )
        });
        t.push(Target {
            target: "server CPU per delivered frame ≤ 0.4 × the Node `ws` peer's, every compared scenario".into(),
            worst: w.label(),
            value: format!(
                "{ratio:.2}× ({:.1} vs {:.1} µs){floor}",
                cpu_us_per_frame(&w.r),
                cpu_us_per_frame(n)
            ),
            reached: ratio > 0.0 && ratio <= 0.4,
        });
    }
    if let Some((w, n)) = with_node()
        .filter(|(r, _)| r.name == "capacity")
        .max_by_key(|(r, _)| r.clients)
    {
        let (a, b) = (
            num(&w.r, "rss_per_client_kib"),
            num(n, "rss_per_client_kib"),
        );
        let ratio = a / b.max(1e-9);
        t.push(Target {
            target: "server RSS per idle client (default 1 s ticks) ≤ 0.8 × the Node `ws` peer's"
                .into(),
            worst: w.label(),
            value: format!("{ratio:.2}× ({a:.1} vs {b:.1} KiB)"),
            reached: a > 0.0 && ratio <= 0.8,
        });
    }
    if let Some(w) = runs.iter().find(|r| r.name == "bigtick") {
        let kib = num(&w.r, "rss_per_client_kib");
        t.push(Target {
            target: "≤ 24 KiB server RSS per client with big frames (`bigtick`)".into(),
            worst: w.label(),
            value: format!("{kib:.1} KiB"),
            reached: kib > 0.0 && kib <= 24.0,
        });
    }
    // The server's own fan-out time at 10k clients.
    if let Some(w) = runs
        .iter()
        .filter(|r| r.name == "capacity" && r.clients == 10_000)
        .max_by(|a, b| num(&a.r, "fanout_p99_ms").total_cmp(&num(&b.r, "fanout_p99_ms")))
    {
        let p99 = num(&w.r, "fanout_p99_ms");
        let floor = w.floor.as_ref().map_or(String::new(), |f| {
            format!(
                "; the bare write loop's round (one write per client, nothing else) on the same core: p99 {:.1} ms, p50 {:.1} ms",
                num(f, "floor_round_p99_ms"),
                num(f, "floor_round_p50_ms")
            )
        });
        t.push(Target {
            target: "`livedash_fanout_seconds` p99 ≤ 40 ms at 10k clients (publication to the last socket write, from the server's histogram)".into(),
            worst: w.label(),
            value: format!(
                "p99 {p99:.1} ms, p50 {:.1} ms over {:.0} frames{floor}",
                num(&w.r, "fanout_p50_ms"),
                num(&w.r, "fanout_frames")
            ),
            reached: num(&w.r, "fanout_frames") > 0.0 && p99 <= 40.0,
        });
    }
    // The aggregation microbenchmark: its slowest percentile, not its median.
    let p99 = num(micro, "aggregate_tick_us_p99");
    t.push(Target {
        target: "500-record tick aggregated in ≤ 200 µs".into(),
        worst: "microbench: 300 ticks of ~500 records on a full 5-minute window".into(),
        value: format!(
            "p99 {p99:.1} µs (median {:.1} µs)",
            num(micro, "aggregate_tick_us_median")
        ),
        reached: p99 > 0.0 && p99 <= 200.0,
    });
    t
}

fn targets_table(t: &[Target]) -> String {
    let mut out = String::from("| target | worst scenario | its value | |\n|---|---|---|---|\n");
    for x in t {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            x.target,
            x.worst,
            x.value,
            if x.reached {
                "reached"
            } else {
                "**NOT reached**"
            }
        ));
    }
    out
}

fn row(name: &str, what: &str, target: &str, r: &Json) -> String {
    let g = |k: &str| num(r, k);
    format!(
        "| {name} | {what} | {target} | {:.0}/{:.0} | {:.0} | {:.0} | {:.1} % | {:.1} / {:.1} / {:.1} | {:.1} | {:.2} | {:.1} |",
        g("connected"), g("clients"), g("dropped"), g("frames_per_sec"), g("complete_share") * 100.0,
        g("spread_p50"), g("spread_p99"), g("spread_max"), g("latency_p99"), g("server_cpu"), g("rss_per_client_kib"),
    )
}

/// Heavy processes that are not the benchmark's, by name: other builds and
/// browsers sharing the cores (any name starting with `chrom` counts as
/// `chromium`).
const OTHERS: &[&str] = &[
    "rustc", "cc1", "cc1plus", "ld", "lld", "wasm-opt", "trunk", "node",
];

/// How many processes of each [`OTHERS`] name run right now.
pub(crate) fn others_now() -> Vec<(String, usize)> {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(comm) = std::fs::read_to_string(e.path().join("comm")) else {
            continue;
        };
        let comm = comm.trim();
        let name = if comm.starts_with("chrom") {
            Some("chromium")
        } else {
            OTHERS.iter().find(|n| comm == **n).copied()
        };
        if let Some(name) = name {
            match seen.iter_mut().find(|(n, _)| n == name) {
                Some(x) => x.1 += 1,
                None => seen.push((name.to_string(), 1)),
            }
        }
    }
    seen
}

/// The 1-minute load average.
pub(crate) fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

pub fn main(args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|a| a == "--quick");
    let only = args
        .iter()
        .position(|a| a == "--scenario")
        .and_then(|i| args.get(i + 1))
        .cloned();
    if only.as_deref() == Some("lighthouse") {
        return crate::lighthouse::only();
    }
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
    if only.as_deref() == Some("deflate") {
        return crate::deflate_bench::only(quick);
    }
    if only.as_deref() == Some("cluster") {
        // Only the cluster comparison: its own section of BENCHMARKS.md.
        let section = crate::cluster_bench::measure(quick)?;
        crate::cluster_bench::put_section(&section)?;
        println!("==> BENCHMARKS.md: cluster section rewritten");
        return Ok(());
    }
    let t0 = Instant::now();
    // Other processes sharing the machine, sampled before each scenario.
    let mut shared: Vec<(String, usize, usize)> = Vec::new(); // name, max at once, scenarios seen in
    let mut samples = 0usize;
    let mut max_load = 0.0f64;
    let mut sample_others = |shared: &mut Vec<(String, usize, usize)>| {
        samples += 1;
        max_load = max_load.max(loadavg());
        for (name, n) in others_now() {
            match shared.iter_mut().find(|(x, _, _)| *x == name) {
                Some(x) => {
                    x.1 = x.1.max(n);
                    x.2 += 1;
                }
                None => shared.push((name, n, 1)),
            }
        }
    };
    sample_others(&mut shared);
    println!("==> microbenchmarks");
    let micro = Command::new(root().join("target/release/microbench"))
        .output()
        .map_err(|e| format!("microbench: {e}"))?;
    let m: Json =
        serde_json::from_slice(&micro.stdout).map_err(|e| format!("microbench output: {e}"))?;
    let g = |k: &str| num(&m, k);
    let micro_table = format!(
        "| measurement | median | p99 | target |\n|---|---|---|---|\n\
         | aggregate one tick of {:.0} new records on a full 5-minute window ({:.0} records) | {:.1} µs | {:.1} µs | ≤ 200 µs |\n\
         | serialize that `orders` frame once ({:.0} bytes, shared by every client) | {:.1} µs | — | — |\n\
         | deflate it once for the clients with permessage-deflate (→ {:.0} bytes) | {:.1} µs | — | — |\n\
         | deflate the page's frame of that tick once (no records: {:.0} → {:.0} bytes) | {:.1} µs | — | — |\n",
        g("records_per_tick"), g("window_records"), g("aggregate_tick_us_median"), g("aggregate_tick_us_p99"),
        g("frame_bytes_mean"), g("serialize_frame_us_median"),
        g("deflated_bytes_mean"), g("deflate_frame_us_median"),
        g("page_frame_bytes_mean"), g("page_deflated_bytes_mean"), g("deflate_page_frame_us_median"),
    ) + &crate::filter_bench::table()?;
    println!("{micro_table}");
    // The page first, while the machine is quiet (no load generator yet).
    let page = if only.as_deref().is_none_or(|o| o == "page") {
        sample_others(&mut shared);
        println!("==> page: navigation to a fully drawn dashboard, bundle size");
        let p = crate::page::measure()?;
        println!("{}", p.section);
        if only.is_some() {
            crate::report::update(&p.section, crate::page::BEGIN, crate::page::END, &p.targets)?;
            println!("==> BENCHMARKS.md: page section and targets updated");
            return Ok(());
        }
        Some(p)
    } else {
        None
    };
    // The browser audit, also before any load.
    let audit = if only.is_none() {
        sample_others(&mut shared);
        println!("==> lighthouse: the page as a browser audit sees it");
        let a = crate::lighthouse::measure(&root().join("target/release/livedash"))?;
        println!("{}", a.section);
        Some(a)
    } else {
        None
    };
    let mut rows = Vec::new();
    let mut ratios = Vec::new();
    let mut runs = Vec::new();
    let mut slow = Vec::new();
    let mut node_rows = Vec::new();
    crate::tools::ensure_node_peer()?;
    for sc in scenarios(quick) {
        if only.as_deref().is_some_and(|o| o != sc.name) {
            continue;
        }
        sample_others(&mut shared);
        println!("==> {}: {}", sc.name, sc.what);
        let mut sargs = vec![
            "--addr".to_string(),
            "127.0.0.1:0".into(),
            "--dist".into(),
            "/nonexistent".into(),
        ];
        sargs.extend(sc.server_args.iter().cloned());
        let nominal = nominal_hz(&sc.server_args);
        let (server, port) = start("livedash", &sargs)?;
        let r = load(port, server.0.id(), sc.clients, sc.hold, sc.stalled)?;
        let closed = slow_closed(port);
        drop(server);
        println!("    {}", row(sc.name, &sc.what, "livedash", &r));
        rows.push(row(sc.name, &sc.what, "livedash", &r));
        if sc.name == "slow" {
            slow.push(format!(
                "| {} | {:.1} ms | {:.1} KiB | {} |",
                sc.what,
                num(&r, "spread_p99"),
                num(&r, "rss_connected_kib"),
                closed.map_or("?".to_string(), |c| c.to_string()),
            ));
        }
        if sc.compare {
            // The same nominal load: livedash's configured periodic rate (not
            // what it delivered), frames of livedash's mean size (the load's
            // shape; no target rests on it).
            let size = num(&r, "mean_frame_bytes").max(64.0) as usize;
            let pargs = vec![
                "--frame-bytes".to_string(),
                size.to_string(),
                "--rate-hz".into(),
                nominal.to_string(),
            ];
            let (proxy, port) = start("bare-proxy", &pargs)?;
            let p = load(port, proxy.0.id(), sc.clients, sc.hold, 0)?;
            drop(proxy);
            let label = "bare proxy (1 thread)";
            println!("    {}", row(sc.name, &sc.what, label, &p));
            rows.push(row(sc.name, &sc.what, label, &p));
            let per_frame = |x: &Json| num(x, "server_cpu") / num(x, "frames_per_sec").max(1e-9);
            ratios.push(format!(
                "| {} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.1} vs {:.1} ms |",
                sc.name,
                sc.what,
                nominal,
                delivered_share(&r, nominal),
                num(&p, "frames_per_sec") / num(&p, "connected").max(1.0) / nominal,
                per_frame(&r) / per_frame(&p).max(1e-12),
                num(&r, "spread_p99"),
                num(&p, "spread_p99"),
            ));
        }
        let node = if sc.compare {
            let n = run_node_peer(&sc, &r)?;
            println!("    {}", row(sc.name, &sc.what, "node ws peer", &n));
            rows.push(row(sc.name, &sc.what, "node ws peer", &n));
            node_rows.push(node_row(&sc, nominal, &r, &n));
            Some(n)
        } else {
            None
        };
        let floor = if sc.floor {
            // One write per client per nominal frame, frames of livedash's
            // mean size: the kernel's part of any one-core fan-out.
            let size = num(&r, "mean_frame_bytes").max(64.0) as usize;
            let f = crate::floor_bench::run(sc.clients, sc.hold, size, nominal)?;
            println!("    {}", row(sc.name, &sc.what, FLOOR, &f));
            rows.push(row(sc.name, &sc.what, FLOOR, &f));
            Some(f)
        } else {
            None
        };
        runs.push(Run {
            name: sc.name,
            what: sc.what,
            clients: sc.clients,
            nominal_hz: nominal,
            r,
            node,
            floor,
        });
    }
    let cluster = match only {
        None => Some(crate::cluster_bench::measure(quick)?),
        Some(_) => None,
    };
    // Compress once at scale, beside this run's capacity rows.
    let deflate = match only {
        None => {
            let plain: Vec<crate::deflate_bench::Plain> = runs
                .iter()
                .filter(|r| r.name == "capacity")
                .map(|r| crate::deflate_bench::Plain {
                    clients: r.clients,
                    livedash: &r.r,
                    node: r.node.as_ref(),
                })
                .collect();
            Some(crate::deflate_bench::measure(quick, &plain)?)
        }
        Some(_) => None,
    };
    let header = "| scenario | load | server | connected | dropped | frames/s | reached all | spread ms p50 / p99 / max | latency p99 ms | server CPU s/s | server KiB/client |\n|---|---|---|---|---|---|---|---|---|---|---|";
    let rheader = "| scenario | load | nominal frames per client per s | livedash delivered / nominal | proxy delivered / nominal | server CPU per delivered frame, livedash / proxy | p99 spread livedash vs proxy |\n|---|---|---|---|---|---|---|";
    let table = format!("{header}\n{}\n", rows.join("\n"));
    let fanout_rows: Vec<String> = runs
        .iter()
        .filter(|r| r.name == "capacity")
        .map(|r| {
            let floor = r.floor.as_ref().map_or("—".to_string(), |f| {
                format!(
                    "{:.1} / {:.1} ms ({:.1} µs CPU per write, {:.0} rounds)",
                    num(f, "floor_round_p50_ms"),
                    num(f, "floor_round_p99_ms"),
                    num(f, "floor_cpu_us_per_write"),
                    num(f, "floor_rounds"),
                )
            });
            format!(
                "| {} | {:.1} ms | {:.1} ms | {:.0} | {floor} |",
                r.what,
                num(&r.r, "fanout_p50_ms"),
                num(&r.r, "fanout_p99_ms"),
                num(&r.r, "fanout_frames")
            )
        })
        .collect();
    let ftable = format!(
        "| load | p50 | p99 | frames observed | the bare write loop's round, p50 / p99 |\n|---|---|---|---|---|\n{}\n",
        fanout_rows.join("\n")
    );
    let nheader = "| scenario | load | server CPU per delivered frame, livedash vs Node (ratio) | server RSS per client, livedash vs Node (ratio) | p99 spread livedash vs Node | periodic frames delivered / nominal, livedash vs Node |\n|---|---|---|---|---|---|";
    let ntable = format!("{nheader}\n{}\n", node_rows.join("\n"));
    let rtable = format!("{rheader}\n{}\n", ratios.join("\n"));
    println!("\n{table}\n{rtable}");
    let mut all_targets = targets(&runs, &m);
    let audit_targets = audit.iter().flat_map(|a| a.targets.clone());
    for (target, worst, value, reached) in page
        .iter()
        .flat_map(|p| p.targets.clone())
        .chain(audit_targets)
    {
        all_targets.push(Target {
            target,
            worst,
            value,
            reached,
        });
    }
    let targets = targets_table(&all_targets);
    let page_section = page.map(|p| p.section).unwrap_or_default()
        + &audit
            .map(|a| format!("\n{}\n", a.section))
            .unwrap_or_default();
    println!("{targets}");
    let sharing = if shared.is_empty() {
        format!("No other build or browser process was seen before any scenario (1-minute load average at most {max_load:.1}).")
    } else {
        let list: Vec<String> = shared
            .iter()
            .map(|(n, most, k)| {
                format!("`{n}` (up to {most} at once, before {k} of {samples} steps)")
            })
            .collect();
        format!(
            "**The machine was shared**: other processes ran beside the benchmark: {} (a running \
             `cargo xtask soak` tab counts as `chromium`); 1-minute load average up to {max_load:.1} \
             before a step. Absolute times are pessimistic; the same-run ratios against the bare \
             proxy hold better.",
            list.join(", ")
        )
    };
    let machine = machine();
    let pinning = if pinning() {
        format!("Every server (livedash, the bare proxy, the Node peer) runs pinned to CPU {SERVER_CORE} and a single load generator process to CPU {LOADGEN_CORE} (`taskset`); runs above {PER_PROCESS} clients use several load generator processes, unpinned, on both cores.")
    } else {
        "Servers and load generators are not pinned (no `taskset` or a single core).".to_string()
    };
    let date = Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let doc = format!(
        "# Benchmarks\n\n\
         Generated by `cargo xtask bench{}` on {date} in {:.0} s — do not edit by hand.\n\n\
         Machine: {machine}. Server and probe run on loopback. {pinning}\n\
         {sharing}\n\n\
         The load generator is one single-threaded tokio process per at most {PER_PROCESS} clients\n\
         (the sandbox's hard open-file limit is 20,000 per process and cannot be raised), so large\n\
         runs use several; their reports are merged (sums of counts, worst of quantiles). The\n\
         clients' own cost is on the same two cores, so every spread and latency here includes the\n\
         load generator's scheduling.\n\n\
         Columns: *reached all* is the share of messages (first seen in the steady window) that\n\
         reached every connected client; *spread* is each client's arrival minus the first arrival\n\
         of the same message; *latency* is arrival minus the frame's server `ts`; *server KiB/client*\n\
         is (server RSS with the clients − RSS before) / clients.\n\n\
         ## Targets\n\n\
         Each target is judged on its worst scenario in this run (the one named beside it), not on\n\
         its best; a target that scenario misses is **NOT reached**. References are fixed numbers\n\
         or livedash's configured nominal rates, never the measurement itself.\n\n{targets}\n\
         ## Microbenchmarks\n\n{micro_table}\n\
         ## Results\n\n{table}\n\
         {page_section}\n\
         ## Server-side fan-out time\n\n\
         `livedash_fanout_seconds`: from a topic frame's publication to the moment the last\n\
         connected client's socket write of it returned (flushed), as the server's own histogram\n\
         saw it during the steady window (quantiles interpolated inside its buckets: 1, 2.5, 5,\n\
         10, 20, 40, 80, 160 ms, ...). It is the spread the server causes, which the load\n\
         generator cannot see at 10k clients on the same cores.\n\n\
         Beside it, the bare write loop (`write-floor`, same core, same load generator): one\n\
         thread making one non-blocking `write(2)` of a pre-framed message to every client per\n\
         round and nothing else, no runtime, no task per client; its round is first write to\n\
         last write. It shows what the kernel alone costs for one write per client here (on\n\
         loopback the receiver's TCP processing and wake-up run in the sender's context). It is\n\
         a reference, not a ceiling: a server writing from several cores, or fewer times, could\n\
         beat it.\n\n{ftable}\n\
         ## Frozen tabs beside normal ones\n\n\
         Never-reading clients with a 4 KiB receive window connect first; the normal clients'\n\
         p99 spread and the server's RSS with and without them, and how many the server closed\n\
         as too slow (close 4008, `livedash_slow_clients_closed_total`).\n\n\
         | load | normal clients' p99 spread | server RSS | closed as too slow |\n|---|---|---|---|\n{}\n\n\
         ## livedash beside the bare proxy (same run, same nominal load)\n\n\
         The bare proxy (`bare-proxy`) is a single-threaded tokio broadcast loop with no\n\
         application logic: it sends one pre-serialized frame of livedash's mean frame size at\n\
         livedash's nominal periodic rate (from the scenario's flags) and writes and flushes every\n\
         frame to every client. livedash runs on a multi-threaded runtime, so it may do better than\n\
         the proxy: the proxy is a peer measured under the same load, not a ceiling. *Delivered /\n\
         nominal* counts only periodic frames (`orders`, `system`) for livedash; *CPU per delivered\n\
         frame* counts all frames each server delivered.\n\n{rtable}\n\
         ## livedash beside the Node `ws` peer (same run, same nominal load)\n\n\
         The peer (`bench/node-peer/server.js`, npm `ws` 8) is a Node broadcast server written the\n\
         careful way: each frame serialized once to a Buffer sent to every client, the client\n\
         count coalesced to once a second, frozen clients skipped. It sends `orders` frames at\n\
         livedash's tick with the size livedash's `orders` frames had in this run and a\n\
         `system` frame at livedash's sample period. {pinning}\n\n{ntable}",
        if quick { " --quick" } else { "" },
        t0.elapsed().as_secs_f64(),
        slow.join("\n"),
    );
    if !quick && only.is_none() {
        // Keep the soak section, which `cargo xtask soak` writes, and the
        // hand-written transport measurements.
        let mut doc = doc;
        for kept in [soak_section(), transport_section()].into_iter().flatten() {
            doc = format!("{}\n{kept}\n", doc.trim_end());
        }
        std::fs::write(root().join("BENCHMARKS.md"), doc)
            .map_err(|e| format!("write BENCHMARKS.md: {e}"))?;
        if let Some(c) = cluster.or_else(crate::cluster_bench::kept_section) {
            crate::cluster_bench::put_section(&c)?;
        }
        if let Some(d) = &deflate {
            crate::deflate_bench::put_section(d)?;
        }
        println!("==> BENCHMARKS.md rewritten");
    } else {
        println!("==> partial run: BENCHMARKS.md left as it is");
    }
    Ok(())
}

/// The Node `ws` peer at livedash's nominal load of scenario `sc`: the
/// same `orders` and `system` periods (from the flags) and `orders` frames
/// of the size livedash's were in this run (the load's shape, not a
/// reference any target rests on).
fn run_node_peer(sc: &Scenario, r: &Json) -> Result<Json, String> {
    let flag = |name: &str, dflt: &str| {
        sc.server_args
            .iter()
            .position(|a| a == name)
            .and_then(|i| sc.server_args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| dflt.to_string())
    };
    let args = vec![
        "--tick-ms".to_string(),
        flag("--tick-ms", "1000"),
        "--system-ms".into(),
        flag("--system-ms", "1000"),
        "--orders-bytes".into(),
        format!("{:.0}", num(r, "orders_mean_bytes").max(64.0)),
    ];
    let (node, port) = start_node(&args)?;
    let n = load(port, node.0.id(), sc.clients, sc.hold, 0)?;
    drop(node);
    Ok(n)
}

/// Server CPU microseconds per delivered frame.
fn cpu_us_per_frame(r: &Json) -> f64 {
    num(r, "server_cpu") / num(r, "frames_per_sec").max(1e-9) * 1e6
}

/// `a vs b unit (a/b×)`: livedash beside a peer, one decimal.
pub(crate) fn versus(a: f64, b: f64, unit: &str) -> String {
    format!("{a:.1} vs {b:.1} {unit} ({:.2}×)", a / b.max(1e-9))
}

/// `r`'s CPU per delivered frame over the Node peer's `n`.
fn cpu_ratio_of(r: &Json, n: &Json) -> f64 {
    cpu_us_per_frame(r) / cpu_us_per_frame(n).max(1e-9)
}

/// One row of the livedash-vs-Node table.
fn node_row(sc: &Scenario, nominal: f64, r: &Json, n: &Json) -> String {
    let share = |x: &Json| {
        (num(x, "orders_frames_per_sec") + num(x, "system_frames_per_sec"))
            / num(x, "connected").max(1.0)
            / nominal.max(1e-9)
    };
    format!(
        "| {} | {} | {} | {} | {:.1} vs {:.1} ms | {:.2} vs {:.2} |",
        sc.name,
        sc.what,
        versus(cpu_us_per_frame(r), cpu_us_per_frame(n), "µs"),
        versus(
            num(r, "rss_per_client_kib"),
            num(n, "rss_per_client_kib"),
            "KiB"
        ),
        num(r, "spread_p99"),
        num(n, "spread_p99"),
        share(r),
        share(n),
    )
}

pub(crate) fn machine() -> String {
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

/// Markers of the hand-written transport section (SSE, permessage-deflate
/// measurements), which `cargo xtask bench` keeps as it is.
const TRANSPORT_BEGIN: &str = "<!-- transport:begin (hand-written; kept by cargo xtask bench) -->";
const TRANSPORT_END: &str = "<!-- transport:end -->";

/// The section between `begin` and `end` of `doc`, markers included.
pub(crate) fn section(doc: &str, begin: &str, end: &str) -> Option<String> {
    let a = doc.find(begin)?;
    let b = a + doc[a..].find(end)? + end.len();
    Some(doc[a..b].to_string())
}

/// The soak section of the current BENCHMARKS.md, markers included.
fn soak_section() -> Option<String> {
    let doc = std::fs::read_to_string(root().join("BENCHMARKS.md")).ok()?;
    section(&doc, SOAK_BEGIN, SOAK_END)
}

/// The hand-written transport section of the current BENCHMARKS.md.
fn transport_section() -> Option<String> {
    let doc = std::fs::read_to_string(root().join("BENCHMARKS.md")).ok()?;
    section(&doc, TRANSPORT_BEGIN, TRANSPORT_END)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_sections_are_found_with_their_markers() {
        let doc = format!("# B\n{TRANSPORT_BEGIN}\nnumbers\n{TRANSPORT_END}\ntail {TRANSPORT_END}");
        assert_eq!(
            section(&doc, TRANSPORT_BEGIN, TRANSPORT_END).unwrap(),
            format!("{TRANSPORT_BEGIN}\nnumbers\n{TRANSPORT_END}")
        );
        assert_eq!(section("# B", TRANSPORT_BEGIN, TRANSPORT_END), None);
    }

    fn run(name: &'static str, clients: usize, args: &[&str], r: Json) -> Run {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Run {
            name,
            what: format!("{clients} clients"),
            clients,
            nominal_hz: nominal_hz(&args),
            r,
            node: None,
            floor: None,
        }
    }

    fn report(clients: f64, periodic_per_client: f64, p99: f64, kib: f64) -> Json {
        serde_json::json!({
            "connected": clients, "failed": 0.0, "dropped": 0.0, "complete_share": 1.0,
            "orders_frames_per_sec": clients * periodic_per_client, "system_frames_per_sec": 0.0,
            "spread_p99": p99, "rss_per_client_kib": kib,
        })
    }

    #[test]
    fn nominal_rate_comes_from_the_flags() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(nominal_hz(&a(&[])), 2.0);
        assert_eq!(nominal_hz(&a(&["--tick-ms", "50"])), 21.0);
        assert_eq!(
            nominal_hz(&a(&["--tick-ms", "50", "--system-ms", "200"])),
            25.0
        );
    }

    #[test]
    fn each_target_is_judged_on_its_worst_scenario() {
        let runs = vec![
            run("capacity", 1000, &[], report(1000.0, 2.0, 10.0, 11.0)),
            run("bigtick", 2000, &[], report(2000.0, 2.0, 160.0, 121.8)),
            // Delivers 10 of 21 nominal frames per client per second.
            run(
                "stress",
                2000,
                &["--tick-ms", "50"],
                report(2000.0, 10.0, 20.0, 9.0),
            ),
            run("capacity", 19_900, &[], report(19_900.0, 2.0, 300.0, 11.0)),
        ];
        let micro =
            serde_json::json!({"aggregate_tick_us_median": 100.0, "aggregate_tick_us_p99": 250.0});
        let t = targets(&runs, &micro);
        let find = |s: &str| t.iter().find(|x| x.target.contains(s)).unwrap();
        let held = find("20,000");
        assert!(!held.reached);
        assert!(held.worst.contains("19900"), "{}", held.worst);
        let spread = find("spread");
        assert_eq!(spread.worst, "bigtick: 2000 clients");
        assert!(!spread.reached);
        let delivery = find("nominal");
        assert_eq!(delivery.worst, "stress: 2000 clients");
        assert!(delivery.value.starts_with("0.48 ×"), "{}", delivery.value);
        assert!(!delivery.reached);
        let mem = find("RSS");
        assert_eq!(mem.worst, "bigtick: 2000 clients");
        assert_eq!(mem.value, "121.8 KiB");
        assert!(!mem.reached);
        assert!(!find("aggregated").reached);
        let table = targets_table(&t);
        assert_eq!(table.matches("**NOT reached**").count(), 6, "{table}");
    }

    #[test]
    fn node_peer_and_fanout_targets_are_ratios_and_thresholds() {
        let cpu = |cpu: f64, fps: f64, kib: f64| {
            let mut r = report(1.0, 1.0, 1.0, kib);
            r["server_cpu"] = cpu.into();
            r["frames_per_sec"] = fps.into();
            r
        };
        let mut cap = run("capacity", 10_000, &[], cpu(0.1, 20_000.0, 6.0));
        cap.node = Some(cpu(0.2, 20_000.0, 8.0)); // 5 vs 10 µs: 0.5×; 6 vs 8 KiB: 0.75×
        cap.r["fanout_p99_ms"] = 45.0.into();
        cap.r["fanout_p50_ms"] = 12.0.into();
        cap.r["fanout_frames"] = 30.0.into();
        // The bare write loop: 4 µs per frame (0.4× Node), rounds of 110 ms.
        let mut floor = cpu(0.08, 20_000.0, 1.0);
        floor["floor_round_p99_ms"] = 110.0.into();
        floor["floor_round_p50_ms"] = 100.0.into();
        cap.floor = Some(floor);
        let mut stress = run("stress", 2000, &[], cpu(0.3, 100_000.0, 9.0));
        stress.node = Some(cpu(1.2, 100_000.0, 9.0)); // 3 vs 12 µs: 0.25×
        let t = targets(&[cap, stress], &serde_json::json!({}));
        let find = |s: &str| t.iter().find(|x| x.target.contains(s)).unwrap();
        let c = find("CPU per delivered frame");
        assert_eq!(c.worst, "capacity: 10000 clients", "the worst ratio");
        assert!(c.value.starts_with("0.50×"), "{}", c.value);
        assert!(
            c.value.ends_with("nothing else: 4.0 µs (0.40× Node)"),
            "{}",
            c.value
        );
        assert!(!c.reached);
        let m = find("idle client");
        assert!(m.value.starts_with("0.75×"), "{}", m.value);
        assert!(m.reached);
        let f = find("fanout_seconds");
        assert!(f.value.starts_with("p99 45.0 ms"), "{}", f.value);
        assert!(
            f.value.ends_with("p99 110.0 ms, p50 100.0 ms"),
            "{}",
            f.value
        );
        assert!(!f.reached);
    }

    #[test]
    fn targets_can_be_reached() {
        let runs = vec![run(
            "capacity",
            20_000,
            &[],
            report(20_000.0, 1.9, 40.0, 12.0),
        )];
        let micro =
            serde_json::json!({"aggregate_tick_us_median": 100.0, "aggregate_tick_us_p99": 150.0});
        let t = targets(&runs, &micro);
        // Spread applies up to 10k clients only: no run in scope, no row.
        assert_eq!(t.len(), 4);
        assert!(t.iter().all(|x| x.reached), "{}", targets_table(&t));
    }
}
