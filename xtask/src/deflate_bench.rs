//! `cargo xtask bench --scenario deflate` (also part of the full bench):
//! compress once at scale. livedash and the Node `ws` peer at 1,000 and
//! 10,000 clients (default 1 s ticks, the shape of `capacity`; `--quick`:
//! 200 and 1,000), every client of the load generator offering
//! permessage-deflate (`loadgen --deflate`). livedash deflates each topic
//! frame once for every client that negotiated it; the peer (`--deflate`:
//! ws's `perMessageDeflate`, threshold 0 like livedash) compresses it once
//! per client. The peer sends the body of livedash's own `orders` frame
//! (of one load generator client's frames from livedash at the same client
//! count, the one nearest their mean size), so both compress the same bytes.
//!
//! Writes its own section of BENCHMARKS.md between markers (a full bench
//! writes it after the other sections; `--scenario deflate` replaces only
//! it). Beside each row: the same server's numbers without deflate from
//! the `capacity` rows of the same run, when that run has them (a partial
//! run has none: no reference is invented).

use crate::bench::{
    load_over_with, loadavg, machine, num, others_now, start, start_node, versus, Json,
};
use crate::root;

/// Markers of the section this scenario writes.
pub const BEGIN: &str = "<!-- deflate:begin (written by cargo xtask bench) -->";
pub const END: &str = "<!-- deflate:end -->";

/// One `capacity` run of the same bench (no deflate), as a reference.
pub struct Plain<'a> {
    /// Its client count (a row matches only the same count).
    pub clients: usize,
    /// livedash's merged loadgen report.
    pub livedash: &'a Json,
    /// The Node peer's, when that count was compared.
    pub node: Option<&'a Json>,
}

/// One measured row.
struct Row {
    /// `livedash` or `node ws peer`.
    server: &'static str,
    /// Clients opened.
    clients: usize,
    /// The merged loadgen report (with deflate).
    r: Json,
    /// The same server's capacity report at the same count, if any.
    plain: Option<Json>,
}

/// Client counts and hold seconds (as `capacity`).
fn sizes(quick: bool) -> (Vec<usize>, u64) {
    match quick {
        true => (vec![200, 1000], 5),
        false => (vec![1000, 10_000], 15),
    }
}

/// Run the scenario; the BENCHMARKS.md section (markers included).
pub fn measure(quick: bool, plain: &[Plain]) -> Result<String, String> {
    let (sizes, hold) = sizes(quick);
    let mut seen: Vec<String> = Vec::new();
    let mut max_load = 0.0f64;
    let mut rows = Vec::new();
    let mut body_notes = Vec::new();
    for n in sizes {
        max_load = max_load.max(loadavg());
        for (name, k) in others_now() {
            if !seen.iter().any(|s| s.starts_with(&format!("`{name}`"))) {
                seen.push(format!("`{name}` ({k})"));
            }
        }
        let reference = plain.iter().find(|p| p.clients == n);
        println!("==> deflate: livedash, {n} clients offering permessage-deflate");
        let args = ["--addr", "127.0.0.1:0", "--dist", "/nonexistent"].map(String::from);
        let (server, port) = start("livedash", &args)?;
        let r = load_over_with(&[port], &[server.0.id()], n, hold, 0, &["--deflate"])?;
        drop(server);
        println!("    {}", row_text("livedash", n, &r, None));
        let (node_args, note) = node_args(n, &r)?;
        body_notes.push(note);
        println!("==> deflate: node ws peer, {n} clients offering permessage-deflate");
        let (node, port) = start_node(&node_args)?;
        let nr = load_over_with(&[port], &[node.0.id()], n, hold, 0, &["--deflate"])?;
        drop(node);
        println!("    {}", row_text("node ws peer", n, &nr, None));
        rows.push(Row {
            server: "livedash",
            clients: n,
            r,
            plain: reference.map(|p| p.livedash.clone()),
        });
        rows.push(Row {
            server: "node ws peer",
            clients: n,
            r: nr,
            plain: reference.and_then(|p| p.node.cloned()),
        });
    }
    let shared = match seen.is_empty() {
        true => format!("No other build or browser process was seen (1-minute load average at most {max_load:.1})."),
        false => format!(
            "**The machine was shared**: {} ran beside it; 1-minute load average up to {max_load:.1}.",
            seen.join(", ")
        ),
    };
    Ok(section(quick, &rows, &shared, &body_notes))
}

