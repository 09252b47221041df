//! One task per WebSocket connection: authentication, hello, snapshot and
//! catch-up, then live frames filtered by the client's subscription; client
//! messages; the server heartbeat; slow-client handling; graceful close.

use crate::filters::registry::Subscription;
use crate::filters::FilterSet;
use crate::hub::{Frame, Hub};
use crate::limits::Slot;
use crate::metrics::{Fanout, Metrics};
use crate::presence::Viewer;
use crate::snapshot::HistoryCap;
use crate::ws::{Incoming, Socket, Violation};
use bytes::Bytes;
use livedash_shared::{
    decode_client, ClientMessage, ErrorCode, Hello, Seqs, ServerMessage, Topic, PROTOCOL_VERSION,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{broadcast, watch};
use tokio::time::{sleep_until, timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// Largest client message accepted: clients only send small control frames.
pub const MAX_CLIENT_MESSAGE: usize = 4096;
/// Frames written per flush at most (feed, feed, ..., flush).
const BATCH: usize = 64;
/// Client messages per second allowed, and the burst on top.
const RATE_PER_SEC: f64 = 20.0;
const RATE_BURST: f64 = 40.0;
/// Refused client frames (errors, rate) tolerated at once; more closes the
/// connection with 1008. Strikes are forgiven at [`STRIKES_FORGIVEN_PER_SEC`],
/// so a client with an occasional bad frame is never closed for it.
const MAX_STRIKES: f64 = 50.0;
const STRIKES_FORGIVEN_PER_SEC: f64 = 1.0;
/// Lag resyncs within one minute before a client is closed as too slow.
pub const MAX_LAG_RESYNCS_PER_MIN: u32 = 10;
/// Snapshots a client can ask for (`resync`, `resume`): at most one per
/// this interval; asks in between are merged into one, sent when it ends.
pub const RESYNC_INTERVAL: Duration = Duration::from_secs(2);

/// How long a connection may take to send its `auth` frame.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(3);

/// Close code for a client too slow to keep up (application range).
pub const CLOSE_TOO_SLOW: u16 = 4008;

/// tungstenite buffers tuned for many mostly idle connections (the
/// tutorials' sockets, [`crate::compat`]; `/ws` frames itself, see
/// [`crate::ws`]): the default reserves a 128 KiB read buffer per connection.
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

/// A token bucket (client messages) that can also leak (strikes).
struct Bucket {
    /// Current level.
    level: f64,
    /// When `level` was last brought up to date.
    last: Instant,
}

impl Bucket {
    fn new(level: f64) -> Self {
        Bucket {
            level,
            last: Instant::now(),
        }
    }

    /// Move the level by `per_sec` for the time passed, within `0..=cap`.
    fn drift(&mut self, per_sec: f64, cap: f64) -> f64 {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.level = (self.level + dt * per_sec).clamp(0.0, cap);
        self.level
    }

    /// Rate limit: take a token if one is there.
    fn allow(&mut self) -> bool {
        if self.drift(RATE_PER_SEC, RATE_BURST) >= 1.0 {
            self.level -= 1.0;
            true
        } else {
            false
        }
    }

    /// Strikes: add one after forgiving the time passed; the new level.
    fn strike(&mut self) -> f64 {
        self.drift(-STRIKES_FORGIVEN_PER_SEC, f64::MAX);
        self.level += 1.0;
        self.level
    }
}

/// Per-connection state.
struct Conn<S> {
    hub: Arc<Hub>,
    /// The socket: client messages in, frames queued and flushed out.
    ws: Socket<S>,
    /// The live feed; `None` while paused (or before the first snapshot).
    rx: Option<broadcast::Receiver<Frame>>,
    /// Per topic: the newest seq the client has (from a frame or a snapshot).
    have: Seqs,
    /// Subscribed topics.
    topics: [bool; Topic::ALL.len()],
    /// The tabs this socket serves (a browser's shared socket reports
    /// them), counted as viewers while its [`Viewer`] lives.
    tabs: crate::presence::Tabs,
    /// `?history=`, rounded to a snapshot size.
    history: HistoryCap,
    /// Whether `orders` frames carry their records (`?records=0` turns them off).
    records: bool,
    /// Last time anything arrived from the peer (heartbeat).
    last_seen: Instant,
    /// Client messages allowed now.
    rate: Bucket,
    /// Refused frames not yet forgiven.
    strikes: Bucket,
    /// Lag resyncs in the current minute, and when that minute started.
    lag_resyncs: u32,
    lag_window: Instant,
    /// When the last snapshot went out (resync coalescing).
    last_snapshot: Option<Instant>,
    /// A `resync`/`resume` arrived too soon after the last snapshot: one
    /// snapshot is owed when [`RESYNC_INTERVAL`] has passed.
    snapshot_owed: bool,
    /// `--write-timeout-ms`.
    write_timeout: Duration,
    /// permessage-deflate was negotiated: ring frames go out as the hub's
    /// shared compressed bytes.
    deflate: bool,
    /// Fan-out counters of the ring frames in the batch being written,
    /// counted down once the batch is flushed (`livedash_fanout_seconds`).
    fanouts: Vec<Arc<Fanout>>,
    /// The filter set this connection uses (`?var-...`, `filter` frames);
    /// `None`: unfiltered. While set, `orders` frames come from the set's
    /// ring and the main ring's are skipped.
    filter: Option<Subscription>,
    /// The filter set's ring; `None` while unfiltered or paused.
    frx: Option<broadcast::Receiver<Frame>>,
}

/// What the upgrade request asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// `?history=N`, rounded to a snapshot size.
    pub history: HistoryCap,
    /// `?records=0` turns the records of `orders` frames off.
    pub records: bool,
    /// The viewer token was already checked (or none is required).
    pub authed: bool,
    /// `?paused=1`: a paused page reconnecting; no snapshot and no topic
    /// frames until it sends `resume`.
    pub paused: bool,
    /// permessage-deflate was negotiated (the `101` said so).
    pub deflate: bool,
    /// `?var-NAME=value...`: the filter to start with (empty: none).
    pub filter: FilterSet,
    /// `?since=...&epoch=E`: a reconnecting client's last applied seqs,
    /// to resume from instead of taking a snapshot.
    pub resume: Option<Resume>,
}

/// Where a reconnecting client stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// Per topic, the newest seq it applied.
    pub since: Seqs,
    /// The epoch those seqs are from (`None`: unknown, so a snapshot).
    pub epoch: Option<String>,
}

