//! The compat WebSockets: the same door as `/ws` (Origin check, viewer
//! token, a connection slot taken before the `101`), then one task per
//! socket that writes the shared frames with the write timeout, answers
//! the few client messages, and keeps the server heartbeat.
//!
//! These protocols have no `auth` frame, so with `--viewer-token` the
//! token must be in the URL (`?token=`), checked before the upgrade.

use super::system::{self, Ask};
use super::Built;
use crate::conn::{ws_config, CLOSE_TOO_SLOW};
use crate::hub::Hub;
use crate::limits::{Refused, Slot};
use crate::metrics::Metrics;
use crate::presence::Viewer;
use futures_util::{SinkExt, StreamExt};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;
use warp::reply::Response;
use warp::{Filter, Reply};

/// Client messages answered per second at most (a `ping` or
/// `request_metrics` flood gets no more answers, not more work).
const ANSWERS_PER_SEC: u32 = 20;

/// `/ws`'s tungstenite settings, except the cap on the write buffer: a
/// thelook frame may be larger than `/ws`'s 8 MiB (a frame bigger than the
/// cap would fail to send at all). A socket never has more than the one
/// frame being written in its buffer: the next is sent only after it.
fn compat_ws_config() -> WebSocketConfig {
    ws_config().max_write_buffer_size(usize::MAX)
}

/// Which tutorial a socket speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/compat/thelook/ws`.
    Thelook,
    /// `/compat/system/ws`.
    System,
}

/// The compat routes.
pub fn routes(
    hub: Arc<Hub>,
    shutdown: watch::Receiver<bool>,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    let kind = warp::path!("compat" / "thelook" / "ws")
        .map(|| Kind::Thelook)
        .or(warp::path!("compat" / "system" / "ws").map(|| Kind::System))
        .unify();
    kind.and(crate::web::get_or_head())
        .and(warp::header::headers_cloned())
        .and(crate::accept::remote())
        .and(warp::query::<HashMap<String, String>>())
        .and(warp::ext::optional::<hyper::upgrade::OnUpgrade>())
        .map(move |kind, headers, remote, query, on_upgrade| {
            upgrade(&hub, &shutdown, kind, &headers, remote, &query, on_upgrade)
        })
}

fn text(status: StatusCode, body: &'static str) -> Response {
    let mut r = warp::reply::with_status(body, status).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Origin, WebSocket headers, token; the `Sec-WebSocket-Key` if all pass.
fn check(
    hub: &Hub,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<String, Box<Response>> {
    let h = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let cfg = &hub.config;
    if !crate::web::origin_allowed(
        h(header::ORIGIN),
        h(header::HOST),
        &cfg.allowed_origins,
        &cfg.public_hosts,
    ) {
        Metrics::add(&hub.metrics.origin_rejected, 1);
        return Err(Box::new(text(
            StatusCode::FORBIDDEN,
            "origin not allowed (see --allowed-origin)\n",
        )));
    }
    let is_ws = h(header::UPGRADE).is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    let (Some(key), true) = (h(header::SEC_WEBSOCKET_KEY), is_ws) else {
        let mut r = text(
            StatusCode::UPGRADE_REQUIRED,
            "this endpoint speaks WebSocket only\n",
        );
        r.headers_mut()
            .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        return Err(Box::new(r));
    };
    if h(header::SEC_WEBSOCKET_VERSION) != Some("13") {
        return Err(Box::new(text(
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Version must be 13\n",
        )));
    }
    if let Some(secret) = &cfg.viewer_token {
        if !query.get("token").is_some_and(|t| secret.matches(t)) {
            Metrics::add(&hub.metrics.unauthorized, 1);
            return Err(Box::new(text(
                StatusCode::UNAUTHORIZED,
                "a viewer token is required: add ?token=TOKEN to the URL\n",
            )));
        }
    }
    Ok(key.to_string())
}

/// Checks, a slot, the `101`, and the socket's task.
fn upgrade(
    hub: &Arc<Hub>,
    shutdown: &watch::Receiver<bool>,
    kind: Kind,
    headers: &HeaderMap,
    remote: Option<SocketAddr>,
    query: &HashMap<String, String>,
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Response {
    let key = match check(hub, headers, query) {
        Ok(k) => k,
        Err(r) => return *r,
    };
    let Some(on_upgrade) = on_upgrade else {
        return text(
            StatusCode::UPGRADE_REQUIRED,
            "this endpoint speaks WebSocket only\n",
        );
    };
    let slot = match hub.limits.try_acquire(remote.map(|a| a.ip())) {
        Ok(slot) => slot,
        Err(why) => {
            Metrics::add(&hub.metrics.limit_rejected, 1);
            let msg = match why {
                Refused::Full => "too many connections\n",
                Refused::PerIp => "too many connections from this address\n",
            };
            return text(StatusCode::SERVICE_UNAVAILABLE, msg);
        }
    };
    let (hub, shutdown) = (hub.clone(), shutdown.clone());
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let io = TokioIo::new(upgraded);
                let ws =
                    WebSocketStream::from_raw_socket(io, Role::Server, Some(compat_ws_config()))
                        .await;
                serve(hub, ws, kind, slot, shutdown).await;
            }
            Err(e) => tracing::debug!("compat websocket upgrade failed: {e}"),
        }
    });
    crate::upgrade::switching_protocols(&key)
}

