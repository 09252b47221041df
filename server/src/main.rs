//! `livedash`: the CLI around [`livedash_server::run`].

use clap::Parser;
use livedash_server::{config::MIN_SYSTEM_MS, Config};
use std::io::Write;

#[tokio::main]
async fn main() {
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    if config.system_ms < MIN_SYSTEM_MS {
        tracing::warn!(
            "--system-ms {} is below sysinfo's minimum CPU interval; using {MIN_SYSTEM_MS}",
            config.system_ms
        );
    }
    let listener = match tokio::net::TcpListener::bind(config.addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("livedash: cannot listen on {}: {e}", config.addr);
            std::process::exit(1);
        }
    };
    let addr = listener
        .local_addr()
        .expect("bound listener has an address");
    println!("livedash listening on http://{addr}");
    let _ = std::io::stdout().flush();
    tracing::info!(dist = %config.dist.display(), tick_ms = config.tick_ms, "serving");
    if let Err(e) = livedash_server::run(listener, config, shutdown_signal()).await {
        eprintln!("livedash: {e}");
        std::process::exit(1);
    }
    tracing::info!("shut down");
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
