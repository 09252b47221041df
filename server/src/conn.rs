//! One task per WebSocket connection: hello, snapshot, then live frames
//! filtered by the client's subscription; client messages; the server
//! heartbeat; slow-client handling; graceful close.

use crate::hub::{Frame, Hub, SnapshotBytes};
use crate::metrics::Metrics;
use futures_util::{SinkExt, StreamExt};
use livedash_shared::{
    decode_client, ClientMessage, ErrorCode, Hello, Seqs, ServerMessage, Topic, PROTOCOL_VERSION,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{broadcast, watch};
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

/// Largest client message accepted: clients only send small control frames.
pub const MAX_CLIENT_MESSAGE: usize = 4096;
/// A write blocked longer than this closes the connection (4008).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Frames written per flush at most (feed, feed, ..., flush).
const BATCH: usize = 64;
/// Client messages per second allowed, and the burst on top.
const RATE_PER_SEC: f64 = 20.0;
const RATE_BURST: f64 = 40.0;
/// Refused client frames (errors, rate) before the connection is closed.
const MAX_STRIKES: u32 = 50;
/// Lag resyncs within one minute before a client is closed as too slow.
const MAX_LAG_RESYNCS_PER_MIN: u32 = 10;

/// How long a connection may take to send its `auth` frame.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(3);

/// Close code for a client too slow to keep up (application range).
pub const CLOSE_TOO_SLOW: u16 = 4008;

/// tungstenite buffers tuned for many mostly idle connections: the default
/// reserves a 128 KiB read buffer per connection.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(8 << 20)
        .max_message_size(Some(MAX_CLIENT_MESSAGE))
        .max_frame_size(Some(MAX_CLIENT_MESSAGE))
}

