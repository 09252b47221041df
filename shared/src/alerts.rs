//! Alert rules and `alert` frames: the wire and REST shapes both sides
//! use. The server evaluates rules (once per sample of their series); the
//! page shows and edits them.

use crate::{Level, Ts};
use serde::{Deserialize, Serialize};

/// How a rule compares a value with its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
}

impl Op {
    /// Whether `value OP threshold` holds.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Gt => value > threshold,
            Op::Ge => value >= threshold,
            Op::Lt => value < threshold,
            Op::Le => value <= threshold,
        }
    }

    /// Whether the rule watches for high values (`>`, `>=`).
    pub fn is_upper(self) -> bool {
        matches!(self, Op::Gt | Op::Ge)
    }

    /// Its text: `>`, `>=`, `<`, `<=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
        }
    }
}

/// An alert rule: fires when `series OP threshold` held for `for_s`
/// seconds; resolves when the value is back on the other side of
/// `clear_threshold` (hysteresis) for `for_s` seconds too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    /// Assigned by the server (ignored in a create).
    #[serde(default)]
    pub id: u64,
    /// A name for people (defaults to the condition).
    #[serde(default)]
    pub name: String,
    /// The series watched, e.g. `system.cpu_percent`.
    pub series: String,
    pub op: Op,
    pub threshold: f64,
    /// The value that resolves it: at or below it (for `>`/`>=`), at or
    /// above it (for `<`/`<=`). Defaults to `threshold`.
    #[serde(default)]
    pub clear_threshold: Option<f64>,
    /// How long the condition must hold before firing (and the clear
    /// condition before resolving), seconds.
    #[serde(default)]
    pub for_s: u64,
    /// While firing, send the `firing` frame again every `repeat_s`
    /// seconds (0: once).
    #[serde(default)]
    pub repeat_s: u64,
    pub level: Level,
    /// A disabled rule is kept but not evaluated.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl AlertRule {
    /// The clear threshold in force.
    pub fn clear_at(&self) -> f64 {
        self.clear_threshold.unwrap_or(self.threshold)
    }
}

/// What an `alert` frame announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The condition held for `for_s` (or, again, after `repeat_s`).
    Firing,
    /// The value went back past the clear threshold.
    Resolved,
}

/// The `alert` frame body (topic `alerts`); also one entry of
/// `GET /api/alerts/log`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub seq: u64,
    pub ts: Ts,
    pub rule_id: u64,
    pub state: AlertState,
    /// The sample that changed the state.
    pub value: f64,
    /// The rule's series.
    pub series: String,
    /// The rule's level.
    pub level: Level,
    /// A sentence for the toast and the feed.
    pub text: String,
}
