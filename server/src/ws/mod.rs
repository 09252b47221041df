//! The `/ws` connection's WebSocket framing (RFC 6455, server side), over
//! the connection hyper upgraded.
//!
//! Why not tungstenite here: it formats every outgoing frame into a
//! per-connection buffer (a copy of each frame per client, and a buffer
//! that keeps the capacity of the biggest frame it ever held: ~190 KiB per
//! client with 100 KB `orders` frames), and it keeps a read buffer per
//! connection however idle. A server's frames are never masked, so the
//! header and the hub's shared payload can go to the socket as they are:
//!
//! - [`write`]: a queue of (header, shared `Bytes`) written with `writev`,
//!   everything queued before a flush in one system call when the socket
//!   takes it;
//! - [`read`]: client frames to messages, with every rule a server must
//!   enforce (masking, control frames, fragmentation, UTF-8, the size
//!   limit from the header), buffers released between messages;
//! - [`frame`]: the header codec.
//!
//! permessage-deflate stays in [`crate::deflate`]: compressed client
//! frames are inflated under this reader, compressed server frames are
//! queued with RSV1 set ([`Socket::deflated`]). The tutorials' sockets
//! ([`crate::compat`]) still use tungstenite.

pub mod frame;
pub mod read;
pub mod write;

use bytes::Bytes;
use frame::Head;
pub use read::{Incoming, Violation};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Bytes read from the socket at a time (on the stack, not kept).
const READ_CHUNK: usize = 2048;

/// One server-side WebSocket over `S`.
pub struct Socket<S> {
    /// The upgraded connection.
    io: S,
    /// Client bytes to messages.
    reader: read::Reader,
    /// Frames queued for the next flush.
    queue: write::Queue,
    /// The socket reached its end, or reading failed: nothing more to read.
    read_done: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Socket<S> {
    /// A socket accepting client messages of at most `limit` bytes.
    pub fn new(io: S, limit: usize) -> Self {
        Socket {
            io,
            reader: read::Reader::new(limit),
            queue: write::Queue::default(),
            read_done: false,
        }
    }

    /// The next client message; `None` once the peer is gone (end of
    /// stream or a read error). Cancel-safe: bytes read are kept in the
    /// reader, so dropping this future loses nothing.
    pub async fn recv(&mut self) -> Option<Result<Incoming, Violation>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Incoming, Violation>>> {
        loop {
            match self.reader.next_message() {
                Ok(Some(m)) => return Poll::Ready(Some(Ok(m))),
                Err(v) => return Poll::Ready(Some(Err(v))),
                Ok(None) if self.read_done => return Poll::Ready(None),
                Ok(None) => {}
            }
            let mut chunk = [0u8; READ_CHUNK];
            let mut buf = ReadBuf::new(&mut chunk);
            match ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf)) {
                Ok(()) if !buf.filled().is_empty() => self.reader.push(buf.filled()),
                _ => self.read_done = true,
            }
        }
    }

    /// Queue a text frame of the shared `payload` (not copied).
    pub fn text(&mut self, payload: Bytes) {
        self.queue
            .push(Head::new(frame::TEXT, false, payload.len()), payload);
    }

    /// Queue a text message whose payload is already permessage-deflated
    /// (RSV1 set): the hub's bytes, compressed once for every client.
    pub fn deflated(&mut self, payload: Bytes) {
        self.queue
            .push(Head::new(frame::TEXT, true, payload.len()), payload);
    }

    /// Queue a ping (the server's heartbeat).
    pub fn ping(&mut self) {
        self.queue
            .push(Head::new(frame::PING, false, 0), Bytes::new());
    }

    /// Queue the pong answering a client's ping.
    pub fn pong(&mut self, payload: Vec<u8>) {
        let payload = Bytes::from(payload);
        self.queue
            .push(Head::new(frame::PONG, false, payload.len()), payload);
    }

    /// Queue a close frame with `code` and `reason`.
    pub fn close(&mut self, code: u16, reason: &str) {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(&reason.as_bytes()[..reason.len().min(123)]);
        let payload = Bytes::from(payload);
        self.queue
            .push(Head::new(frame::CLOSE, false, payload.len()), payload);
    }

    /// Whether frames wait for a flush.
    pub fn pending(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Write every queued frame (one `writev` when the socket takes it all)
    /// and flush. Cancel-safe like [`write::Queue::poll_flush`].
    pub async fn flush(&mut self) -> io::Result<()> {
        let Socket { io, queue, .. } = self;
        poll_fn(|cx| queue.poll_flush(io, cx)).await
    }

    /// Flush, then end our side of the TCP connection (after a close frame).
    pub async fn shutdown(&mut self) -> io::Result<()> {
        self.flush().await?;
        self.io.shutdown().await
    }

    /// Bytes this socket's own buffers hold (tests: a big frame is not
    /// copied into the connection, and nothing is kept while idle).
    pub fn held(&self) -> usize {
        self.reader.held() + self.queue.held()
    }
}
