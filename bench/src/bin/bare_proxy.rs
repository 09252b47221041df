//! `bare-proxy`: a single-threaded bare broadcast server, the same-run peer
//! livedash is compared with (see `livedash_bench::proxy`).

use clap::Parser;
use std::io::Write;

/// A bare WebSocket broadcast server: fixed-size frames at a fixed rate.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    load: livedash_bench::BareLoad,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::parse().load;
    livedash_bench::raise_fd_limit(65_536);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .expect("bind");
    println!(
        "listening on http://{}",
        listener.local_addr().expect("addr")
    );
    let _ = std::io::stdout().flush();
    livedash_bench::proxy::serve(listener, args.frame_bytes, args.rate_hz, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
}
