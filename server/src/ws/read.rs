//! Client frames to messages, pure (bytes in, messages out): masking,
//! fragmentation, control frames, UTF-8 and the size limit. Holds no
//! memory between messages: its buffers are released once empty, so an
//! idle connection costs nothing here.

use super::frame::{self, ClientHead, BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT};

/// A whole client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A text message (valid UTF-8).
    Text(String),
    /// A binary message (not part of protocol v1; its bytes are not kept).
    Binary,
    /// A ping, with its payload (answered with a pong of the same bytes).
    Ping(Vec<u8>),
    /// A pong (a sign of life).
    Pong,
    /// The client closes, with its code if it gave one.
    Close(Option<u16>),
}

/// A client broke the protocol; decides the close code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// A frame or message over the limit (1009).
    TooBig,
    /// A text message (or close reason) that is not UTF-8 (1007).
    BadUtf8,
    /// Anything else RFC 6455 forbids from a client (1002).
    Protocol(&'static str),
}

impl Violation {
    /// The close code RFC 6455 §7.4.1 names for it.
    pub fn close_code(self) -> u16 {
        match self {
            Violation::TooBig => 1009,
            Violation::BadUtf8 => 1007,
            Violation::Protocol(_) => 1002,
        }
    }
}

/// The parser's state between reads.
#[derive(Debug, Default)]
pub struct Reader {
    /// Bytes read and not yet part of a whole frame.
    buf: Vec<u8>,
    /// A fragmented data message being put together: text or binary, and
    /// its payload so far.
    partial: Option<(bool, Vec<u8>)>,
    /// The largest message (and frame) accepted.
    limit: usize,
}

impl Reader {
    /// A reader accepting messages up to `limit` bytes.
    pub fn new(limit: usize) -> Reader {
        Reader {
            limit,
            ..Reader::default()
        }
    }

    /// Bytes the reader holds now (tests: nothing while idle).
    pub fn held(&self) -> usize {
        self.buf.capacity() + self.partial.as_ref().map_or(0, |p| p.1.capacity())
    }

    /// Bytes read from the socket.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole message, `Ok(None)` until more bytes are needed. A
    /// frame over the limit is refused from its header, before its payload.
    pub fn next_message(&mut self) -> Result<Option<Incoming>, Violation> {
        loop {
            let Some(h) = frame::parse(&self.buf) else {
                self.release();
                return Ok(None);
            };
            check(&h, self.limit)?;
            let end = h.head_len + h.len as usize;
            if self.buf.len() < end {
                return Ok(None);
            }
            let mut payload = self.buf[h.head_len..end].to_vec();
            self.buf.drain(..end);
            frame::unmask(&mut payload, h.mask.unwrap_or_default());
            if let Some(m) = self.frame(&h, payload)? {
                self.release();
                return Ok(Some(m));
            }
        }
    }

    /// One whole frame: a message, or `None` for a fragment.
    fn frame(&mut self, h: &ClientHead, payload: Vec<u8>) -> Result<Option<Incoming>, Violation> {
        let data = match (h.opcode, self.partial.take()) {
            (PING, partial) => {
                self.partial = partial;
                return Ok(Some(Incoming::Ping(payload)));
            }
            (PONG, partial) => {
                self.partial = partial;
                return Ok(Some(Incoming::Pong));
            }
            (CLOSE, _) => return close(&payload).map(Some),
            (TEXT | BINARY, Some(_)) => {
                return Err(Violation::Protocol("message inside a message"))
            }
            (CONTINUATION, None) => return Err(Violation::Protocol("continuation of nothing")),
            (TEXT | BINARY, None) => (h.opcode == TEXT, payload),
            (CONTINUATION, Some((text, mut so_far))) => {
                if so_far.len() + payload.len() > self.limit {
                    return Err(Violation::TooBig);
                }
                so_far.extend_from_slice(&payload);
                (text, so_far)
            }
            _ => return Err(Violation::Protocol("reserved opcode")),
        };
        if !h.fin {
            self.partial = Some(data);
            return Ok(None);
        }
        match data {
            (true, bytes) => String::from_utf8(bytes)
                .map(|s| Some(Incoming::Text(s)))
                .map_err(|_| Violation::BadUtf8),
            (false, _) => Ok(Some(Incoming::Binary)),
        }
    }

    /// Give the buffer's memory back once it holds nothing.
    fn release(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            self.buf = Vec::new();
        }
    }
}

/// The rules a client frame's header must follow.
fn check(h: &ClientHead, limit: usize) -> Result<(), Violation> {
    if h.mask.is_none() {
        return Err(Violation::Protocol("unmasked client frame"));
    }
    if h.rsv != 0 {
        return Err(Violation::Protocol("reserved bits set"));
    }
    let control = h.opcode & 0x8 != 0;
    if control && (!h.fin || h.len > 125) {
        return Err(Violation::Protocol("fragmented or long control frame"));
    }
    if h.len > limit as u64 {
        return Err(Violation::TooBig);
    }
    Ok(())
}

