//! Checking an alert rule sent to `/api/alerts/rules`: every problem named
//! by its field. The defaults (the v1 page's CPU and memory alerts) are
//! seeded by the store's migration, so deleting one keeps it deleted.

use livedash_shared::AlertRule;

/// Longest rule name, characters.
pub const MAX_NAME: usize = 200;

/// Longest `for_s` and `repeat_s`: a week.
pub const MAX_SECONDS: u64 = 7 * 86_400;

/// A problem with a rule: the field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The field, as in the JSON.
    pub field: &'static str,
    /// What is wrong, for people.
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        field,
        message: message.into(),
    }
}

/// Check a rule and fill in its defaults (`name`, `clear_threshold`).
pub fn normalize(mut r: AlertRule) -> Result<AlertRule, Invalid> {
    if r.series.trim().is_empty() || r.series.len() > crate::series::MAX_NAME_BYTES {
        return Err(invalid(
            "series",
            "must name a series (GET /api/series lists them), at most 1024 bytes",
        ));
    }
    if !r.threshold.is_finite() {
        return Err(invalid("threshold", "must be a finite number"));
    }
    let clear = r.clear_at();
    if !clear.is_finite() {
        return Err(invalid("clear_threshold", "must be a finite number"));
    }
    if r.op.is_upper() && clear > r.threshold {
        return Err(invalid(
            "clear_threshold",
            format!(
                "for {} it must be at most threshold ({}): the value resolves the alert on \
                 its way down",
                r.op.as_str(),
                r.threshold
            ),
        ));
    }
    if !r.op.is_upper() && clear < r.threshold {
        return Err(invalid(
            "clear_threshold",
            format!(
                "for {} it must be at least threshold ({}): the value resolves the alert on \
                 its way up",
                r.op.as_str(),
                r.threshold
            ),
        ));
    }
    for (field, v) in [("for_s", r.for_s), ("repeat_s", r.repeat_s)] {
        if v > MAX_SECONDS {
            return Err(invalid(
                field,
                format!("must be at most {MAX_SECONDS} seconds"),
            ));
        }
    }
    if r.name.chars().count() > MAX_NAME {
        return Err(invalid("name", format!("at most {MAX_NAME} characters")));
    }
    if r.name.trim().is_empty() {
        r.name = format!("{} {} {}", r.series, r.op.as_str(), r.threshold);
    }
    r.clear_threshold = Some(clear);
    Ok(r)
}

/// The sentence of an announcement.
pub fn text(r: &AlertRule, state: livedash_shared::AlertState, value: f64) -> String {
    match state {
        livedash_shared::AlertState::Firing => format!(
            "{}: {} is {} ({} {}{})",
            r.name,
            r.series,
            round(value),
            r.op.as_str(),
            r.threshold,
            if r.for_s > 0 {
                format!(" for {} s", r.for_s)
            } else {
                String::new()
            }
        ),
        livedash_shared::AlertState::Resolved => {
            format!("{} resolved: {} is {}", r.name, r.series, round(value))
        }
    }
}

fn round(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use livedash_shared::{AlertState, Level, Op};

    fn rule() -> AlertRule {
        AlertRule {
            id: 0,
            name: String::new(),
            series: "system.cpu_percent".into(),
            op: Op::Gt,
            threshold: 90.0,
            clear_threshold: None,
            for_s: 3,
            repeat_s: 0,
            level: Level::Warn,
            enabled: true,
        }
    }

    #[test]
    fn defaults_are_filled_in() {
        let r = normalize(rule()).unwrap();
        assert_eq!(r.name, "system.cpu_percent > 90");
        assert_eq!(r.clear_threshold, Some(90.0));
        assert_eq!(
            text(&r, AlertState::Firing, 95.456),
            "system.cpu_percent > 90: system.cpu_percent is 95.46 (> 90 for 3 s)"
        );
        assert_eq!(
            text(&r, AlertState::Resolved, 50.0),
            "system.cpu_percent > 90 resolved: system.cpu_percent is 50"
        );
    }

    #[test]
    fn each_problem_names_its_field() {
        let field = |r: AlertRule| normalize(r).unwrap_err().field;
        assert_eq!(
            field(AlertRule {
                series: " ".into(),
                ..rule()
            }),
            "series"
        );
        assert_eq!(
            field(AlertRule {
                threshold: f64::NAN,
                ..rule()
            }),
            "threshold"
        );
        let wrong_side = AlertRule {
            clear_threshold: Some(95.0),
            ..rule()
        };
        assert_eq!(field(wrong_side), "clear_threshold");
        let lower = AlertRule {
            op: Op::Le,
            clear_threshold: Some(80.0),
            ..rule()
        };
        assert_eq!(field(lower), "clear_threshold");
        assert_eq!(
            field(AlertRule {
                for_s: MAX_SECONDS + 1,
                ..rule()
            }),
            "for_s"
        );
        assert_eq!(
            field(AlertRule {
                repeat_s: u64::MAX,
                ..rule()
            }),
            "repeat_s"
        );
        assert_eq!(
            field(AlertRule {
                name: "x".repeat(201),
                ..rule()
            }),
            "name"
        );
    }
}