/// How a socket ends.
enum End {
    /// The peer left; nothing to send.
    Peer,
    /// Close with this code and reason.
    Close(u16, &'static str),
}

/// One compat socket.
struct Sock<S> {
    hub: Arc<Hub>,
    ws: WebSocketStream<S>,
    /// A write blocked this long closes the socket as too slow.
    write_timeout: Duration,
    /// Last sign of life from the client (for the heartbeat).
    last_seen: Instant,
    /// Answers given in the current second, and when it started.
    answers: (u32, Instant),
}

type Io = TokioIo<hyper::upgrade::Upgraded>;

async fn serve(
    hub: Arc<Hub>,
    ws: WebSocketStream<Io>,
    kind: Kind,
    slot: Slot,
    mut shutdown: watch::Receiver<bool>,
) {
    let id = hub.presence.next_id();
    let mut s = Sock {
        write_timeout: Duration::from_millis(hub.config.write_timeout_ms),
        hub: hub.clone(),
        ws,
        last_seen: Instant::now(),
        answers: (0, Instant::now()),
    };
    let end = {
        let _viewer = Viewer::new(&hub.presence, &hub.metrics);
        match kind {
            Kind::Thelook => s.thelook(&mut shutdown).await,
            Kind::System => s.system(id, &mut shutdown).await,
        }
    };
    if let End::Close(code, reason) = end {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: Utf8Bytes::from_static(reason),
        };
        let _ = timeout(Duration::from_secs(1), s.ws.close(Some(frame))).await;
    }
    drop(slot);
}

impl Sock<Io> {
    /// Write one text frame within the write timeout.
    async fn send(&mut self, text: Utf8Bytes) -> Result<(), End> {
        let n = text.len() as u64;
        match timeout(self.write_timeout, self.ws.send(Message::Text(text))).await {
            Ok(Ok(())) => {
                Metrics::add(&self.hub.metrics.frames_sent, 1);
                Metrics::add(&self.hub.metrics.bytes_sent, n);
                Ok(())
            }
            Ok(Err(_)) => Err(End::Peer),
            Err(_) => {
                Metrics::add(&self.hub.metrics.slow_clients_closed, 1);
                Err(End::Close(CLOSE_TOO_SLOW, "too slow"))
            }
        }
    }