/// A close frame's payload: nothing, or a valid code and a UTF-8 reason.
fn close(payload: &[u8]) -> Result<Incoming, Violation> {
    let Some((code, reason)) = payload.split_first_chunk::<2>() else {
        return match payload.is_empty() {
            true => Ok(Incoming::Close(None)),
            false => Err(Violation::Protocol("one-byte close payload")),
        };
    };
    let code = u16::from_be_bytes(*code);
    let valid = matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999);
    if !valid {
        return Err(Violation::Protocol("invalid close code"));
    }
    std::str::from_utf8(reason).map_err(|_| Violation::BadUtf8)?;
    Ok(Incoming::Close(Some(code)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame.
    fn client(b0: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let mut out = vec![b0];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        let mut p = payload.to_vec();
        frame::unmask(&mut p, mask);
        out.extend_from_slice(&p);
        out
    }

    fn read_all(r: &mut Reader) -> Vec<Result<Incoming, Violation>> {
        let mut out = Vec::new();
        loop {
            match r.next_message() {
                Ok(None) => return out,
                Err(e) => {
                    out.push(Err(e));
                    return out;
                }
                Ok(Some(m)) => out.push(Ok(m)),
            }
        }
    }

    #[test]
    fn messages_arrive_whole_whatever_the_read_boundaries() {
        let mut wire = client(0x81, br#"{"type":"ping","nonce":1}"#);
        wire.extend(client(0x01, b"{\"type\":"));
        wire.extend(client(0x89, b"hb")); // a ping between fragments
        wire.extend(client(0x80, b"\"resync\"}"));
        wire.extend(client(0x8A, b""));
        wire.extend(client(0x82, &[0, 1, 2]));
        wire.extend(client(0x88, &[0x03, 0xE8, b'o', b'k']));
        let want = vec![
            Ok(Incoming::Text(r#"{"type":"ping","nonce":1}"#.into())),
            Ok(Incoming::Ping(b"hb".to_vec())),
            Ok(Incoming::Text(r#"{"type":"resync"}"#.into())),
            Ok(Incoming::Pong),
            Ok(Incoming::Binary),
            Ok(Incoming::Close(Some(1000))),
        ];
        for step in [1, 3, 7, wire.len()] {
            let mut r = Reader::new(4096);
            let mut got = Vec::new();
            for chunk in wire.chunks(step) {
                r.push(chunk);
                got.extend(read_all(&mut r));
            }
            assert_eq!(got, want, "reads of {step} bytes");
            assert_eq!(r.held(), 0, "nothing kept once idle");
        }
    }

    #[test]
    fn violations_name_their_close_codes() {
        let one = |bytes: Vec<u8>| {
            let mut r = Reader::new(4096);
            r.push(&bytes);
            r.next_message()
        };
        let unmasked = vec![0x81, 2, b'h', b'i'];
        assert_eq!(one(unmasked).unwrap_err().close_code(), 1002);
        assert_eq!(one(client(0xC1, b"x")).unwrap_err().close_code(), 1002);
        assert_eq!(one(client(0x83, b"x")).unwrap_err().close_code(), 1002);
        assert_eq!(one(client(0x09, b"x")).unwrap_err().close_code(), 1002);
        assert_eq!(one(client(0x80, b"x")).unwrap_err().close_code(), 1002);
        assert_eq!(one(client(0x88, &[3])).unwrap_err().close_code(), 1002);
        assert_eq!(
            one(client(0x88, &[0x03, 0xED])).unwrap_err().close_code(),
            1002
        );
        assert_eq!(
            one(client(0x81, &[0xff, 0xfe])).unwrap_err().close_code(),
            1007
        );
        let mut two = client(0x01, b"a");
        two.extend(client(0x81, b"b"));
        assert_eq!(one(two).unwrap_err().close_code(), 1002);
    }

    #[test]
    fn the_limit_is_enforced_from_the_header_and_across_fragments() {
        let mut r = Reader::new(16);
        // Only the header of a 64 KiB frame has arrived: refused already.
        r.push(&client(0x81, &[b'x'; 1000])[..8]);
        assert_eq!(r.next_message(), Err(Violation::TooBig));
        let mut r = Reader::new(16);
        r.push(&client(0x01, &[b'x'; 10]));
        r.push(&client(0x80, &[b'x'; 10]));
        assert_eq!(r.next_message(), Err(Violation::TooBig));
        let mut r = Reader::new(16);
        r.push(&client(0x81, &[b'x'; 16]));
        assert_eq!(r.next_message(), Ok(Some(Incoming::Text("x".repeat(16)))));
    }
}
