//! Reconnect delays: exponential, capped at 30 s, with jitter.
//!
//! "Equal jitter": attempt n waits between half and all of
//! `min(cap, base * 2^n)`. Tabs that lost the same server spread their
//! retries over half the window (no reconnect storm), and unlike full jitter
//! the countdown a person sees never shrinks from one attempt to the next.

/// First delay ceiling.
pub const BASE_MS: u64 = 1000;
/// Largest delay.
pub const CAP_MS: u64 = 30_000;

/// The backoff schedule; the random source is injected so it is testable.
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    /// Failed attempts since the last connection that stayed live.
    attempt: u32,
}

impl Backoff {
    /// A fresh schedule.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ceiling of the next delay.
    pub fn ceiling_ms(&self) -> u64 {
        BASE_MS
            .saturating_mul(1u64 << self.attempt.min(20))
            .min(CAP_MS)
    }

    /// The next delay; `unit` is a uniform random number in [0, 1).
    pub fn next_delay_ms(&mut self, unit: f64) -> u64 {
        let ceil = self.ceiling_ms();
        self.attempt = self.attempt.saturating_add(1);
        let half = ceil / 2;
        half + (unit.clamp(0.0, 1.0) * (ceil - half) as f64) as u64
    }

    /// The connection stayed live: start over.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// Failed attempts so far.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_to_the_cap() {
        let mut b = Backoff::new();
        let lows: Vec<u64> = (0..8).map(|_| b.next_delay_ms(0.0)).collect();
        assert_eq!(lows, [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
        let mut b = Backoff::new();
        let highs: Vec<u64> = (0..8).map(|_| b.next_delay_ms(0.999_999)).collect();
        assert_eq!(highs[..5], [999, 1999, 3999, 7999, 15999]);
        assert!(highs.iter().all(|&d| d <= CAP_MS));
        for _ in 0..100 {
            assert!(b.next_delay_ms(1.0) <= CAP_MS);
        }
    }

    #[test]
    fn jitter_spreads_but_never_shrinks_between_attempts() {
        let mut worst_prev = 0;
        let mut b = Backoff::new();
        for i in 0..10 {
            let lo = b.clone().next_delay_ms(0.0);
            let hi = b.next_delay_ms(0.99);
            assert!(
                lo >= worst_prev || lo == CAP_MS / 2,
                "attempt {i}: {lo} < {worst_prev}"
            );
            assert!(hi > lo);
            worst_prev = worst_prev.max(hi.min(lo * 2));
        }
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::new();
        b.next_delay_ms(0.5);
        b.next_delay_ms(0.5);
        b.reset();
        assert_eq!(b.attempt(), 0);
        assert!(b.next_delay_ms(0.0) == 500);
    }
}
