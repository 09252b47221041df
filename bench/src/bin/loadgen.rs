//! `loadgen`: N WebSocket clients against a URL (see `livedash_bench::loadgen`).

use clap::Parser;
use livedash_bench::loadgen::{run, Options};
use std::time::Duration;

/// Open N WebSocket clients, read every frame for a while, report.
#[derive(Parser)]
struct Args {
    /// WebSocket URL, e.g. ws://127.0.0.1:8000/ws?history=0; repeat it to
    /// spread the clients over several servers (client i → URL i mod n).
    #[arg(long, required = true)]
    url: Vec<String>,
    /// Clients to open.
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Connects per second at most.
    #[arg(long, default_value_t = 1000)]
    ramp: u32,
    /// Seconds of steady window after the ramp.
    #[arg(long, default_value_t = 10)]
    hold: u64,
    /// The server's pid (CPU and RSS from /proc); repeat it for several
    /// servers (summed).
    #[arg(long)]
    server_pid: Vec<u32>,
    /// Bind source addresses 127.0.0.1..=127.0.0.N (more than ~28k clients).
    #[arg(long, default_value_t = 1)]
    source_ips: u8,
    /// Extra clients that connect and never read (frozen tabs).
    #[arg(long, default_value_t = 0)]
    stalled: usize,
    /// Offer permessage-deflate on every connection (server and client
    /// without context takeover); a server that refuses is counted.
    #[arg(long)]
    deflate: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let a = Args::parse();
    let r = run(Options {
        urls: a.url,
        clients: a.clients,
        ramp_per_sec: a.ramp,
        hold: Duration::from_secs(a.hold),
        server_pids: a.server_pid,
        source_ips: a.source_ips.max(1),
        stalled: a.stalled,
        deflate: a.deflate,
    })
    .await;
    if a.json {
        println!("{}", serde_json::to_string(&r).expect("report serializes"));
    } else {
        println!(
            "clients {}/{} (failed {}, dropped {})  frames/s {:.0}  bytes/s {:.0}  complete {:.1} %\n\
             spread ms p50 {:.1} p99 {:.1} max {:.1}  latency ms p50 {:.1} p99 {:.1} max {:.1}\n\
             server cpu {:.2} s/s  rss {} → {} KiB ({:.1} KiB/client)",
            r.connected, r.clients, r.failed, r.dropped, r.frames_per_sec, r.bytes_per_sec,
            r.complete_share * 100.0, r.spread_ms.p50, r.spread_ms.p99, r.spread_ms.max,
            r.latency_ms.p50, r.latency_ms.p99, r.latency_ms.max, r.server_cpu,
            r.server_rss_before_kib, r.server_rss_connected_kib, r.rss_per_client_kib
        );
        if a.deflate {
            println!(
                "deflate: negotiated {} refused {} errors {}  wire bytes/s {:.0} (inflated {:.0})",
                r.deflate_negotiated,
                r.deflate_refused,
                r.frame_errors,
                r.wire_bytes_per_sec,
                r.bytes_per_sec
            );
        }
    }
}
