//! Number and time formatting for the page. Pure, tested natively.

/// `1234567` → `"1,234,567"`.
pub fn int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1234.5` → `"$1,234.50"`; negative values get a leading `-`.
pub fn money(x: f64) -> String {
    let cents = (x.abs() * 100.0).round() as u64;
    let sign = if x < 0.0 && cents > 0 { "-" } else { "" };
    format!("{sign}${}.{:02}", int(cents / 100), cents % 100)
}

/// Signed change of a count: `"+3"`, `"-2"`, `"0"`.
pub fn signed_int(d: i64) -> String {
    match d {
        0 => "0".into(),
        d if d > 0 => format!("+{}", int(d as u64)),
        d => format!("-{}", int(d.unsigned_abs())),
    }
}

/// Signed change of money: `"+$12.30"`, `"-$4.00"`, `"$0.00"`.
pub fn signed_money(d: f64) -> String {
    let cents = (d.abs() * 100.0).round() as u64;
    if cents == 0 {
        return "$0.00".into();
    }
    let sign = if d > 0.0 { "+" } else { "-" };
    format!("{sign}{}", money(d.abs()))
}

/// Direction of a change, for the arrow and its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    Up,
    Down,
    Flat,
}

impl Trend {
    /// The trend of a signed change (money rounded to cents first).
    pub fn of(d: f64) -> Trend {
        let cents = (d * 100.0).round();
        if cents > 0.0 {
            Trend::Up
        } else if cents < 0.0 {
            Trend::Down
        } else {
            Trend::Flat
        }
    }

    /// Arrow glyph.
    pub fn arrow(self) -> &'static str {
        match self {
            Trend::Up => "▲",
            Trend::Down => "▼",
            Trend::Flat => "■",
        }
    }

    /// CSS class.
    pub fn class(self) -> &'static str {
        match self {
            Trend::Up => "up",
            Trend::Down => "down",
            Trend::Flat => "flat",
        }
    }
}

/// Bytes with binary units: `1536` → `"1.5 KiB"`.
pub fn bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b.max(0.0);
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 || v >= 100.0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A rate in bytes per second.
pub fn rate(bps: f64) -> String {
    format!("{}/s", bytes(bps))
}

/// `12.345` → `"12.3 %"`.
pub fn percent(p: f64) -> String {
    format!("{:.1} %", p)
}

/// Share of `used` in `total` as a percentage (0 when total is 0).
pub fn share(used: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        used as f64 * 100.0 / total as f64
    }
}

/// Wall-clock `HH:MM:SS` of an epoch-ms time, shifted by the local offset
/// (minutes east of UTC).
pub fn clock(ts_ms: u64, offset_min: i64) -> String {
    let secs = (ts_ms / 1000) as i64 + offset_min * 60;
    let day = secs.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60)
}

/// Time-axis labels of a series of times, one per point: `HH:MM:SS`, or
/// `HH:MM:SS.d` when points come faster than one a second (so no two
/// neighbouring labels read the same).
pub fn clock_labels(ts: &[u64], offset_min: i64) -> Vec<String> {
    let sub_second = ts.windows(2).any(|w| w[1].saturating_sub(w[0]) < 1000);
    ts.iter()
        .map(|&t| match sub_second {
            false => clock(t, offset_min),
            true => format!("{}.{}", clock(t, offset_min), t % 1000 / 100),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_labels_never_repeat_a_neighbour() {
        let second = [1_000, 2_000, 3_000];
        assert_eq!(
            clock_labels(&second, 0),
            ["00:00:01", "00:00:02", "00:00:03"]
        );
        let fast = [1_000, 1_250, 1_500, 1_750];
        let l = clock_labels(&fast, 0);
        assert_eq!(l, ["00:00:01.0", "00:00:01.2", "00:00:01.5", "00:00:01.7"]);
        assert!(l.windows(2).all(|w| w[0] != w[1]));
        assert!(clock_labels(&[], 0).is_empty());
    }

    #[test]
    fn thousands() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1000), "1,000");
        assert_eq!(int(1234567), "1,234,567");
    }

    #[test]
    fn money_and_deltas() {
        assert_eq!(money(1234.5), "$1,234.50");
        assert_eq!(money(0.0), "$0.00");
        assert_eq!(money(-3.456), "-$3.46");
        assert_eq!(signed_money(12.3), "+$12.30");
        assert_eq!(signed_money(-4.0), "-$4.00");
        assert_eq!(signed_money(0.001), "$0.00");
        assert_eq!(signed_int(3), "+3");
        assert_eq!(signed_int(-1200), "-1,200");
        assert_eq!(signed_int(0), "0");
        assert_eq!(Trend::of(0.004), Trend::Flat);
        assert_eq!(Trend::of(-0.01), Trend::Down);
        assert_eq!(Trend::of(2.0).class(), "up");
    }

    #[test]
    fn bytes_and_percent() {
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        assert_eq!(rate(5.0 * 1024.0 * 1024.0), "5.0 MiB/s");
        assert_eq!(bytes(300.0 * 1024.0 * 1024.0 * 1024.0), "300 GiB");
        assert_eq!(percent(12.345), "12.3 %");
        assert_eq!(share(1, 4), 25.0);
        assert_eq!(share(1, 0), 0.0);
    }

    #[test]
    fn clock_time() {
        assert_eq!(clock(0, 0), "00:00:00");
        assert_eq!(clock(3_723_000, 60), "02:02:03");
        assert_eq!(clock(1000, -60), "23:00:01");
    }
}
