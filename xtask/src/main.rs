//! `cargo xtask <run|test|bench>`: livedash's project automation.
//!
//! Works on a fresh machine that has only the Rust toolchain: whatever is
//! missing (wasm32 target, trunk 0.21, wasm-bindgen-cli at the Cargo.lock
//! version, node/npm and the npm packages, chromium and chromedriver for
//! tests) is installed first, then skipped on later runs.

mod bench;
mod cluster;
mod cluster_bench;
mod deflate_bench;
mod filter_bench;
mod floor_bench;
mod lighthouse;
mod page;
mod report;
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  run [-- SERVER FLAGS]   install what is missing, build the page bundle and the
                          server (release), serve http://127.0.0.1:8000
  test                    every test: unit, integration, end-to-end in headless Chromium
  bench [--quick]         fan-out benchmarks, page load, Lighthouse, one process vs
                          three replicas on Redis, permessage-deflate at scale;
                          rewrites BENCHMARKS.md
  bench --scenario NAME   one part only (capacity, stress, bigtick, slow, page,
                          lighthouse, cluster, deflate); `page`, `lighthouse`,
                          `cluster` and `deflate` update their own section (and
                          target rows) of BENCHMARKS.md
  soak [--minutes N]      one tab at 20 updates/s for N minutes (default 30):
                          JS heap and wasm memory slopes, DOM nodes, ECharts
                          instances; writes its section of BENCHMARKS.md
  soak --record           put the last soak's target/soak.md into BENCHMARKS.md
  cluster [--no-build]    Redis + three `livedash --redis` replicas + HAProxy on
                          loopback; prints `cluster ready: URL`; Ctrl-C stops all";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("test") => test(),
        Some("bench") => bench::main(&args[1..]),
        Some("soak") => soak(&args[1..]),
        Some("cluster") => cluster::main(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    };
    if let Err(e) = result {
        eprintln!("xtask: error: {e}");
        std::process::exit(1);
    }
}

/// The workspace root (xtask's parent directory).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// The cargo that runs us.
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