/// Why the loop ended; decides the close frame.
enum End {
    /// The peer closed or vanished; nothing more to send.
    Peer,
    /// Close with this code and reason.
    Close(u16, &'static str),
}

/// Token bucket for client messages.
struct Rate {
    tokens: f64,
    last: Instant,
}

impl Rate {
    fn allow(&mut self) -> bool {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * RATE_PER_SEC).min(RATE_BURST);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Per-connection state.
struct Conn<S> {
    hub: Arc<Hub>,
    ws: WebSocketStream<S>,
    /// The live feed; `None` while paused.
    rx: Option<broadcast::Receiver<Frame>>,
    /// Per topic: the newest seq the client has (from a frame or a snapshot).
    have: Seqs,
    /// Subscribed topics.
    topics: [bool; 4],
    /// `?history=` cap for snapshots.
    history_cap: Option<usize>,
    /// Whether `orders` frames carry their records (`?records=0` turns them off).
    records: bool,
    /// `?paused=1`: no snapshot and no live frames until `resume`.
    paused_at_open: bool,
    /// Last time anything arrived from the peer (heartbeat).
    last_seen: Instant,
    rate: Rate,
    strikes: u32,
    /// Lag resyncs in the current minute, and when that minute started.
    lag_resyncs: u32,
    lag_window: Instant,
}

fn topic_index(t: Topic) -> usize {
    match t {
        Topic::Orders => 0,
        Topic::System => 1,
        Topic::Clients => 2,
        Topic::Events => 3,
    }
}

/// What the upgrade request asked for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// `?history=N`: points of history in snapshots (`None` = all kept).
    pub history_cap: Option<usize>,
    /// `?records=0` turns the records of `orders` frames off.
    pub records: bool,
    /// `?paused=1`: open paused (hello, then nothing until `resume`).
    pub paused: bool,
    /// The viewer token was already checked (or none is required).
    pub authed: bool,
}

/// Serve one upgraded connection until it ends or `shutdown` fires.
pub async fn serve<S>(
    hub: Arc<Hub>,
    ws: WebSocketStream<S>,
    opts: Options,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let id = hub.join();
    let mut c = Conn {
        rx: None,
        have: Seqs::default(),
        topics: [true; 4],
        history_cap: opts.history_cap,
        records: opts.records,
        paused_at_open: opts.paused,
        last_seen: Instant::now(),
        rate: Rate {
            tokens: RATE_BURST,
            last: Instant::now(),
        },
        strikes: 0,
        lag_resyncs: 0,
        lag_window: Instant::now(),
        ws,
        hub: hub.clone(),
    };
    let end = match opts.authed {
        true => c.run(id, &mut shutdown).await,
        false => match c.authenticate().await {
            Ok(()) => c.run(id, &mut shutdown).await,
            Err(e) => e,
        },
    };
    if let End::Close(code, reason) = end {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: Utf8Bytes::from_static(reason),
        };
        let _ = timeout(Duration::from_secs(1), c.ws.close(Some(frame))).await;
    }
    hub.leave();
    tracing::debug!(id, "connection closed");
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    async fn run(&mut self, id: u64, shutdown: &mut watch::Receiver<bool>) -> End {
        let cfg = &self.hub.config;
        let hello = ServerMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            server_version: env!("CARGO_PKG_VERSION").to_string(),
            client_id: id,
            tick_ms: cfg.tick_ms,
            system_ms: cfg.system_period().as_millis() as u64,
            lookback_ms: cfg.lookback.as_millis() as u64,
        });
        if let Err(e) = self.send_now(Utf8Bytes::from(hello.to_json())).await {
            return e;
        }
        if !self.paused_at_open {
            if let Err(e) = self.start_live().await {
                return e;
            }
        }
        let ping_period = Duration::from_millis(self.hub.config.ping_ms);
        let mut ping = tokio::time::interval_at(Instant::now() + ping_period, ping_period);
        loop {
            if *shutdown.borrow() {
                return End::Close(1001, "going away");
            }
            tokio::select! {
                biased;
                _ = shutdown.changed() => return End::Close(1001, "going away"),
                msg = self.ws.next() => {
                    let r = match msg {
                        None => return End::Peer,
                        Some(Err(WsError::Capacity(_))) => {
                            Metrics::add(&self.hub.metrics.clients_closed_abuse, 1);
                            return End::Close(1009, "message too big");
                        }
                        Some(Err(_)) => return End::Peer,
                        Some(Ok(m)) => self.on_message(m).await,
                    };
                    if let Err(e) = r {
                        return e;
                    }
                }
                frame = recv(&mut self.rx) => {
                    if let Err(e) = self.on_frame(frame).await {
                        return e;
                    }
                }
                _ = ping.tick() => {
                    if self.last_seen.elapsed() > ping_period * 2 {
                        Metrics::add(&self.hub.metrics.heartbeat_timeouts, 1);
                        return End::Close(1001, "heartbeat timeout");
                    }
                    if let Err(e) = self.write(Message::Ping(Default::default()), true).await {
                        return e;
                    }
                }
            }
        }
    }

    /// The server wants a viewer token and the URL had none: the first frame
    /// must be `auth` with the right token, within [`AUTH_TIMEOUT`].
    async fn authenticate(&mut self) -> Result<(), End> {
        let expected = self.hub.config.viewer_token.clone();
        let first = timeout(AUTH_TIMEOUT, self.ws.next()).await;
        let ok = match (&first, &expected) {
            (Ok(Some(Ok(Message::Text(t)))), Some(secret)) => matches!(
                decode_client(t.as_str()),
                Ok(ClientMessage::Auth { token }) if secret.matches(&token)
            ),
            _ => false,
        };
        if ok {
            return Ok(());
        }
        Metrics::add(&self.hub.metrics.unauthorized, 1);
        let e = ServerMessage::Error {
            code: ErrorCode::Unauthorized,
            message: "send {\"type\":\"auth\",\"token\":...} first, or ?token= in the URL".into(),
        };
        let _ = self.send_now(Utf8Bytes::from(e.to_json())).await;
        Err(End::Close(1008, "unauthorized"))
    }

    /// Subscribe to the ring, then send a snapshot: nothing published in
    /// between is lost, and frames the snapshot covers are skipped by seq.
    async fn start_live(&mut self) -> Result<(), End> {
        self.rx = Some(self.hub.subscribe());
        self.send_snapshot().await
    }

    async fn send_snapshot(&mut self) -> Result<(), End> {
        let SnapshotBytes { text, seq } = self.hub.snapshot(self.history_cap);
        self.have = seq;
        Metrics::add(&self.hub.metrics.snapshots_sent, 1);
        self.send_now(text).await
    }

    /// Write one text frame and flush.
    async fn send_now(&mut self, text: Utf8Bytes) -> Result<(), End> {
        let n = text.len() as u64;
        self.write(Message::Text(text), true).await?;
        Metrics::add(&self.hub.metrics.frames_sent, 1);
        Metrics::add(&self.hub.metrics.bytes_sent, n);
        Ok(())
    }

    /// Feed (and optionally flush) one message with the write timeout.
    async fn write(&mut self, m: Message, flush: bool) -> Result<(), End> {
        let fut = async {
            if flush {
                self.ws.send(m).await
            } else {
                self.ws.feed(m).await
            }
        };
        match timeout(WRITE_TIMEOUT, fut).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Peer),
            Err(_) => {
                Metrics::add(&self.hub.metrics.slow_clients_closed, 1);
                Err(End::Close(CLOSE_TOO_SLOW, "too slow"))
            }
        }
    }

    /// A broadcast frame (or lag) arrived: write it and whatever else is
    /// ready, then flush once.
    async fn on_frame(
        &mut self,
        first: Result<Frame, broadcast::error::RecvError>,
    ) -> Result<(), End> {
        let mut next = Some(first);
        let mut written = 0;
        while let Some(item) = next.take() {
            match item {
                Ok(f) => {
                    let i = topic_index(f.topic);
                    if self.topics[i] && f.seq > self.have.get(f.topic) {
                        *self.have.get_mut(f.topic) = f.seq;
                        let text = match f.lite {
                            Some(lite) if !self.records => lite,
                            _ => f.text,
                        };
                        let n = text.len() as u64;
                        self.write(Message::Text(text), false).await?;
                        Metrics::add(&self.hub.metrics.frames_sent, 1);
                        Metrics::add(&self.hub.metrics.bytes_sent, n);
                        written += 1;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    // Only the newest state matters: replace what was missed
                    // by a fresh snapshot instead of buffering for this client.
                    Metrics::add(&self.hub.metrics.frames_dropped, n);
                    Metrics::add(&self.hub.metrics.lag_resyncs, 1);
                    if self.lag_window.elapsed() > Duration::from_secs(60) {
                        self.lag_window = Instant::now();
                        self.lag_resyncs = 0;
                    }
                    self.lag_resyncs += 1;
                    if self.lag_resyncs > MAX_LAG_RESYNCS_PER_MIN {
                        Metrics::add(&self.hub.metrics.slow_clients_closed, 1);
                        return Err(End::Close(CLOSE_TOO_SLOW, "too slow"));
                    }
                    self.send_snapshot().await?;
                    written = 0;
                }
                Err(broadcast::error::RecvError::Closed) => {
                    return Err(End::Close(1001, "going away"))
                }
            }
            if written < BATCH {
                if let Some(rx) = self.rx.as_mut() {
                    match rx.try_recv() {
                        Ok(f) => next = Some(Ok(f)),
                        Err(broadcast::error::TryRecvError::Lagged(n)) => {
                            next = Some(Err(broadcast::error::RecvError::Lagged(n)))
                        }
                        Err(_) => {}
                    }
                }
            }
        }
        if written > 0 {
            match timeout(WRITE_TIMEOUT, self.ws.flush()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(End::Peer),
                Err(_) => {
                    Metrics::add(&self.hub.metrics.slow_clients_closed, 1);
                    return Err(End::Close(CLOSE_TOO_SLOW, "too slow"));
                }
            }
        }
        Ok(())
    }

    /// Answer a refused client frame with `error`; close after many.
    async fn refuse(&mut self, code: ErrorCode, message: String) -> Result<(), End> {
        Metrics::add(&self.hub.metrics.client_errors, 1);
        self.strikes += 1;
        if self.strikes > MAX_STRIKES {
            Metrics::add(&self.hub.metrics.clients_closed_abuse, 1);
            return Err(End::Close(1008, "too many bad frames"));
        }
        let e = ServerMessage::Error { code, message };
        self.send_now(Utf8Bytes::from(e.to_json())).await
    }

    async fn on_message(&mut self, m: Message) -> Result<(), End> {
        self.last_seen = Instant::now();
        Metrics::add(&self.hub.metrics.client_messages, 1);
        let text = match m {
            Message::Text(t) => t,
            Message::Binary(_) => {
                return self
                    .refuse(
                        ErrorCode::Binary,
                        "binary frames are not part of protocol v1".into(),
                    )
                    .await
            }
            Message::Close(_) => return Err(End::Peer),
            // Ping is answered by tungstenite; pong only refreshes last_seen.
            _ => return Ok(()),
        };
        if !self.rate.allow() {
            return self
                .refuse(
                    ErrorCode::RateLimited,
                    format!("at most {RATE_PER_SEC} messages per second"),
                )
                .await;
        }
        let msg = match decode_client(text.as_str()) {
            Ok(m) => m,
            Err(e) => return self.refuse(e.code, e.message).await,
        };
        match msg {
            ClientMessage::Ping { nonce } => {
                let pong = ServerMessage::Pong {
                    nonce,
                    ts: livedash_shared::now_ms(),
                };
                self.send_now(Utf8Bytes::from(pong.to_json())).await
            }
            ClientMessage::Subscribe { topics } => {
                for t in topics {
                    self.topics[topic_index(t)] = true;
                }
                Ok(())
            }
            ClientMessage::Unsubscribe { topics } => {
                for t in topics {
                    self.topics[topic_index(t)] = false;
                }
                Ok(())
            }
            ClientMessage::Pause => {
                self.rx = None;
                Ok(())
            }
            ClientMessage::Resume | ClientMessage::Resync => self.start_live().await,
            // Already authorized (or no token required).
            ClientMessage::Auth { .. } => Ok(()),
        }
    }
}

/// Receive from the ring, or wait forever while paused.
async fn recv(
    rx: &mut Option<broadcast::Receiver<Frame>>,
) -> Result<Frame, broadcast::error::RecvError> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
