//! The filter-set rows of BENCHMARKS.md's microbenchmark table: runs
//! `target/release/filterbench` (built with the other bench tools) and
//! formats µs per orders tick for 0, 1, 10 and 100 distinct filter sets.

use crate::root;
use std::process::Command;

/// One row per rate: median (p99) µs per tick by number of sets.
pub fn table() -> Result<String, String> {
    let out = Command::new(root().join("target/release/filterbench"))
        .output()
        .map_err(|e| format!("filterbench: {e}"))?;
    let m: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("filterbench output: {e}"))?;
    Ok(rows(&m))
}

/// The table from filterbench's JSON (pure, for the test).
fn rows(m: &serde_json::Value) -> String {
    let g = |k: String| m[&k].as_f64().unwrap_or(f64::NAN);
    let mut s = String::from(
        "\n| filter sets: µs per orders tick, median (p99) | window | 0 sets | 1 set | 10 sets | 100 sets |\n\
         |---|---|---|---|---|---|\n",
    );
    for (rate, what) in [
        ("default", "default rate (2 orders/s, 1 s ticks)"),
        ("high", "high ingest rate (~500 records a tick)"),
    ] {
        let cell = |n: u32| {
            format!(
                "{:.1} ({:.1})",
                g(format!("{rate}_{n}_us_median")),
                g(format!("{rate}_{n}_us_p99"))
            )
        };
        s.push_str(&format!(
            "| {what} | {:.0} records | {} | {} | {} | {} |\n",
            g(format!("{rate}_window_records")),
            cell(0),
            cell(1),
            cell(10),
            cell(100)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn rows_read_the_bench_keys() {
        let m = serde_json::json!({"default_window_records": 900, "default_100_us_median": 98.24,
            "default_100_us_p99": 120.0});
        let t = super::rows(&m);
        assert!(
            t.contains("| default rate (2 orders/s, 1 s ticks) | 900 records |"),
            "{t}"
        );
        assert!(t.contains("| 98.2 (120.0) |"), "{t}");
    }
}
