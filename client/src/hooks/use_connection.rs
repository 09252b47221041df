//! The connection manager: one task owns the WebSocket — connect,
//! heartbeat, resync on a gap, reconnect with backoff — and turns every
//! frame into an [`Action`] on the page's reducer. When a WebSocket cannot
//! open at all (a network or proxy that refuses the upgrade), the same
//! frames come over Server-Sent Events (`/api/stream`) instead, resumed by
//! event id after a drop or a pause. Widgets never touch the
//! socket; they send [`Command`]s. The decisions (command handling, URL
//! parameters, version check) are pure, in [`crate::connection`].

use crate::backoff::Backoff;
use crate::config::{ws_url, PageConfig};
pub use crate::connection::Command;
use crate::connection::{
    classify, socket_url, stream_url, take_param, Control, Incoming, Phase, Step,
};
use crate::hooks::event_source::{Events, Item};
use crate::state::{Action, ConnStatus, DashState, SeqTracker, SeqVerdict};
use futures::channel::mpsc;
use futures::stream::{Fuse, SplitSink};
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
/// Server-Sent Events: no frame for this long is a dead stream (the
/// server's heartbeat comments are invisible to `EventSource`, and the
/// page cannot ping; frames come every tick while a stream runs).
const SSE_DEAD_AFTER_MS: f64 = 60_000.0;

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
pub async fn resolve_url() -> String {
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
pub const TOKEN_KEY: &str = "livedash.token";

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

/// Keep a viewer token for this tab (the token form calls this).
pub fn store_token(token: &str) {
    if let Some(s) = session_storage() {
        let _ = s.set_item(TOKEN_KEY, token);
    }
}

/// Once, at start: a `?token=` in the page URL is kept in sessionStorage and
/// taken out of the address bar (other parameters stay), so it is neither
/// shown, bookmarked nor shared, and a token typed later wins over it.
fn adopt_url_token() -> Option<()> {
    let window = web_sys::window()?;
    let loc = window.location();
    let (token, rest) = take_param(&loc.search().ok()?, "token");
    let token = token?;
    if !token.trim().is_empty() {
        store_token(token.trim());
    }
    let url = format!(
        "{}{}{}",
        loc.pathname().ok()?,
        rest,
        loc.hash().unwrap_or_default()
    );
    window
        .history()
        .ok()?
        .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url))
        .ok()
}

/// The stored viewer token.
fn viewer_token() -> Option<String> {
    session_storage()?
        .get_item(TOKEN_KEY)
        .ok()?
        .filter(|t| !t.is_empty())
}

/// How a connection ended.
enum Ended {
    /// The server wants a (different) viewer token.
    Unauthorized,
    /// Lost (closed, failed, or dead): reconnect with backoff.
    Lost,
    /// The Connect toggle went off.
    Disabled,
    /// Closed before any frame came (refused upgrade, blocked network).
    NeverOpened,
    /// Server-Sent Events: a `seq` gap; reconnect now for a snapshot.
    Resync,
    /// Server-Sent Events: paused, the stream closed until Resume.
    Paused,
    /// The server speaks another protocol.
    Incompatible,
    /// The page is going away.
    Quit,
    /// The socket's URL changed: open the next one at once.
    Reopen,
}

type Sink = SplitSink<WebSocket, Message>;

/// The connection task's shared parts.
struct Task {
    dispatch: UseReducerDispatcher<DashState>,
    rx: Fuse<mpsc::Receiver<Command>>,
    ctl: Control,
}

impl Task {
    /// Handle one command (`None`: the page is gone) in `phase`; the one
    /// place commands are obeyed. Sends on `sink` when a socket is open.
    async fn obey(&mut self, cmd: Option<Command>, phase: Phase, sink: Option<&mut Sink>) -> Flow {
        let Some(cmd) = cmd else {
            return Flow::Quit;
        };
        let step = self.ctl.on(cmd, phase);
        self.dispatch.dispatch(Action::Enabled(self.ctl.enabled));
        self.dispatch.dispatch(Action::Paused(self.ctl.paused));
        match step {
            Step::Stay => Flow::Stay,
            Step::ConnectNow => Flow::Connect,
            Step::GoOffline => {
                if let Some(sink) = sink {
                    let _ = sink.close().await;
                }
                Flow::Offline
            }
            Step::Reconnect => {
                if let Some(sink) = sink {
                    let _ = sink.close().await;
                }
                Flow::Connect
            }
            Step::Send(m) => match sink {
                Some(sink) => match sink.send(Message::Text(m.to_json())).await {
                    Ok(()) => Flow::Stay,
                    Err(_) => Flow::Lost,
                },
                None => Flow::Unsent(m),
            },
        }
    }

