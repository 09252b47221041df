//! The alert rule editor's form, pure: the text of each field as typed,
//! read back into an [`AlertRule`] with one clear message per bad field
//! (the server checks again and names the field it refuses).

use livedash_shared::{AlertRule, Level, Op};

/// The form's fields as typed.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleForm {
    /// The rule being edited (`None`: a new one).
    pub id: Option<u64>,
    /// A name for people (empty: the server names it by its condition).
    pub name: String,
    /// The series watched (picked from `/api/series`).
    pub series: String,
    /// `>`, `>=`, `<`, `<=`.
    pub op: String,
    /// The threshold, as typed.
    pub threshold: String,
    /// The clear threshold, as typed (empty: the threshold).
    pub clear_threshold: String,
    /// Pending seconds, as typed.
    pub for_s: String,
    /// Repeat seconds while firing, as typed (0: once).
    pub repeat_s: String,
    /// `info`, `warn` or `alert`.
    pub level: String,
}

impl Default for RuleForm {
    fn default() -> Self {
        RuleForm {
            id: None,
            name: String::new(),
            series: String::new(),
            op: ">".into(),
            threshold: String::new(),
            clear_threshold: String::new(),
            for_s: "0".into(),
            repeat_s: "0".into(),
            level: "warn".into(),
        }
    }
}

/// The operators offered.
pub const OPS: [&str; 4] = [">", ">=", "<", "<="];
/// The levels offered.
pub const LEVELS: [&str; 3] = ["info", "warn", "alert"];

fn op_of(s: &str) -> Option<Op> {
    Some(match s {
        ">" => Op::Gt,
        ">=" => Op::Ge,
        "<" => Op::Lt,
        "<=" => Op::Le,
        _ => return None,
    })
}

fn level_of(s: &str) -> Option<Level> {
    Some(match s {
        "info" => Level::Info,
        "warn" => Level::Warn,
        "alert" => Level::Alert,
        _ => return None,
    })
}

fn level_str(l: Level) -> &'static str {
    match l {
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Alert => "alert",
    }
}

fn number(field: &str, s: &str) -> Result<f64, String> {
    crate::number::parse_f64(s.trim())
        .ok_or_else(|| format!("{field}: {:?} is not a number", s.trim()))
}

fn seconds(field: &str, s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .map_err(|_| format!("{field}: {:?} is not a whole number of seconds", s.trim()))
}

impl RuleForm {
    /// The form of a stored rule (for editing).
    pub fn of(r: &AlertRule) -> RuleForm {
        RuleForm {
            id: Some(r.id),
            name: r.name.clone(),
            series: r.series.clone(),
            op: r.op.as_str().into(),
            threshold: r.threshold.to_string(),
            clear_threshold: r.clear_threshold.map(|c| c.to_string()).unwrap_or_default(),
            for_s: r.for_s.to_string(),
            repeat_s: r.repeat_s.to_string(),
            level: level_str(r.level).into(),
        }
    }

    /// The rule the form describes, or why not (the first bad field).
    pub fn rule(&self) -> Result<AlertRule, String> {
        if self.series.trim().is_empty() {
            return Err("series: pick the series to watch".into());
        }
        let op =
            op_of(&self.op).ok_or_else(|| format!("op: {:?} is not >, >=, < or <=", self.op))?;
        let threshold = number("threshold", &self.threshold)?;
        let clear_threshold = match self.clear_threshold.trim() {
            "" => None,
            s => Some(number("clear threshold", s)?),
        };
        if let Some(c) = clear_threshold {
            let wrong_side = if op.is_upper() {
                c > threshold
            } else {
                c < threshold
            };
            if wrong_side {
                let side = if op.is_upper() {
                    "at or below"
                } else {
                    "at or above"
                };
                return Err(format!(
                    "clear threshold: must be {side} the threshold ({threshold})"
                ));
            }
        }
        Ok(AlertRule {
            id: self.id.unwrap_or(0),
            name: self.name.trim().to_string(),
            series: self.series.trim().to_string(),
            op,
            threshold,
            clear_threshold,
            for_s: seconds("for", &self.for_s)?,
            repeat_s: seconds("repeat", &self.repeat_s)?,
            level: level_of(&self.level)
                .ok_or_else(|| format!("level: {:?} is not info, warn or alert", self.level))?,
            enabled: true,
        })
    }
}

/// A rule in one line: `system.cpu_percent >= 90 (clear 80, for 10 s)`.
pub fn describe(r: &AlertRule) -> String {
    let mut extra = Vec::new();
    if let Some(c) = r.clear_threshold.filter(|c| *c != r.threshold) {
        extra.push(format!("clear {c}"));
    }
    if r.for_s > 0 {
        extra.push(format!("for {} s", r.for_s));
    }
    if r.repeat_s > 0 {
        extra.push(format!("every {} s", r.repeat_s));
    }
    let tail = if extra.is_empty() {
        String::new()
    } else {
        format!(" ({})", extra.join(", "))
    };
    format!("{} {} {}{tail}", r.series, r.op.as_str(), r.threshold)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> RuleForm {
        RuleForm {
            series: "system.cpu_percent".into(),
            op: ">=".into(),
            threshold: "90".into(),
            clear_threshold: "80".into(),
            for_s: "10".into(),
            repeat_s: "60".into(),
            level: "alert".into(),
            ..RuleForm::default()
        }
    }

    #[test]
    fn a_filled_form_is_a_rule_and_back() {
        let r = form().rule().unwrap();
        assert_eq!(
            (r.op, r.threshold, r.clear_threshold),
            (Op::Ge, 90.0, Some(80.0))
        );
        assert_eq!(
            (r.for_s, r.repeat_s, r.level, r.id),
            (10, 60, Level::Alert, 0)
        );
        assert_eq!(
            describe(&r),
            "system.cpu_percent >= 90 (clear 80, for 10 s, every 60 s)"
        );
        let mut stored = r.clone();
        stored.id = 7;
        let back = RuleForm::of(&stored);
        assert_eq!(back.id, Some(7));
        assert_eq!(back.rule().unwrap(), stored);
    }

    #[test]
    fn bad_fields_are_named() {
        type Spoil = fn(&mut RuleForm);
        let cases: [(Spoil, &str); 7] = [
            (|f| f.series.clear(), "series:"),
            (|f| f.threshold = "lots".into(), "threshold:"),
            (|f| f.threshold = "NaN".into(), "threshold:"),
            (
                |f| f.clear_threshold = "95".into(),
                "clear threshold: must be at or below",
            ),
            (|f| f.for_s = "-1".into(), "for:"),
            (|f| f.repeat_s = "1.5".into(), "repeat:"),
            (|f| f.level = "panic".into(), "level:"),
        ];
        for (spoil, says) in cases {
            let mut f = form();
            spoil(&mut f);
            let e = f.rule().unwrap_err();
            assert!(e.starts_with(says), "{says}: {e}");
        }
        let mut f = form();
        f.op = "<".into();
        assert!(f.rule().unwrap_err().contains("at or above"));
        f.clear_threshold.clear();
        assert_eq!(f.rule().unwrap().clear_threshold, None);
        assert_eq!(
            describe(&f.rule().unwrap()),
            "system.cpu_percent < 90 (for 10 s, every 60 s)"
        );
    }
}
