//! N WebSocket clients against one URL, or spread over several (replicas of
//! one cluster: client i connects to URL i mod n): bounded ramp, read every
//! frame for a fixed time, then close and report.
//!
//! A frame is identified by its `"type"` and `"seq"`, read with a tiny
//! scanner (no full JSON parse per client). Arrival times are kept per
//! client and combined at the end: fan-out spread is each client's arrival
//! minus the first arrival of the same message; latency is arrival minus the
//! frame's `ts` (server send time, epoch ms). Only messages first seen in the
//! steady window (after the ramp, before the end) count, so every client had
//! the chance to receive them.
//!
//! With `deflate`, every client offers permessage-deflate and reads its
//! frames with [`crate::deflate_ws`] (inflating each compressed message
//! before the same scanner reads it); a server that refuses deflate is
//! counted as such (not as connected), a message that does not inflate or
//! scan as an error (not as delivered), and the compressed payload bytes
//! (`wire`) apart from the inflated ones.

use futures_util::StreamExt;
use serde::Serialize;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// `ws://127.0.0.1:PORT/ws?history=0`, one per server (replicas):
    /// client i connects to `urls[i % urls.len()]`.
    pub urls: Vec<String>,
    /// Clients to open.
    pub clients: usize,
    /// Connects per second at most.
    pub ramp_per_sec: u32,
    /// Steady window after the ramp.
    pub hold: Duration,
    /// The servers' pids, for CPU and RSS from /proc (summed).
    pub server_pids: Vec<u32>,
    /// Source addresses 127.0.0.1..=127.0.0.N, for more than ~28k clients.
    pub source_ips: u8,
    /// Extra clients that connect and then never read (frozen tabs); not
    /// counted in the delivery statistics.
    pub stalled: usize,
    /// Offer permessage-deflate (and require it) on every connection.
    pub deflate: bool,
}

/// p50 / p99 / max in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Quantiles {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

fn quantiles(v: &mut [f64]) -> Quantiles {
    if v.is_empty() {
        return Quantiles::default();
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    Quantiles {
        p50: at(0.5),
        p99: at(0.99),
        max: v[v.len() - 1],
    }
}

/// The result of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub clients: usize,
    pub connected: usize,
    pub failed: usize,
    /// Connections the server closed (or that broke) before the end.
    pub dropped: usize,
    /// Seconds of the steady window.
    pub window_s: f64,
    /// Frames delivered per second in the window, over all clients.
    pub frames_per_sec: f64,
    /// Of those, `orders` frames.
    pub orders_frames_per_sec: f64,
    /// Of those, `system` frames.
    pub system_frames_per_sec: f64,
    /// Payload bytes of the frames counted (inflated when compressed).
    pub bytes_per_sec: f64,
    /// The same frames' payload bytes as they came on the wire (compressed
    /// for deflate clients; equal to `bytes_per_sec` without deflate).
    pub wire_bytes_per_sec: f64,
    /// Clients whose `101` accepted permessage-deflate.
    pub deflate_negotiated: usize,
    /// Clients the server answered without deflate (closed, not counted as
    /// connected): a deflate run never falls back silently.
    pub deflate_refused: usize,
    /// Messages that did not inflate, were not UTF-8 or whole JSON, or were
    /// topic frames whose type/seq/ts did not scan: errors, not deliveries.
    pub frame_errors: u64,
    /// The `orders` frame of one deflate client whose size is nearest its
    /// frames' mean (inflated; the size varies with each tick's records):
    /// lets a peer send as many bytes, that compress like livedash's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orders_sample: Option<String>,
    /// Mean payload size of the frames counted.
    pub mean_frame_bytes: f64,
    /// Mean payload size of the `orders` frames counted (a peer is given
    /// frames of this size, so both carry the same bytes).
    pub orders_mean_bytes: f64,
    /// Distinct messages first seen in the window.
    pub messages: usize,
    /// Share of those that reached every connected client.
    pub complete_share: f64,
    pub spread_ms: Quantiles,
    pub latency_ms: Quantiles,
    /// Server CPU seconds per second in the window.
    pub server_cpu: f64,
    pub server_rss_before_kib: u64,
    pub server_rss_connected_kib: u64,
    /// (RSS with clients − RSS before) / connected.
    pub rss_per_client_kib: f64,
    /// Seconds the ramp took.
    pub ramp_s: f64,
    /// The server's own `livedash_fanout_seconds` over the steady window
    /// (bucket-interpolated p50 / p99, milliseconds), when it has one.
    pub fanout_p50_ms: Option<f64>,
    pub fanout_p99_ms: Option<f64>,
    /// Frames that histogram observed in the window.
    pub fanout_frames: Option<u64>,
}