    /// Wait in `phase` (not a session) until it is time to connect.
    /// `false`: the page is gone.
    async fn wait(&mut self, mut phase: Phase, backoff: &mut Backoff) -> bool {
        loop {
            let flow = match phase {
                Phase::Backoff => self.count_down(backoff).await,
                _ => {
                    self.dispatch
                        .dispatch(Action::NeedToken(phase == Phase::Token));
                    if phase == Phase::Offline {
                        self.dispatch.dispatch(Action::Conn(ConnStatus::Offline));
                    }
                    let cmd = self.rx.next().await;
                    self.obey(cmd, phase, None).await
                }
            };
            match flow {
                Flow::Quit => return false,
                Flow::Connect => {
                    self.dispatch.dispatch(Action::NeedToken(false));
                    if phase != Phase::Backoff {
                        backoff.reset();
                    }
                    return true;
                }
                Flow::Offline => phase = Phase::Offline,
                Flow::Stay | Flow::Lost | Flow::Unsent(_) => {}
            }
        }
    }

    /// Count down to the next try, second by second.
    async fn count_down(&mut self, backoff: &mut Backoff) -> Flow {
        let mut left_ms = backoff.next_delay_ms(js_sys::Math::random());
        while left_ms > 0 {
            let secs = left_ms.div_ceil(1000) as u32;
            self.dispatch
                .dispatch(Action::Conn(ConnStatus::Reconnecting { in_secs: secs }));
            // Sleep to the next whole second so the label counts down evenly.
            let step = match left_ms % 1000 {
                0 => 1000,
                r => r,
            };
            select! {
                _ = TimeoutFuture::new(step as u32).fuse() => left_ms -= step,
                cmd = self.rx.next() => match self.obey(cmd, Phase::Backoff, None).await {
                    Flow::Stay | Flow::Lost | Flow::Unsent(_) => {}
                    other => return other,
                },
            }
        }
        Flow::Connect
    }
}

/// What a command means for the loop it arrived in.
enum Flow {
    Stay,
    /// A frame for the server with no socket to send it on (SSE).
    Unsent(ClientMessage),
    Connect,
    Offline,
    Lost,
    Quit,
}

async fn run(dispatch: UseReducerDispatcher<DashState>, rx: mpsc::Receiver<Command>) {
    adopt_url_token();
    let base = resolve_url().await;
    let mut task = Task {
        dispatch,
        rx: rx.fuse(),
        ctl: Control::default(),
    };
    let mut backoff = Backoff::new();
    // Server-Sent Events once a WebSocket could not open and a stream
    // did; where the stream is (its last event id) and what was applied.
    let mut sse = false;
    let mut last_id: Option<String> = None;
    let mut tracker = SeqTracker::default();
    loop {
        task.dispatch.dispatch(Action::Conn(ConnStatus::Connecting));
        let started = now_ms();
        let mut ended = Ended::NeverOpened;
        if !sse {
            // Resume where the page stands (the server sends what was
            // missed, or a snapshot when it cannot).
            let url = socket_url(
                &base,
                task.ctl.paused,
                task.ctl.records,
                tracker.resume_point(),
            );
            ended = match WebSocket::open(&url) {
                Ok(ws) => session(ws, &mut task, &mut tracker).await,
                Err(_) => Ended::NeverOpened,
            };
            // Refused before any frame: try the same frames over SSE.
            sse = matches!(ended, Ended::NeverOpened);
        }
        if sse {
            ended = match task.ctl.paused {
                true => Ended::Paused,
                false => {
                    if last_id.is_none() {
                        tracker.reset();
                    }
                    let url = stream_url(&base, viewer_token().as_deref(), last_id.as_deref());
                    sse_session(&url, &mut task, &mut tracker, &mut last_id).await
                }
            };
            // Neither transport opened: back to the WebSocket next time.
            sse = !matches!(ended, Ended::NeverOpened);
        }
        let phase = match ended {
            Ended::Quit => return,
            Ended::Reopen => continue,
            Ended::Unauthorized => Phase::Token,
            Ended::Disabled => Phase::Offline,
            Ended::Incompatible => Phase::Incompatible,
            Ended::Paused => Phase::Paused,
            Ended::Resync => continue,
            Ended::Lost | Ended::NeverOpened => {
                if now_ms() - started > STABLE_MS {
                    backoff.reset();
                }
                Phase::Backoff
            }
        };
        if !task.wait(phase, &mut backoff).await {
            return;
        }
    }
}

/// What one text frame means for the session.
enum Judged {
    /// Applied, or skipped (duplicate, undecodable).
    Done,
    /// A `seq` gap: a snapshot is needed.
    Gap,
    /// The session ends.
    End(Ended),
}

