//! The bare broadcast proxy: a broadcast server with no application logic.
//! It sends pre-serialized frames shaped like livedash's (`type`, `seq`,
//! `ts`, padding to a given size) at a given nominal rate to every client,
//! one `send` (write and flush) per frame per client. Run by `bare-proxy` on
//! a single-threaded tokio runtime: a same-run peer for livedash (which is
//! multi-threaded), not a ceiling.

use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// A frame of exactly `size` bytes (at least the header's length).
pub fn frame(seq: u64, ts: u64, size: usize) -> String {
    let head = format!("{{\"type\":\"orders\",\"seq\":{seq},\"ts\":{ts},\"pad\":\"");
    let pad = size.saturating_sub(head.len() + 2);
    let mut s = String::with_capacity(size);
    s.push_str(&head);
    s.extend(std::iter::repeat_n('x', pad));
    s.push_str("\"}");
    s
}

/// Serve until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    frame_bytes: usize,
    rate_hz: f64,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let (tx, _) = broadcast::channel::<Utf8Bytes>(256);
    let producer = {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate_hz.max(0.01)));
            for seq in 1u64.. {
                tick.tick().await;
                let ts = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0);
                let _ = tx.send(Utf8Bytes::from(frame(seq, ts, frame_bytes)));
            }
        })
    };
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            s = listener.accept() => match s { Ok((s, _)) => s, Err(_) => continue },
        };
        let mut rx = tx.subscribe();
        tokio::spawn(async move {
            let cfg = WebSocketConfig::default().read_buffer_size(4096);
            let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(cfg)).await
            else {
                return;
            };
            loop {
                tokio::select! {
                    f = rx.recv() => match f {
                        Ok(t) => if ws.send(Message::Text(t)).await.is_err() { return },
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => return,
                    },
                    m = ws.next() => match m {
                        Some(Ok(_)) => {}
                        _ => return,
                    },
                }
            }
        });
    }
    producer.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_the_requested_size_and_shape() {
        let f = frame(7, 99, 300);
        assert_eq!(f.len(), 300);
        assert_eq!(crate::loadgen::scan(&f), Some((1, 7, 99)));
        let v: serde_json::Value = serde_json::from_str(&f).unwrap();
        assert_eq!(v["seq"], 7);
    }
}
