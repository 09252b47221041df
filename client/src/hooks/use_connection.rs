//! The connection manager: one task owns the WebSocket — connect,
//! heartbeat, resync on a gap, reconnect with backoff — and turns every
//! frame into an [`Action`] on the page's reducer. Widgets never touch the
//! socket; they send [`Command`]s.

use crate::backoff::Backoff;
use crate::config::{ws_url, PageConfig};
use crate::state::{Action, ConnStatus, DashState, SeqTracker, SeqVerdict};
use futures::channel::mpsc;
use futures::{select, FutureExt, SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use gloo_timers::future::{IntervalStream, TimeoutFuture};
use livedash_shared::{ClientMessage, ErrorCode, ServerMessage};
use std::rc::Rc;
use yew::prelude::*;

/// Send a ping after this many seconds without one.
const PING_EVERY_S: u32 = 5;
/// No frame at all for this long: the connection is dead (half-open).
const DEAD_AFTER_MS: f64 = 12_000.0;
/// A connection live this long resets the backoff.
const STABLE_MS: f64 = 10_000.0;

/// What the page asks of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// The Connect toggle.
    Connect(bool),
    /// Pause (true) / Resume (false).
    Pause(bool),
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Start the connection task once; returns the command sender.
#[hook]
pub fn use_connection(dispatch: UseReducerDispatcher<DashState>) -> Callback<Command> {
    let sender = use_mut_ref(|| None::<mpsc::Sender<Command>>);
    {
        let sender = sender.clone();
        use_effect_with((), move |_| {
            let (tx, rx) = mpsc::channel(16);
            *sender.borrow_mut() = Some(tx);
            wasm_bindgen_futures::spawn_local(run(dispatch, rx));
            move || {
                // Dropping the sender ends the task, which drops the socket.
                sender.borrow_mut().take();
            }
        });
    }
    Callback::from(move |cmd: Command| {
        if let Some(tx) = sender.borrow_mut().as_mut() {
            let _ = tx.try_send(cmd);
        }
    })
}

/// The WebSocket URL: `?server=` beats `config.json` beats the page origin.
async fn resolve_url() -> String {
    let window = web_sys::window().expect("a window");
    let loc = window.location();
    let protocol = loc.protocol().unwrap_or_else(|_| "http:".into());
    let host = loc.host().unwrap_or_default();
    let query = loc
        .search()
        .ok()
        .and_then(|s| web_sys::UrlSearchParams::new_with_str(&s).ok())
        .and_then(|p| p.get("server"));
    let config = match query {
        Some(_) => None,
        None => fetch_config().await.and_then(|c| c.server),
    };
    ws_url(&protocol, &host, query.as_deref(), config.as_deref())
}

/// `config.json` beside the page; missing or malformed means defaults.
async fn fetch_config() -> Option<PageConfig> {
    let resp = gloo_net::http::Request::get("config.json")
        .cache(web_sys::RequestCache::NoCache)
        .send()
        .await
        .ok()?;
    if !resp.ok() {
        return None;
    }
    resp.json::<PageConfig>().await.ok()
}

/// sessionStorage key of the viewer token (never a cookie).
const TOKEN_KEY: &str = "livedash.token";

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

/// The viewer token: `?token=` in the page URL (then kept), or the one
/// kept in sessionStorage.
fn viewer_token() -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    let from_url = web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get("token");
    let store = session_storage();
    if let (Some(t), Some(s)) = (&from_url, &store) {
        let _ = s.set_item(TOKEN_KEY, t);
    }
    from_url.or_else(|| store?.get_item(TOKEN_KEY).ok()?)
}

/// Ask the person for the token; `None` if they cancel.
fn ask_token() -> Option<String> {
    let t = web_sys::window()?
        .prompt_with_message("This dashboard needs a viewer token:")
        .ok()??;
    let t = t.trim().to_string();
    if t.is_empty() {
        return None;
    }
    let _ = session_storage()?.set_item(TOKEN_KEY, &t);
    Some(t)
}

/// How a connection ended.
enum Ended {
    /// The server wants a (different) viewer token.
    Unauthorized,
    /// Lost (closed, failed, or dead): reconnect with backoff.
    Lost,
    /// The Connect toggle went off.
    Disabled,
    /// The page is going away.
    Quit,
}

