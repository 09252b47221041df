//! The accept loop: warp's filters served by hyper over sockets we wrap
//! ourselves, so that a long-lived HTTP response (`/api/stream`, Server-Sent
//! Events) can be closed when a write to its socket stays blocked past
//! `--write-timeout-ms`, as `/ws` connections are. warp's own loop hides the
//! socket (and hyper has no write timeout), hence this module.
//!
//! Each connection gets a [`WriteStall`] guard, handed to its requests as
//! an extension; a handler that streams arms it. Plain responses leave it
//! unarmed, and upgraded WebSockets keep their own timeouts
//! ([`crate::conn`]).

use crate::metrics::Metrics;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;
use warp::Filter;

/// The client address of a request's connection (request extension; our
/// loop replaces warp's, whose own address extension is private).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// The remote address of the request's connection, like
/// `warp::addr::remote()` for connections accepted by [`serve`].
pub fn remote() -> impl Filter<Extract = (Option<SocketAddr>,), Error = std::convert::Infallible>
       + Clone
       + Send
       + Sync
       + 'static {
    warp::ext::optional::<PeerAddr>().map(|p: Option<PeerAddr>| p.map(|p| p.0))
}

/// A connection's write-stall limit, shared by its socket wrapper and its
/// requests (extension `Arc<WriteStall>`).
#[derive(Debug, Default)]
pub struct WriteStall {
    /// Milliseconds a write may stay blocked before the socket fails with
    /// `TimedOut` (and hyper closes it); 0 = no limit (the default).
    limit_ms: AtomicU64,
    /// Whether the limit fired (for tests and the slow-client counter).
    tripped: AtomicBool,
}

impl WriteStall {
    /// Close the connection once a write stays blocked for `limit`.
    pub fn arm(&self, limit: Duration) {
        self.limit_ms
            .store(limit.as_millis().max(1) as u64, Relaxed);
    }

    /// Whether a blocked write closed the connection.
    pub fn tripped(&self) -> bool {
        self.tripped.load(Relaxed)
    }
}

/// A socket whose writes fail once blocked past its [`WriteStall`] limit.
struct Guarded {
    /// The socket.
    io: TcpStream,
    /// The limit (armed by a streaming handler).
    stall: Arc<WriteStall>,
    /// Running while a write is blocked; its expiry fails the write. The
    /// socket's own readiness and this timer both wake the writer.
    blocked: Option<Pin<Box<Sleep>>>,
    /// Where a fired limit is counted (`slow_clients_closed_total`).
    metrics: Arc<dyn AsMetrics>,
}

/// Access to the process counters without naming the hub here.
pub trait AsMetrics: Send + Sync {
    /// The counters.
    fn metrics(&self) -> &Metrics;
}

impl Guarded {
    /// A write returned `Pending`: start (or check) the stall timer.
    fn stalled<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let ms = self.stall.limit_ms.load(Relaxed);
        if ms == 0 {
            return Poll::Pending;
        }
        let timer = self
            .blocked
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(Duration::from_millis(ms))));
        match timer.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                if !self.stall.tripped.swap(true, Relaxed) {
                    Metrics::add(&self.metrics.metrics().slow_clients_closed, 1);
                }
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "write blocked past --write-timeout-ms",
                )))
            }
        }
    }

    /// Count a write system call that moved bytes (`socket_writes_total`).
    fn count_write(&self, r: &Poll<io::Result<usize>>) {
        if matches!(r, Poll::Ready(Ok(n)) if *n > 0) {
            Metrics::add(&self.metrics.metrics().socket_writes, 1);
        }
    }

    /// A write made progress (or failed): the stall is over.
    fn progressed<T>(
        &mut self,
        r: Poll<io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        match r {
            Poll::Pending => self.stalled(cx),
            ready => {
                self.blocked = None;
                ready
            }
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.count_write(&r);
        self.progressed(r, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.count_write(&r);
        self.progressed(r, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        self.progressed(r, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// warp's service for one connection, adding that connection's address
/// and [`WriteStall`] to each request.
#[derive(Clone)]
struct WithConn<S> {
    /// warp's service.
    inner: S,
    /// The peer's address.
    addr: SocketAddr,
    /// The connection's stall guard.
    stall: Arc<WriteStall>,
}

impl<S, B> tower_service::Service<http::Request<B>> for WithConn<S>
where
    S: tower_service::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        req.extensions_mut().insert(PeerAddr(self.addr));
        req.extensions_mut().insert(self.stall.clone());
        self.inner.call(req)
    }
}

/// Serve `svc` (warp's service for the routes) on `listener` until
/// `shutdown` completes, then wait for the open HTTP connections to finish
/// (upgraded WebSockets are not waited for: they watch the shutdown signal
/// themselves). Otherwise what `warp::serve(..).incoming(..).graceful(..)`
/// does.
pub async fn serve<S>(
    listener: TcpListener,
    svc: S,
    metrics: Arc<dyn AsMetrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    S: tower_service::Service<
            http::Request<hyper::body::Incoming>,
            Response = warp::reply::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors and the like: back off, as warp does.
                    tracing::error!("accept error: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let stall = Arc::new(WriteStall::default());
        let io = Guarded {
            io: tcp,
            stall: stall.clone(),
            blocked: None,
            metrics: metrics.clone(),
        };
        let svc = WithConn {
            inner: svc.clone(),
            addr,
            stall,
        };
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let svc = hyper_util::service::TowerToHyperService::new(svc);
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let conn =
                builder.serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(io), svc);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!("connection error: {e:?}");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
