//! `cargo xtask bench --scenario cluster` (also part of the full bench):
//! one process against three `--redis` replicas under the same load
//! generator, and the latency the Redis hop adds. Writes its own section of
//! BENCHMARKS.md (between markers, kept by the full bench).
//!
//! - **Fan-out**: N clients (10k; `--quick`: 1000) on one livedash with the
//!   in-process broker, then the same N spread over three replicas on one
//!   Redis (the load generator connects to the three ports directly, a
//!   third each). Every server, and Redis, is pinned to the same server core
//!   as the single process, so both rows have the same CPU budget. Then
//!   fewer clients (4000) on the replicas, directly and through HAProxy.
//! - **Redis hop**: a few clients at 20 ticks/s; latency is a frame's `ts`
//!   (set by the producer when it builds the frame) to its arrival at a
//!   client: in process, then on Redis at the producing replica and at
//!   another one.

use crate::bench::{
    load_over, loadavg, machine, num, others_now, pinned, start, Json, Proc, SERVER_CORE,
};
use crate::{root, tools};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Markers of the section this scenario writes.
const BEGIN: &str = "<!-- cluster:begin (written by cargo xtask bench --scenario cluster) -->";
const END: &str = "<!-- cluster:end -->";

/// Replicas in the fan-out comparison.
const REPLICAS: usize = 3;

