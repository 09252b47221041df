//! The pure half of the connection task (`hooks/use_connection.rs` is the
//! web-sys half): the socket URL's per-connection parameters, the page-URL
//! token handling, the protocol version check and frame classification, and
//! the one command handler. No I/O: tested natively.

use livedash_shared::{ClientMessage, Seqs, ServerMessage, PROTOCOL_VERSION};

/// What the page asks of the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The Connect toggle.
    Connect(bool),
    /// Pause (true) / Resume (false).
    Pause(bool),
    /// The token form: `Some` submitted (already stored), `None` cancelled.
    Token(Option<String>),
    /// Whether `orders` frames should carry their records (the dashboard
    /// shown has a recent-orders table). A change reconnects at once.
    Records(bool),
    /// The filter's canonical query (`var-country=China`, empty: none),
    /// in the socket URL of the next connection; a change is sent on the
    /// open socket as a `filter` frame.
    Filter(String),
}

/// Where the connection task is waiting when a command arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A socket is open.
    Session,
    /// Counting down to the next try.
    Backoff,
    /// The Connect toggle is off.
    Offline,
    /// The token form is shown.
    Token,
    /// The server speaks another protocol; no reconnecting.
    Incompatible,
    /// Paused on Server-Sent Events: the stream is closed (it cannot be
    /// told to pause) until Resume reopens it where it left off.
    Paused,
}

/// What the task must do after a command.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Nothing beyond publishing the new [`Control`].
    Stay,
    /// Leave the wait and open a socket now.
    ConnectNow,
    /// Close the socket (if any) and go offline.
    GoOffline,
    /// Send this frame on the open socket.
    Send(ClientMessage),
    /// Close the socket and open another at once (its URL changed).
    Reconnect,
}

/// The person's wishes, owned by the connection task and mirrored into the
/// page state (the Connect toggle and the Pause button show these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    /// The Connect toggle.
    pub enabled: bool,
    /// Pause pressed.
    pub paused: bool,
    /// `orders` frames with their records (see [`Command::Records`]).
    pub records: bool,
    /// The filter's query (see [`Command::Filter`]).
    pub filter: String,
}

impl Default for Control {
    fn default() -> Self {
        Control {
            enabled: true,
            paused: false,
            records: false,
            filter: String::new(),
        }
    }
}

impl Control {
    /// The one command handler, whatever the task is waiting on.
    pub fn on(&mut self, cmd: Command, phase: Phase) -> Step {
        match cmd {
            Command::Connect(true) => {
                self.enabled = true;
                match phase {
                    Phase::Session | Phase::Paused => Step::Stay,
                    _ => Step::ConnectNow,
                }
            }
            Command::Connect(false) => {
                self.enabled = false;
                match phase {
                    Phase::Offline => Step::Stay,
                    _ => Step::GoOffline,
                }
            }
            Command::Pause(p) => {
                let changed = self.paused != p;
                self.paused = p;
                match phase {
                    Phase::Session if changed => Step::Send(if p {
                        ClientMessage::Pause
                    } else {
                        ClientMessage::Resume {
                            since: None,
                            epoch: None,
                        }
                    }),
                    Phase::Paused if !p => Step::ConnectNow,
                    _ => Step::Stay,
                }
            }
            Command::Token(Some(_)) => match phase {
                Phase::Token => {
                    self.enabled = true;
                    Step::ConnectNow
                }
                // Stored: the next connection uses it.
                _ => Step::Stay,
            },
            Command::Records(r) => {
                let changed = self.records != r;
                self.records = r;
                match phase {
                    Phase::Session if changed => Step::Reconnect,
                    _ => Step::Stay,
                }
            }
            Command::Filter(f) => {
                let changed = self.filter != f;
                self.filter = f;
                // On the open socket: a `filter` frame (the server answers
                // with a snapshot over the new filter). A shared socket or
                // an SSE stream reconnects instead (see `use_connection`).
                match phase {
                    Phase::Session if changed => Step::Send(ClientMessage::Filter {
                        vars: crate::filters::vars_of_query(&self.filter),
                    }),
                    _ => Step::Stay,
                }
            }
            Command::Token(None) => match phase {
                Phase::Token => {
                    self.enabled = false;
                    Step::GoOffline
                }
                _ => Step::Stay,
            },
        }
    }
}

