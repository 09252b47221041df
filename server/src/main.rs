//! `livedash`: the CLI around [`livedash_server::run`].

use clap::Parser;
use livedash_server::config::{Cli, Command, MIN_SYSTEM_MS};
use livedash_server::Config;
use std::io::Write;

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        Some(Command::Produce(args)) => produce(args).await,
        None => serve(cli.server).await,
    }
}

/// `livedash produce`: write theLook rows into PostgreSQL until stopped.
async fn produce(args: livedash_server::produce::Args) {
    match livedash_server::produce::run(args, shutdown_signal()).await {
        Ok(t) => tracing::info!(
            "stopped after writing {} users, {} orders, {} order items",
            t.users,
            t.orders,
            t.items
        ),
        Err(e) => {
            eprintln!("livedash produce: {e}");
            std::process::exit(2);
        }
    }
}

/// The server.
async fn serve(config: Config) {
    if config.system_ms < MIN_SYSTEM_MS {
        tracing::warn!(
            "--system-ms {} is below sysinfo's minimum CPU interval; using {MIN_SYSTEM_MS}",
            config.system_ms
        );
    }
    raise_fd_limit(config.max_connections + 1024);
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

/// Every connection is a file descriptor: raise the soft limit to what
/// `--max-connections` needs (and the hard limit too, when root).
fn raise_fd_limit(want: u64) {
    // SAFETY: getrlimit/setrlimit with pointers to local structs.
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 || r.rlim_cur >= want {
            return;
        }
        let raised = libc::rlimit {
            rlim_cur: want,
            rlim_max: r.rlim_max.max(want),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
            let soft = libc::rlimit {
                rlim_cur: r.rlim_max,
                rlim_max: r.rlim_max,
            };
            libc::setrlimit(libc::RLIMIT_NOFILE, &soft);
            tracing::warn!(
                "open-file limit is {}; --max-connections {} may not be reachable",
                r.rlim_max,
                want.saturating_sub(1024)
            );
        }
    }
}
