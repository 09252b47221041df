//! `write-floor`: the bare write loop (see `livedash_bench::floor`), a
//! reference `cargo xtask bench` runs beside livedash to show what one
//! write per client costs the kernel on this machine.

use clap::Parser;
use std::io::Write;

/// One thread writing each frame once to every client, nothing else.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    load: livedash_bench::BareLoad,
    /// Where to write the rounds so far (JSON), after every round.
    #[arg(long)]
    report: Option<std::path::PathBuf>,
}

fn main() {
    let args = Args::parse();
    livedash_bench::raise_fd_limit(65_536);
    let listener = std::net::TcpListener::bind(args.load.addr).expect("bind");
    println!(
        "listening on http://{}",
        listener.local_addr().expect("addr")
    );
    let _ = std::io::stdout().flush();
    let report = args.report;
    livedash_bench::floor::serve(
        listener,
        args.load.frame_bytes,
        args.load.rate_hz,
        |rounds| {
            if let Some(path) = &report {
                let tmp = path.with_extension("tmp");
                if let Ok(json) = serde_json::to_vec(rounds) {
                    if std::fs::write(&tmp, json).is_ok() {
                        let _ = std::fs::rename(&tmp, path);
                    }
                }
            }
        },
    )
}