/// The socket URL of one connection: the resolved base (with `history` and
/// `records`, see [`crate::config::ws_url`]) plus `paused=1` when the person
/// has paused, so the server sends no snapshot and no live frame until
/// `resume`. The viewer token never goes into the socket URL: it travels in
/// an `auth` frame (a wrong one is then answered with a readable `error`
/// frame instead of an opaque failed upgrade).
/// Without `records`, `records=0`: the page then draws aggregates only and
/// does not need each tick's rows. With `resume` (the seqs the page
/// applied and their epoch) and not paused, `since=...&epoch=...`: the
/// server sends what was missed instead of a snapshot when it can.
pub fn socket_url(base: &str, paused: bool, records: bool, resume: Option<(Seqs, &str)>) -> String {
    let mut url = base.to_string();
    let mut add = |p: &str| {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(p);
    };
    if !records {
        add("records=0");
    }
    if paused {
        add("paused=1");
    } else if let Some((seqs, epoch)) = resume {
        add(&format!("since={}", seqs.to_since()));
        add(&format!("epoch={}", form_encode(epoch)));
    }
    url
}

/// The Server-Sent Events URL (`/api/stream`) beside a WebSocket URL (the
/// page's fallback when the WebSocket cannot open): `ws`→`http`,
/// `wss`→`https`, the `/ws` path → `/api/stream`, the same `history` and
/// `records`, and what an `EventSource` cannot send as headers: the viewer
/// token and the id to resume after (`last_event_id`).
pub fn stream_url(ws: &str, token: Option<&str>, last_event_id: Option<&str>) -> String {
    let (base, query) = ws.split_once('?').unwrap_or((ws, ""));
    let base = if let Some(r) = base.strip_prefix("wss://") {
        format!("https://{r}")
    } else if let Some(r) = base.strip_prefix("ws://") {
        format!("http://{r}")
    } else {
        base.to_string()
    };
    let base = base
        .strip_suffix("/ws")
        .unwrap_or(base.trim_end_matches('/'));
    let mut params: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("paused="))
        .map(str::to_string)
        .collect();
    if let Some(t) = token {
        params.push(format!("token={}", form_encode(t)));
    }
    if let Some(id) = last_event_id.filter(|id| !id.is_empty()) {
        params.push(format!("last_event_id={}", form_encode(id)));
    }
    match params.is_empty() {
        true => format!("{base}/api/stream"),
        false => format!("{base}/api/stream?{}", params.join("&")),
    }
}

/// Percent-encode everything but unreserved characters.
fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Decode `application/x-www-form-urlencoded` text (`+` and `%XX`).
fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Take parameter `name` out of a page query (`location.search`, with or
/// without its `?`): its first value (decoded) and the query without it
/// (every other parameter kept as written; `""` when nothing is left).
pub fn take_param(search: &str, name: &str) -> (Option<String>, String) {
    let q = search.strip_prefix('?').unwrap_or(search);
    let mut value = None;
    let mut kept = Vec::new();
    for part in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        if form_decode(k) == name {
            if value.is_none() {
                value = Some(form_decode(v));
            }
        } else {
            kept.push(part);
        }
    }
    let rest = if kept.is_empty() {
        String::new()
    } else {
        format!("?{}", kept.join("&"))
    };
    (value, rest)
}

/// A server this page cannot talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incompat {
    /// The server's `hello.protocol`, when it said one.
    pub server: Option<u64>,
    /// [`PROTOCOL_VERSION`].
    pub page: u32,
}

impl Incompat {
    /// What the page says.
    pub fn message(&self) -> String {
        match self.server {
            Some(n) => format!(
                "The server speaks protocol {n}, this page protocol {}: reload the page to get the matching version.",
                self.page
            ),
            None => format!(
                "The server sent a snapshot this page (protocol {}) cannot read: reload the page to get the matching version.",
                self.page
            ),
        }
    }
}

/// One text frame, judged.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A frame of this page's protocol (boxed: a snapshot is large).
    Frame(Box<ServerMessage>),
    /// A `hello` of another protocol, or a snapshot this page cannot
    /// decode: stop, say so, do not reconnect.
    Incompatible(Incompat),
    /// Any other frame this page cannot decode: counted and shown, skipped.
    /// A skipped topic frame shows up as a `seq` gap on the next one, which
    /// asks for a snapshot.
    Undecodable,
}

