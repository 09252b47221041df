//! A WebSocket client that offers permessage-deflate (RFC 7692), for the
//! load generator's `--deflate` clients.
//!
//! tungstenite has no permessage-deflate and refuses every frame with RSV1,
//! so these clients do their own (small) client side of RFC 6455: the
//! upgrade request with `Sec-WebSocket-Extensions: permessage-deflate;
//! server_no_context_takeover; client_no_context_takeover`, a check of the
//! `101` (the right `Sec-WebSocket-Accept`, deflate accepted without server
//! context takeover), and a frame reader. Server frames are never masked,
//! so reading them is header parsing (tungstenite's [`FrameHeader`]) and
//! reassembly; a compressed message (RSV1 on its first frame) is inflated
//! with flate2 from its payload plus `00 00 ff ff`, with a fresh context
//! for every message (the server promised `server_no_context_takeover`).
//!
//! Pure (bytes in, events out) except [`handshake`]; one inflater per
//! thread, reset per message, so 10,000 clients do not hold 10,000 inflate
//! windows.

use flate2::{Decompress, FlushDecompress, Status};
use std::cell::RefCell;
use std::io::Cursor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

/// What a `--deflate` client offers.
pub const OFFER: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// The tail of every sync-flushed message, removed by the sender (RFC 7692
/// §7.2.1) and put back before inflating (§7.2.2).
const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

/// The largest message accepted, on the wire or inflated (livedash's
/// biggest frames, with records, are ~115 KB).
pub const MAX_MESSAGE: usize = 16 << 20;

/// The largest `101` head read.
const MAX_HEAD: usize = 16 << 10;

/// The upgrade request for `path` (with its query) on `host`.
pub fn request(host: &str, path: &str, key: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\
         Sec-WebSocket-Extensions: {OFFER}\r\n\r\n"
    )
}

/// How the server answered an upgrade that offered deflate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `101` with permessage-deflate and `server_no_context_takeover`: its
    /// head took this many bytes (frames may follow in the same read).
    Deflate(usize),
    /// `101` without deflate (or with terms these clients cannot read,
    /// e.g. the server keeps its context): the reason.
    Refused(String),
}

/// Read the server's answer in `buf`: `Ok(None)` while its head is
/// incomplete; an error when it is not a valid `101` for `key`.
pub fn answer(buf: &[u8], key: &str) -> Result<Option<Answer>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Ok(None),
        Ok(httparse::Status::Partial) => return Err("response head too big".into()),
        Err(e) => return Err(format!("bad response: {e}")),
    };
    if resp.code != Some(101) {
        return Err(format!("status {:?}, not 101", resp.code));
    }
    let header = |name: &str| {
        resp.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .filter_map(|h| std::str::from_utf8(h.value).ok())
            .collect::<Vec<_>>()
    };
    let accept = derive_accept_key(key.as_bytes());
    if header("sec-websocket-accept") != [accept.as_str()] {
        return Err("wrong Sec-WebSocket-Accept".into());
    }
    let extensions = header("sec-websocket-extensions").join(",");
    Ok(Some(match deflate_terms(&extensions) {
        Ok(()) => Answer::Deflate(head_len),
        Err(why) => Answer::Refused(why),
    }))
}

/// Whether the `101`'s extensions are permessage-deflate on terms these
/// clients read: without server context takeover, full window.
fn deflate_terms(extensions: &str) -> Result<(), String> {
    let mut accepted = extensions
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let Some(ext) = accepted.next() else {
        return Err("no extension accepted".into());
    };
    if let Some(other) = accepted.next() {
        return Err(format!("more than one extension: {other}"));
    }
    let mut parts = ext.split(';').map(str::trim);
    if !parts
        .next()
        .is_some_and(|n| n.eq_ignore_ascii_case("permessage-deflate"))
    {
        return Err(format!("not permessage-deflate: {ext}"));
    }
    let mut no_takeover = false;
    for p in parts.filter(|p| !p.is_empty()) {
        match p.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" => no_takeover = true,
            "client_no_context_takeover" | "server_max_window_bits=15" => {}
            other => return Err(format!("unexpected parameter {other}")),
        }
    }
    match no_takeover {
        true => Ok(()),
        false => Err("the server keeps its compression context".into()),
    }
}

