//! permessage-deflate (RFC 7692) on `/ws`, compressing each frame once.
//!
//! tungstenite has no permessage-deflate (its pull requests have been open
//! for years), and a WebSocket library that has it (yawc and its forks)
//! compresses per connection, which is the cost this avoids. So:
//!
//! - **Negotiation** ([`negotiate`]): the first `permessage-deflate` offer
//!   we can honour is answered with `server_no_context_takeover` (and
//!   `client_no_context_takeover` when offered). Offers that limit our window
//!   (`server_max_window_bits` < 15) are declined: the pure-Rust deflate
//!   backend has a fixed 32 KiB window.
//! - **Server → client**: without context takeover a message's compressed
//!   bytes do not depend on what the connection sent before, so the hub's
//!   frame is deflated once ([`Deflated`], on first use) and those bytes go
//!   to every connection that negotiated it, queued as they are with RSV1
//!   set ([`crate::ws::Socket::deflated`]).
//! - **Client → server**: a browser compresses its own messages too.
//!   [`Inflating`] sits under the frame reader ([`crate::ws::read`]) on such
//!   connections and turns compressed client frames back into plain ones
//!   (bounded by [`crate::conn::MAX_CLIENT_MESSAGE`]).

use bytes::{Buf, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::io::{self, Cursor};
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

/// The tail every sync-flushed deflate block ends with, removed on the wire
/// (RFC 7692 §7.2.1) and put back before inflating.
const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

/// What a connection negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The client promised to reset its context per message: our inflater
    /// may start afresh for each one.
    pub client_no_context_takeover: bool,
}

impl Negotiated {
    /// The `Sec-WebSocket-Extensions` value of the `101`.
    pub fn response(&self) -> &'static str {
        match self.client_no_context_takeover {
            true => "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            false => "permessage-deflate; server_no_context_takeover",
        }
    }
}

/// Pick the first `permessage-deflate` offer of a `Sec-WebSocket-Extensions`
/// header (possibly several headers joined by commas) that we can honour.
pub fn negotiate<'a>(offers: impl IntoIterator<Item = &'a str>) -> Option<Negotiated> {
    offers
        .into_iter()
        .flat_map(|h| h.split(','))
        .find_map(|offer| {
            let mut parts = offer.split(';').map(str::trim);
            if !parts.next()?.eq_ignore_ascii_case("permessage-deflate") {
                return None;
            }
            let mut n = Negotiated {
                client_no_context_takeover: false,
            };
            for p in parts.filter(|p| !p.is_empty()) {
                let (name, value) = match p.split_once('=') {
                    Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"'))),
                    None => (p, None),
                };
                match (name.to_ascii_lowercase().as_str(), value) {
                    ("server_no_context_takeover", None) => {}
                    ("client_no_context_takeover", None) => n.client_no_context_takeover = true,
                    // We inflate with the largest window: any client window fits.
                    ("client_max_window_bits", None) => {}
                    ("client_max_window_bits", Some(v)) if window_bits(v) => {}
                    ("server_max_window_bits", Some("15")) => {}
                    // A smaller server window (or anything unknown or
                    // malformed): decline this offer.
                    _ => return None,
                }
            }
            Some(n)
        })
}

fn window_bits(v: &str) -> bool {
    v.parse::<u8>().is_ok_and(|b| (8..=15).contains(&b))
}

/// Deflate one message without context (a fresh compressor), as sent.
pub fn deflate(text: &[u8]) -> Bytes {
    let mut c = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(text.len() / 2 + 64);
    loop {
        let used = c.total_in() as usize;
        c.compress_vec(&text[used..], &mut out, FlushCompress::Sync)
            .expect("deflate into memory cannot fail");
        // Done when all input is in and the flush fit in the buffer.
        if c.total_in() as usize == text.len() && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity().max(64));
    }
    debug_assert!(out.ends_with(&TAIL));
    out.truncate(out.len().saturating_sub(TAIL.len()));
    Bytes::from(out)
}