async fn run(dispatch: UseReducerDispatcher<DashState>, mut rx: mpsc::Receiver<Command>) {
    let url = resolve_url().await;
    let mut backoff = Backoff::new();
    let mut enabled = true;
    let mut paused = false;
    loop {
        if !enabled {
            dispatch.dispatch(Action::Conn(ConnStatus::Offline));
            loop {
                match rx.next().await {
                    None => return,
                    Some(Command::Connect(true)) => {
                        enabled = true;
                        backoff.reset();
                        break;
                    }
                    Some(Command::Pause(p)) => {
                        paused = p;
                        dispatch.dispatch(Action::Paused(p));
                    }
                    Some(Command::Connect(false)) => {}
                }
            }
        }
        dispatch.dispatch(Action::Conn(ConnStatus::Connecting));
        let started = now_ms();
        let ended = match WebSocket::open(&url) {
            Ok(ws) => session(ws, &dispatch, &mut rx, &mut paused).await,
            Err(_) => Ended::Lost,
        };
        match ended {
            Ended::Quit => return,
            Ended::Unauthorized => {
                if ask_token().is_none() {
                    enabled = false;
                }
                continue;
            }
            Ended::Disabled => {
                enabled = false;
                continue;
            }
            Ended::Lost => {}
        }
        if now_ms() - started > STABLE_MS {
            backoff.reset();
        }
        // Count down to the next try, second by second.
        let mut left_ms = backoff.next_delay_ms(js_sys::Math::random());
        while left_ms > 0 && enabled {
            let secs = left_ms.div_ceil(1000) as u32;
            dispatch.dispatch(Action::Conn(ConnStatus::Reconnecting { in_secs: secs }));
            // Sleep to the next whole second so the label counts down evenly.
            let step = match left_ms % 1000 {
                0 => 1000,
                r => r,
            };
            select! {
                _ = TimeoutFuture::new(step as u32).fuse() => left_ms -= step,
                cmd = rx.next() => match cmd {
                    None => return,
                    Some(Command::Connect(false)) => enabled = false,
                    Some(Command::Connect(true)) => left_ms = 0,
                    Some(Command::Pause(p)) => {
                        paused = p;
                        dispatch.dispatch(Action::Paused(p));
                    }
                },
            }
        }
    }
}

/// One connection, from open to end.
async fn session(
    ws: WebSocket,
    dispatch: &UseReducerDispatcher<DashState>,
    rx: &mut mpsc::Receiver<Command>,
    paused: &mut bool,
) -> Ended {
    let (mut sink, stream) = ws.split();
    let mut stream = stream.fuse();
    if let Some(token) = viewer_token() {
        // Sent once the socket opens; a server without tokens ignores it.
        if sink
            .send(Message::Text(ClientMessage::Auth { token }.to_json()))
            .await
            .is_err()
        {
            return Ended::Lost;
        }
    }
    let mut tracker = SeqTracker::default();
    let mut ticks = IntervalStream::new(1000).fuse();
    let mut last_rx = now_ms();
    let mut since_ping = 0u32;
    let mut nonce = 0u64;
    let mut opened = false;
    loop {
        select! {
            msg = stream.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Bytes(_))) => continue,
                    Some(Err(_)) | None => return Ended::Lost,
                };
                last_rx = now_ms();
                if !opened {
                    opened = true;
                    if *paused {
                        let _ = sink.send(Message::Text(ClientMessage::Pause.to_json())).await;
                    }
                }
                let Ok(msg) = serde_json::from_str::<ServerMessage>(&text) else {
                    continue;
                };
                if let ServerMessage::Error { code: ErrorCode::Unauthorized, .. } = msg {
                    return Ended::Unauthorized;
                }
                match tracker.check(&msg) {
                    SeqVerdict::Apply => {}
                    SeqVerdict::Duplicate => continue,
                    SeqVerdict::Gap => {
                        let _ = sink.send(Message::Text(ClientMessage::Resync.to_json())).await;
                        continue;
                    }
                }
                if matches!(msg, ServerMessage::Snapshot(_)) {
                    dispatch.dispatch(Action::Conn(ConnStatus::Live));
                }
                dispatch.dispatch(Action::Frame(Rc::new(msg)));
            }
            cmd = rx.next() => match cmd {
                None => return Ended::Quit,
                Some(Command::Connect(false)) => {
                    let _ = sink.close().await;
                    return Ended::Disabled;
                }
                Some(Command::Connect(true)) => {}
                Some(Command::Pause(p)) => {
                    *paused = p;
                    dispatch.dispatch(Action::Paused(p));
                    let m = if p { ClientMessage::Pause } else { ClientMessage::Resume };
                    if sink.send(Message::Text(m.to_json())).await.is_err() {
                        return Ended::Lost;
                    }
                }
            },
            _ = ticks.next() => {
                if now_ms() - last_rx > DEAD_AFTER_MS {
                    // Half-open: the server is gone without a close.
                    return Ended::Lost;
                }
                since_ping += 1;
                if opened && since_ping >= PING_EVERY_S {
                    since_ping = 0;
                    nonce += 1;
                    let ping = ClientMessage::Ping {
                        nonce: Some(nonce.into()),
                    }
                    .to_json();
                    if sink.send(Message::Text(ping)).await.is_err() {
                        return Ended::Lost;
                    }
                }
            }
        }
    }
}
