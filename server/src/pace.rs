//! When periodic producers fire: on wall-clock multiples of their period,
//! so the `orders` tick, the `system` sample and the `clients` count of the
//! same second are published within a millisecond or so of each other. A
//! connection woken by the first finds the others already in the ring and
//! writes them all in one system call ([`crate::conn`] drains the ring
//! before it flushes), instead of one write per producer per client.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time from `now_ms` (Unix milliseconds) to the next multiple of
/// `period`; a full period when `now_ms` is on one. Pure.
pub fn until_boundary(now_ms: u64, period: Duration) -> Duration {
    let p = (period.as_millis() as u64).max(1);
    Duration::from_millis(p - now_ms % p)
}

/// Time from now to the next wall-clock multiple of `period`.
pub fn until_next(period: Duration) -> Duration {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    until_boundary(now_ms, period)
}

/// A tokio interval whose ticks fall on wall-clock multiples of `period`
/// (the first one at the next boundary), skipping missed ticks.
pub fn interval(period: Duration) -> tokio::time::Interval {
    let start = tokio::time::Instant::now() + until_next(period);
    let mut i = tokio::time::interval_at(start, period);
    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_are_multiples_of_the_period() {
        let s = Duration::from_secs(1);
        assert_eq!(
            until_boundary(1_700_000_000_250, s),
            Duration::from_millis(750)
        );
        assert_eq!(until_boundary(1_700_000_000_000, s), s);
        let tick = Duration::from_millis(50);
        assert_eq!(
            until_boundary(1_700_000_000_260, tick),
            Duration::from_millis(40)
        );
        // Periods that divide each other meet: a 1 s sample and a 50 ms
        // tick share every whole second.
        let t = 1_700_000_000_999;
        assert_eq!(until_boundary(t, s), until_boundary(t, tick));
        assert_eq!(until_boundary(7, Duration::ZERO), Duration::from_millis(1));
    }
}
