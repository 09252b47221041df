//! `GET /ws`: the checks before the upgrade (Origin first, then the
//! WebSocket headers, the viewer token, the parameters, permessage-deflate),
//! a connection slot taken before the `101`, then the `101` answered here
//! and the upgraded connection handed to [`crate::conn`] over livedash's
//! own framing ([`crate::ws`]). `check_origin` and `take_slot` are shared with
//! `/api/stream` ([`crate::sse`]).

use crate::conn;
use crate::deflate::{Inflating, Negotiated};
use crate::hub::Hub;
use crate::limits::{Refused, Slot};
use crate::metrics::Metrics;
use crate::routes::{origin_allowed, parse_ws_params, text};
use crate::ws::Socket;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use hyper_util::rt::TokioIo;
use livedash_shared::Seqs;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use warp::reply::Response;

/// Cross-site hijacking: a foreign browser `Origin` is refused with 403
/// (`/ws` and `/api/stream`), before anything else is looked at.
pub(crate) fn check_origin(hub: &Hub, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let h = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if origin_allowed(
        h(header::ORIGIN),
        h(header::HOST),
        &hub.config.allowed_origins,
        &hub.config.public_hosts,
    ) {
        return Ok(());
    }
    Metrics::add(&hub.metrics.origin_rejected, 1);
    Err(Box::new(text(
        StatusCode::FORBIDDEN,
        "origin not allowed\n",
    )))
}

/// A connection slot for a stream from `remote` (`/ws`, `/api/stream`),
/// or the 503 that refuses it.
pub(crate) fn take_slot(hub: &Hub, remote: Option<SocketAddr>) -> Result<Slot, Box<Response>> {
    hub.limits
        .try_acquire(remote.map(|a| a.ip()))
        .map_err(|why| {
            Metrics::add(&hub.metrics.limit_rejected, 1);
            let msg = match why {
                Refused::Full => "too many connections\n",
                Refused::PerIp => "too many connections from this address\n",
            };
            Box::new(text(StatusCode::SERVICE_UNAVAILABLE, msg))
        })
}

/// The checks of a `/ws` request before any resource is taken: Origin
/// first, then the WebSocket headers, the viewer token, the parameters.
/// On success: the `Sec-WebSocket-Key`, the connection's options and the
/// permessage-deflate parameters if the client offered some we take.
fn check_upgrade(
    hub: &Hub,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    raw_query: &str,
) -> Result<(String, conn::Options, Option<Negotiated>), Box<Response>> {
    check_origin(hub, headers)?;
    let h = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let is_ws = h(header::UPGRADE).is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    let (Some(key), true) = (h(header::SEC_WEBSOCKET_KEY), is_ws) else {
        return Err(Box::new(upgrade_required()));
    };
    if h(header::SEC_WEBSOCKET_VERSION) != Some("13") {
        let why = "Sec-WebSocket-Version must be 13\n";
        return Err(Box::new(text(StatusCode::BAD_REQUEST, why)));
    }
    // A viewer token in the URL is checked now; without one, the first
    // frame must carry it (browsers cannot set headers on a WebSocket).
    let authed = match (&hub.config.viewer_token, query.get("token")) {
        (None, _) => true,
        (Some(secret), Some(t)) if secret.matches(t) => true,
        (Some(_), Some(_)) => {
            Metrics::add(&hub.metrics.unauthorized, 1);
            return Err(Box::new(text(StatusCode::UNAUTHORIZED, "wrong token\n")));
        }
        (Some(_), None) => false,
    };
    let (history, records, paused) = parse_ws_params(query)
        .map_err(|e| Box::new(text(StatusCode::BAD_REQUEST, &format!("{e}\n"))))?;
    let filter = crate::filters::FilterSet::from_query_string(raw_query)
        .map_err(|e| Box::new(text(StatusCode::BAD_REQUEST, &format!("{e}\n"))))?;
    let resume = parse_resume(query)
        .map_err(|e| Box::new(text(StatusCode::BAD_REQUEST, &format!("{e}\n"))))?;
    let extensions = headers.get_all(header::SEC_WEBSOCKET_EXTENSIONS);
    let deflate = crate::deflate::negotiate(extensions.iter().filter_map(|v| v.to_str().ok()));
    let opts = conn::Options {
        history,
        records,
        authed,
        paused,
        deflate: deflate.is_some(),
        filter,
        resume,
    };
    Ok((key.to_string(), opts, deflate))
}