/// Judge and apply one text frame (either transport).
fn on_text(text: &str, tracker: &mut SeqTracker, task: &Task) -> Judged {
    let msg = match classify(text) {
        Incoming::Frame(m) => Rc::<ServerMessage>::from(m),
        Incoming::Undecodable => {
            task.dispatch.dispatch(Action::Undecodable);
            return Judged::Done;
        }
        Incoming::Incompatible(i) => {
            task.dispatch.dispatch(Action::Incompatible(i));
            return Judged::End(Ended::Incompatible);
        }
    };
    if let ServerMessage::Error {
        code: ErrorCode::Unauthorized,
        ..
    } = &*msg
    {
        return Judged::End(Ended::Unauthorized);
    }
    match tracker.check(&msg) {
        SeqVerdict::Apply => {}
        SeqVerdict::Duplicate => return Judged::Done,
        SeqVerdict::Gap => return Judged::Gap,
    }
    // Opened with ?paused=1 (no snapshot comes until resume), or resuming
    // within the same epoch (the missed frames come, no snapshot): the
    // connection is up and the page shows what it had.
    if matches!(*msg, ServerMessage::Hello(_))
        && (task.ctl.paused || tracker.resume_point().is_some())
    {
        task.dispatch.dispatch(Action::Conn(ConnStatus::Live));
    }
    if matches!(*msg, ServerMessage::Snapshot(_)) {
        task.dispatch.dispatch(Action::Conn(ConnStatus::Live));
    }
    task.dispatch.dispatch(Action::Frame(msg));
    Judged::Done
}

/// One Server-Sent Events stream, from open to end. `tracker` and
/// `last_id` outlive it: a stream resumed after `last_id` continues the
/// page's seqs without a snapshot.
async fn sse_session(
    url: &str,
    task: &mut Task,
    tracker: &mut SeqTracker,
    last_id: &mut Option<String>,
) -> Ended {
    let Ok(mut events) = Events::open(url) else {
        return Ended::NeverOpened;
    };
    let mut ticks = IntervalStream::new(1000).fuse();
    let mut last_rx = now_ms();
    let mut opened = false;
    loop {
        select! {
            item = events.items().next() => match item {
                Some(Item::Frame { data, id }) => {
                    last_rx = now_ms();
                    opened = true;
                    *last_id = Some(id).filter(|id| !id.is_empty());
                    match on_text(&data, tracker, task) {
                        Judged::Done => {}
                        Judged::Gap => {
                            *last_id = None;
                            return Ended::Resync;
                        }
                        Judged::End(e) => return e,
                    }
                }
                Some(Item::Failed) | None => {
                    return if opened { Ended::Lost } else { Ended::NeverOpened };
                }
            },
            cmd = task.rx.next() => match task.obey(cmd, Phase::Session, None).await {
                Flow::Quit => return Ended::Quit,
                Flow::Offline => return Ended::Disabled,
                Flow::Unsent(ClientMessage::Pause) => return Ended::Paused,
                Flow::Lost => return Ended::Lost,
                Flow::Stay | Flow::Connect | Flow::Unsent(_) => {}
            },
            _ = ticks.next() => {
                if now_ms() - last_rx > SSE_DEAD_AFTER_MS {
                    return Ended::Lost;
                }
            }
        }
    }
}

/// One connection, from open to end. `tracker` outlives it: the next
/// socket resumes from the seqs applied here.
async fn session(ws: WebSocket, task: &mut Task, tracker: &mut SeqTracker) -> Ended {
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
                    Some(Ok(Message::Bytes(_))) => {
                        task.dispatch.dispatch(Action::Undecodable);
                        continue;
                    }
                    Some(Err(_)) | None if !opened => return Ended::NeverOpened,
                    Some(Err(_)) | None => return Ended::Lost,
                };
                last_rx = now_ms();
                opened = true;
                match on_text(&text, tracker, task) {
                    Judged::Done => {}
                    Judged::Gap => {
                        let _ = sink.send(Message::Text(ClientMessage::Resync.to_json())).await;
                    }
                    Judged::End(e) => {
                        if matches!(e, Ended::Incompatible) {
                            let _ = sink.close().await;
                        }
                        return e;
                    }
                }
            }
            cmd = task.rx.next() => match task.obey(cmd, Phase::Session, Some(&mut sink)).await {
                Flow::Quit => return Ended::Quit,
                Flow::Offline => return Ended::Disabled,
                Flow::Lost => return Ended::Lost,
                Flow::Connect => return Ended::Reopen,
                Flow::Stay | Flow::Unsent(_) => {}
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