/// Cumulative buckets `(le seconds, count)` of `livedash_fanout_seconds`
/// in a Prometheus text body (`+Inf` as infinity).
pub fn fanout_buckets(body: &str) -> Vec<(f64, u64)> {
    body.lines()
        .filter_map(|l| l.strip_prefix("livedash_fanout_seconds_bucket{le=\""))
        .filter_map(|l| {
            let (le, rest) = l.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, rest.trim().parse().ok()?))
        })
        .collect()
}

/// The `q` quantile (0..1) of the observations between two scrapes of the
/// same cumulative histogram, in seconds, interpolated linearly inside its
/// bucket (as Prometheus' histogram_quantile does); `None` if nothing was
/// observed. In the +Inf bucket, the last finite bound.
pub fn histogram_quantile(before: &[(f64, u64)], after: &[(f64, u64)], q: f64) -> Option<f64> {
    let diff: Vec<(f64, u64)> = after
        .iter()
        .map(|&(le, n)| {
            let b = before.iter().find(|x| x.0 == le).map_or(0, |x| x.1);
            (le, n.saturating_sub(b))
        })
        .collect();
    let total = diff.last()?.1;
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut lower = (0.0, 0u64);
    for &(le, cum) in &diff {
        if cum as f64 >= rank {
            if le.is_infinite() {
                return Some(lower.0);
            }
            let inside = (cum - lower.1).max(1) as f64;
            return Some(lower.0 + (le - lower.0) * (rank - lower.1 as f64) / inside);
        }
        lower = (le, cum);
    }
    Some(lower.0)
}

/// GET /metrics of the server behind a `ws://host:port/...` URL.
async fn scrape_metrics(ws_url: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = ws_url.strip_prefix("ws://")?.split('/').next()?;
    let mut s = tokio::net::TcpStream::connect(host).await.ok()?;
    let req = format!("GET /metrics HTTP/1.0\r\nHost: {host}\r\n\r\n");
    s.write_all(req.as_bytes()).await.ok()?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .ok()?
        .ok()?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Read `"type":"X"` and `"seq":N` and `"ts":N` from the start of a topic
/// frame (`{"type":"orders","seq":1,"ts":2,...`). `None` for other frames.
pub fn scan(text: &str) -> Option<(u8, u64, u64)> {
    let rest = text.strip_prefix("{\"type\":\"")?;
    let (ty, rest) = rest.split_once('"')?;
    let code = match ty {
        "orders" => 1,
        "system" => 2,
        "clients" => 3,
        "event" => 4,
        _ => return None,
    };
    let rest = rest.strip_prefix(",\"seq\":")?;
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    let seq = rest[..end].parse().ok()?;
    let rest = rest[end..].strip_prefix(",\"ts\":")?;
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    let ts = rest[..end].parse().ok()?;
    Some((code, seq, ts))
}

/// [`scan`], and whether a frame naming a topic failed to scan (an error:
/// a topic frame the load generator cannot identify is not delivered).
pub fn scan_checked(text: &str) -> Result<Option<(u8, u64, u64)>, &'static str> {
    match scan(text) {
        Some(s) => Ok(Some(s)),
        None => {
            let topic = ["orders", "system", "clients", "event"]
                .iter()
                .any(|t| text.starts_with(&format!("{{\"type\":\"{t}\"")));
            if topic {
                Err("a topic frame without a readable seq and ts")
            } else {
                Ok(None)
            }
        }
    }
}

/// One arrival: message key, arrival (ns since start), latency (ms).
struct Arrival {
    key: (u8, u64),
    at_ns: u64,
    latency_ms: f64,
    bytes: u32,
    /// Payload bytes on the wire (compressed when it came compressed).
    wire: u32,
}

