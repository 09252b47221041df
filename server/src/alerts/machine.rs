//! One rule's state machine: normal → pending → firing → normal. Pure:
//! each step takes the sample's time and value and says what to announce.
//!
//! - normal: the condition (`value OP threshold`) starts pending, or fires
//!   at once when `for_s` is 0;
//! - pending: the condition must hold on every sample for `for_s`; one
//!   sample without it goes back to normal (a flapping series never gets
//!   past pending);
//! - firing: announced once, then again every `repeat_s` (0: never) while
//!   it lasts; it resolves when the value is past the clear threshold
//!   (hysteresis: a value between the two thresholds keeps it firing) on
//!   every sample for `for_s`. A sample back over the clear threshold
//!   restarts that wait, so a series flapping across both thresholds
//!   stays firing instead of announcing firing/resolved each time.

use livedash_shared::{AlertRule, AlertState};

/// Where a rule is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Phase {
    /// The condition does not hold.
    #[default]
    Normal,
    /// The condition holds since `since` (ms), not yet for `for_s`.
    Pending {
        /// First sample of the run.
        since: u64,
    },
    /// Announced.
    Firing {
        /// When the last `firing` was announced (for `repeat_s`).
        notified: u64,
        /// Since when the value is past the clear threshold, if it is.
        clearing: Option<u64>,
    },
}

/// One rule's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Machine {
    /// Where it is.
    pub phase: Phase,
}

impl Machine {
    /// Feed one sample of the rule's series; returns what to announce.
    pub fn step(&mut self, rule: &AlertRule, ts: u64, value: f64) -> Option<AlertState> {
        let hold_ms = rule.for_s.saturating_mul(1000);
        let breach = rule.op.holds(value, rule.threshold);
        match self.phase {
            Phase::Normal | Phase::Pending { .. } if !breach => {
                self.phase = Phase::Normal;
                None
            }
            Phase::Normal | Phase::Pending { .. } => {
                let since = match self.phase {
                    Phase::Pending { since } => since,
                    _ => ts,
                };
                if ts.saturating_sub(since) >= hold_ms {
                    self.phase = Phase::Firing {
                        notified: ts,
                        clearing: None,
                    };
                    Some(AlertState::Firing)
                } else {
                    self.phase = Phase::Pending { since };
                    None
                }
            }
            Phase::Firing { notified, clearing } => {
                let cleared = !rule.op.holds(value, rule.clear_at());
                if cleared {
                    let since = clearing.unwrap_or(ts);
                    if ts.saturating_sub(since) >= hold_ms {
                        self.phase = Phase::Normal;
                        return Some(AlertState::Resolved);
                    }
                    self.phase = Phase::Firing {
                        notified,
                        clearing: Some(since),
                    };
                    return None;
                }
                let repeat = rule.repeat_s > 0
                    && ts.saturating_sub(notified) >= rule.repeat_s.saturating_mul(1000);
                self.phase = Phase::Firing {
                    notified: if repeat { ts } else { notified },
                    clearing: None,
                };
                repeat.then_some(AlertState::Firing)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livedash_shared::{Level, Op};

    fn rule(for_s: u64, repeat_s: u64) -> AlertRule {
        AlertRule {
            id: 1,
            name: "cpu".into(),
            series: "system.cpu_percent".into(),
            op: Op::Gt,
            threshold: 90.0,
            clear_threshold: Some(70.0),
            for_s,
            repeat_s,
            level: Level::Alert,
            enabled: true,
        }
    }

    /// Feed `values` one a second from t = 0; the announcements with their
    /// sample index.
    fn run(r: &AlertRule, values: &[f64]) -> Vec<(usize, AlertState)> {
        let mut m = Machine::default();
        values
            .iter()
            .enumerate()
            .filter_map(|(i, &v)| m.step(r, i as u64 * 1000, v).map(|s| (i, s)))
            .collect()
    }

    #[test]
    fn pending_then_firing_after_for_s() {
        let r = rule(3, 0);
        let mut m = Machine::default();
        assert_eq!(m.step(&r, 0, 95.0), None);
        assert_eq!(m.phase, Phase::Pending { since: 0 });
        assert_eq!(m.step(&r, 2000, 95.0), None);
        assert_eq!(m.step(&r, 3000, 95.0), Some(AlertState::Firing));
        assert_eq!(m.step(&r, 4000, 99.0), None, "announced once");
        // A dip during pending starts over.
        let got = run(&r, &[95.0, 95.0, 50.0, 95.0, 95.0, 95.0, 95.0]);
        assert_eq!(got, vec![(6, AlertState::Firing)]);
    }

    #[test]
    fn for_s_zero_fires_on_the_first_sample() {
        assert_eq!(
            run(&rule(0, 0), &[50.0, 91.0]),
            vec![(1, AlertState::Firing)]
        );
        assert_eq!(run(&rule(0, 0), &[90.0]), vec![], "> is strict");
    }

    #[test]
    fn hysteresis_between_the_thresholds_keeps_it_firing() {
        let r = rule(0, 0);
        let got = run(&r, &[95.0, 80.0, 89.0, 71.0, 70.0]);
        assert_eq!(
            got,
            vec![(0, AlertState::Firing), (4, AlertState::Resolved)],
            "resolves only at the clear threshold"
        );
        let lower = AlertRule {
            op: Op::Lt,
            threshold: 10.0,
            clear_threshold: Some(20.0),
            ..r
        };
        let got = run(&lower, &[5.0, 15.0, 19.9, 20.0]);
        assert_eq!(
            got,
            vec![(0, AlertState::Firing), (3, AlertState::Resolved)]
        );
    }

    #[test]
    fn repeat_while_firing() {
        let got = run(&rule(0, 5), &[95.0; 12]);
        assert_eq!(
            got,
            vec![
                (0, AlertState::Firing),
                (5, AlertState::Firing),
                (10, AlertState::Firing)
            ]
        );
    }

    #[test]
    fn a_flapping_series_does_not_spam() {
        // Around the threshold, inside the hysteresis band: one firing.
        let around: Vec<f64> = (0..600)
            .map(|i| if i % 2 == 0 { 91.0 } else { 85.0 })
            .collect();
        assert_eq!(run(&rule(0, 0), &around), vec![(0, AlertState::Firing)]);
        // Across both thresholds every other second, with for_s: never
        // past pending.
        let wild: Vec<f64> = (0..600)
            .map(|i| if i % 2 == 0 { 99.0 } else { 10.0 })
            .collect();
        assert_eq!(run(&rule(5, 0), &wild), vec![]);
        // Firing, then flapping across both: stays firing, then one
        // resolve once it calms down.
        let mut v = vec![99.0; 10];
        v.extend(&wild);
        v.extend([10.0; 10]);
        let got = run(&rule(5, 0), &v);
        assert_eq!(
            got,
            vec![(5, AlertState::Firing), (614, AlertState::Resolved)]
        );
    }
}
