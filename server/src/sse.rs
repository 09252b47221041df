//! `GET /api/stream`: the `/ws` frames as Server-Sent Events, for networks
//! that block WebSockets. Same JSON text, topics and `seq`s; `hello` and a
//! snapshot first; `id:` is `topic:seq` of the newest frame the client
//! holds, so a reconnect with `Last-Event-ID` continues from the hub's
//! recent frames without a gap (or gets a fresh snapshot when they are
//! gone). The same Origin, viewer-token, slot and per-address rules as
//! `/ws` ([`crate::routes`]); a write blocked past `--write-timeout-ms`
//! closes the socket ([`crate::accept::WriteStall`]); a client that falls
//! behind the ring gets a snapshot instead of a backlog, as on `/ws`.
//!
//! One direction only: commands (`pause`, `resync`, topic filters) do not
//! exist here; the page closes the stream while paused and reopens it.

use crate::accept::WriteStall;
use crate::filters::registry::Subscription;
use crate::filters::FilterSet;
use crate::hub::{Frame, Hub};
use crate::limits::Slot;
use crate::metrics::Metrics;
use crate::routes::{self, bearer};
use crate::snapshot::HistoryCap;
use crate::upgrade::{check_origin, take_slot};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use livedash_shared::{Hello, Seqs, ServerMessage, Topic, PROTOCOL_VERSION};
use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;
use warp::reply::Response;
use warp::sse::Event;
use warp::Reply;

/// How long a browser waits before reconnecting (`retry:`).
pub const RETRY: Duration = Duration::from_secs(2);

/// The `event:` name of a ring frame: its `type`.
pub fn event_name(topic: Option<Topic>) -> &'static str {
    match topic {
        None => "streams",
        Some(Topic::Events) => "event",
        Some(t) => t.as_str(),
    }
}

/// `topic:seq`, the `id:` of a topic frame.
pub fn event_id(topic: Topic, seq: u64) -> String {
    format!("{}:{seq}", topic.as_str())
}

/// Parse a `Last-Event-ID` (`topic:seq`).
pub fn parse_id(id: &str) -> Option<(Topic, u64)> {
    let (name, seq) = id.trim().split_once(':')?;
    let topic = Topic::ALL.into_iter().find(|t| t.as_str() == name)?;
    Some((topic, seq.parse().ok()?))
}

/// A viewer for as long as the stream lives (counted in `clients`).
struct Watching(Arc<Hub>);

impl Watching {
    fn new(hub: Arc<Hub>) -> Self {
        hub.presence.join();
        Metrics::add(&hub.metrics.connections, 1);
        Metrics::add(&hub.metrics.connections_total, 1);
        Metrics::add(&hub.metrics.sse_streams, 1);
        Watching(hub)
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.0.presence.leave();
        self.0
            .metrics
            .connections
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// One client's stream: pulled by hyper as fast as its socket takes it.
struct Live {
    hub: Arc<Hub>,
    /// The live feed (subscribed before any snapshot or catch-up).
    rx: broadcast::Receiver<Frame>,
    /// Per topic: the newest seq the client has.
    have: Seqs,
    /// `?history=`.
    history: HistoryCap,
    /// Whether `orders` frames carry their records (`?records=0`: no).
    records: bool,
    /// Where to continue from (`Last-Event-ID`), until the stream opened.
    resume: Option<(Topic, u64)>,
    /// Whether `hello` and the snapshot (or catch-up) were queued.
    opened: bool,
    /// Events ready to go, oldest first.
    queue: VecDeque<Event>,
    /// Comment lines keep proxies and the browser from timing out.
    heartbeat: tokio::time::Interval,
    /// Server shutdown: the stream ends.
    shutdown: watch::Receiver<bool>,
    /// Lag resyncs in the current minute, and when that minute started.
    lag_resyncs: u32,
    lag_window: Instant,
    /// Set when the stream must end after the queue drains.
    ended: bool,
    /// The connection slot, held for the stream's life.
    _slot: Slot,
    /// Counted as a viewer.
    _viewer: Watching,
    /// `?var-...`: the filter set whose `orders` frames this stream gets
    /// instead of the main ring's (no `id:`s then: a reconnect gets a
    /// fresh filtered snapshot).
    filter: Option<Subscription>,
    /// The filter set's ring.
    frx: Option<broadcast::Receiver<Frame>>,
}

/// Receive from the filter set's ring, or wait forever when unfiltered.
async fn recv_own(
    rx: &mut Option<broadcast::Receiver<Frame>>,
) -> Result<Frame, broadcast::error::RecvError> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Live {
    /// The next event to write, `None` to end the response.
    async fn next(&mut self) -> Option<Event> {
        if !self.opened {
            self.opened = true;
            self.open().await;
        }
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Some(e);
            }
            if self.ended || *self.shutdown.borrow() {
                return None;
            }
            tokio::select! {
                biased;
                _ = self.shutdown.changed() => self.ended = true,
                r = self.rx.recv() => match r {
                    // Another epoch: the seqs start over, a snapshot.
                    Ok(f) if f.reset => self.snapshot().await,
                    Ok(f) => self.push_frame(f, false),
                    Err(broadcast::error::RecvError::Lagged(n)) => self.lagged(n).await,
                    Err(broadcast::error::RecvError::Closed) => self.ended = true,
                },
                r = recv_own(&mut self.frx) => match r {
                    Ok(f) => self.push_frame(f, true),
                    Err(broadcast::error::RecvError::Lagged(n)) => self.lagged(n).await,
                    Err(broadcast::error::RecvError::Closed) => self.ended = true,
                },
                _ = self.heartbeat.tick() => return Some(Event::default().comment("")),
            }
        }
    }

