//! The outgoing side: frames queued as (inline header, shared payload)
//! pairs and written with vectored writes, so a frame's payload — the
//! hub's bytes, shared by every connection — is never copied per
//! connection, and every frame queued before a flush goes out in as few
//! system calls as the socket takes (usually one).

use super::frame::Head;
use bytes::{Buf, Bytes};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::AsyncWrite;

/// Slices handed to one `writev` at most (two per frame).
const MAX_SLICES: usize = 128;
/// Queue slots kept between flushes; a longer queue's memory is released
/// once written (a burst or a catch-up must not stay with an idle client).
const KEPT_SLOTS: usize = 4;

/// One queued frame.
#[derive(Debug)]
struct Out {
    /// Its header.
    head: Head,
    /// Header bytes already written.
    head_done: u8,
    /// The payload not yet written (a shared `Bytes`: advancing it moves a
    /// pointer, never the data).
    body: Bytes,
}

/// Frames waiting for the next flush.
#[derive(Debug, Default)]
pub struct Queue {
    /// In order; the first may be partly written.
    frames: Vec<Out>,
}

impl Queue {
    /// Queue one frame: `head` then the shared `body`.
    pub fn push(&mut self, head: Head, body: Bytes) {
        self.frames.push(Out {
            head,
            head_done: 0,
            body,
        });
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Bytes the queue itself holds besides the shared payloads (tests).
    pub fn held(&self) -> usize {
        self.frames.capacity() * std::mem::size_of::<Out>()
    }

    /// Write everything queued to `io`, then flush it. Cancel-safe: what
    /// was written stays written, the rest stays queued.
    pub fn poll_flush<S: AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while !self.frames.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut n = 0;
            for f in &self.frames {
                if n + 2 > MAX_SLICES {
                    break;
                }
                let head = &f.head.as_bytes()[f.head_done as usize..];
                for part in [head, &f.body[..]] {
                    if !part.is_empty() {
                        slices[n] = IoSlice::new(part);
                        n += 1;
                    }
                }
            }
            let written = ready!(Pin::new(&mut *io).poll_write_vectored(cx, &slices[..n]))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.advance(written);
        }
        if self.frames.capacity() > KEPT_SLOTS {
            self.frames = Vec::new();
        }
        Pin::new(io).poll_flush(cx)
    }

    /// `n` bytes went out: drop finished frames, advance the first.
    fn advance(&mut self, mut n: usize) {
        let mut done = 0;
        for f in &mut self.frames {
            let head_left = f.head.as_bytes().len() - f.head_done as usize;
            let step = n.min(head_left);
            f.head_done += step as u8;
            n -= step;
            let step = n.min(f.body.len());
            f.body.advance(step);
            n -= step;
            if f.head_done as usize == f.head.as_bytes().len() && f.body.is_empty() {
                done += 1;
            } else {
                break;
            }
        }
        self.frames.drain(..done);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::frame::TEXT;

    /// A socket taking at most `step` bytes a call and recording them.
    struct Trickle {
        got: Vec<u8>,
        step: usize,
        calls: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            b: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = b.len().min(self.step);
            self.got.extend_from_slice(&b[..n]);
            self.calls += 1;
            Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let mut left = self.step;
            for b in bufs {
                let n = b.len().min(left);
                self.got.extend_from_slice(&b[..n]);
                left -= n;
            }
            self.calls += 1;
            Poll::Ready(Ok(self.step - left))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Flush `q` into `io`; the system calls it took.
    fn flush_all(q: &mut Queue, io: &mut Trickle) -> usize {
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let before = io.calls;
        match q.poll_flush(io, &mut cx) {
            Poll::Ready(r) => r.unwrap(),
            Poll::Pending => panic!("the test socket never blocks"),
        }
        io.calls - before
    }

    #[test]
    fn frames_go_out_in_order_in_one_write_and_survive_partial_writes() {
        let big = Bytes::from(vec![b'x'; 70_000]);
        let small = Bytes::from_static(b"{\"type\":\"system\"}");
        let mut want = Vec::new();
        for b in [&small, &big, &small] {
            want.extend_from_slice(Head::new(TEXT, false, b.len()).as_bytes());
            want.extend_from_slice(b);
        }
        for step in [1usize, 3, 9, 4096, usize::MAX] {
            let mut q = Queue::default();
            for b in [&small, &big, &small] {
                q.push(Head::new(TEXT, false, b.len()), b.clone());
            }
            let mut io = Trickle {
                got: Vec::new(),
                step,
                calls: 0,
            };
            let writes = flush_all(&mut q, &mut io);
            assert_eq!(io.got, want, "step {step}");
            if step == usize::MAX {
                assert_eq!(writes, 1, "three frames, one system call");
            }
            assert!(q.is_empty());
        }
    }

    #[test]
    fn payloads_are_shared_not_copied_and_long_queues_are_released() {
        let big = Bytes::from(vec![b'x'; 100_000]);
        let mut q = Queue::default();
        for _ in 0..64 {
            q.push(Head::new(TEXT, false, big.len()), big.clone());
        }
        // 64 queued frames of 100 KB: a few bytes each besides the payload,
        // which all point at the one shared buffer.
        assert!(q.held() < 64 * 64, "{}", q.held());
        assert!(q.frames.iter().all(|f| f.body.as_ptr() == big.as_ptr()));
        let mut io = Trickle {
            got: Vec::new(),
            step: usize::MAX,
            calls: 0,
        };
        flush_all(&mut q, &mut io);
        assert_eq!(q.held(), 0, "the burst's slots are given back");
    }
}