/// Upgrade `stream` offering deflate: the answer and the bytes read past
/// the `101`'s head (the first frames).
pub async fn handshake(
    stream: &mut TcpStream,
    host: &str,
    path: &str,
) -> Result<(Answer, Vec<u8>), String> {
    let key = generate_key();
    stream
        .write_all(request(host, path, &key).as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::with_capacity(1024);
    loop {
        let n = stream
            .read_buf(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("closed during the handshake".into());
        }
        if let Some(a) = answer(&buf, &key)? {
            let rest = match a {
                Answer::Deflate(head) => buf.split_off(head),
                Answer::Refused(_) => Vec::new(),
            };
            return Ok((a, rest));
        }
    }
}

/// A server message, or what the reader made of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A text message: its text (inflated when it came compressed) and its
    /// payload's size on the wire (compressed, headers excluded).
    Text {
        text: String,
        wire: usize,
        compressed: bool,
    },
    /// A message that did not inflate, is not UTF-8 or is not a whole JSON
    /// object: not delivered; framing goes on.
    Bad { wire: usize, why: &'static str },
    /// A ping: answer with [`pong`].
    Ping(Vec<u8>),
    /// The server closes.
    Close,
    /// A pong or a binary message: nothing to do.
    Other,
}

/// Server frames to messages.
#[derive(Debug, Default)]
pub struct Reader {
    /// Bytes read and not yet part of a whole frame (read into directly).
    pub buf: Vec<u8>,
    /// A fragmented data message: text or binary, compressed, payload so far.
    partial: Option<(bool, bool, Vec<u8>)>,
}

impl Reader {
    /// A reader starting with `bytes` (read past the `101`).
    pub fn with(bytes: Vec<u8>) -> Reader {
        Reader {
            buf: bytes,
            partial: None,
        }
    }

    /// The next message, `Ok(None)` until more bytes are needed; an error
    /// when the framing itself is broken (the connection cannot go on).
    pub fn next_event(&mut self) -> Result<Option<Event>, &'static str> {
        loop {
            let mut cur = Cursor::new(&self.buf[..]);
            let Some((h, len)) = FrameHeader::parse(&mut cur).map_err(|_| "bad frame header")?
            else {
                return Ok(None);
            };
            if len > MAX_MESSAGE as u64 {
                return Err("frame too big");
            }
            let head = cur.position() as usize;
            let end = head + len as usize;
            if self.buf.len() < end {
                return Ok(None);
            }
            if h.mask.is_some() || h.rsv2 || h.rsv3 {
                return Err("masked server frame or RSV2/RSV3 set");
            }
            let payload = self.buf[head..end].to_vec();
            self.buf.drain(..end);
            if self.buf.is_empty() && self.buf.capacity() > 64 << 10 {
                // Not kept after a big message.
                self.buf = Vec::new();
            }
            if let Some(e) = self.frame(&h, payload)? {
                return Ok(Some(e));
            }
        }
    }

    /// One whole frame: an event, or `None` for a fragment.
    fn frame(&mut self, h: &FrameHeader, payload: Vec<u8>) -> Result<Option<Event>, &'static str> {
        let (text, compressed, body) = match (h.opcode, self.partial.take()) {
            (OpCode::Control(c), partial) => {
                if h.rsv1 || !h.is_final || payload.len() > 125 {
                    return Err("bad control frame");
                }
                self.partial = partial;
                return Ok(Some(match c {
                    Control::Ping => Event::Ping(payload),
                    Control::Close => Event::Close,
                    Control::Pong => Event::Other,
                    Control::Reserved(_) => return Err("reserved opcode"),
                }));
            }
            (OpCode::Data(Data::Continue), Some((text, compressed, mut so_far))) => {
                if h.rsv1 {
                    return Err("RSV1 on a continuation frame");
                }
                so_far.extend_from_slice(&payload);
                (text, compressed, so_far)
            }
            (OpCode::Data(Data::Continue), None) => return Err("continuation of nothing"),
            (OpCode::Data(_), Some(_)) => return Err("message inside a message"),
            (OpCode::Data(Data::Text), None) => (true, h.rsv1, payload),
            (OpCode::Data(Data::Binary), None) => (false, h.rsv1, payload),
            (OpCode::Data(Data::Reserved(_)), None) => return Err("reserved opcode"),
        };
        if body.len() > MAX_MESSAGE {
            return Err("message too big");
        }
        if !h.is_final {
            self.partial = Some((text, compressed, body));
            return Ok(None);
        }
        Ok(Some(message(text, compressed, body)))
    }
}