#[derive(Default)]
struct ClientResult {
    connected: bool,
    dropped: bool,
    arrivals: Vec<Arrival>,
    /// The `101` accepted permessage-deflate.
    negotiated: bool,
    /// The server answered a deflate offer without deflate.
    refused: bool,
    /// Messages that did not inflate or scan.
    errors: u64,
    /// Every `orders` frame (client 0 of a deflate run only; ~1 KB each).
    orders_samples: Vec<String>,
}

fn now_ms_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

async fn client(i: usize, opts: Options, start: Instant, stop_at: Instant) -> ClientResult {
    let mut res = ClientResult::default();
    let target = &opts.urls[i % opts.urls.len()];
    let url: tokio_tungstenite::tungstenite::http::Uri = match target.parse() {
        Ok(u) => u,
        Err(_) => return res,
    };
    let host = url.host().unwrap_or("127.0.0.1").to_string();
    let port = url.port_u16().unwrap_or(80);
    let Ok(ip) = host.parse::<IpAddr>() else {
        return res;
    };
    let Ok(sock) = TcpSocket::new_v4() else {
        return res;
    };
    if i >= opts.clients {
        // A frozen tab: a tiny receive window, so the server's writes to it
        // block within seconds instead of filling megabytes of kernel buffers.
        let _ = sock.set_recv_buffer_size(4096);
    }
    if opts.source_ips > 1 {
        let src = Ipv4Addr::new(127, 0, 0, 1 + (i % opts.source_ips as usize) as u8);
        if sock.bind(SocketAddr::new(IpAddr::V4(src), 0)).is_err() {
            return res;
        }
    }
    if opts.deflate {
        let path = url.path_and_query().map_or("/", |p| p.as_str()).to_string();
        let host = format!("{host}:{port}");
        let deadline = tokio::time::Instant::from_std(stop_at);
        let connect = async {
            let stream = sock.connect(SocketAddr::new(ip, port)).await.ok()?;
            let _ = stream.set_nodelay(true);
            Some(stream)
        };
        if let Ok(Some(stream)) = tokio::time::timeout(Duration::from_secs(10), connect).await {
            let stalled = i >= opts.clients;
            deflate_client(
                stream,
                &host,
                &path,
                stalled,
                i == 0,
                start,
                deadline,
                &mut res,
            )
            .await;
        }
        return res;
    }
    let connect = async {
        let stream = sock.connect(SocketAddr::new(ip, port)).await.ok()?;
        let _ = stream.set_nodelay(true);
        let cfg = WebSocketConfig::default().read_buffer_size(4096);
        tokio_tungstenite::client_async_with_config(target.as_str(), stream, Some(cfg))
            .await
            .ok()
    };
    let Ok(Some((mut ws, _))) = tokio::time::timeout(Duration::from_secs(10), connect).await else {
        return res;
    };
    res.connected = true;
    let deadline = tokio::time::Instant::from_std(stop_at);
    if i >= opts.clients {
        // A stalled client: keep the socket open, never read.
        tokio::time::sleep_until(deadline).await;
        drop(ws);
        return res;
    }
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => break,
            Ok(Some(Ok(Message::Text(t)))) => {
                if let Some((code, seq, ts)) = scan(t.as_str()) {
                    res.arrivals.push(Arrival {
                        key: (code, seq),
                        at_ns: start.elapsed().as_nanos() as u64,
                        latency_ms: now_ms_f64() - ts as f64,
                        bytes: t.len() as u32,
                        wire: t.len() as u32,
                    });
                }
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_))) | Ok(None) => {
                res.dropped = true;
                break;
            }
        }
    }
    res
}

