//! `cargo xtask cluster`: on loopback, a Redis, three `livedash --redis`
//! replicas and HAProxy in front (WebSocket upgrades pass through its HTTP
//! mode; `timeout tunnel` keeps idle sockets), then
//! `cluster ready: http://127.0.0.1:PORT/` once the page and `/ws` answer
//! through the balancer. Runs until Ctrl-C (or SIGTERM), then stops
//! everything it started.

use crate::{build_all, root, tools};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Replicas behind the balancer.
const REPLICAS: usize = 3;

/// Everything started, stopped on drop (SIGTERM, then SIGKILL after 3 s).
struct Started(Vec<(String, Child)>);

impl Drop for Started {
    fn drop(&mut self) {
        for (_, c) in &self.0 {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        for (name, c) in &mut self.0 {
            while Instant::now() < deadline && matches!(c.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
            println!("    stopped {name}");
        }
    }
}

/// `args`: `--no-build` uses the built `target/release/livedash` and
/// `dist/` as they are.
pub fn main(args: &[String]) -> Result<(), String> {
    let bin = match args.iter().any(|a| a == "--no-build") {
        true => root().join("target/release/livedash"),
        false => build_all()?,
    };
    let redis_bin = tools::ensure_redis()?;
    let haproxy = tools::ensure_haproxy()?;
    let dir = root().join("target/cluster");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (tx, rx) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .map_err(|e| format!("cannot catch Ctrl-C: {e}"))?;
    let mut started = Started(Vec::new());
    let sock = dir.join("redis.sock");
    let redis = Command::new(redis_bin)
        .args(["--port", "0", "--unixsocket"])
        .arg(&sock)
        .arg("--dir")
        .arg(&dir)
        .args([
            "--appendonly",
            "yes",
            "--save",
            "",
            "--logfile",
            "redis.log",
        ])
        .spawn()
        .map_err(|e| format!("redis-server: {e}"))?;
    started.0.push(("redis-server".into(), redis));
    wait_for(
        || std::os::unix::net::UnixStream::connect(&sock).is_ok(),
        "Redis",
    )?;
    let mut replicas = Vec::new();
    for i in 1..=REPLICAS {
        let (child, addr) = replica(&bin, &sock, &dir.join(format!("r{i}")))?;
        println!("    replica {i}: http://{addr}");
        started.0.push((format!("replica {i}"), child));
        replicas.push(addr);
    }
    let port = free_port()?;
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(&cfg, haproxy_config(port, &replicas)).map_err(|e| e.to_string())?;
    let lb = Command::new(&haproxy)
        .arg("-db")
        .arg("-f")
        .arg(&cfg)
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("haproxy: {e}"))?;
    started.0.push(("haproxy".into(), lb));
    let front: SocketAddr = ([127, 0, 0, 1], port).into();
    wait_for(
        || answers(front, "/", "HTTP/1.1 200"),
        "the page through HAProxy",
    )?;
    wait_for(
        || answers(front, "/ws", "HTTP/1.1 101"),
        "/ws through HAProxy",
    )?;
    println!("cluster ready: http://127.0.0.1:{port}/");
    loop {
        if rx.recv_timeout(Duration::from_millis(500)).is_ok() {
            println!("==> stopping the cluster");
            return Ok(());
        }
        for (name, c) in &mut started.0 {
            if let Ok(Some(status)) = c.try_wait() {
                return Err(format!("{name} exited ({status}); stopping the rest"));
            }
        }
    }
}

/// Start one replica on a free port; its process and address (from its
/// first stdout line).
fn replica(bin: &Path, sock: &Path, data: &Path) -> Result<(Child, SocketAddr), String> {
    let mut child = Command::new(bin)
        .current_dir(root())
        .args(["--addr", "127.0.0.1:0", "--dist", "dist"])
        .arg("--redis")
        .arg(format!("redis+unix://{}", sock.display()))
        .arg("--data-dir")
        .arg(data)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("livedash: {e}"))?;
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    out.read_line(&mut line).map_err(|e| e.to_string())?;
    // Keep reading its stdout so it never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("livedash said {line:?}, not its address"))?;
    Ok((child, addr))
}

/// HAProxy in HTTP mode: round robin with health checks, WebSocket
/// upgrades tunnelled (`timeout tunnel` for long-lived sockets).
pub fn haproxy_config(port: u16, replicas: &[SocketAddr]) -> String {
    let mut cfg = format!(
        "global\n    maxconn 9000\n\
         defaults\n    mode http\n    timeout connect 5s\n    timeout client 120s\n    \
         timeout server 120s\n    timeout tunnel 1h\n\
         frontend livedash\n    bind 127.0.0.1:{port}\n    default_backend replicas\n\
         backend replicas\n    balance roundrobin\n    option httpchk GET /healthz\n"
    );
    for (i, a) in replicas.iter().enumerate() {
        cfg.push_str(&format!(
            "    server r{} {a} check inter 1s fall 2 rise 1\n",
            i + 1
        ));
    }
    cfg
}

/// A free loopback port (bound, then released).
pub(crate) fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// Whether a GET of `path` (a WebSocket upgrade for `/ws`) is answered
/// with a status line starting with `want`.
pub(crate) fn answers(addr: SocketAddr, path: &str, want: &str) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let upgrade = match path {
        "/ws" => {
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        }
        _ => "Connection: close\r\n",
    };
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{upgrade}\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).starts_with(want)
}

/// Poll `ok` for up to 30 s.
fn wait_for(mut ok: impl FnMut() -> bool, what: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("{what} did not answer within 30 s"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn haproxy_config_lists_every_replica_and_tunnels_sockets() {
        let r = [
            "127.0.0.1:9001".parse().unwrap(),
            "127.0.0.1:9002".parse().unwrap(),
        ];
        let cfg = super::haproxy_config(8080, &r);
        assert!(cfg.contains("bind 127.0.0.1:8080"));
        assert!(cfg.contains("server r1 127.0.0.1:9001 check"));
        assert!(cfg.contains("server r2 127.0.0.1:9002 check"));
        assert!(cfg.contains("timeout tunnel 1h"));
    }
}
