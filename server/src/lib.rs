//! livedash server library. The binary `livedash` is a thin CLI over
//! [`run`]; tests start [`run`] in-process on `127.0.0.1:0`.

pub mod accept;
pub mod aggregate;
pub mod alerts;
pub mod body;
pub mod broker;
pub mod compat;
pub mod config;
pub mod conn;
pub mod dashboards;
pub mod deflate;
pub mod events;
pub mod filters;
pub mod generator;
pub mod history;
pub mod hub;
pub mod limits;
pub mod metrics;
pub mod pace;
pub mod presence;
pub mod produce;
pub mod producers;
pub mod routes;
pub mod series;
pub mod snapshot;
pub mod sources;
pub mod sse;
pub mod static_files;
pub mod store;
pub mod streams;
pub mod system;
pub mod upgrade;
pub mod web;
pub mod ws;

pub use config::Config;

use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listener failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    /// The store (`--data-dir`) could not be opened.
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
}

/// How long shutdown waits for connections to send their close frames.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How long shutdown waits for the history's last minute rows to be stored.
const HISTORY_GRACE: Duration = Duration::from_secs(5);

/// Serve livedash on `listener` until `shutdown` completes; then every
/// WebSocket client gets close 1001 "going away" and `run` returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    listener.local_addr()?;
    // Accepted sockets inherit the listener's send buffer: a cap keeps a
    // frozen tab from soaking up megabytes of kernel buffer (and our
    // writes) before its writes block and the too-slow timeout applies.
    if config.send_buffer_kib > 0 {
        socket2::SockRef::from(&listener)
            .set_send_buffer_size(config.send_buffer_kib as usize * 1024)?;
    }
    let data_dir = config.data_dir.clone();
    let store = tokio::task::spawn_blocking(move || store::Store::open(&data_dir))
        .await
        .map_err(|e| std::io::Error::other(format!("the store opener panicked: {e}")))??;
    let hub = hub::Hub::new(config);
    let (stop_tx, stop_rx) = watch::channel(false);
    let broker = broker::Broker::spawn(&hub, stop_rx.clone());
    producers::spawn(hub.clone(), stop_rx.clone());
    compat::spawn(hub.clone(), stop_rx.clone());
    history::load(&hub, &store).await;
    let history = tokio::spawn(history::run(hub.clone(), store.clone(), stop_rx.clone()));
    let routes = routes::routes(hub.clone(), store, stop_rx);
    let inbox = hub.inbox.clone();
    let signal = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
        if let Some(inbox) = inbox {
            inbox.close(); // ingest answers 503 from now on
        }
    };
    accept::serve(listener, warp::service(routes), hub.clone(), signal).await;
    let deadline = tokio::time::Instant::now() + CLOSE_GRACE;
    while hub.limits.in_use() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The history task writes the open minutes to the store, then ends.
    if tokio::time::timeout(HISTORY_GRACE, history).await.is_err() {
        tracing::warn!("the history task did not finish its last write in time");
    }
    // The lease is released at once (another replica takes over now).
    for task in broker {
        let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    }
    if let Some(feed) = &hub.pg {
        feed.finished(Duration::from_secs(3)).await; // its last cursor save
    }
    Ok(())
}