/// Decode a text frame and check the protocol version.
pub fn classify(text: &str) -> Incoming {
    let incompat = |server| {
        Incoming::Incompatible(Incompat {
            server,
            page: PROTOCOL_VERSION,
        })
    };
    match livedash_shared::decode_server(text) {
        Ok(ServerMessage::Hello(h)) if h.protocol != PROTOCOL_VERSION => {
            incompat(Some(h.protocol as u64))
        }
        Ok(m) => Incoming::Frame(Box::new(m)),
        Err(_) => {
            let v: serde_json::Value = match serde_json::from_str(text) {
                Ok(v) => v,
                Err(_) => return Incoming::Undecodable,
            };
            match v["type"].as_str() {
                // A hello of another shape: whatever version it names (or
                // none), this page cannot follow it.
                Some("hello") => incompat(v["protocol"].as_u64()),
                // Without a snapshot the page would wait forever.
                Some("snapshot") => incompat(None),
                _ => Incoming::Undecodable,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_url_adds_paused_and_leaves_records_out_unless_asked() {
        let base = "ws://h:1/ws?history=60";
        assert_eq!(socket_url(base, false, true, None), base);
        assert_eq!(
            socket_url(base, false, false, None),
            "ws://h:1/ws?history=60&records=0"
        );
        assert_eq!(
            socket_url(base, true, false, None),
            "ws://h:1/ws?history=60&records=0&paused=1"
        );
        assert_eq!(
            socket_url("ws://h/ws", true, true, None),
            "ws://h/ws?paused=1"
        );
    }

    #[test]
    fn socket_url_resumes_from_the_applied_seqs_unless_paused() {
        let seqs = Seqs {
            orders: 12,
            system: 4,
            ..Seqs::default()
        };
        assert_eq!(
            socket_url("ws://h/ws", false, true, Some((seqs, "18a-f0"))),
            "ws://h/ws?since=orders:12,system:4,clients:0,events:0,series:0,alerts:0&epoch=18a-f0"
        );
        assert_eq!(
            socket_url("ws://h/ws", true, true, Some((seqs, "e"))),
            "ws://h/ws?paused=1",
            "a paused page takes nothing until it resumes"
        );
    }

    #[test]
    fn records_reconnect_and_filters_are_sent_only_when_they_change() {
        let mut c = Control::default();
        assert!(!c.records);
        assert_eq!(c.on(Command::Records(false), Phase::Session), Step::Stay);
        let f = || Command::Filter("var-country=China".into());
        let china = [("country".to_string(), vec!["China".to_string()])];
        assert_eq!(
            c.on(f(), Phase::Session),
            Step::Send(ClientMessage::Filter {
                vars: china.into_iter().collect()
            })
        );
        assert_eq!(c.on(f(), Phase::Session), Step::Stay);
        assert_eq!(c.filter, "var-country=China");
        c.filter.clear();
        assert_eq!(
            c.on(Command::Records(true), Phase::Session),
            Step::Reconnect
        );
        assert!(c.records);
        assert_eq!(c.on(Command::Records(true), Phase::Session), Step::Stay);
        // Not connected: the next connection uses it.
        assert_eq!(c.on(Command::Records(false), Phase::Backoff), Step::Stay);
        assert!(!c.records);
    }

    #[test]
    fn stream_url_mirrors_the_socket_url() {
        let ws = "ws://h:1/ws?history=60&records=0";
        assert_eq!(
            stream_url(ws, None, None),
            "http://h:1/api/stream?history=60&records=0"
        );
        assert_eq!(
            stream_url("wss://d.example/live/ws?history=60&paused=1", Some("a b&c"), Some("orders:12")),
            "https://d.example/live/api/stream?history=60&token=a%20b%26c&last_event_id=orders%3A12"
        );
        assert_eq!(
            stream_url("ws://h/ws", None, Some("")),
            "http://h/api/stream"
        );
        let (token, _) = take_param("?token=a%20b%26c", "token");
        assert_eq!(token.as_deref(), Some("a b&c"), "round trip");
    }

    #[test]
    fn paused_on_sse_waits_for_resume() {
        let mut c = Control {
            enabled: true,
            paused: true,
            ..Control::default()
        };
        assert_eq!(c.on(Command::Pause(true), Phase::Paused), Step::Stay);
        assert_eq!(c.on(Command::Connect(true), Phase::Paused), Step::Stay);
        assert_eq!(c.on(Command::Pause(false), Phase::Paused), Step::ConnectNow);
        assert!(!c.paused);
        c.paused = true;
        assert_eq!(
            c.on(Command::Connect(false), Phase::Paused),
            Step::GoOffline
        );
    }

    #[test]
    fn take_param_removes_the_token_and_keeps_the_rest() {
        assert_eq!(
            take_param("?server=ws%3A%2F%2Fh%3A1&token=a%2Bb+c&theme=dark", "token"),
            (
                Some("a+b c".to_string()),
                "?server=ws%3A%2F%2Fh%3A1&theme=dark".to_string()
            )
        );
        assert_eq!(
            take_param("?token=x", "token"),
            (Some("x".into()), String::new())
        );
        assert_eq!(take_param("", "token"), (None, String::new()));
        assert_eq!(
            take_param("?a=1&token=first&token=second", "token"),
            (Some("first".into()), "?a=1".into())
        );
        assert_eq!(take_param("a=1", "token"), (None, "?a=1".into()));
        // A broken escape stays as written.
        assert_eq!(take_param("?token=%zz%4", "token").0.unwrap(), "%zz%4");
    }

    #[test]
    fn hello_of_another_protocol_is_incompatible() {
        let hello = |p: u32| {
            format!(
                r#"{{"type":"hello","protocol":{p},"server_version":"9.0.0","client_id":1,"tick_ms":1000,"system_ms":1000,"lookback_ms":300000}}"#
            )
        };
        assert!(matches!(
            classify(&hello(PROTOCOL_VERSION)),
            Incoming::Frame(m) if matches!(*m, ServerMessage::Hello(_))
        ));
        let Incoming::Incompatible(i) = classify(&hello(99)) else {
            panic!("protocol 99 accepted");
        };
        assert_eq!(i.server, Some(99));
        assert!(i.message().contains("protocol 99"));
        assert!(i
            .message()
            .contains(&format!("protocol {PROTOCOL_VERSION}")));
        // A v2 hello of another shape.
        assert_eq!(
            classify(r#"{"type":"hello","protocol":2,"features":["x"]}"#),
            Incoming::Incompatible(Incompat {
                server: Some(2),
                page: PROTOCOL_VERSION
            })
        );
    }

    #[test]
    fn an_undecodable_snapshot_is_incompatible_other_frames_are_counted() {
        assert_eq!(
            classify(r#"{"type":"snapshot","seq":"new-shape"}"#),
            Incoming::Incompatible(Incompat {
                server: None,
                page: PROTOCOL_VERSION
            })
        );
        assert_eq!(
            classify(r#"{"type":"orders","seq":"x"}"#),
            Incoming::Undecodable
        );
        assert_eq!(classify(r#"{"type":"brand_new"}"#), Incoming::Undecodable);
        assert_eq!(classify("not json"), Incoming::Undecodable);
        assert!(matches!(
            classify(r#"{"type":"pong","nonce":1,"ts":2}"#),
            Incoming::Frame(m) if matches!(*m, ServerMessage::Pong { .. })
        ));
    }

    #[test]
    fn one_command_handler_for_every_phase() {
        use Phase::*;
        let mut c = Control::default();
        assert_eq!(c.on(Command::Connect(true), Session), Step::Stay);
        assert_eq!(
            c.on(Command::Pause(true), Session),
            Step::Send(ClientMessage::Pause)
        );
        assert_eq!(c.on(Command::Pause(true), Session), Step::Stay, "no repeat");
        assert_eq!(
            c.on(Command::Pause(false), Session),
            Step::Send(ClientMessage::Resume {
                since: None,
                epoch: None
            })
        );
        // Paused while counting down: remembered, sent as ?paused=1 later.
        assert_eq!(c.on(Command::Pause(true), Backoff), Step::Stay);
        assert!(c.paused);
        assert_eq!(c.on(Command::Connect(true), Backoff), Step::ConnectNow);
        assert_eq!(c.on(Command::Connect(false), Backoff), Step::GoOffline);
        assert!(!c.enabled);
        assert_eq!(c.on(Command::Connect(false), Offline), Step::Stay);
        assert_eq!(c.on(Command::Connect(true), Offline), Step::ConnectNow);
        assert!(c.enabled);
        assert_eq!(c.on(Command::Connect(false), Session), Step::GoOffline);
        assert_eq!(c.on(Command::Connect(true), Incompatible), Step::ConnectNow);
    }

    #[test]
    fn cancelling_the_token_form_turns_the_toggle_off_and_one_click_retries() {
        let mut c = Control::default();
        assert_eq!(c.on(Command::Token(None), Phase::Token), Step::GoOffline);
        assert!(!c.enabled, "the toggle shows off");
        // The very next click on the toggle asks to connect.
        let click = Command::Connect(!c.enabled);
        assert_eq!(c.on(click, Phase::Offline), Step::ConnectNow);
        assert!(c.enabled);
        assert_eq!(
            c.on(Command::Token(Some("t".into())), Phase::Token),
            Step::ConnectNow
        );
        assert_eq!(
            c.on(Command::Token(Some("t".into())), Phase::Session),
            Step::Stay
        );
        assert_eq!(c.on(Command::Token(None), Phase::Session), Step::Stay);
    }
}