/// The Node peer's flags for `n` clients: livedash's periods and the body
/// of the `orders` frame the load generator kept from livedash (written to
/// a file), or, without one, padding of livedash's mean size (said in the
/// section: padding compresses far better than livedash's JSON).
fn node_args(n: usize, r: &Json) -> Result<(Vec<String>, String), String> {
    let mut args: Vec<String> = ["--deflate", "--tick-ms", "1000", "--system-ms", "1000"]
        .map(String::from)
        .to_vec();
    match r["orders_sample"].as_str().and_then(orders_body) {
        Some(body) => {
            let dir = root().join("target/bench-deflate");
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let file = dir.join(format!("orders-{n}.json"));
            std::fs::write(&file, body).map_err(|e| format!("{}: {e}", file.display()))?;
            args.extend(["--orders-file".into(), file.display().to_string()]);
            Ok((
                args,
                format!("{n} clients: livedash's `orders` body ({} B)", body.len()),
            ))
        }
        None => {
            let size = format!("{:.0}", num(r, "orders_mean_bytes").max(64.0));
            let note = format!("{n} clients: **padding of {size} B** (no livedash frame kept)");
            args.extend(["--orders-bytes".into(), size]);
            Ok((args, note))
        }
    }
}

/// The body of a livedash `orders` frame as the Node peer takes it: what
/// follows `{"type":"orders","seq":N,"ts":MS,`, without the closing brace.
pub fn orders_body(frame: &str) -> Option<&str> {
    let rest = frame.strip_prefix("{\"type\":\"orders\",\"seq\":")?;
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = rest.strip_prefix(",\"ts\":")?;
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    let body = rest.strip_prefix(',')?.strip_suffix('}')?;
    (!body.is_empty()).then_some(body)
}

/// Server CPU µs per delivered frame.
fn cpu_us(r: &Json) -> f64 {
    num(r, "server_cpu") / num(r, "frames_per_sec").max(1e-9) * 1e6
}

/// KiB per client per minute from a bytes-per-second field.
fn kib_per_min(r: &Json, field: &str) -> f64 {
    num(r, field) / num(r, "connected").max(1.0) * 60.0 / 1024.0
}

/// One table row; `plain` adds the no-deflate reference columns.
fn row_text(server: &str, clients: usize, r: &Json, plain: Option<Option<&Json>>) -> String {
    let g = |k: &str| num(r, k);
    let mut s = format!(
        "| {server} | {clients} clients, 1 s ticks | {:.0}/{:.0} ({:.0} refused) | {:.0} | {:.2} | {:.1} % | {:.1} / {:.1} | {:.1} µs | {:.1} KiB | {:.1} ({:.1}) |",
        g("deflate_negotiated"), g("clients"), g("deflate_refused"), g("frame_errors"),
        g("frames_per_sec") / g("connected").max(1.0), g("complete_share") * 100.0, g("spread_p50"), g("spread_p99"), cpu_us(r),
        g("rss_per_client_kib"), kib_per_min(r, "wire_bytes_per_sec"), kib_per_min(r, "bytes_per_sec"),
    );
    match plain {
        None => {}
        Some(Some(p)) => s.push_str(&format!(
            " {:.1} µs, {:.1} KiB, {:.1} |",
            cpu_us(p),
            num(p, "rss_per_client_kib"),
            kib_per_min(p, "bytes_per_sec")
        )),
        Some(None) => s.push_str(" — |"),
    }
    s
}

