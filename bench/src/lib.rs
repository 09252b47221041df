//! Load generator and bare broadcast proxy for livedash.
//!
//! - [`loadgen`]: N WebSocket clients on loopback reading every frame, all in
//!   one single-threaded tokio runtime per process; reports delivery (per
//!   topic), fan-out spread, latency and the server's CPU and RSS; with
//!   `--deflate` the clients offer permessage-deflate ([`deflate_ws`]: the
//!   upgrade and a frame reader that inflates each compressed message).
//! - [`proxy`]: a bare broadcast server on a single-threaded tokio runtime
//!   that sends one pre-serialized frame of a given size at a given nominal
//!   rate to every client and flushes every frame, with no application
//!   logic. It is a peer measured in the same run under the same nominal
//!   load, not an upper bound: livedash runs on a multi-threaded runtime and
//!   may beat it.
//! - [`floor`]: the bare write loop, one `write(2)` per client per frame
//!   from one thread and nothing else: what the kernel alone costs for a
//!   fan-out on this machine, printed beside the targets it explains.

pub mod deflate_ws;
pub mod floor;
pub mod loadgen;
pub mod proxy;

/// The flags of the two bare servers (`bare-proxy`, `write-floor`): where
/// to listen and the fixed load they send.
#[derive(clap::Args, Debug, Clone)]
pub struct BareLoad {
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: std::net::SocketAddr,
    /// Bytes per frame (the JSON text, before the WebSocket header).
    #[arg(long, default_value_t = 600)]
    pub frame_bytes: usize,
    /// Frames per second.
    #[arg(long, default_value_t = 1.0)]
    pub rate_hz: f64,
}

/// Raise this process's open-file limit (soft and, as root, hard).
pub fn raise_fd_limit(want: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 0;
        }
        let hard = r.rlim_max.max(want as libc::rlim_t);
        let try_set = |cur: libc::rlim_t, max: libc::rlim_t| {
            let n = libc::rlimit {
                rlim_cur: cur,
                rlim_max: max,
            };
            libc::setrlimit(libc::RLIMIT_NOFILE, &n) == 0
        };
        if !try_set(want as libc::rlim_t, hard) {
            let _ = try_set(r.rlim_max, r.rlim_max);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur
    }
}

/// A process's (CPU seconds, RSS KiB) from /proc.
pub fn proc_stats(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name in parentheses; utime and stime are 14, 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())?;
    Some((ticks / hz, rss))
}
