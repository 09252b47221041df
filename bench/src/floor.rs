//! The bare write loop: the least a broadcast server can do per frame on
//! one core. One thread accepts and answers WebSocket handshakes; one
//! thread, every period, frames one text message once and makes one
//! non-blocking `write(2)` of those bytes to every connected socket, with
//! no runtime, no task per client, no queue and no other work. Each round's
//! wall time (first write to last write returned) and the writer thread's
//! CPU time are recorded.
//!
//! It is a reference for what the kernel alone costs on this machine: on
//! loopback, the receiver's TCP processing and its wake-up run in the
//! sender's context, so a round's time is what any one-core server pays for
//! one write per client before any work of its own. It is not livedash's
//! ceiling (livedash could write from several cores, or fewer times), and
//! no target is derived from it: `cargo xtask bench` prints it beside the
//! targets it explains.

use serde::Serialize;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One round of writes.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Round {
    /// Sockets written to.
    pub clients: usize,
    /// From the first write's start to the last write's return, µs.
    pub wall_us: f64,
    /// The writer thread's CPU time (user + system) over the round, µs.
    pub cpu_us: f64,
    /// Writes that did not take the whole frame at once (a full socket
    /// buffer): the frame was dropped for that client. Zero when the
    /// readers keep up.
    pub short: usize,
}

/// A server-to-client WebSocket text frame (FIN, unmasked) carrying `text`.
pub fn ws_text_frame(text: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(text.len() + 10);
    f.push(0x81);
    match text.len() {
        n if n < 126 => f.push(n as u8),
        n if n <= u16::MAX as usize => {
            f.push(126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(text);
    f
}

/// The `101` for a WebSocket upgrade request `head`, or `None` when it has
/// no `Sec-WebSocket-Key`.
pub fn handshake_response(head: &str) -> Option<String> {
    let key = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("sec-websocket-key")
            .then(|| value.trim().to_string())
    })?;
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    Some(format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    ))
}

/// Read a request head and answer it; the socket, non-blocking, to write to.
fn upgrade(mut s: TcpStream) -> Option<TcpStream> {
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.set_nodelay(true).ok()?;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).ok().filter(|&n| n > 0)?;
        head.extend_from_slice(&buf[..n]);
        if head.len() > 16 * 1024 {
            return None;
        }
    }
    let reply = handshake_response(&String::from_utf8_lossy(&head))?;
    s.write_all(reply.as_bytes()).ok()?;
    s.set_nonblocking(true).ok()?;
    Some(s)
}

/// This thread's CPU time (user + system), µs.
fn thread_cpu_us() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into a valid, local timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 * 1e6 + t.tv_nsec as f64 / 1e3
}

/// One round: `frame` written once to every socket; closed ones removed.
pub fn write_round(socks: &mut Vec<TcpStream>, frame: &[u8]) -> Round {
    let (cpu0, t0) = (thread_cpu_us(), Instant::now());
    let clients = socks.len();
    let mut short = 0;
    socks.retain_mut(|s| match s.write(frame) {
        Ok(n) if n == frame.len() => true,
        Ok(_) => {
            short += 1;
            true
        }
        Err(e) if e.kind() == ErrorKind::WouldBlock => {
            short += 1;
            true
        }
        Err(_) => false,
    });
    Round {
        clients,
        wall_us: t0.elapsed().as_secs_f64() * 1e6,
        cpu_us: thread_cpu_us() - cpu0,
        short,
    }
}

/// Serve until the process ends: accept on `listener`, and every
/// `1 / rate_hz` s write an `orders`-shaped frame of `frame_bytes` to every
/// client; after each round, `report` is called with every round so far.
pub fn serve(
    listener: TcpListener,
    frame_bytes: usize,
    rate_hz: f64,
    mut report: impl FnMut(&[Round]),
) -> ! {
    let socks = Arc::new(Mutex::new(Vec::<TcpStream>::new()));
    let accepted = socks.clone();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            if let Some(s) = upgrade(s) {
                accepted.lock().expect("not poisoned").push(s);
            }
        }
    });
    let period = Duration::from_secs_f64(1.0 / rate_hz.max(0.01));
    let mut rounds = Vec::new();
    let mut next = Instant::now() + period;
    for seq in 1u64.. {
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        next += period;
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let frame = ws_text_frame(crate::proxy::frame(seq, ts, frame_bytes).as_bytes());
        let round = write_round(&mut socks.lock().expect("not poisoned"), &frame);
        rounds.push(round);
        report(&rounds);
    }
    unreachable!("the round loop never ends")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_their_length_in_the_header() {
        let small = ws_text_frame(&[b'x'; 5]);
        assert_eq!(small[..2], [0x81, 5]);
        let mid = ws_text_frame(&[b'x'; 300]);
        assert_eq!(mid[..4], [0x81, 126, 1, 44]);
        assert_eq!(mid.len(), 304);
        let big = ws_text_frame(&vec![b'x'; 70_000]);
        assert_eq!(big[1], 127);
        assert_eq!(u64::from_be_bytes(big[2..10].try_into().unwrap()), 70_000);
    }

    #[test]
    fn the_upgrade_answer_carries_the_rfc_example_accept_key() {
        let head =
            "GET /ws HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        let reply = handshake_response(head).unwrap();
        assert!(reply.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(handshake_response("GET / HTTP/1.1\r\n\r\n").is_none());
    }
}