/// The livedash-vs-Node line of `clients`.
fn ratio_text(clients: usize, l: &Json, n: &Json) -> String {
    format!(
        "| {clients} clients | {} | {} | {:.1} vs {:.1} KiB | {:.1} vs {:.1} ms |",
        versus(cpu_us(l), cpu_us(n), "µs"),
        versus(
            num(l, "rss_per_client_kib"),
            num(n, "rss_per_client_kib"),
            "KiB"
        ),
        kib_per_min(l, "wire_bytes_per_sec"),
        kib_per_min(n, "wire_bytes_per_sec"),
        num(l, "spread_p99"),
        num(n, "spread_p99"),
    )
}

fn section(quick: bool, rows: &[Row], shared: &str, body_notes: &[String]) -> String {
    let table: Vec<String> = rows
        .iter()
        .map(|x| row_text(x.server, x.clients, &x.r, Some(x.plain.as_ref())))
        .collect();
    let ratios: Vec<String> = rows
        .chunks(2)
        .filter(|p| p.len() == 2)
        .map(|p| ratio_text(p[0].clients, &p[0].r, &p[1].r))
        .collect();
    let date = utc_now();
    let partial = match rows.iter().all(|x| x.plain.is_none()) {
        true => {
            " This run had no `capacity` rows at these counts (`--scenario deflate` alone, or a\n\
                 `--quick` run): the full `cargo xtask bench` fills the last column."
        }
        false => "",
    };
    format!(
        "{BEGIN}\n## Compress once at scale (`cargo xtask bench --scenario deflate`)\n\n\
         Measured {date}{quick}. Machine: {machine}.\n\
         {shared}\n\
         Pinning as above: each server on its core, one load generator process on the other, two\n\
         unpinned above 9,950 clients.\n\n\
         What was measured: livedash and the Node `ws` peer at default 1 s ticks (the `capacity`\n\
         shape), every load generator client offering permessage-deflate\n\
         (`server_no_context_takeover; client_no_context_takeover`) and inflating each compressed\n\
         message (a fresh context per message) before reading its type, seq and ts; a client the\n\
         server answers without deflate counts as refused, a message that does not inflate or scan\n\
         as an error, neither as delivered (*frames per client per s*: delivered; 2 nominal, plus\n\
         a `clients` frame when the count changed). livedash deflates each topic frame once and writes those\n\
         bytes to every client that negotiated it; the peer (`server.js --deflate`: ws's\n\
         `perMessageDeflate` with a threshold of 0, as livedash compresses every topic frame, and\n\
         otherwise ws's defaults) compresses each frame once per client, with a zlib stream kept\n\
         per connection. The peer's `orders` frames carry the body of the `orders` frame nearest the\n\
         mean size that one load generator client read from livedash at the same client count (its seq and ts its own), so\n\
         both compress the same bytes ({}).\n\
         *Wire* is the payload bytes as received (compressed), *inflated* the same frames after\n\
         inflating, both per client per minute over the steady window; frame headers and the\n\
         snapshot are not counted. The last column is the same server in this run's `capacity`\n\
         rows (no deflate), when the run has one at that count (`—`: none).{partial}\n\n\
         | server | load | deflate negotiated | errors | frames per client per s | reached all | spread ms p50 / p99 | server CPU per delivered frame | server KiB/client | wire KiB per client per min (inflated) | without deflate, same run: CPU per frame, KiB/client, KiB per client per min |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n{}\n\n\
         | load | server CPU per delivered frame with deflate, livedash vs Node (ratio) | server KiB/client, livedash vs Node (ratio) | wire KiB per client per min, livedash vs Node | p99 spread, livedash vs Node |\n\
         |---|---|---|---|---|\n{}\n{END}",
        body_notes.join("; "),
        table.join("\n"),
        ratios.join("\n"),
        quick = if quick { " with `--quick`" } else { "" },
        machine = machine(),
    )
}

fn utc_now() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// `--scenario deflate` alone: no `capacity` rows in this run, so no
/// references; its section replaced (not with `--quick`).
pub fn only(quick: bool) -> Result<(), String> {
    crate::tools::ensure_node_peer()?;
    let section = measure(quick, &[])?;
    println!("{section}");
    if quick {
        println!("==> --quick: BENCHMARKS.md left as it is");
        return Ok(());
    }
    put_section(&section)?;
    println!("==> BENCHMARKS.md: deflate section rewritten");
    Ok(())
}

