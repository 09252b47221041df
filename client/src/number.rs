//! Numbers a person types (form fields, CSS pixel values, a range input's
//! value) read as `f64`. Pure, tested natively.
//!
//! `str::parse::<f64>` would bring core's decimal-to-float parser into the
//! wasm: its code and its 21 KB table of powers of five, which compress
//! badly (~10 KB of the gzip). serde_json's number parser is in the wasm
//! already (every frame is JSON), so [`parse_f64`] checks Rust's grammar
//! for a decimal number and hands the number to it, rewritten in JSON's
//! (no `+`, no leading zeros, digits on both sides of the point).

/// A finite decimal number in Rust's `f64` syntax (`12`, `-0.5`, `.5`,
/// `5.`, `+1e3`, `007`), no surrounding blanks; `None` for anything else,
/// `inf` and `NaN` included, and for magnitudes beyond `f64`.
pub fn parse_f64(s: &str) -> Option<f64> {
    let (minus, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return None;
    }
    let mut json = String::with_capacity(s.len() + 3);
    if minus {
        json.push('-');
    }
    match int.trim_start_matches('0') {
        "" => json.push('0'),
        int => json.push_str(int),
    }
    if !frac.is_empty() {
        json.push('.');
        json.push_str(frac);
    }
    if let Some(e) = exponent {
        let e_digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        if e_digits.is_empty() || !digits(e_digits) {
            return None;
        }
        json.push('e');
        json.push_str(e);
    }
    serde_json::from_str::<f64>(&json)
        .ok()
        .filter(|x| x.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finite_decimals_read_as_rust_reads_them() {
        for s in [
            "0",
            "12",
            "-0.5",
            ".5",
            "5.",
            "-.25",
            "+1e3",
            "007",
            "007.50",
            "1e-7",
            "2.5E+2",
            "-0",
            "0.1",
            "0.30000000000000004",
            "1234567.891",
            "9007199254740993",
            "1e300",
            "-1.7976931348623157e308",
            "5e-324",
            "123456789012345678901234567890",
            "1e05",
        ] {
            let ours = parse_f64(s).unwrap_or_else(|| panic!("{s:?} not read"));
            let rusts: f64 = s.parse().unwrap();
            // Equal to the last bit: these are the values people type.
            assert_eq!(ours.to_bits(), rusts.to_bits(), "{s:?}: {ours} vs {rusts}");
        }
    }

    #[test]
    fn anything_else_is_none() {
        for s in [
            "",
            " 1",
            "1 ",
            "-",
            "+",
            ".",
            "-.",
            "e5",
            "1e",
            "1e+",
            "1.2.3",
            "1,5",
            "0x10",
            "inf",
            "-infinity",
            "NaN",
            "1e400",
            "--1",
            "+-1",
            "1_000",
            "١",
            "12px",
        ] {
            assert_eq!(parse_f64(s), None, "{s:?}");
        }
    }
}
