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
use crate::hooks::tab_share::{self, Channel, Lock};
use crate::state::{Action, ConnStatus, DashState, SeqTracker, SeqVerdict};
use crate::tabs::{lock_name, share_wanted, Replay, TabMsg};
use futures::channel::mpsc;
use futures::stream::{Fuse, SplitSink};
use futures::{select, FutureExt, SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use gloo_timers::future::{IntervalStream, TimeoutFuture};
use livedash_shared::{ClientMessage, ErrorCode, ServerMessage};
use std::cell::{Cell, RefCell};
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

thread_local! {
    /// The page's one resolution of the server URL, shared by every caller
    /// (the connection, the dashboard, playback): `config.json` is fetched
    /// once per page load, not once per caller — each fetch was another
    /// round trip before the dashboard's first data on a slow network.
    static SERVER_URL: RefCell<Option<futures::future::Shared<futures::future::LocalBoxFuture<'static, String>>>> =
        const { RefCell::new(None) };
}

/// The WebSocket URL: `?server=` beats `config.json` beats the page origin
/// (resolved once per page load, see [`SERVER_URL`]).
pub async fn resolve_url() -> String {
    let once = SERVER_URL.with(|u| {
        u.borrow_mut()
            .get_or_insert_with(|| resolve_url_now().boxed_local().shared())
            .clone()
    });
    once.await
}

/// [`resolve_url`], fetching `config.json`.
async fn resolve_url_now() -> String {
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
/// The default cache mode, so that the response index.html's preload
/// started (beside the wasm) is the one read; the server sends it with
/// `Cache-Control: no-cache`, so a later load asks the server again.
async fn fetch_config() -> Option<PageConfig> {
    let resp = gloo_net::http::Request::get("config.json")
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
pub fn viewer_token() -> Option<String> {
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
    /// While this tab holds the browser's shared socket: the other tabs.
    share: Option<Shared>,
}

/// The holder's side of a shared socket (see [`crate::tabs`]).
struct Shared {
    /// The stream's lock and channel name.
    name: String,
    /// Where frames and statuses go, and `want`s come from.
    channel: Channel,
    /// The last snapshot and what followed, for tabs that join.
    replay: RefCell<Replay>,
    /// Tabs on the stream, as the last lock query saw them.
    tabs: Rc<Cell<u32>>,
    /// Tabs as last reported to the server (`tabs` frame).
    reported: u32,
    /// The socket was opened paused (this tab paused and alone): a tab
    /// that joins needs `resume` first.
    socket_paused: Cell<bool>,
}

impl Shared {
    /// A tab asked for a snapshot: answer from the replay, or say that the
    /// server must send one (`resync`).
    fn answer(&self, tab: u64) -> Option<ClientMessage> {
        if self.socket_paused.replace(false) {
            return Some(ClientMessage::Resume {
                since: None,
                epoch: None,
            });
        }
        match self.replay.borrow().catchup() {
            Some(texts) => {
                self.channel.post(&TabMsg::Catchup { tab, texts });
                None
            }
            None => Some(ClientMessage::Resync),
        }
    }

    /// Count the tabs again (the answer lands in `tabs` a moment later);
    /// the `tabs` frame to send when the count changed since reported.
    fn recount(&mut self) -> Option<ClientMessage> {
        let (name, tabs) = (self.name.clone(), self.tabs.clone());
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(n) = tab_share::tab_count(&name).await {
                tabs.set(n);
            }
        });
        let now = self.tabs.get();
        (now != self.reported).then(|| {
            self.reported = now;
            ClientMessage::Tabs { count: now }
        })
    }
}

/// The next message from the other tabs (never, when not sharing).
async fn from_tabs(share: &mut Option<Shared>) -> TabMsg {
    if let Some(s) = share {
        if let Some(m) = s.channel.messages().next().await {
            return m;
        }
    }
    std::future::pending().await
}

impl Task {
    /// Show a connection status (and tell the other tabs, when holding the
    /// shared socket).
    fn conn(&self, s: ConnStatus) {
        self.dispatch.dispatch(Action::Conn(s));
        if let Some(sh) = &self.share {
            sh.channel.post(&TabMsg::status(s));
        }
    }

    /// Handle one command (`None`: the page is gone) in `phase`; the one
    /// place commands are obeyed. Sends on `sink` when a socket is open.
    async fn obey(&mut self, cmd: Option<Command>, phase: Phase, sink: Option<&mut Sink>) -> Flow {
        let Some(cmd) = cmd else {
            return Flow::Quit;
        };
        let step = match cmd {
            // A shared socket keeps flowing for the other tabs: pause only
            // stops this tab applying frames; resume asks for a snapshot.
            Command::Pause(p) if self.share.is_some() => {
                self.ctl.paused = p;
                if let (false, Some(sh)) = (p, &self.share) {
                    sh.socket_paused.set(false);
                }
                match p {
                    true => Step::Stay,
                    false => Step::Send(ClientMessage::Resync),
                }
            }
            cmd => match self.ctl.on(cmd, phase) {
                // A shared socket is keyed by its filter (the other tabs
                // on it keep theirs), and SSE cannot be told: reconnect.
                Step::Send(ClientMessage::Filter { .. })
                    if self.share.is_some() || sink.is_none() =>
                {
                    Step::Reconnect
                }
                step => step,
            },
        };
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
                        self.conn(ConnStatus::Offline);
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
            self.conn(ConnStatus::Reconnecting { in_secs: secs });
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

/// Why a tab stops holding (or waiting for) the shared socket.
enum Left {
    /// The page is going away.
    Quit,
    /// This tab got the lock: it holds the socket now.
    Leader,
    /// The Connect toggle went off in this tab.
    Offline,
    /// This tab's stream changed (records): join that stream's group.
    Regroup,
}

async fn run(dispatch: UseReducerDispatcher<DashState>, rx: mpsc::Receiver<Command>) {
    adopt_url_token();
    let base = resolve_url().await;
    let mut task = Task {
        dispatch,
        rx: rx.fuse(),
        ctl: Control::default(),
        share: None,
    };
    let search = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    // The first socket already carries the address bar's filter.
    task.ctl.filter = crate::filters::UrlFilter::from_search(&search).query();
    let mut tracker = SeqTracker::default();
    if !(share_wanted(&search) && tab_share::available()) {
        // A socket of its own.
        lead(&mut task, &base, &mut tracker).await;
        return;
    }
    let me = tab_share::tab_id();
    let mut backoff = Backoff::new();
    loop {
        let url = socket_url(&base, false, task.ctl.records, None);
        let name = lock_name(&crate::filters::with_filter(&url, &task.ctl.filter));
        let (Ok(mut channel), Some(mut lock)) = (Channel::open(&name), Lock::request(&name)) else {
            lead(&mut task, &base, &mut tracker).await;
            return;
        };
        let left = match follow(&mut task, &mut channel, &mut lock, me, &mut tracker).await {
            Left::Leader => {
                task.share = Some(Shared {
                    name,
                    channel,
                    replay: RefCell::default(),
                    tabs: Rc::new(Cell::new(1)),
                    reported: 1,
                    socket_paused: Cell::new(false),
                });
                // Resumes from what this tab applied as a follower: the
                // frames the old holder did not relay come from the server.
                let left = lead(&mut task, &base, &mut tracker).await;
                task.share = None;
                left
            }
            other => other,
        };
        // Released (or withdrawn): the next waiting tab takes the socket.
        drop(lock);
        match left {
            Left::Quit => return,
            Left::Leader | Left::Regroup => {}
            Left::Offline => {
                if !task.wait(Phase::Offline, &mut backoff).await {
                    return;
                }
            }
        }
    }
}

/// Wait for the shared socket's lock, showing the frames its holder
/// relays; returns when this tab must do something else.
async fn follow(
    task: &mut Task,
    channel: &mut Channel,
    lock: &mut Lock,
    me: u64,
    tracker: &mut SeqTracker,
) -> Left {
    tracker.reset();
    let want = TabMsg::Want { tab: me };
    channel.post(&want);
    let mut asked = now_ms();
    task.dispatch.dispatch(Action::Conn(ConnStatus::Connecting));
    let mut ticks = IntervalStream::new(1000).fuse();
    loop {
        select! {
            _ = lock.granted().fuse() => return Left::Leader,
            m = channel.messages().next() => match m {
                Some(TabMsg::Frame { text }) if !task.ctl.paused => {
                    if let Judged::Gap = on_text(&text, tracker, task) {
                        channel.post(&want);
                        asked = now_ms();
                    }
                }
                Some(TabMsg::Catchup { tab, texts }) if tab == me && !task.ctl.paused => {
                    tracker.reset();
                    for t in &texts {
                        let _ = on_text(t, tracker, task);
                    }
                }
                Some(m) => {
                    if let Some(s) = m.as_status() {
                        task.dispatch.dispatch(Action::Conn(s));
                    }
                }
                None => {}
            },
            cmd = task.rx.next() => {
                let Some(cmd) = cmd else { return Left::Quit };
                match cmd {
                    Command::Pause(p) => {
                        task.ctl.paused = p;
                        task.dispatch.dispatch(Action::Paused(p));
                        if !p {
                            tracker.reset();
                            channel.post(&want);
                            asked = now_ms();
                        }
                    }
                    cmd => match task.ctl.on(cmd, Phase::Session) {
                        Step::GoOffline => return Left::Offline,
                        Step::Reconnect => return Left::Regroup,
                        _ => task.dispatch.dispatch(Action::Enabled(task.ctl.enabled)),
                    },
                }
            }
            _ = ticks.next() => {
                // No answer yet (the holder was changing hands): ask again.
                if !tracker.synced() && !task.ctl.paused && now_ms() - asked > 3000.0 {
                    channel.post(&want);
                    asked = now_ms();
                }
            }
        }
    }
}

/// Hold a socket (this tab's own, or the browser's shared one) until the
/// page goes away — or, when shared, until this tab goes offline or
/// changes stream, which hands the socket to the next tab.
async fn lead(task: &mut Task, base: &str, tracker: &mut SeqTracker) -> Left {
    let mut backoff = Backoff::new();
    // Server-Sent Events once a WebSocket could not open and a stream
    // did; where the stream is (its last event id). `tracker` (what was
    // applied) outlives every socket and stream: the next one resumes.
    let mut sse = false;
    let mut last_id: Option<String> = None;
    // A WebSocket that worked once is not blocked: when a later one closes
    // before its first frame (a replica gone behind a load balancer, a
    // restarting server), try it again rather than fall back to SSE.
    let mut ws_worked = false;
    let alone = task.share.is_none();
    loop {
        task.conn(ConnStatus::Connecting);
        // A shared socket opens paused only while no other tab reads it.
        let mut open_paused = task.ctl.paused;
        if let Some(sh) = &task.share {
            sh.replay.borrow_mut().clear();
            let tabs = tab_share::tab_count(&sh.name).await.unwrap_or(2);
            sh.tabs.set(tabs);
            open_paused &= tabs <= 1;
            sh.socket_paused.set(open_paused);
        }
        let started = now_ms();
        let mut ended = Ended::NeverOpened;
        if !sse {
            // Resume where the page stands (the server sends what was
            // missed, or a snapshot when it cannot).
            let url = socket_url(base, open_paused, task.ctl.records, tracker.resume_point());
            let url = crate::filters::with_filter(&url, &task.ctl.filter);
            ended = match WebSocket::open(&url) {
                Ok(ws) => session(ws, task, tracker).await,
                Err(_) => Ended::NeverOpened,
            };
            // Refused before any frame, and never worked: try the same
            // frames over SSE.
            ws_worked |= !matches!(ended, Ended::NeverOpened);
            sse = matches!(ended, Ended::NeverOpened) && !ws_worked;
        }
        if sse {
            ended = match task.ctl.paused && alone {
                true => Ended::Paused,
                false => {
                    if last_id.is_none() {
                        tracker.reset();
                    }
                    let ws = crate::filters::with_filter(base, &task.ctl.filter);
                    let url = stream_url(&ws, viewer_token().as_deref(), last_id.as_deref());
                    sse_session(&url, task, tracker, &mut last_id).await
                }
            };
            // Neither transport opened: back to the WebSocket next time.
            sse = !matches!(ended, Ended::NeverOpened);
        }
        let phase = match ended {
            Ended::Quit => return Left::Quit,
            Ended::Disabled if !alone => return Left::Offline,
            Ended::Reopen if !alone => return Left::Regroup,
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
            return Left::Quit;
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
    if let Some(sh) = &task.share {
        // The other tabs judge it themselves.
        sh.channel.post(&TabMsg::Frame {
            text: text.to_string(),
        });
    }
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
    if let Some(sh) = &task.share {
        let snapshot = matches!(*msg, ServerMessage::Snapshot(_));
        sh.replay.borrow_mut().push(text, snapshot);
        if task.ctl.paused {
            // Paused in this tab only: relayed, not applied; the
            // connection is up and the page shows what it had.
            if matches!(*msg, ServerMessage::Hello(_)) {
                task.conn(ConnStatus::Live);
            }
            return Judged::Done;
        }
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
        task.conn(ConnStatus::Live);
    }
    if matches!(*msg, ServerMessage::Snapshot(_)) {
        task.conn(ConnStatus::Live);
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
            m = from_tabs(&mut task.share).fuse() => {
                // No socket to ask for a snapshot on: the replay or nothing
                // (the tab asks again).
                if let (TabMsg::Want { tab }, Some(sh)) = (m, &task.share) {
                    let _ = sh.answer(tab);
                }
            }
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
            m = from_tabs(&mut task.share).fuse() => {
                let TabMsg::Want { tab } = m else { continue };
                let ask = task.share.as_ref().and_then(|sh| sh.answer(tab));
                if let Some(ask) = ask {
                    if sink.send(Message::Text(ask.to_json())).await.is_err() {
                        return Ended::Lost;
                    }
                }
            }
            _ = ticks.next() => {
                if let Some(tabs) = task.share.as_mut().and_then(Shared::recount) {
                    if sink.send(Message::Text(tabs.to_json())).await.is_err() {
                        return Ended::Lost;
                    }
                }
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