/// Replace (or append) this scenario's section of BENCHMARKS.md.
pub fn put_section(section: &str) -> Result<(), String> {
    crate::report::update(section, BEGIN, END, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_orders_body_is_the_frame_after_its_head() {
        let f = r#"{"type":"orders","seq":12,"ts":1700000000000,"num_orders":3,"by_country":[{"name":"China"}]}"#;
        assert_eq!(
            orders_body(f),
            Some(r#""num_orders":3,"by_country":[{"name":"China"}]"#)
        );
        assert_eq!(
            orders_body(r#"{"type":"system","seq":1,"ts":2,"x":1}"#),
            None
        );
        assert_eq!(orders_body(r#"{"type":"orders","seq":1,"ts":2}"#), None);
        assert_eq!(
            orders_body(r#"{"type":"orders","seq":1,"x":2,"y":3}"#),
            None
        );
    }

    #[test]
    fn a_partial_run_replaces_only_this_section() {
        let rows = [Row {
            server: "livedash",
            clients: 1000,
            r: serde_json::json!({"clients": 1000.0}),
            plain: None,
        }];
        let new = section(false, &rows, "quiet", &["note".into()]);
        assert!(new.starts_with(BEGIN) && new.ends_with(END), "{new}");
        assert!(
            new.contains("| livedash | 1000 clients, 1 s ticks |"),
            "{new}"
        );
        assert!(
            new.contains("fills the last column"),
            "no reference: said so"
        );
        let doc = format!(
            "# B\n\n<!-- page:begin -->\npage\n<!-- page:end -->\n\n{BEGIN}\nold\n{END}\n\n<!-- soak:begin -->\nsoak\n"
        );
        let out = crate::report::put(&doc, &new, BEGIN, END, &[]);
        assert!(!out.contains("\nold\n") && out.contains(&new), "{out}");
        assert!(
            out.contains("<!-- page:end -->") && out.ends_with("soak\n"),
            "{out}"
        );
    }

    #[test]
    fn rows_put_the_same_runs_plain_numbers_beside_or_a_dash() {
        let r = serde_json::json!({
            "clients": 1000.0, "connected": 1000.0, "deflate_negotiated": 1000.0,
            "deflate_refused": 0.0, "frame_errors": 0.0, "complete_share": 1.0,
            "spread_p50": 5.0, "spread_p99": 11.0, "server_cpu": 0.02, "frames_per_sec": 2000.0,
            "rss_per_client_kib": 6.0, "wire_bytes_per_sec": 1024.0 * 1000.0 / 60.0 * 30.0,
            "bytes_per_sec": 1024.0 * 1000.0 / 60.0 * 60.0,
        });
        let p = serde_json::json!({
            "connected": 1000.0, "server_cpu": 0.01, "frames_per_sec": 2000.0,
            "rss_per_client_kib": 5.0, "bytes_per_sec": 1024.0 * 1000.0 / 60.0 * 58.0,
        });
        let with = row_text("livedash", 1000, &r, Some(Some(&p)));
        assert!(
            with.ends_with("| 1000/1000 (0 refused) | 0 | 2.00 | 100.0 % | 5.0 / 11.0 | 10.0 µs | 6.0 KiB | 30.0 (60.0) | 5.0 µs, 5.0 KiB, 58.0 |"),
            "{with}"
        );
        assert!(row_text("node ws peer", 1000, &r, Some(None)).ends_with("| 30.0 (60.0) | — |"));
        let mut n = r.clone();
        n["server_cpu"] = 0.08.into();
        n["rss_per_client_kib"] = 300.0.into();
        let line = ratio_text(1000, &r, &n);
        assert!(line.contains("10.0 vs 40.0 µs (0.25×)"), "{line}");
        assert!(line.contains("6.0 vs 300.0 KiB (0.02×)"), "{line}");
    }
}