/// A whole data message as an event.
fn message(text: bool, compressed: bool, body: Vec<u8>) -> Event {
    let wire = body.len();
    let plain = match compressed {
        true => match inflate(&body, MAX_MESSAGE) {
            Ok(p) => p,
            Err(why) => return Event::Bad { wire, why },
        },
        false => body,
    };
    if !text {
        return Event::Other;
    }
    match String::from_utf8(plain) {
        Ok(t) if t.starts_with('{') && t.ends_with('}') => Event::Text {
            text: t,
            wire,
            compressed,
        },
        Ok(_) => Event::Bad {
            wire,
            why: "not a JSON object",
        },
        Err(_) => Event::Bad {
            wire,
            why: "not UTF-8",
        },
    }
}

thread_local! {
    /// This thread's inflater, reset before every message.
    static INFLATER: RefCell<Decompress> = RefCell::new(Decompress::new(false));
}

/// Inflate one message's payload without context (RFC 7692 §7.2.2), at
/// most `limit` bytes out.
pub fn inflate(payload: &[u8], limit: usize) -> Result<Vec<u8>, &'static str> {
    INFLATER.with(|d| {
        let mut d = d.borrow_mut();
        d.reset(false);
        inflate_with(&mut d, payload, limit)
    })
}

fn inflate_with(d: &mut Decompress, payload: &[u8], limit: usize) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity((payload.len() * 4).clamp(64, limit.max(64)));
    for (i, part) in [payload, &TAIL[..]].into_iter().enumerate() {
        let mut input = part;
        loop {
            if out.len() == out.capacity() {
                if out.len() >= limit {
                    return Err("inflated message too big");
                }
                out.reserve(out.len().clamp(64, limit - out.len()));
            }
            let (in0, out0) = (d.total_in(), d.total_out());
            let status = d
                .decompress_vec(input, &mut out, FlushDecompress::Sync)
                .map_err(|_| "bad deflate data")?;
            input = &input[(d.total_in() - in0) as usize..];
            if status == Status::StreamEnd {
                // A final block ends the message (allowed): nothing may
                // follow it in the payload; the tail is then not needed.
                return match i == 0 && !input.is_empty() {
                    true => Err("data after the final deflate block"),
                    false => Ok(out),
                };
            }
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
            if (d.total_in(), d.total_out()) == (in0, out0) && out.len() < out.capacity() {
                return Err("truncated deflate data");
            }
        }
    }
    Ok(out)
}

/// A masked pong answering a ping's `payload` (a client's frames are
/// masked; the key only has to be unpredictable to intermediaries, which
/// loopback has none of, so it is derived from the clock).
pub fn pong(payload: &[u8]) -> Vec<u8> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mask = nanos.wrapping_mul(2_654_435_761).to_le_bytes();
    let header = FrameHeader {
        is_final: true,
        rsv1: false,
        rsv2: false,
        rsv3: false,
        opcode: OpCode::Control(Control::Pong),
        mask: Some(mask),
    };
    let mut out = Vec::with_capacity(6 + payload.len());
    header
        .format(payload.len() as u64, &mut out)
        .expect("writing into a Vec cannot fail");
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    out
}

#[cfg(test)]
mod tests;