    /// A client frame arrived (`None`: the socket ended): its text, if any.
    fn received(
        &mut self,
        m: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Result<Option<Utf8Bytes>, End> {
        self.last_seen = Instant::now();
        match m {
            Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(_))) => {
                Metrics::add(&self.hub.metrics.clients_closed_abuse, 1);
                Err(End::Close(1009, "message too big"))
            }
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => Err(End::Peer),
            Some(Ok(Message::Text(t))) => {
                Metrics::add(&self.hub.metrics.client_messages, 1);
                Ok(Some(t))
            }
            Some(Ok(_)) => Ok(None),
        }
    }

    /// Whether another answer fits in this second's budget.
    fn may_answer(&mut self) -> bool {
        if self.answers.1.elapsed() >= Duration::from_secs(1) {
            self.answers = (0, Instant::now());
        }
        self.answers.0 += 1;
        self.answers.0 <= ANSWERS_PER_SEC
    }

    /// The heartbeat: ping on `tick`; `Err` once the client was silent for
    /// two periods.
    async fn heartbeat(&mut self) -> Result<(), End> {
        let period = Duration::from_millis(self.hub.config.ping_ms);
        if self.last_seen.elapsed() >= period * 2 {
            Metrics::add(&self.hub.metrics.heartbeat_timeouts, 1);
            return Err(End::Close(1001, "heartbeat timeout"));
        }
        match timeout(
            self.write_timeout,
            self.ws.send(Message::Ping(Default::default())),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Peer),
            Err(_) => Err(End::Close(CLOSE_TOO_SLOW, "too slow")),
        }
    }

    fn ping_timer(&self) -> tokio::time::Interval {
        let period = Duration::from_millis(self.hub.config.ping_ms);
        tokio::time::interval_at(Instant::now() + period, period)
    }

    /// `/compat/thelook/ws`: the current frame at once (a fresh one if the
    /// last is older than a period), then each new one.
    async fn thelook(&mut self, shutdown: &mut watch::Receiver<bool>) -> End {
        let feed = &self.hub.compat;
        let mut rx = feed.thelook.subscribe();
        let fresh = |b: &Option<Arc<Built>>| {
            b.as_ref()
                .is_some_and(|b| b.at.elapsed() < super::thelook::PERIOD + Duration::from_secs(1))
        };
        if !fresh(&rx.borrow_and_update()) {
            feed.rebuild.notify_one();
            let _ = timeout(Duration::from_secs(5), rx.changed()).await;
        }
        let mut ping = self.ping_timer();
        let mut next = rx.borrow_and_update().clone();
        loop {
            if let Some(b) = next.take() {
                if let Err(e) = self.send(b.text.clone()).await {
                    return e;
                }
            }
            tokio::select! {
                biased;
                _ = shutdown.changed() => return End::Close(1001, "going away"),
                m = self.ws.next() => if let Err(e) = self.received(m) { return e },
                r = rx.changed() => match r {
                    Ok(()) => next = rx.borrow_and_update().clone(),
                    Err(_) => return End::Close(1001, "going away"),
                },
                _ = ping.tick() => if let Err(e) = self.heartbeat().await { return e },
            }
        }
    }

    /// `/compat/system/ws`: `connection`, the latest `metrics` and the
    /// `client_count`, then the shared frames and the answers.
    async fn system(&mut self, id: u64, shutdown: &mut watch::Receiver<bool>) -> End {
        let mut rx = self.hub.compat.system.subscribe();
        let mut first = vec![Utf8Bytes::from(system::connection(
            id,
            livedash_shared::now_ms(),
        ))];
        first.extend(self.hub.compat.latest_metrics());
        first.push(Utf8Bytes::from(system::client_count(
            self.hub.presence.count(),
        )));
        for t in first {
            if let Err(e) = self.send(t).await {
                return e;
            }
        }
        let mut ping = self.ping_timer();
        loop {
            let out = tokio::select! {
                biased;
                _ = shutdown.changed() => return End::Close(1001, "going away"),
                m = self.ws.next() => match self.received(m) {
                    Err(e) => return e,
                    Ok(Some(t)) => self.answer(&t),
                    Ok(None) => None,
                },
                r = rx.recv() => match r {
                    Ok(t) => Some(t),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        Metrics::add(&self.hub.metrics.frames_dropped, n);
                        None
                    }
                    Err(broadcast::error::RecvError::Closed) => return End::Close(1001, "going away"),
                },
                _ = ping.tick() => match self.heartbeat().await {
                    Err(e) => return e,
                    Ok(()) => None,
                },
            };
            if let Some(t) = out {
                if let Err(e) = self.send(t).await {
                    return e;
                }
            }
        }
    }

    /// The answer to a client frame, if any (and if within the budget).
    fn answer(&mut self, text: &str) -> Option<Utf8Bytes> {
        let reply = match system::ask(text) {
            Ask::Ping => Some(Utf8Bytes::from_static(system::PONG)),
            Ask::Metrics => self.hub.compat.latest_metrics(),
            Ask::Nothing => None,
        };
        reply.filter(|_| self.may_answer())
    }
}