fn bad(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

/// Inflate one message's payload through `d`, at most `limit` bytes out.
pub fn inflate(d: &mut Decompress, payload: &[u8], limit: usize) -> io::Result<Vec<u8>> {
    let mut input = Vec::with_capacity(payload.len() + TAIL.len());
    input.extend_from_slice(payload);
    input.extend_from_slice(&TAIL);
    let start = d.total_in();
    let mut out = Vec::with_capacity((4 * input.len()).min(limit + 1));
    loop {
        let used = (d.total_in() - start) as usize;
        if used == input.len() && out.len() < out.capacity() {
            return Ok(out);
        }
        if out.len() > limit {
            return Err(bad("inflated message too big"));
        }
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(64).min(limit + 1));
        }
        let before = (d.total_in(), d.total_out());
        let status = d
            .decompress_vec(&input[used..], &mut out, FlushDecompress::Sync)
            .map_err(|_| bad("bad deflate data"))?;
        if status == Status::StreamEnd {
            // A final block (allowed): the message ends here.
            return match out.len() > limit {
                true => Err(bad("inflated message too big")),
                false => Ok(out),
            };
        }
        if before == (d.total_in(), d.total_out()) && out.len() < out.capacity() {
            return Err(bad("truncated deflate data"));
        }
    }
}

/// A frame's deflated bytes, computed by the first connection that needs
/// them and shared by all (with the frame).
#[derive(Debug, Default)]
pub struct Deflated {
    /// The full text.
    full: OnceLock<Bytes>,
    /// The text without records (`?records=0`).
    lite: OnceLock<Bytes>,
}

impl Deflated {
    /// The compressed form of `text` (`lite`: the records-free variant).
    pub fn get(&self, text: &[u8], lite: bool) -> Bytes {
        let cell = if lite { &self.lite } else { &self.full };
        cell.get_or_init(|| deflate(text)).clone()
    }
}

/// The read side of a connection that negotiated permessage-deflate (its
/// writes pass through untouched):
/// client frames with RSV1 (a compressed message, possibly fragmented)
/// come out as one plain frame; every other frame passes unchanged.
pub struct Inflating<S> {
    /// The upgraded connection.
    io: S,
    /// Bytes read but not yet parsed into whole frames.
    raw: BytesMut,
    /// Rewritten bytes for tungstenite.
    out: BytesMut,
    /// The client's compressor context (kept across messages unless it
    /// promised `client_no_context_takeover`); made on the first use.
    inflater: Option<Decompress>,
    /// What was negotiated.
    negotiated: Negotiated,
    /// A compressed message being reassembled: opcode, mask, payload.
    partial: Option<(OpCode, [u8; 4], Vec<u8>)>,
    /// The largest (inflated) client message allowed.
    limit: usize,
}

impl<S> Inflating<S> {
    /// Wrap `io`; messages inflate to at most `limit` bytes.
    pub fn new(io: S, negotiated: Negotiated, limit: usize) -> Self {
        Inflating {
            io,
            raw: BytesMut::new(),
            out: BytesMut::new(),
            inflater: None,
            negotiated,
            partial: None,
            limit,
        }
    }