    /// `hello`, then the frames after `Last-Event-ID` or a snapshot.
    async fn open(&mut self) {
        let cfg = &self.hub.config;
        let hello = ServerMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            server_version: env!("CARGO_PKG_VERSION").to_string(),
            client_id: self.hub.presence.next_id(),
            tick_ms: cfg.tick_ms,
            system_ms: cfg.system_period().as_millis() as u64,
            lookback_ms: cfg.lookback.as_millis() as u64,
            epoch: Some(self.hub.epoch().to_string()),
        });
        let e = Event::default()
            .retry(RETRY)
            .event("hello")
            .data(hello.to_json());
        self.queue.push_back(e);
        let resumed = self
            .resume
            .take()
            .and_then(|(t, s)| self.hub.frames_after(t, s));
        match resumed {
            Some((now, missed)) => {
                // `streams` frames are not in the recent buffer: the
                // current status, in case one was missed.
                let streams = self.hub.snapshot_parts(Some(0)).history.streams;
                let text = ServerMessage::Streams(streams).to_json();
                self.queue
                    .push_back(Event::default().event("streams").data(text));
                for f in missed {
                    self.push_frame(f, false);
                }
                self.have = now;
            }
            None => self.snapshot().await,
        }
    }

    /// Queue a snapshot and the frames published since it was built.
    async fn snapshot(&mut self) {
        if let Some(sub) = &self.filter {
            // Both rings subscribed before the parts are read.
            self.rx = self.hub.subscribe();
            self.frx = Some(sub.entry.subscribe());
            let (text, seq) = crate::filters::snapshot::build(&self.hub, &sub.entry, self.history);
            self.have = seq;
            Metrics::add(&self.hub.metrics.snapshots_sent, 1);
            let e = Event::default()
                .event("snapshot")
                .id("")
                .data(text.as_str());
            self.queue.push_back(e);
            return;
        }
        let snap = self.hub.snapshot(self.history).await;
        let (snap, catch_up) = match self.hub.frames_resume(&snap.seq, &snap.epoch) {
            Some(frames) => (snap, frames),
            None => (self.hub.fresh_snapshot(self.history).await, Vec::new()),
        };
        self.have = snap.seq;
        Metrics::add(&self.hub.metrics.snapshots_sent, 1);
        Metrics::add(&self.hub.metrics.frames_sent, 1);
        Metrics::add(&self.hub.metrics.bytes_sent, snap.text.len() as u64);
        // An empty id clears the browser's: nothing to resume from.
        let id = self
            .hub
            .position_of(&snap.seq)
            .map_or_else(String::new, |(t, s)| event_id(t, s));
        let e = Event::default()
            .event("snapshot")
            .id(id)
            .data(snap.text.as_str());
        self.queue.push_back(e);
        for f in catch_up {
            self.push_frame(f, false);
        }
    }

    /// Queue a ring frame if the client lacks it.
    fn push_frame(&mut self, mut f: Frame, own: bool) {
        if let Some(fanout) = f.fanout.take() {
            // Handed to hyper now: as far as the server's spread goes, out.
            fanout.done(&self.hub.metrics.fanout);
        }
        let mut e = Event::default().event(event_name(f.topic));
        if let Some(topic) = f.topic {
            if f.seq <= self.have.get(topic) {
                return;
            }
            // Filtered: `orders` from the set's ring only, and no ids.
            if topic == Topic::Orders && own != self.filter.is_some() {
                return;
            }
            *self.have.get_mut(topic) = f.seq;
            if self.filter.is_none() {
                e = e.id(event_id(topic, f.seq));
            }
        }
        let text = match f.lite {
            Some(lite) if !self.records => lite,
            _ => f.text,
        };
        Metrics::add(&self.hub.metrics.frames_sent, 1);
        Metrics::add(&self.hub.metrics.bytes_sent, text.len() as u64);
        self.queue.push_back(e.data(text.as_str()));
    }

    /// Fell behind the ring: a fresh snapshot instead of the backlog; too
    /// often in a minute ends the stream (`/ws` closes with 4008).
    async fn lagged(&mut self, missed: u64) {
        let m = &self.hub.metrics;
        Metrics::add(&m.frames_dropped, missed);
        Metrics::add(&m.lag_resyncs, 1);
        if self.lag_window.elapsed() > Duration::from_secs(60) {
            self.lag_window = Instant::now();
            self.lag_resyncs = 0;
        }
        self.lag_resyncs += 1;
        if self.lag_resyncs > crate::conn::MAX_LAG_RESYNCS_PER_MIN {
            Metrics::add(&m.slow_clients_closed, 1);
            self.ended = true;
            return;
        }
        self.rx = self.hub.subscribe();
        self.snapshot().await;
    }
}