/// Print a step, run it, say how long it took.
pub fn step(what: &str, cmd: &mut Command) -> Result<(), String> {
    println!("==> {what}");
    let t = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: cannot start {:?}: {e}", cmd.get_program()))?;
    if !status.success() {
        return Err(format!("{what}: failed ({status})"));
    }
    println!("    {what}: done in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

/// Install the build tools, build the bundle into dist/ and the release server.
pub fn build_all() -> Result<PathBuf, String> {
    tools::ensure_build_tools()?;
    tools::build_bundle()?;
    step(
        "build the server (release)",
        cargo().args(["build", "--release", "-p", "livedash-server"]),
    )?;
    Ok(root().join("target/release/livedash"))
}

/// The server's arguments for `cargo xtask run -- FLAGS`: the defaults
/// (`--addr 127.0.0.1:8000 --dist dist`) unless the user's flags or the
/// environment set them (a flag given twice is a clap error), then the
/// user's flags. Also the address to print.
pub fn run_args(extra: &[String], env_addr: Option<String>) -> (Vec<String>, String) {
    let extra: Vec<String> = extra.iter().skip_while(|a| *a == "--").cloned().collect();
    let given = |flag: &str| {
        extra
            .iter()
            .position(|a| a == flag || a.starts_with(&format!("{flag}=")))
    };
    let mut args = Vec::new();
    let addr = match given("--addr") {
        Some(i) => match extra[i].split_once('=') {
            Some((_, v)) => v.to_string(),
            None => extra.get(i + 1).cloned().unwrap_or_default(),
        },
        None => match env_addr {
            Some(a) => a,
            None => {
                args.extend(["--addr".to_string(), "127.0.0.1:8000".to_string()]);
                "127.0.0.1:8000".to_string()
            }
        },
    };
    if given("--dist").is_none() && std::env::var_os("LIVEDASH_DIST").is_none() {
        args.extend(["--dist".to_string(), "dist".to_string()]);
    }
    args.extend(extra);
    (args, addr)
}

fn run(extra: &[String]) -> Result<(), String> {
    let bin = build_all()?;
    let (args, addr) = run_args(extra, std::env::var("LIVEDASH_ADDR").ok());
    println!("==> livedash is starting: open http://{addr} (Ctrl-C stops it)");
    let status = Command::new(bin)
        .current_dir(root())
        .args(args)
        .status()
        .map_err(|e| format!("cannot start livedash: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("livedash exited with {status}"))
    }
}

fn test() -> Result<(), String> {
    let t = Instant::now();
    let pg_bin = tools::ensure_postgres()?;
    let redis_bin = tools::ensure_redis()?;
    step(
        "unit and integration tests",
        cargo()
            .args(["test", "--workspace", "--exclude", "livedash-e2e"])
            .env("LIVEDASH_PG_BIN", &pg_bin)
            .env("LIVEDASH_REDIS_BIN", &redis_bin),
    )?;
    let bin = build_all()?;
    let haproxy = tools::ensure_haproxy()?;
    step(
        "end-to-end tests in headless Chromium",
        e2e_tests(&bin, Some(&pg_bin))?
            .env("LIVEDASH_REDIS_BIN", &redis_bin)
            .env("LIVEDASH_HAPROXY_BIN", &haproxy)
            .args(["--", "--test-threads=1"]),
    )?;
    println!("==> all tests passed in {:.0} s", t.elapsed().as_secs_f64());
    Ok(())
}

/// `cargo test -p livedash-e2e` against the release server `bin`, the
/// built bundle and the installed browser (installed first when missing).
pub fn e2e_tests(bin: &Path, pg_bin: Option<&Path>) -> Result<Command, String> {
    let (chromium, chromedriver) = tools::ensure_browser()?;
    let mut c = cargo();
    if let Some(pg) = pg_bin {
        c.env("LIVEDASH_PG_BIN", pg);
    }
    c.args(["test", "-p", "livedash-e2e"])
        .env("LIVEDASH_BIN", bin)
        .env("LIVEDASH_DIST", root().join("dist"))
        .env("CHROMIUM", chromium)
        .env("CHROMEDRIVER", chromedriver);
    Ok(c)
}

fn soak(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "--record") {
        // A soak run outside xtask (its test binary started by hand) left
        // target/soak.md: put it into BENCHMARKS.md.
        let section = std::fs::read_to_string(root().join("target/soak.md"))
            .map_err(|e| format!("target/soak.md: {e}"))?;
        bench::put_soak_section(&section)?;
        println!("==> BENCHMARKS.md: soak section updated from target/soak.md");
        return Ok(());
    }
    let minutes = match args.iter().position(|a| a == "--minutes") {
        Some(i) => args
            .get(i + 1)
            .and_then(|m| m.parse::<u64>().ok())
            .ok_or("--minutes takes a whole number")?,
        None => 30,
    };
    let bin = build_all()?;
    let _ = std::fs::remove_file(root().join("target/soak.md"));
    let result = step(
        &format!("soak: one tab at 20 updates/s for {minutes} min"),
        e2e_tests(&bin, None)?
            .args(["--test", "soak", "--", "--ignored", "--nocapture"])
            .env("LIVEDASH_SOAK_MINUTES", minutes.to_string()),
    );
    // The curve goes into BENCHMARKS.md (pass or fail), between markers
    // that `cargo xtask bench` keeps.
    if let Ok(section) = std::fs::read_to_string(root().join("target/soak.md")) {
        bench::put_soak_section(&section)?;
        println!("==> BENCHMARKS.md: soak section updated");
    }
    result
}

#[cfg(test)]
mod tests {
    use super::run_args;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn run_passes_user_flags_without_doubling_addr_or_dist() {
        let (args, addr) = run_args(&strings(&["--", "--tick-ms", "200"]), None);
        assert_eq!(
            args,
            strings(&[
                "--addr",
                "127.0.0.1:8000",
                "--dist",
                "dist",
                "--tick-ms",
                "200"
            ])
        );
        assert_eq!(addr, "127.0.0.1:8000");
        let (args, addr) = run_args(&strings(&["--addr", "127.0.0.1:9000", "--dist", "x"]), None);
        assert_eq!(args, strings(&["--addr", "127.0.0.1:9000", "--dist", "x"]));
        assert_eq!(addr, "127.0.0.1:9000");
        let (args, addr) = run_args(&strings(&["--addr=0.0.0.0:80"]), None);
        assert_eq!(args, strings(&["--dist", "dist", "--addr=0.0.0.0:80"]));
        assert_eq!(addr, "0.0.0.0:80");
        let (args, addr) = run_args(&[], Some("127.0.0.1:7000".into()));
        assert!(!args.contains(&"--addr".to_string()), "{args:?}");
        assert_eq!(addr, "127.0.0.1:7000");
    }
}
