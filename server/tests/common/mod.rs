//! Helpers shared by the integration tests: a server started in-process on
//! 127.0.0.1:0, WebSocket clients, raw HTTP requests, close codes.
#![allow(dead_code)]

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use livedash_server::{run, Config};
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

pub mod pg;
pub mod redis;

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The server's `--data-dir`, removed when the server is dropped.
    _data: tempfile::TempDir,
}

impl TestServer {
    pub async fn start(args: &[&str]) -> TestServer {
        let mut argv = vec!["livedash", "--dist", "/nonexistent", "--seed", "7"];
        // A fresh store per server (never ./livedash-data in the repo).
        let data = tempfile::tempdir().expect("a temp dir");
        let data_dir = data.path().to_str().expect("utf-8 temp path").to_string();
        if !args.contains(&"--data-dir") {
            argv.extend(["--data-dir", &data_dir]);
        }
        argv.extend_from_slice(args);
        let config = Config::try_parse_from(argv).expect("valid flags");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            run(listener, config, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        let srv = TestServer {
            addr,
            stop: Some(tx),
            task: Some(task),
            _data: data,
        };
        // Wait until `run` serves: it configures the listener (send buffer
        // cap) first, and sockets the kernel accepts before that would not
        // inherit it.
        for _ in 0..200 {
            if let Ok(mut s) = TcpStream::connect(addr).await {
                let req = format!("GET /healthz HTTP/1.0\r\nHost: {addr}\r\n\r\n");
                let mut out = Vec::new();
                if s.write_all(req.as_bytes()).await.is_ok()
                    && s.read_to_end(&mut out).await.is_ok()
                    && out.starts_with(b"HTTP/1.0 200")
                {
                    return srv;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the server did not start");
    }

    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub async fn connect(&self) -> Ws {
        self.connect_to(&self.url()).await
    }

    pub async fn connect_to(&self, url: &str) -> Ws {
        timeout(Duration::from_secs(5), connect_async(url))
            .await
            .expect("connect in time")
            .expect("connect")
            .0
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        timeout(Duration::from_secs(5), self.task.take().unwrap())
            .await
            .expect("run returns after shutdown")
            .unwrap();
    }
}

/// Next text frame as JSON (skipping pings), within 5 s.
pub async fn next(ws: &mut Ws) -> Value {
    loop {
        let m = timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("no error");
        match m {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Next frame of a given type.
pub async fn next_of(ws: &mut Ws, ty: &str) -> Value {
    for _ in 0..10_000 {
        let v = next(ws).await;
        if v["type"] == ty {
            return v;
        }
    }
    panic!("no {ty} frame");
}

pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// The HTTP status of a WebSocket upgrade the server refuses.
pub async fn refused_status(
    url: impl tokio_tungstenite::tungstenite::client::IntoClientRequest + Unpin,
) -> u16 {
    match connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => r.status().as_u16(),
        other => panic!("expected a refused upgrade, got {:?}", other.map(|_| ())),
    }
}

/// A plain HTTP GET; (status, body).
pub async fn http(addr: SocketAddr, path: &str, headers: &str) -> (u16, String) {
    request(addr, "GET", path, headers).await
}

/// A raw HTTP/1.0 request; (status, body).
pub async fn request(addr: SocketAddr, method: &str, path: &str, headers: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: 0\r\n{headers}\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    (
        text[9..12].parse().unwrap(),
        text.split_once("\r\n\r\n")
            .map(|x| x.1.to_string())
            .unwrap_or_default(),
    )
}

pub async fn close_code(ws: &mut Ws) -> u16 {
    close_code_within(ws, Duration::from_secs(6)).await
}

/// The code of the close frame that arrives within `limit` (other frames skipped).
pub async fn close_code_within(ws: &mut Ws, limit: Duration) -> u16 {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("a close frame in time")
        {
            Some(Ok(Message::Close(Some(f)))) => return u16::from(f.code),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// A counter's value in `/metrics`.
pub async fn metric(srv: &TestServer, name: &str) -> u64 {
    let (_, body) = http(srv.addr, "/metrics", "").await;
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("livedash_{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        .parse()
        .unwrap()
}

/// An HTTP/1.0 request with a body; (status, body). `headers` are extra
/// header lines, each ending in `\r\n`.
pub async fn request_with_body(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n{headers}\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let _ = s.write_all(body).await; // a refusal may come before the body is read
    let mut out = Vec::new();
    timeout(Duration::from_secs(30), s.read_to_end(&mut out))
        .await
        .expect("an answer in time")
        .ok();
    let text = String::from_utf8_lossy(&out).to_string();
    (
        text[9..12].parse().unwrap(),
        text.split_once("\r\n\r\n")
            .map(|x| x.1.to_string())
            .unwrap_or_default(),
    )
}

/// Write InfluxDB line protocol (`precision=ms`) with `token`.
pub async fn influx_write(addr: SocketAddr, token: &str, lines: &str) -> u16 {
    let h = format!("Authorization: Token {token}\r\nContent-Type: text/plain\r\n");
    request_with_body(
        addr,
        "POST",
        "/api/v2/write?bucket=b&precision=ms",
        &h,
        lines.as_bytes(),
    )
    .await
    .0
}

/// Unix ms now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}
