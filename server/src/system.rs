//! Host metrics with sysinfo, sampled on a dedicated OS thread.
//!
//! sysinfo's calls block (they read /proc); the Python original blocked its
//! event loop 100 ms a second in `cpu_percent(interval=0.1)`. Here sampling
//! never runs on the async runtime: [`spawn`] owns an OS thread that sleeps
//! between samples and hands finished [`System`] values to the hub.

use livedash_shared::{LoadAvg, System};
use std::time::{Duration, Instant};
use sysinfo::{CpuRefreshKind, MemoryRefreshKind, Networks, RefreshKind};

/// One sysinfo handle plus what is needed to turn counters into rates.
pub struct Sampler {
    /// CPU and memory state; CPU usage is a difference between refreshes.
    sys: Option<sysinfo::System>,
    /// Network interfaces; `received()`/`transmitted()` are since the last refresh.
    networks: Option<Networks>,
    /// When the previous refresh happened, to turn byte deltas into rates.
    last: Instant,
}

impl Default for Sampler {
    fn default() -> Self {
        Self::new()
    }
}

impl Sampler {
    /// A primed sampler: the first CPU reading after creation is meaningless,
    /// so creation refreshes once; the first [`Sampler::sample`] should come
    /// at least `sysinfo::MINIMUM_CPU_UPDATE_INTERVAL` later.
    pub fn new() -> Self {
        let sys = sysinfo::System::new_with_specifics(
            RefreshKind::nothing()
                .with_cpu(CpuRefreshKind::nothing().with_usage())
                .with_memory(MemoryRefreshKind::everything()),
        )
        .ok();
        let networks = Networks::new_with_refreshed_list().ok();
        Sampler {
            sys,
            networks,
            last: Instant::now(),
        }
    }

    /// Take one sample. Blocks for a few milliseconds at most; never call it
    /// on the async runtime.
    pub fn sample(&mut self, seq: u64, now_ms: u64) -> System {
        let elapsed = self.last.elapsed().as_secs_f64().max(1e-3);
        self.last = Instant::now();
        let (cpu_percent, per_core, mem_used, mem_total, swap_used, swap_total) =
            match &mut self.sys {
                Some(s) => {
                    s.refresh_cpu_usage();
                    s.refresh_memory();
                    (
                        s.global_cpu_usage().clamp(0.0, 100.0),
                        s.cpus()
                            .iter()
                            .map(|c| c.usage().clamp(0.0, 100.0))
                            .collect(),
                        s.used_memory(),
                        s.total_memory(),
                        s.used_swap(),
                        s.total_swap(),
                    )
                }
                None => (0.0, Vec::new(), 0, 0, 0, 0),
            };
        let (rx, tx) = match &mut self.networks {
            Some(n) => {
                n.refresh(true);
                n.values().fold((0u64, 0u64), |(rx, tx), d| {
                    (rx + d.received(), tx + d.transmitted())
                })
            }
            None => (0, 0),
        };
        let load_avg = sysinfo::System::load_average()
            .map(|l| LoadAvg {
                one: l.one,
                five: l.five,
                fifteen: l.fifteen,
            })
            .unwrap_or_default();
        System {
            seq,
            ts: now_ms,
            cpu_percent,
            per_core,
            mem_used_bytes: mem_used,
            mem_total_bytes: mem_total,
            swap_used_bytes: swap_used,
            swap_total_bytes: swap_total,
            net_rx_bps: rx as f64 / elapsed,
            net_tx_bps: tx as f64 / elapsed,
            load_avg,
        }
    }
}

/// Spawn the sampling thread: one sample on every wall-clock multiple of
/// `period` (at least sysinfo's minimum CPU interval), `seq` from 1, sent with `blocking_send`. The thread
/// ends when the receiver is dropped.
pub fn spawn(
    period: Duration,
    tx: tokio::sync::mpsc::Sender<System>,
) -> std::thread::JoinHandle<()> {
    let period = period.max(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
    std::thread::Builder::new()
        .name("livedash-sysinfo".into())
        .spawn(move || {
            let mut sampler = Sampler::new();
            // On wall-clock multiples of the period, like the orders tick.
            let mut next = Instant::now() + crate::pace::until_next(period);
            for seq in 1.. {
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                }
                next += period;
                if next < Instant::now() {
                    // Fell behind (suspended machine): do not burst to catch up.
                    next = Instant::now() + crate::pace::until_next(period);
                }
                let s = sampler.sample(seq, livedash_shared::now_ms());
                if tx.blocking_send(s).is_err() {
                    break;
                }
            }
        })
        .expect("spawn sysinfo thread")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_is_sane() {
        let mut s = Sampler::new();
        std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
        let x = s.sample(1, 5);
        assert_eq!(
            x.per_core.len(),
            std::thread::available_parallelism().unwrap().get()
        );
        assert!((0.0..=100.0).contains(&x.cpu_percent));
        assert!(x.mem_total_bytes > 0 && x.mem_used_bytes <= x.mem_total_bytes);
        assert!(x.net_rx_bps >= 0.0 && x.net_tx_bps >= 0.0);
        assert_eq!((x.seq, x.ts), (1, 5));
    }

    #[test]
    fn spawn_delivers_consecutive_samples_and_stops() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let h = spawn(Duration::from_millis(1), tx);
        let a = rx.blocking_recv().unwrap();
        let b = rx.blocking_recv().unwrap();
        assert_eq!((a.seq, b.seq), (1, 2));
        assert!(
            b.ts >= a.ts + 150,
            "period clamped to the minimum CPU interval"
        );
        drop(rx);
        h.join().unwrap();
    }
}
