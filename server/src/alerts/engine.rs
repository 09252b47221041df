//! The rules in force and each one's state, indexed by series: a sample
//! of a series with no rule costs one hash lookup. Evaluated by the
//! history task, once per sample (never per connection). Pure.

use super::machine::Machine;
use livedash_shared::{AlertRule, AlertState};
use std::collections::HashMap;

/// A rule and its state.
#[derive(Debug, Clone)]
struct Slot {
    /// The rule.
    rule: AlertRule,
    /// Its state.
    machine: Machine,
}

/// What a sample changed: one rule's announcement.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The rule, as it was when it changed.
    pub rule: AlertRule,
    /// Firing (first or repeated) or resolved.
    pub state: AlertState,
    /// The sample's time.
    pub ts: u64,
    /// The sample.
    pub value: f64,
}

/// Every enabled rule, by series.
#[derive(Debug, Default)]
pub struct Engine {
    /// Enabled rules, grouped by the series they watch.
    by_series: HashMap<String, Vec<Slot>>,
}

impl Engine {
    /// Rules from the store.
    pub fn new(rules: Vec<AlertRule>) -> Engine {
        let mut e = Engine::default();
        for r in rules {
            e.put(r);
        }
        e
    }

    /// Add or replace a rule (by id). A rule whose condition did not change
    /// keeps its state; a changed one starts over from normal.
    pub fn put(&mut self, rule: AlertRule) {
        let kept = self
            .take(rule.id)
            .filter(|old| same_condition(&old.rule, &rule));
        if !rule.enabled {
            return;
        }
        let machine = kept.map(|s| s.machine).unwrap_or_default();
        self.by_series
            .entry(rule.series.clone())
            .or_default()
            .push(Slot { rule, machine });
    }

    /// Remove a rule; whether it was there.
    pub fn remove(&mut self, id: u64) -> bool {
        self.take(id).is_some()
    }

    fn take(&mut self, id: u64) -> Option<Slot> {
        let (series, i) = self.by_series.iter().find_map(|(s, slots)| {
            slots
                .iter()
                .position(|x| x.rule.id == id)
                .map(|i| (s.clone(), i))
        })?;
        let slots = self.by_series.get_mut(&series)?;
        let slot = slots.remove(i);
        if slots.is_empty() {
            self.by_series.remove(&series);
        }
        Some(slot)
    }

    /// Rules in force.
    pub fn len(&self) -> usize {
        self.by_series.values().map(Vec::len).sum()
    }

    /// Whether no rule is in force.
    pub fn is_empty(&self) -> bool {
        self.by_series.is_empty()
    }

    /// Feed one sample; pushes what it changed onto `out`.
    pub fn eval(&mut self, series: &str, ts: u64, value: f64, out: &mut Vec<Transition>) {
        let Some(slots) = self.by_series.get_mut(series) else {
            return;
        };
        for s in slots {
            if let Some(state) = s.machine.step(&s.rule, ts, value) {
                out.push(Transition {
                    rule: s.rule.clone(),
                    state,
                    ts,
                    value,
                });
            }
        }
    }
}

/// Whether two versions of a rule test the same thing (a rename or a level
/// change keeps a firing alert firing instead of announcing it again).
fn same_condition(a: &AlertRule, b: &AlertRule) -> bool {
    a.series == b.series
        && a.op == b.op
        && a.threshold == b.threshold
        && a.clear_at() == b.clear_at()
        && a.for_s == b.for_s
}

#[cfg(test)]
mod tests {
    use super::*;
    use livedash_shared::{Level, Op};
    use std::time::Instant;

    fn rule(id: u64, series: &str, threshold: f64) -> AlertRule {
        AlertRule {
            id,
            name: format!("r{id}"),
            series: series.into(),
            op: Op::Gt,
            threshold,
            clear_threshold: Some(threshold - 10.0),
            for_s: 0,
            repeat_s: 0,
            level: Level::Warn,
            enabled: true,
        }
    }

    #[test]
    fn rules_fire_per_series_and_edits_keep_or_reset_state() {
        let mut e = Engine::new(vec![rule(1, "a", 50.0), rule(2, "b", 50.0)]);
        let mut out = Vec::new();
        e.eval("a", 0, 60.0, &mut out);
        e.eval("c", 0, 60.0, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].rule.id, out[0].state), (1, AlertState::Firing));
        // A rename keeps it firing (no second announcement)...
        e.put(AlertRule {
            name: "renamed".into(),
            ..rule(1, "a", 50.0)
        });
        out.clear();
        e.eval("a", 1000, 60.0, &mut out);
        assert!(out.is_empty());
        // ...a new threshold starts over.
        e.put(rule(1, "a", 55.0));
        e.eval("a", 2000, 60.0, &mut out);
        assert_eq!(out.len(), 1);
        // Disabled or removed: not evaluated.
        e.put(AlertRule {
            enabled: false,
            ..rule(2, "b", 50.0)
        });
        assert_eq!(e.len(), 1);
        assert!(e.remove(1));
        assert!(!e.remove(1));
        assert!(e.is_empty());
    }

    /// The evaluation cost per sample with 1,000 rules, printed
    /// (`cargo test --release -p livedash-server alert_eval_cost -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn alert_eval_cost_with_1000_rules() {
        // 1,000 rules over the default series (a few per series, as a big
        // installation would have), and a sample of every default series.
        let series: Vec<String> = (0..31).map(|i| format!("s{i}")).collect();
        let rules = (0..1000u64)
            .map(|i| {
                rule(
                    i + 1,
                    &series[i as usize % series.len()],
                    50.0 + (i % 40) as f64,
                )
            })
            .collect();
        let mut e = Engine::new(rules);
        let mut out = Vec::new();
        let samples = 20_000u64;
        let t0 = Instant::now();
        for t in 0..samples {
            for (i, s) in series.iter().enumerate() {
                let v = ((t * 7 + i as u64 * 13) % 100) as f64;
                e.eval(s, t * 1000, v, &mut out);
            }
            out.clear();
        }
        let per_tick = t0.elapsed() / samples as u32;
        println!(
            "1,000 rules: {per_tick:?} per tick of {} series ({:?} per series sample, \
             {:.1} ns per rule evaluation)",
            series.len(),
            per_tick / series.len() as u32,
            per_tick.as_nanos() as f64 / 1000.0
        );
    }
}