/// Run the scenario; the BENCHMARKS.md section (markers included).
pub fn measure(quick: bool) -> Result<String, String> {
    let redis_bin = tools::ensure_redis()?;
    let dir = root().join("target/bench-cluster");
    let clients = if quick { 1000 } else { 10_000 };
    let hold = if quick { 5 } else { 15 };
    let few = if quick { 50 } else { 200 };
    // Other work on the machine, sampled before each step.
    let mut seen: Vec<String> = Vec::new();
    let mut max_load = 0.0f64;
    let mut sample = || {
        max_load = max_load.max(loadavg());
        for (name, n) in others_now() {
            if !seen.iter().any(|s| s.starts_with(&format!("`{name}`"))) {
                seen.push(format!("`{name}` ({n})"));
            }
        }
    };
    sample();
    println!("==> cluster: {clients} clients on one process vs {REPLICAS} replicas on Redis");
    let one = {
        let (p, port) = start("livedash", &server_args(&[]))?;
        let r = load_over(&[port], &[p.0.id()], clients, hold, 0)?;
        fanout_row("1 process, in-process broker", &r)
    };
    println!("    {one}");
    sample();
    let three = {
        let redis = Redis::start(&redis_bin, &dir)?;
        let reps = replicas(&redis, REPLICAS, &[])?;
        let ports: Vec<u16> = reps.iter().map(|r| r.1).collect();
        let mut pids: Vec<u32> = reps.iter().map(|r| r.0 .0.id()).collect();
        pids.push(redis.proc.0.id());
        let r = load_over(&ports, &pids, clients, hold, 0)?;
        fanout_row(
            &format!("{REPLICAS} replicas on Redis, a third of the clients each"),
            &r,
        )
    };
    println!("    {three}");
    sample();
    let few_lb = if quick { 300 } else { 4000 };
    let (direct, balanced) = {
        let redis = Redis::start(&redis_bin, &dir)?;
        let reps = replicas(&redis, REPLICAS, &[])?;
        let ports: Vec<u16> = reps.iter().map(|r| r.1).collect();
        let mut pids: Vec<u32> = reps.iter().map(|r| r.0 .0.id()).collect();
        pids.push(redis.proc.0.id());
        let r = load_over(&ports, &pids, few_lb, hold, 0)?;
        let direct = fanout_row(
            &format!("{REPLICAS} replicas, {few_lb} clients, direct"),
            &r,
        );
        let (lb, port) = haproxy(&dir, &ports)?;
        pids.push(lb.0.id());
        let r = load_over(&[port], &pids, few_lb, hold, 0)?;
        let balanced = fanout_row(
            &format!("{REPLICAS} replicas, {few_lb} clients, through HAProxy (round robin)"),
            &r,
        );
        (direct, balanced)
    };
    println!("    {direct}\n    {balanced}");
    println!("==> cluster: the Redis hop ({few} clients, 20 ticks/s)");
    let fast = ["--tick-ms", "50"];
    sample();
    let inproc = {
        let (p, port) = start("livedash", &server_args(&fast))?;
        let r = load_over(&[port], &[p.0.id()], few, hold, 0)?;
        hop_row("in process", &r)
    };
    println!("    {inproc}");
    sample();
    let (producing, other) = {
        let redis = Redis::start(&redis_bin, &dir)?;
        let reps = replicas(&redis, 2, &fast)?;
        let lead = leader(&reps)?;
        let (a, b) = (&reps[lead], &reps[1 - lead]);
        let r1 = load_over(&[a.1], &[a.0 .0.id()], few, hold, 0)?;
        let r2 = load_over(&[b.1], &[b.0 .0.id()], few, hold, 0)?;
        (
            hop_row("Redis, clients on the producing replica", &r1),
            hop_row("Redis, clients on another replica", &r2),
        )
    };
    println!("    {producing}\n    {other}");
    let shared = if seen.is_empty() {
        format!("No other build or browser process was seen (1-minute load average at most {max_load:.1}).")
    } else {
        format!(
            "**The machine was shared** with other work during this run: {} before a step, \
             1-minute load average up to {max_load:.1}; absolute numbers are pessimistic.",
            seen.join(", ")
        )
    };
    let date = std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let machine = machine();
    Ok(format!(
        "{BEGIN}\n## More than one process: replicas on Redis (`cargo xtask bench --scenario cluster`)\n\n\
         Measured {date}{quick}. Machine: {machine}. {shared}\n\n\
         **Same machine, same two cores**: the replicas are not on separate machines here. Every\n\
         server process (the single livedash, or the {REPLICAS} replicas and Redis together) is pinned\n\
         to the same server core, so the rows compare the same CPU budget: what three replicas\n\
         cost beside one process, not what three machines would give. The load generator is the\n\
         same (the bench's `loadgen`, {clients} clients, split over processes as above); for the\n\
         replicas it connects straight to the three ports, a third of the clients each (no load\n\
         balancer at 10k: HAProxy needs two descriptors per client and a process here may hold\n\
         20,000).\n\
         *Spread* is measured across all clients of one load generator process, whichever replica\n\
         they are on (a frame reaches the replicas through Redis at slightly different times);\n\
         *server CPU* sums the replicas and Redis.\n\n\
         | setup | connected | dropped | frames/s | reached all | spread ms p50 / p99 / max | latency ms p50 / p99 | server CPU s/s |\n\
         |---|---|---|---|---|---|---|---|\n{one}\n{three}\n{direct}\n{balanced}\n\n\
         The last two rows put HAProxy (`cargo xtask cluster`'s configuration, HTTP mode with\n\
         WebSocket tunnels, pinned to the same core) in front of the replicas, at fewer clients\n\
         (it holds two descriptors per client); its CPU is in *server CPU*.\n\n\
         ### The Redis hop\n\n\
         Latency is a frame's `ts` (stamped by the producer when it builds the frame) to its\n\
         arrival at a client, {few} clients, `--tick-ms 50`, release build. With Redis the frame\n\
         goes producer → publish script (seq, `XADD`) → every replica's `XREAD` tail → clients;\n\
         the difference to the in-process row is what the hop adds.\n\n\
         | broker | latency ms p50 | p99 | max |\n|---|---|---|---|\n{inproc}\n{producing}\n{other}\n{END}",
        quick = if quick { " with `--quick`" } else { "" },
    ))
}

/// Replace (or append) this scenario's section of BENCHMARKS.md.
pub fn put_section(section: &str) -> Result<(), String> {
    let path = root().join("BENCHMARKS.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".into());
    let doc = match crate::bench::section(&doc, BEGIN, END) {
        Some(old) => doc.replace(&old, section),
        None => format!("{}\n\n{section}\n", doc.trim_end()),
    };
    std::fs::write(&path, doc).map_err(|e| format!("write BENCHMARKS.md: {e}"))
}

/// The current section of BENCHMARKS.md (kept by a full bench that did not
/// measure it).
pub fn kept_section() -> Option<String> {
    let doc = std::fs::read_to_string(root().join("BENCHMARKS.md")).ok()?;
    crate::bench::section(&doc, BEGIN, END)
}

