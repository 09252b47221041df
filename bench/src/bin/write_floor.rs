//! `write-floor`: the bare write loop (see `livedash_bench::floor`), a
//! reference `cargo xtask bench` runs beside livedash to show what one
//! write per client costs the kernel on this machine.

use clap::Parser;
use std::io::Write;

/// One thread writing each frame once to every client, nothing else.
#[derive(Parser)]
struct Args {
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: std::net::SocketAddr,
    /// Bytes per frame (the JSON text, before the WebSocket header).
    #[arg(long, default_value_t = 600)]
    frame_bytes: usize,
    /// Rounds (frames) per second.
    #[arg(long, default_value_t = 1.0)]
    rate_hz: f64,
    /// Where to write the rounds so far (JSON), after every round.
    #[arg(long)]
    report: Option<std::path::PathBuf>,
}

fn main() {
    let args = Args::parse();
    livedash_bench::raise_fd_limit(65_536);
    let listener = std::net::TcpListener::bind(args.addr).expect("bind");
    println!(
        "listening on http://{}",
        listener.local_addr().expect("addr")
    );
    let _ = std::io::stdout().flush();
    let report = args.report;
    livedash_bench::floor::serve(listener, args.frame_bytes, args.rate_hz, |rounds| {
        if let Some(path) = &report {
            let tmp = path.with_extension("tmp");
            if let Ok(json) = serde_json::to_vec(rounds) {
                if std::fs::write(&tmp, json).is_ok() {
                    let _ = std::fs::rename(&tmp, path);
                }
            }
        }
    })
}
