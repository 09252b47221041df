//! Time forms shared by the server (`/api/history`, `/api/export`) and the
//! page (`?from=&to=` playback): Unix ms, `now`, or Grafana's relative
//! `now-N<unit>`.

/// Parse a time at `now` (Unix ms): Unix ms, `now`, or `now-N<unit>` with
/// unit `ms`, `s`, `m`, `h`, `d`, `w` (Grafana's relative forms). Times
/// before 1970 saturate to 0.
pub fn parse_time(s: &str, now: u64) -> Result<u64, String> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<u64>() {
        return Ok(ms);
    }
    let bad = || format!("{s:?} is not a time: use Unix ms, now, or now-5m / now-1h / now-7d");
    let Some(rest) = s.strip_prefix("now") else {
        return Err(bad());
    };
    if rest.is_empty() {
        return Ok(now);
    }
    let rest = rest.strip_prefix('-').ok_or_else(bad)?;
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    let (n, unit) = rest.split_at(digits);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(bad()),
    };
    Ok(now.saturating_sub(n.saturating_mul(unit_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grafana_forms() {
        let now = 1_800_000_000_000;
        assert_eq!(parse_time("1234", now), Ok(1234));
        assert_eq!(parse_time(" now ", now), Ok(now));
        assert_eq!(parse_time("now-5m", now), Ok(now - 300_000));
        assert_eq!(parse_time("now-1h", now), Ok(now - 3_600_000));
        assert_eq!(parse_time("now-1d", now), Ok(now - 86_400_000));
        assert_eq!(parse_time("now-2w", now), Ok(now - 14 * 86_400_000));
        assert_eq!(parse_time("now-250ms", 1000), Ok(750));
        assert_eq!(parse_time("now-7d", 5), Ok(0), "saturates");
        for bad in [
            "",
            "yesterday",
            "now+1h",
            "now-h",
            "now-5y",
            "-5",
            "now-1.5h",
        ] {
            let e = parse_time(bad, now).unwrap_err();
            assert!(e.contains("not a time"), "{bad}: {e}");
        }
    }
}