/// A client that offered deflate: the upgrade, then every frame until the
/// deadline (pings answered), each message inflated and scanned.
#[allow(clippy::too_many_arguments)]
async fn deflate_client(
    mut stream: tokio::net::TcpStream,
    host: &str,
    path: &str,
    stalled: bool,
    sample: bool,
    start: Instant,
    deadline: tokio::time::Instant,
    res: &mut ClientResult,
) {
    use crate::deflate_ws::{handshake, pong, Answer, Event, Reader};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let up = tokio::time::timeout(Duration::from_secs(10), handshake(&mut stream, host, path));
    let mut reader = match up.await {
        Ok(Ok((Answer::Deflate(_), rest))) => Reader::with(rest),
        Ok(Ok((Answer::Refused(_), _))) => {
            res.refused = true;
            return;
        }
        _ => return,
    };
    res.connected = true;
    res.negotiated = true;
    if stalled {
        tokio::time::sleep_until(deadline).await;
        return;
    }
    loop {
        loop {
            match reader.next_event() {
                Ok(None) => break,
                Ok(Some(Event::Text { text, wire, .. })) => match scan_checked(&text) {
                    Ok(Some((code, seq, ts))) => {
                        if sample && code == 1 {
                            res.orders_samples.push(text.clone());
                        }
                        res.arrivals.push(Arrival {
                            key: (code, seq),
                            at_ns: start.elapsed().as_nanos() as u64,
                            latency_ms: now_ms_f64() - ts as f64,
                            bytes: text.len() as u32,
                            wire: wire as u32,
                        });
                    }
                    Ok(None) => {}
                    Err(_) => res.errors += 1,
                },
                Ok(Some(Event::Bad { .. })) => res.errors += 1,
                Ok(Some(Event::Ping(p))) => {
                    let _ = tokio::time::timeout_at(deadline, stream.write_all(&pong(&p))).await;
                }
                Ok(Some(Event::Other)) => {}
                Ok(Some(Event::Close)) | Err(_) => {
                    res.dropped = true;
                    return;
                }
            }
        }
        reader.buf.reserve(4096);
        match tokio::time::timeout_at(deadline, stream.read_buf(&mut reader.buf)).await {
            Err(_) => return,
            Ok(Ok(n)) if n > 0 => {}
            Ok(_) => {
                res.dropped = true;
                return;
            }
        }
    }
}

/// The frame whose length is nearest the frames' mean length.
fn nearest_mean_len(v: Vec<String>) -> Option<String> {
    let mean = v.iter().map(String::len).sum::<usize>() as f64 / v.len().max(1) as f64;
    v.into_iter().min_by(|a, b| {
        (a.len() as f64 - mean)
            .abs()
            .total_cmp(&(b.len() as f64 - mean).abs())
    })
}

/// Run the clients and report. Every loop is bounded by the run's deadline.
pub async fn run(opts: Options) -> Report {
    raise_fd_limit_for(opts.clients);
    let start = Instant::now();
    let before = stats(&opts.server_pids);
    let ramp = Duration::from_secs_f64(opts.clients as f64 / opts.ramp_per_sec.max(1) as f64);
    let settle = Duration::from_secs(2);
    let window_start = start + ramp + settle;
    let window_end = window_start + opts.hold;
    let stop_at = window_end + Duration::from_secs(1);
    let mut tasks = Vec::with_capacity(opts.clients);
    let gap = Duration::from_secs_f64(1.0 / opts.ramp_per_sec.max(1) as f64);
    // Stalled clients (indices past `clients`) connect first, so they are
    // behind for the whole run.
    let mut stalled = Vec::new();
    for i in opts.clients..opts.clients + opts.stalled {
        stalled.push(tokio::spawn(client(i, opts.clone(), start, stop_at)));
    }
    for i in 0..opts.clients {
        let due = start + gap.mul_f64(i as f64);
        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
        tasks.push(tokio::spawn(client(i, opts.clone(), start, stop_at)));
    }
    let ramp_s = start.elapsed().as_secs_f64();
    tokio::time::sleep_until(tokio::time::Instant::from_std(window_start)).await;
    let at_window = stats(&opts.server_pids);
    let fanout_start = fanout_of(&opts.urls).await;
    tokio::time::sleep_until(tokio::time::Instant::from_std(window_end)).await;
    let at_end = stats(&opts.server_pids);
    let fanout_end = fanout_of(&opts.urls).await;
    for t in stalled {
        let _ = t.await;
    }
    let mut results = Vec::with_capacity(tasks.len());
    for t in tasks {
        if let Ok(r) = t.await {
            results.push(r);
        }
    }
    let mut report = summarize(
        &opts,
        results,
        start,
        window_start,
        window_end,
        before,
        at_window,
        at_end,
        ramp_s,
    );
    if let (Some(a), Some(b)) = (fanout_start, fanout_end) {
        if !b.is_empty() {
            let ms = |q| histogram_quantile(&a, &b, q).map(|s| s * 1000.0);
            report.fanout_p50_ms = ms(0.5);
            report.fanout_p99_ms = ms(0.99);
            report.fanout_frames = Some(b.last().map_or(0, |x| x.1) - a.last().map_or(0, |x| x.1));
        }
    }
    report
}