/// `?since=orders:N,system:M,...` and `&epoch=E`: where a reconnecting
/// client stands (`None` without `since`).
pub fn parse_resume(q: &HashMap<String, String>) -> Result<Option<conn::Resume>, String> {
    let Some(since) = q.get("since") else {
        return Ok(None);
    };
    let since = Seqs::parse_since(since).map_err(|e| format!("since: {e}"))?;
    let epoch = q.get("epoch").filter(|e| !e.is_empty()).cloned();
    if epoch.as_ref().is_some_and(|e| e.len() > 64) {
        return Err("epoch: longer than 64 characters".into());
    }
    Ok(Some(conn::Resume { since, epoch }))
}

fn upgrade_required() -> Response {
    let mut r = text(
        StatusCode::UPGRADE_REQUIRED,
        "this endpoint speaks WebSocket only\n",
    );
    r.headers_mut()
        .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    r
}

/// Handle `GET /ws`: checks, a connection slot (taken before the `101`, so
/// concurrent upgrades cannot overshoot the limits), then the `101` and the
/// upgraded connection's task, which holds the slot until it ends.
pub fn upgrade(
    hub: &Arc<Hub>,
    shutdown: &watch::Receiver<bool>,
    headers: HeaderMap,
    remote: Option<SocketAddr>,
    query: HashMap<String, String>,
    raw_query: String,
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Response {
    if hub.config.disable_websocket {
        let why = "WebSockets are disabled here (--disable-websocket): use /api/stream\n";
        return text(StatusCode::FORBIDDEN, why);
    }
    let (key, opts, deflate) = match check_upgrade(hub, &headers, &query, &raw_query) {
        Ok(ok) => ok,
        Err(refused) => return *refused,
    };
    let Some(on_upgrade) = on_upgrade else {
        return upgrade_required();
    };
    let slot = match take_slot(hub, remote) {
        Ok(slot) => slot,
        Err(refused) => return *refused,
    };
    tokio::spawn(connection(
        on_upgrade,
        hub.clone(),
        opts,
        slot,
        shutdown.clone(),
        deflate,
    ));
    let mut r = switching_protocols(&key);
    let hs = r.headers_mut();
    if let Some(n) = deflate {
        hs.insert(
            header::SEC_WEBSOCKET_EXTENSIONS,
            HeaderValue::from_static(n.response()),
        );
    }
    r
}

/// The task of one `/ws` connection: wait for hyper's upgrade, then serve
/// it. Its size is what every connection costs in the runtime while idle
/// (see the test).
async fn connection(
    on_upgrade: hyper::upgrade::OnUpgrade,
    hub: Arc<Hub>,
    opts: conn::Options,
    slot: Slot,
    shutdown: watch::Receiver<bool>,
    deflate: Option<Negotiated>,
) {
    match on_upgrade.await {
        Ok(upgraded) => {
            let io = TokioIo::new(upgraded);
            let limit = conn::MAX_CLIENT_MESSAGE;
            match deflate {
                // Compressed client frames are inflated under the reader.
                Some(n) => {
                    let ws = Socket::new(Inflating::new(io, n, limit), limit);
                    conn::serve(hub, ws, opts, slot, shutdown).await;
                }
                None => conn::serve(hub, Socket::new(io, limit), opts, slot, shutdown).await,
            }
        }
        Err(e) => tracing::debug!("websocket upgrade failed: {e}"),
    }
}

/// The `101 Switching Protocols` answer to a WebSocket handshake with
/// `Sec-WebSocket-Key` `key` (both `/ws` and the tutorials' sockets).
pub(crate) fn switching_protocols(key: &str) -> Response {
    let mut r = Response::default();
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let hs = r.headers_mut();
    hs.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    hs.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    let accept = derive_accept_key(key.as_bytes());
    hs.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).expect("base64 is a valid header value"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connection_task_is_small() {
        let hub = Hub::new(crate::Config::default());
        let (_stop, shutdown) = watch::channel(false);
        let slot = hub.limits.try_acquire(None).unwrap();
        let opts = conn::Options {
            history: crate::snapshot::HistoryCap::ALL,
            records: true,
            authed: true,
            paused: false,
            deflate: false,
            filter: Default::default(),
            resume: None,
        };
        let on_upgrade = hyper::upgrade::on(http::Request::new(()));
        let task = connection(on_upgrade, hub, opts, slot, shutdown, None);
        let size = std::mem::size_of_val(&task);
        println!("a /ws connection task: {size} bytes");
        // Every idle connection pays this (debug builds are larger than
        // release ones); the rare paths (snapshots, client messages,
        // resume) are boxed so they do not count here: unboxed, it was
        // 5.3 KB in a debug build.
        assert!(size <= 4096, "a /ws connection task of {size} bytes");
    }
}
