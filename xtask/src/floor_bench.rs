//! The bare write loop (`write-floor`, [`livedash_bench::floor`]) under a
//! scenario's load: what one `write(2)` per client costs the kernel on the
//! server core, printed beside the fan-out and CPU targets it explains. No
//! target is derived from it.

use crate::bench::{load, num, start, Json};

/// The write loop at `rate_hz` rounds a second, frames of `frame_bytes`,
/// under the same load generator as livedash: the load generator's report
/// with the loop's own round statistics added (`floor_round_p50_ms`,
/// `floor_round_p99_ms`, `floor_cpu_us_per_write`, `floor_rounds`,
/// `floor_short_writes`), over the rounds that reached all `clients`.
pub fn run(clients: usize, hold: u64, frame_bytes: usize, rate_hz: f64) -> Result<Json, String> {
    let report = std::env::temp_dir().join(format!("livedash-floor-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&report);
    let args = vec![
        "--frame-bytes".to_string(),
        frame_bytes.to_string(),
        "--rate-hz".into(),
        rate_hz.to_string(),
        "--report".into(),
        report.display().to_string(),
    ];
    let (floor, port) = start("write-floor", &args)?;
    let mut r = load(port, floor.0.id(), clients, hold, 0)?;
    drop(floor);
    let rounds: Vec<Json> = std::fs::read(&report)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let _ = std::fs::remove_file(&report);
    let stats = summarize(&rounds, clients);
    if let (Some(obj), Json::Object(add)) = (r.as_object_mut(), stats) {
        obj.extend(add);
    }
    Ok(r)
}

/// Round statistics over the rounds that wrote to all `clients`.
fn summarize(rounds: &[Json], clients: usize) -> Json {
    let full: Vec<&Json> = rounds
        .iter()
        .filter(|x| num(x, "clients") as usize == clients)
        .collect();
    let mut wall: Vec<f64> = full.iter().map(|x| num(x, "wall_us") / 1e3).collect();
    wall.sort_by(f64::total_cmp);
    let at = |q: f64| {
        wall.get(((wall.len().max(1) - 1) as f64 * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let cpu: f64 = full.iter().map(|x| num(x, "cpu_us")).sum();
    let writes = (full.len() * clients).max(1) as f64;
    serde_json::json!({
        "floor_rounds": full.len(),
        "floor_round_p50_ms": at(0.5),
        "floor_round_p99_ms": at(0.99),
        "floor_cpu_us_per_write": cpu / writes,
        "floor_short_writes": full.iter().map(|x| num(x, "short")).sum::<f64>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rounds_that_reached_every_client_count() {
        let rounds: Vec<Json> = serde_json::from_str(
            r#"[{"clients":3,"wall_us":100.0,"cpu_us":90.0,"short":0},
                {"clients":4,"wall_us":2000.0,"cpu_us":40.0,"short":0},
                {"clients":4,"wall_us":4000.0,"cpu_us":80.0,"short":1},
                {"clients":2,"wall_us":50.0,"cpu_us":10.0,"short":0}]"#,
        )
        .unwrap();
        let s = summarize(&rounds, 4);
        assert_eq!(num(&s, "floor_rounds"), 2.0);
        assert_eq!(num(&s, "floor_round_p50_ms"), 4.0);
        assert_eq!(num(&s, "floor_round_p99_ms"), 4.0);
        assert_eq!(num(&s, "floor_cpu_us_per_write"), 15.0);
        assert_eq!(num(&s, "floor_short_writes"), 1.0);
    }
}