/// What `GET /api/stream` was asked with.
pub struct Request {
    /// The request headers (Origin, Host, Authorization, Last-Event-ID).
    pub headers: HeaderMap,
    /// The client's address (per-address limit).
    pub remote: Option<SocketAddr>,
    /// `?token=`, `?history=`, `?records=`, `?last_event_id=`.
    pub query: HashMap<String, String>,
    /// The raw query string, for the repeatable `?var-NAME=value`.
    pub raw_query: String,
    /// The connection's write-stall guard, armed for the stream.
    pub stall: Option<Arc<WriteStall>>,
}

/// Handle `GET /api/stream`: the `/ws` checks in the same order, then a
/// slot, then the event stream.
pub fn reply(hub: &Arc<Hub>, shutdown: &watch::Receiver<bool>, req: Request) -> Response {
    if let Err(refused) = check_origin(hub, &req.headers) {
        return *refused;
    }
    // Browsers cannot set headers on an EventSource: `?token=`, or a
    // bearer header for other clients. No token, no stream.
    let auth = req.headers.get(header::AUTHORIZATION);
    let presented = req
        .query
        .get("token")
        .map(String::as_str)
        .or_else(|| bearer(auth.and_then(|v| v.to_str().ok())));
    if let Some(secret) = &hub.config.viewer_token {
        if !presented.is_some_and(|t| secret.matches(t)) {
            Metrics::add(&hub.metrics.unauthorized, 1);
            return routes::text(StatusCode::UNAUTHORIZED, "a viewer token is required\n");
        }
    }
    let (history, records, _paused) = match routes::parse_ws_params(&req.query) {
        Ok(p) => p,
        Err(e) => return routes::text(StatusCode::BAD_REQUEST, &format!("{e}\n")),
    };
    // The header a reconnecting EventSource sends; the query parameter for
    // a new EventSource object, which cannot set headers.
    let filter = match FilterSet::from_query_string(&req.raw_query) {
        Ok(f) if f.is_empty() => None,
        Ok(f) => match hub.filters.acquire(&f, livedash_shared::now_ms()) {
            Ok(sub) => Some(sub),
            Err(full) => {
                return routes::text(StatusCode::SERVICE_UNAVAILABLE, &format!("{full}\n"))
            }
        },
        Err(e) => return routes::text(StatusCode::BAD_REQUEST, &format!("{e}\n")),
    };
    // A filtered stream always starts from a fresh filtered snapshot.
    let resume = req
        .headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .or(req.query.get("last_event_id").map(String::as_str))
        .and_then(parse_id)
        .filter(|_| filter.is_none());
    let slot = match take_slot(hub, req.remote) {
        Ok(slot) => slot,
        Err(refused) => return *refused,
    };
    if let Some(stall) = &req.stall {
        stall.arm(Duration::from_millis(hub.config.write_timeout_ms));
    }
    let period = Duration::from_millis(hub.config.ping_ms);
    let mut heartbeat = tokio::time::interval_at(Instant::now() + period, period);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let live = Live {
        rx: hub.subscribe(),
        have: Seqs::default(),
        history,
        records,
        resume,
        opened: false,
        queue: VecDeque::new(),
        heartbeat,
        shutdown: shutdown.clone(),
        lag_resyncs: 0,
        lag_window: Instant::now(),
        ended: false,
        _slot: slot,
        _viewer: Watching::new(hub.clone()),
        filter,
        frx: None,
        hub: hub.clone(),
    };
    let events = futures_util::stream::unfold(live, |mut live| async move {
        let e = live.next().await?;
        Some((Ok::<_, Infallible>(e), live))
    });
    let events = sync_wrapper::SyncStream::new(Box::pin(events));
    let mut r = warp::sse::reply(events).into_response();
    // Reverse proxies (nginx) must pass events on as they come.
    r.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_names_match_frame_types() {
        for t in Topic::ALL {
            assert_eq!(parse_id(&event_id(t, 42)), Some((t, 42)));
        }
        assert_eq!(parse_id("orders:x"), None);
        assert_eq!(parse_id("nope:1"), None);
        assert_eq!(parse_id(""), None);
        assert_eq!(event_name(Some(Topic::Events)), "event");
        assert_eq!(event_name(Some(Topic::Orders)), "orders");
        assert_eq!(event_name(None), "streams");
    }
}