    /// Move every whole frame of `raw` to `out`, inflating as needed.
    fn rewrite(&mut self) -> io::Result<()> {
        loop {
            let mut cur = Cursor::new(&self.raw[..]);
            let Some((hdr, len)) = FrameHeader::parse(&mut cur).map_err(io::Error::other)? else {
                return Ok(());
            };
            let head = cur.position() as usize;
            let total = head as u64 + len;
            if total > (self.limit + 64) as u64 * 2 && (hdr.rsv1 || self.partial.is_some()) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "compressed frame too big",
                ));
            }
            if (self.raw.len() as u64) < total {
                return Ok(());
            }
            let frame = self.raw.split_to(total as usize);
            let compressed =
                hdr.rsv1 || (self.partial.is_some() && hdr.opcode == OpCode::Data(Data::Continue));
            if !compressed {
                self.out.extend_from_slice(&frame);
                continue;
            }
            let mask = hdr.mask.unwrap_or_default();
            let mut payload = frame[head..].to_vec();
            apply_mask(&mut payload, mask);
            let (opcode, mask, mut body) =
                self.partial
                    .take()
                    .unwrap_or((hdr.opcode, mask, Vec::new()));
            body.extend_from_slice(&payload);
            if body.len() > 2 * self.limit + 64 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "compressed message too big",
                ));
            }
            if !hdr.is_final {
                self.partial = Some((opcode, mask, body));
                continue;
            }
            let d = self.inflater.get_or_insert_with(|| Decompress::new(false));
            let mut plain = inflate(d, &body, self.limit)?;
            if self.negotiated.client_no_context_takeover {
                d.reset(false);
            }
            apply_mask(&mut plain, mask);
            let out = FrameHeader {
                is_final: true,
                rsv1: false,
                rsv2: false,
                rsv3: false,
                opcode,
                mask: Some(mask),
            };
            let mut head = Vec::with_capacity(14);
            out.format(plain.len() as u64, &mut head)
                .map_err(io::Error::other)?;
            self.out.extend_from_slice(&head);
            self.out.extend_from_slice(&plain);
        }
    }
}

fn apply_mask(buf: &mut [u8], mask: [u8; 4]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Inflating<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = &mut *self;
        loop {
            if !me.out.is_empty() {
                let n = me.out.len().min(buf.remaining());
                buf.put_slice(&me.out[..n]);
                me.out.advance(n);
                if me.out.is_empty() {
                    // Nothing kept while the client is quiet.
                    me.out = BytesMut::new();
                }
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; 4096];
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(&mut me.io).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) if rb.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => {
                    me.raw.extend_from_slice(rb.filled());
                    me.rewrite()?;
                    if me.raw.is_empty() {
                        me.raw = BytesMut::new();
                    }
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Inflating<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        b: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, b)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_takes_the_first_offer_we_can_honour() {
        let n = |h: &str| negotiate([h]);
        let plain = Some(Negotiated {
            client_no_context_takeover: false,
        });
        // What Chromium and Firefox offer.
        assert_eq!(n("permessage-deflate; client_max_window_bits"), plain);
        assert_eq!(
            n("permessage-deflate; client_no_context_takeover; server_no_context_takeover"),
            Some(Negotiated {
                client_no_context_takeover: true
            })
        );
        assert_eq!(n("permessage-deflate; server_max_window_bits=10"), None);
        assert_eq!(
            n("permessage-deflate; server_max_window_bits=10, permessage-deflate"),
            plain,
            "the second offer"
        );
        assert_eq!(n("x-webkit-deflate-frame"), None);
        assert_eq!(n("permessage-deflate; client_max_window_bits=99"), None);
        assert_eq!(n("permessage-deflate; bogus"), None);
        assert_eq!(negotiate(["foo", "permessage-deflate"]), plain);
        assert_eq!(negotiate([]), None);
    }

    #[test]
    fn deflate_once_inflates_back_without_context() {
        let text =
            br#"{"type":"orders","seq":7,"by_country":[{"name":"China","value":12.5}]}"#.repeat(20);
        let z = deflate(&text);
        assert!(
            !z.ends_with(&TAIL) && z.len() < text.len() / 4,
            "{}",
            z.len()
        );
        // Each message inflates on its own, and through one kept context.
        let mut d = Decompress::new(false);
        assert_eq!(inflate(&mut d, &z, 1 << 20).unwrap(), text);
        assert_eq!(inflate(&mut d, &z, 1 << 20).unwrap(), text);
        assert!(
            inflate(&mut Decompress::new(false), &z, 100).is_err(),
            "over the limit"
        );
        assert!(inflate(&mut Decompress::new(false), b"\xff\xff\xff", 100).is_err());
        let empty = deflate(b"");
        assert_eq!(&empty[..], [0u8], "an empty message (RFC 7692 §7.2.3.6)");
        assert!(inflate(&mut d, &empty, 10).unwrap().is_empty());
    }
}