/// Serve one upgraded connection until it ends or `shutdown` fires. `slot`
/// is the connection's place under the limits, held until it ends.
pub async fn serve<S>(
    hub: Arc<Hub>,
    ws: Socket<S>,
    opts: Options,
    slot: Slot,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let id = hub.presence.next_id();
    let mut c = Conn {
        rx: None,
        have: Seqs::default(),
        topics: [true; Topic::ALL.len()],
        tabs: Default::default(),
        history: opts.history,
        records: opts.records,
        last_seen: Instant::now(),
        rate: Bucket::new(RATE_BURST),
        strikes: Bucket::new(0.0),
        lag_resyncs: 0,
        lag_window: Instant::now(),
        last_snapshot: None,
        snapshot_owed: false,
        write_timeout: Duration::from_millis(hub.config.write_timeout_ms),
        fanouts: Vec::new(),
        deflate: opts.deflate,
        filter: None,
        frx: None,
        ws,
        hub: hub.clone(),
    };
    let authed = match opts.authed {
        true => Ok(()),
        false => Box::pin(c.authenticate()).await,
    };
    let end = match authed {
        Ok(()) => {
            // Only now a viewer: counted, announced in the feed.
            let viewer = Viewer::new(&hub.presence, &hub.metrics);
            c.tabs = viewer.tabs();
            c.run(id, &opts, &mut shutdown).await
        }
        Err(e) => e,
    };
    if let End::Close(code, reason) = end {
        c.ws.close(code, reason);
        let _ = timeout(Duration::from_secs(1), c.ws.shutdown()).await;
    }
    drop(slot);
    tracing::debug!(id, "connection closed");
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    async fn run(&mut self, id: u64, opts: &Options, shutdown: &mut watch::Receiver<bool>) -> End {
        let cfg = &self.hub.config;
        let hello = ServerMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            server_version: env!("CARGO_PKG_VERSION").to_string(),
            client_id: id,
            tick_ms: cfg.tick_ms,
            system_ms: cfg.system_period().as_millis() as u64,
            lookback_ms: cfg.lookback.as_millis() as u64,
            epoch: Some(self.hub.epoch().to_string()),
        });
        if let Err(e) = self.send_now(Utf8Bytes::from(hello.to_json())).await {
            return e;
        }
        if !opts.filter.is_empty() {
            match self
                .hub
                .filters
                .acquire(&opts.filter, livedash_shared::now_ms())
            {
                Ok(sub) => self.filter = Some(sub),
                Err(full) => {
                    let e = ServerMessage::Error {
                        code: ErrorCode::TooManyFilterSets,
                        message: full.to_string(),
                    };
                    let _ = self.send_now(Utf8Bytes::from(e.to_json())).await;
                    return End::Close(1013, "too many filter sets");
                }
            }
        }
        let started = match (opts.paused, &opts.resume) {
            (true, _) => Ok(()),
            // A filter set has seqs of its own: a fresh filtered snapshot.
            (false, Some(r)) if self.filter.is_none() => {
                Box::pin(self.resume_from(r.since, r.epoch.as_deref())).await
            }
            (false, _) => Box::pin(self.start_live()).await,
        };
        if let Err(e) = started {
            return e;
        }
        match self.live(shutdown).await {
            Ok(never) => match never {},
            Err(e) => e,
        }
    }

    /// The main loop: client messages, ring frames, heartbeat, owed
    /// snapshots. Returns only how the connection ends.
    async fn live(
        &mut self,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<std::convert::Infallible, End> {
        let period = Duration::from_millis(self.hub.config.ping_ms);
        let mut next_ping = Instant::now() + period;
        // One timer for the ping, the heartbeat and an owed snapshot, at the
        // earliest of the three, living as long as the loop and moved only
        // when that changes: a timer made afresh on every wake-up registers
        // with tokio's timer wheel each time (tens of thousands of times a
        // second at 20k clients), and each timer is ~100 bytes of every
        // idle connection.
        let timer = sleep_until(next_ping);
        tokio::pin!(timer);
        if *shutdown.borrow() {
            return Err(End::Close(1001, "going away"));
        }
        // Likewise one shutdown future for the whole loop: made afresh on
        // every wake-up it joined and left the watch's waiter list (a lock
        // and a list edit) for every frame of every connection.
        let stopping = shutdown.changed();
        tokio::pin!(stopping);
        loop {
            // Two silent periods after the last sign of life, exactly.
            let silent_at = self.last_seen + period * 2;
            let owed_at = self.snapshot_owed.then(|| {
                self.last_snapshot
                    .map_or_else(Instant::now, |t| t + RESYNC_INTERVAL)
            });
            let wake = owed_at.map_or(next_ping.min(silent_at), |o| {
                o.min(next_ping).min(silent_at)
            });
            if timer.deadline() != wake {
                timer.as_mut().reset(wake);
            }
            tokio::select! {
                biased;
                _ = &mut stopping => return Err(End::Close(1001, "going away")),
                msg = self.ws.recv() => match msg {
                    None => return Err(End::Peer),
                    Some(Err(v)) => return Err(self.violated(v)),
                    // Rare next to ring frames: boxed, so its state is
                    // not part of every idle connection's task.
                    Some(Ok(m)) => Box::pin(self.on_message(m)).await?,
                },
                frame = recv(&mut self.rx) => self.on_frame(frame, false).await?,
                frame = recv(&mut self.frx) => self.on_frame(frame, true).await?,
                _ = &mut timer => {
                    let now = Instant::now();
                    if now >= silent_at {
                        Metrics::add(&self.hub.metrics.heartbeat_timeouts, 1);
                        return Err(End::Close(1001, "heartbeat timeout"));
                    }
                    if now >= next_ping {
                        next_ping = now + period;
                        self.ws.ping();
                        self.flush().await?;
                    }
                    if owed_at.is_some_and(|o| now >= o) {
                        Box::pin(self.start_live()).await?;
                    }
                }
            }
        }
    }

    /// The server wants a viewer token and the URL had none: the first frame
    /// must be `auth` with the right token, within [`AUTH_TIMEOUT`].
    async fn authenticate(&mut self) -> Result<(), End> {
        let expected = self.hub.config.viewer_token.clone();
        let first = timeout(AUTH_TIMEOUT, self.ws.recv()).await;
        let ok = match (&first, &expected) {
            (Ok(Some(Ok(Incoming::Text(t)))), Some(secret)) => matches!(
                decode_client(t),
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

    /// Subscribe to the ring, then send a snapshot and the frames published
    /// since it was built: nothing is lost, and frames the snapshot (or the
    /// catch-up) covered are skipped by seq.
    async fn start_live(&mut self) -> Result<(), End> {
        self.rx = Some(self.hub.subscribe());
        self.snapshot_owed = false;
        self.last_snapshot = Some(Instant::now());
        if let Some(sub) = &self.filter {
            // Both rings subscribed before the parts are read: frames the
            // snapshot covers are skipped by seq, none is missed.
            self.frx = Some(sub.entry.subscribe());
            let (text, seq) = crate::filters::snapshot::build(&self.hub, &sub.entry, self.history);
            self.have = seq;
            Metrics::add(&self.hub.metrics.snapshots_sent, 1);
            return self.send_now(text).await;
        }
        let snap = self.hub.snapshot(self.history).await;
        let (snap, catch_up) = match self.hub.frames_resume(&snap.seq, &snap.epoch) {
            Some(frames) => (snap, frames),
            // Built after we subscribed: the ring has everything newer.
            None => (self.hub.fresh_snapshot(self.history).await, Vec::new()),
        };
        self.have = snap.seq;
        Metrics::add(&self.hub.metrics.snapshots_sent, 1);
        self.send_now(snap.text.clone()).await?;
        for f in catch_up {
            self.feed_frame(f, false);
        }
        self.flush().await
    }

    /// Resume after `since` (seqs of `epoch`): subscribe, then the current
    /// `streams` status and the frames published after `since`, no
    /// snapshot; a snapshot instead when they are gone or the epoch is not
    /// this stream's.
    async fn resume_from(&mut self, since: Seqs, epoch: Option<&str>) -> Result<(), End> {
        let rx = self.hub.subscribe();
        let mut frames = epoch.and_then(|e| self.hub.frames_resume(&since, e));
        if let (None, Some(e), crate::broker::Broker::Redis(r)) = (&frames, epoch, &self.hub.broker)
        {
            // Older than this replica's buffer: from the streams, up to
            // where the ring (subscribed above) takes over.
            if let Some(now) = self.hub.seqs_in(e) {
                frames = r.frames_between(&since, &now).await;
            }
        }
        let Some(frames) = frames else {
            Metrics::add(&self.hub.metrics.resumes_failed, 1);
            return self.start_live().await;
        };
        Metrics::add(&self.hub.metrics.resumes, 1);
        self.rx = Some(rx);
        self.snapshot_owed = false;
        // Counts as the one catch-up of the resync interval.
        self.last_snapshot = Some(Instant::now());
        self.have = since;
        self.queue_text(self.hub.streams_frame());
        for f in frames {
            self.feed_frame(f, false);
        }
        self.flush().await
    }

    /// A `resync` or `resume`: a snapshot now, or one owed at the end of
    /// [`RESYNC_INTERVAL`] (later asks merge into it).
    async fn snapshot_requested(&mut self) -> Result<(), End> {
        if self.too_soon() {
            if self.snapshot_owed {
                Metrics::add(&self.hub.metrics.resyncs_merged, 1);
            }
            self.snapshot_owed = true;
            Ok(())
        } else {
            self.start_live().await
        }
    }

    /// Whether the last snapshot (or resume) is younger than
    /// [`RESYNC_INTERVAL`].
    fn too_soon(&self) -> bool {
        self.last_snapshot
            .is_some_and(|t| t.elapsed() < RESYNC_INTERVAL)
    }

    /// Write one text frame (after anything already queued) and flush.
    async fn send_now(&mut self, text: Utf8Bytes) -> Result<(), End> {
        self.queue_text(text);
        self.flush().await
    }

    /// Queue one text frame of shared bytes for the next flush.
    fn queue_text(&mut self, text: Utf8Bytes) {
        Metrics::add(&self.hub.metrics.frames_sent, 1);
        Metrics::add(&self.hub.metrics.bytes_sent, text.len() as u64);
        self.ws.text(Bytes::from(text));
    }

    /// A client broke the protocol: the close it gets.
    fn violated(&self, v: Violation) -> End {
        match v {
            Violation::TooBig => {
                Metrics::add(&self.hub.metrics.clients_closed_abuse, 1);
                End::Close(1009, "message too big")
            }
            Violation::BadUtf8 => End::Close(1007, "invalid UTF-8"),
            Violation::Protocol(why) => End::Close(1002, why),
        }
    }

    /// The outcome of a write that took too long or failed.
    fn write_failed(&self, timed_out: bool) -> End {
        if timed_out {
            Metrics::add(&self.hub.metrics.slow_clients_closed, 1);
            End::Close(CLOSE_TOO_SLOW, "too slow")
        } else {
            End::Peer
        }
    }

    /// Write what was queued (one `writev` when the socket takes it all),
    /// with the write timeout.
    async fn flush(&mut self) -> Result<(), End> {
        if !self.ws.pending() {
            return Ok(());
        }
        match timeout(self.write_timeout, self.ws.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(self.write_failed(false)),
            Err(_) => Err(self.write_failed(true)),
        }
    }

    /// Queue one ring frame if the client wants it and lacks it: the hub's
    /// shared bytes (plain or deflated), never a copy.
    fn feed_frame(&mut self, f: Frame, own: bool) {
        if let Some(topic) = f.topic {
            if !self.topics[topic.index()] || f.seq <= self.have.get(topic) {
                return;
            }
            // `orders` from the filter set's ring when filtered, else from
            // the main ring.
            if topic == Topic::Orders && own != self.filter.is_some() {
                return;
            }
            *self.have.get_mut(topic) = f.seq;
        }
        let (text, lite) = match f.lite {
            Some(lite) if !self.records => (lite, true),
            _ => (f.text, false),
        };
        match (&f.deflated, self.deflate) {
            (Some(z), true) => {
                let bytes = z.get(text.as_bytes(), lite);
                Metrics::add(&self.hub.metrics.deflated_frames_sent, 1);
                Metrics::add(&self.hub.metrics.frames_sent, 1);
                Metrics::add(&self.hub.metrics.bytes_sent, bytes.len() as u64);
                self.ws.deflated(bytes);
            }
            _ => self.queue_text(text),
        }
    }

    /// The client fell behind the ring: only the newest state matters, so
    /// what it missed is replaced by a fresh snapshot instead of buffered.
    async fn lagged(&mut self, missed: u64) -> Result<(), End> {
        Metrics::add(&self.hub.metrics.frames_dropped, missed);
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
        self.start_live().await
    }

    /// A ring frame (or lag) arrived: write it and whatever else is ready,
    /// then flush once.
    async fn on_frame(
        &mut self,
        first: Result<Frame, broadcast::error::RecvError>,
        own: bool,
    ) -> Result<(), End> {
        let result = self.write_ready(first, own).await;
        // Done with these frames, written or not (a failed write ends the
        // connection: it will not write them either).
        for f in self.fanouts.drain(..) {
            f.done(&self.hub.metrics.fanout);
        }
        result
    }

    /// [`Conn::on_frame`]'s work: queue `first` and what else the ring
    /// holds (at most [`BATCH`]), flush once: frames published in the same
    /// instant leave in one write.
    async fn write_ready(
        &mut self,
        first: Result<Frame, broadcast::error::RecvError>,
        own: bool,
    ) -> Result<(), End> {
        use broadcast::error::{RecvError, TryRecvError};
        let mut next = Some(first);
        let mut written = 0;
        while let Some(item) = next.take() {
            match item {
                // Another epoch (Redis lost its data): seqs start over.
                Ok(f) if f.reset => {
                    Box::pin(self.start_live()).await?;
                    written = 0;
                }
                Ok(mut f) => {
                    if let Some(fanout) = f.fanout.take() {
                        self.fanouts.push(fanout);
                    }
                    self.feed_frame(f, own);
                    written += 1;
                }
                Err(RecvError::Lagged(n)) => {
                    Box::pin(self.lagged(n)).await?;
                    written = 0;
                }
                Err(RecvError::Closed) => return Err(End::Close(1001, "going away")),
            }
            if written < BATCH {
                let rx = if own { &mut self.frx } else { &mut self.rx };
                next = match rx.as_mut().map(|rx| rx.try_recv()) {
                    Some(Ok(f)) => Some(Ok(f)),
                    Some(Err(TryRecvError::Lagged(n))) => Some(Err(RecvError::Lagged(n))),
                    _ => None,
                };
            }
        }
        self.flush().await
    }

    /// Answer a refused client frame with `error`; close after too many.
    async fn refuse(&mut self, code: ErrorCode, message: String) -> Result<(), End> {
        Metrics::add(&self.hub.metrics.client_errors, 1);
        if self.strikes.strike() > MAX_STRIKES {
            Metrics::add(&self.hub.metrics.clients_closed_abuse, 1);
            return Err(End::Close(1008, "too many bad frames"));
        }
        let e = ServerMessage::Error { code, message };
        self.send_now(Utf8Bytes::from(e.to_json())).await
    }

    async fn on_message(&mut self, m: Incoming) -> Result<(), End> {
        self.last_seen = Instant::now();
        Metrics::add(&self.hub.metrics.client_messages, 1);
        let text = match m {
            Incoming::Text(t) => t,
            Incoming::Binary => {
                let why = "binary frames are not part of protocol v1";
                return self.refuse(ErrorCode::Binary, why.into()).await;
            }
            // The closing handshake: answered with the client's code.
            Incoming::Close(code) => return Err(End::Close(code.unwrap_or(1000), "")),
            Incoming::Ping(payload) => {
                self.ws.pong(payload);
                return self.flush().await;
            }
            // A pong only refreshes last_seen.
            Incoming::Pong => return Ok(()),
        };
        if !self.rate.allow() {
            let why = format!("at most {RATE_PER_SEC} messages per second");
            return self.refuse(ErrorCode::RateLimited, why).await;
        }
        match decode_client(&text) {
            Ok(msg) => self.on_client_message(msg).await,
            Err(e) => self.refuse(e.code, e.message).await,
        }
    }

    async fn on_client_message(&mut self, msg: ClientMessage) -> Result<(), End> {
        match msg {
            ClientMessage::Ping { nonce } => {
                let pong = ServerMessage::Pong {
                    nonce,
                    ts: livedash_shared::now_ms(),
                };
                self.send_now(Utf8Bytes::from(pong.to_json())).await
            }
            ClientMessage::Subscribe { topics } => {
                topics.iter().for_each(|&t| self.topics[t.index()] = true);
                Ok(())
            }
            ClientMessage::Unsubscribe { topics } => {
                topics.iter().for_each(|&t| self.topics[t.index()] = false);
                Ok(())
            }
            ClientMessage::Pause => {
                self.rx = None;
                self.frx = None;
                self.snapshot_owed = false;
                Ok(())
            }
            ClientMessage::Resume {
                since: Some(since),
                epoch,
            } if !self.too_soon() && self.filter.is_none() => {
                self.resume_from(since, epoch.as_deref()).await
            }
            ClientMessage::Resume { .. } | ClientMessage::Resync => self.snapshot_requested().await,
            // Already authorized (or no token required).
            ClientMessage::Auth { .. } => Ok(()),
            ClientMessage::Tabs { count } => {
                self.tabs.set(&self.hub.presence, count);
                Ok(())
            }
            ClientMessage::Filter { vars } => self.change_filter(&vars).await,
        }
    }

    /// A `filter` frame: use the set for `vars` (none for `{}`) and send a
    /// snapshot computed over it; a bad or one-too-many filter is refused
    /// with an `error` and the previous filter stays.
    async fn change_filter(&mut self, vars: &BTreeMap<String, Vec<String>>) -> Result<(), End> {
        let pairs = vars
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.as_str(), v.as_str())));
        let set = match FilterSet::from_vars(pairs) {
            Ok(set) => set,
            Err(e) => return self.refuse(ErrorCode::BadFilter, e.0).await,
        };
        if set.is_empty() {
            self.filter = None;
        } else {
            match self.hub.filters.acquire(&set, livedash_shared::now_ms()) {
                // Acquired before the old one is dropped: a set both use
                // is kept.
                Ok(sub) => self.filter = Some(sub),
                Err(full) => {
                    return self
                        .refuse(ErrorCode::TooManyFilterSets, full.to_string())
                        .await
                }
            }
        }
        self.frx = None;
        match self.rx.is_some() {
            true => self.start_live().await,
            false => Ok(()), // paused: the snapshot comes with `resume`
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