fn server_args(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["--addr", "127.0.0.1:0", "--dist", "/nonexistent"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn fanout_row(setup: &str, r: &Json) -> String {
    let g = |k: &str| num(r, k);
    format!(
        "| {setup} | {:.0}/{:.0} | {:.0} | {:.0} | {:.1} % | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} | {:.2} |",
        g("connected"), g("clients"), g("dropped"), g("frames_per_sec"), g("complete_share") * 100.0,
        g("spread_p50"), g("spread_p99"), g("spread_max"), g("latency_p50"), g("latency_p99"),
        g("server_cpu"),
    )
}

fn hop_row(broker: &str, r: &Json) -> String {
    format!(
        "| {broker} | {:.1} | {:.1} | {:.1} |",
        num(r, "latency_p50"),
        num(r, "latency_p99"),
        num(r, "latency_max"),
    )
}

/// HAProxy in front of `ports` (the configuration of `cargo xtask
/// cluster`), on the server core; its process and port once `/ws` answers.
fn haproxy(dir: &Path, ports: &[u16]) -> Result<(Proc, u16), String> {
    let bin = tools::ensure_haproxy()?;
    let port = crate::cluster::free_port()?;
    let addrs: Vec<std::net::SocketAddr> =
        ports.iter().map(|&p| ([127, 0, 0, 1], p).into()).collect();
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(&cfg, crate::cluster::haproxy_config(port, &addrs))
        .map_err(|e| format!("{}: {e}", cfg.display()))?;
    let child = pinned(Some(SERVER_CORE), bin)
        .arg("-db")
        .arg("-f")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("haproxy: {e}"))?;
    let lb = Proc(child);
    let front: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    wait(
        || crate::cluster::answers(front, "/ws", "HTTP/1.1 101"),
        "/ws through HAProxy",
    )?;
    Ok((lb, port))
}

/// A Redis on a Unix socket in `dir`, no persistence, killed on drop.
struct Redis {
    proc: Proc,
    sock: std::path::PathBuf,
}

impl Redis {
    fn start(bin: &Path, dir: &Path) -> Result<Redis, String> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let sock = dir.join("redis.sock");
        let child = pinned(Some(SERVER_CORE), bin)
            .args(["--port", "0", "--unixsocket"])
            .arg(&sock)
            .arg("--dir")
            .arg(dir)
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("redis-server: {e}"))?;
        let proc = Proc(child);
        wait(
            || std::os::unix::net::UnixStream::connect(&sock).is_ok(),
            "Redis",
        )?;
        Ok(Redis { proc, sock })
    }

    fn url(&self) -> String {
        format!("redis+unix://{}", self.sock.display())
    }
}

/// `n` replicas on `redis`, each with its own data directory; returned
/// once one holds the producer lease and every one reaches Redis.
fn replicas(redis: &Redis, n: usize, extra: &[&str]) -> Result<Vec<(Proc, u16)>, String> {
    let mut v = Vec::new();
    for i in 0..n {
        let data = redis.sock.with_file_name(format!("r{i}"));
        let data = data.display().to_string();
        let mut args = server_args(extra);
        args.extend(["--redis".into(), redis.url(), "--data-dir".into(), data]);
        v.push(start("livedash", &args)?);
    }
    leader(&v)?;
    for (_, port) in &v {
        wait(
            || broker(*port).is_some_and(|b| b["ok"] == true),
            "a replica's broker",
        )?;
    }
    Ok(v)
}

/// The index of the replica holding the producer lease (waits for one).
fn leader(reps: &[(Proc, u16)]) -> Result<usize, String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let leading: Vec<usize> = (0..reps.len())
            .filter(|&i| broker(reps[i].1).is_some_and(|b| b["leader"] == true))
            .collect();
        if let [i] = leading[..] {
            return Ok(i);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err("no replica took the producer lease within 20 s".into())
}

/// `/healthz`'s `broker` object of the server on `port`.
fn broker(port: u16) -> Option<Json> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n")
        .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let body = out.split_once("\r\n\r\n")?.1;
    Some(serde_json::from_str::<Json>(body).ok()?["broker"].clone())
}

/// Poll `ok` for up to 20 s.
fn wait(mut ok: impl FnMut() -> bool, what: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("{what} was not ready within 20 s"))
}