/// CPU seconds and RSS of every server together; `None` when there are
/// none or one cannot be read.
fn stats(pids: &[u32]) -> Option<(f64, u64)> {
    if pids.is_empty() {
        return None;
    }
    pids.iter()
        .map(|&p| crate::proc_stats(p))
        .try_fold((0.0, 0), |(c, r), s| s.map(|(c2, r2)| (c + c2, r + r2)))
}

/// `livedash_fanout_seconds` of every server, buckets summed (same bounds).
async fn fanout_of(urls: &[String]) -> Option<Vec<(f64, u64)>> {
    let mut sum: Option<Vec<(f64, u64)>> = None;
    for u in urls {
        let b = fanout_buckets(&scrape_metrics(u).await?);
        sum = Some(match sum {
            None => b,
            Some(s) => s.iter().zip(&b).map(|(x, y)| (x.0, x.1 + y.1)).collect(),
        });
    }
    sum
}

fn raise_fd_limit_for(clients: usize) {
    crate::raise_fd_limit((clients as u64 + 1024).max(65_536));
}

#[allow(clippy::too_many_arguments)]
fn summarize(
    opts: &Options,
    mut results: Vec<ClientResult>,
    start: Instant,
    window_start: Instant,
    window_end: Instant,
    before: Option<(f64, u64)>,
    at_window: Option<(f64, u64)>,
    at_end: Option<(f64, u64)>,
    ramp_s: f64,
) -> Report {
    let ws_ns = (window_start - start).as_nanos() as u64;
    let we_ns = (window_end - start).as_nanos() as u64;
    let connected = results.iter().filter(|r| r.connected).count();
    let dropped = results.iter().filter(|r| r.dropped).count();
    let negotiated = results.iter().filter(|r| r.negotiated).count();
    let refused = results.iter().filter(|r| r.refused).count();
    let frame_errors = results.iter().map(|r| r.errors).sum();
    let orders_sample = results
        .iter_mut()
        .find(|r| !r.orders_samples.is_empty())
        .and_then(|r| nearest_mean_len(std::mem::take(&mut r.orders_samples)));
    // First arrival and receiver count per message.
    let mut first: HashMap<(u8, u64), (u64, usize)> = HashMap::new();
    for r in &results {
        for a in &r.arrivals {
            let e = first.entry(a.key).or_insert((a.at_ns, 0));
            e.0 = e.0.min(a.at_ns);
            e.1 += 1;
        }
    }
    let in_window = |k: &(u8, u64)| first.get(k).is_some_and(|(t, _)| *t >= ws_ns && *t < we_ns);
    let mut spread = Vec::new();
    let mut latency = Vec::new();
    let (mut frames, mut bytes, mut wire) = (0u64, 0u64, 0u64);
    // Frames per topic code (1 orders, 2 system, 3 clients, 4 event).
    let mut by_topic = [0u64; 5];
    let mut orders_bytes = 0u64;
    for r in &results {
        for a in &r.arrivals {
            if in_window(&a.key) {
                spread.push((a.at_ns - first[&a.key].0) as f64 / 1e6);
                latency.push(a.latency_ms.max(0.0));
                frames += 1;
                by_topic[usize::from(a.key.0).min(4)] += 1;
                bytes += a.bytes as u64;
                wire += a.wire as u64;
                if a.key.0 == 1 {
                    orders_bytes += a.bytes as u64;
                }
            }
        }
    }
    let messages: Vec<_> = first.iter().filter(|(k, _)| in_window(k)).collect();
    let complete = messages
        .iter()
        .filter(|(_, (_, n))| *n >= connected)
        .count();
    let window_s = (window_end - window_start).as_secs_f64();
    let (rss_before, rss_connected) = (before.map_or(0, |b| b.1), at_window.map_or(0, |w| w.1));
    Report {
        clients: opts.clients,
        connected,
        failed: opts.clients - connected,
        dropped,
        window_s,
        frames_per_sec: frames as f64 / window_s,
        orders_frames_per_sec: by_topic[1] as f64 / window_s,
        system_frames_per_sec: by_topic[2] as f64 / window_s,
        bytes_per_sec: bytes as f64 / window_s,
        wire_bytes_per_sec: wire as f64 / window_s,
        deflate_negotiated: negotiated,
        deflate_refused: refused,
        frame_errors,
        orders_sample,
        mean_frame_bytes: if frames > 0 {
            bytes as f64 / frames as f64
        } else {
            0.0
        },
        orders_mean_bytes: if by_topic[1] > 0 {
            orders_bytes as f64 / by_topic[1] as f64
        } else {
            0.0
        },
        messages: messages.len(),
        complete_share: if messages.is_empty() {
            0.0
        } else {
            complete as f64 / messages.len() as f64
        },
        spread_ms: quantiles(&mut spread),
        latency_ms: quantiles(&mut latency),
        server_cpu: match (at_window, at_end) {
            (Some(a), Some(b)) => (b.0 - a.0) / window_s,
            _ => 0.0,
        },
        server_rss_before_kib: rss_before,
        server_rss_connected_kib: rss_connected,
        rss_per_client_kib: if connected > 0 && rss_connected > rss_before {
            (rss_connected - rss_before) as f64 / connected as f64
        } else {
            0.0
        },
        ramp_s,
        fanout_p50_ms: None,
        fanout_p99_ms: None,
        fanout_frames: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_topic_frames_only() {
        assert_eq!(
            scan(r#"{"type":"orders","seq":12,"ts":34,"x":1}"#),
            Some((1, 12, 34))
        );
        assert_eq!(
            scan(r#"{"type":"event","seq":1,"ts":2,"level":"info"}"#),
            Some((4, 1, 2))
        );
        assert_eq!(
            scan(r#"{"type":"snapshot","ts":1,"seq":{"orders":1}}"#),
            None
        );
        assert_eq!(scan_checked(r#"{"type":"hello","protocol":1}"#), Ok(None));
        assert_eq!(
            scan_checked(r#"{"type":"system","seq":5,"ts":6}"#),
            Ok(Some((2, 5, 6)))
        );
        assert!(scan_checked(r#"{"type":"orders","seq":"x"}"#).is_err());
        assert_eq!(scan(r#"{"type":"hello","protocol":1}"#), None);
        assert_eq!(scan("garbage"), None);
    }

    #[test]
    fn histogram_quantiles_come_from_the_window_only() {
        let body = "livedash_fanout_seconds_bucket{le=\"0.01\"} 10\n\
                    livedash_fanout_seconds_bucket{le=\"0.02\"} 10\n\
                    livedash_fanout_seconds_bucket{le=\"+Inf\"} 10\n";
        let before = fanout_buckets(body);
        assert_eq!(before, vec![(0.01, 10), (0.02, 10), (f64::INFINITY, 10)]);
        // In the window: 50 fast frames (≤ 10 ms) and 50 in (10, 20] ms.
        let after = vec![(0.01, 60), (0.02, 110), (f64::INFINITY, 110)];
        let p50 = histogram_quantile(&before, &after, 0.5).unwrap();
        assert!((p50 - 0.01).abs() < 1e-9, "{p50}");
        let p99 = histogram_quantile(&before, &after, 0.99).unwrap();
        assert!((p99 - 0.0198).abs() < 1e-9, "{p99}");
        assert_eq!(histogram_quantile(&before, &before, 0.5), None);
    }

    #[test]
    fn the_sample_is_the_frame_nearest_the_mean_size() {
        // Mean 4.4: the median ("aaa") would be too small.
        let v = ["aaa", "a", "aaaaaaaaaaaa", "aa", "aaaa"]
            .map(String::from)
            .to_vec();
        assert_eq!(nearest_mean_len(v).as_deref(), Some("aaaa"));
        assert_eq!(nearest_mean_len(Vec::new()), None);
    }

    #[test]
    fn quantiles_of_a_sample() {
        let mut v: Vec<f64> = (1..=100).map(|x| x as f64).collect();
        let q = quantiles(&mut v);
        assert_eq!((q.p50, q.p99, q.max), (51.0, 99.0, 100.0));
    }
}
