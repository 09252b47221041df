//! A real Redis for tests: a `redis-server` per test in a temp dir,
//! reached on a unix socket only (`--port 0`), killed (SIGKILL) and
//! restarted with or without its data to test outages, killed on drop.
//! `cargo xtask test` installs Debian's `redis-server` when missing and
//! passes its path in `LIVEDASH_REDIS_BIN`.
//!
//! Plain std (no test crate dependency), so the e2e tests and xtask can
//! include this file too.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One Redis server, running until dropped.
pub struct TestRedis {
    /// Its folder: the socket, the append-only file, the log.
    dir: tempfile::TempDir,
    /// The running server (`None` while killed).
    child: Option<Child>,
}

/// `LIVEDASH_REDIS_BIN`, else `redis-server` on PATH or in /usr/bin.
pub fn redis_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("LIVEDASH_REDIS_BIN") {
        return PathBuf::from(bin);
    }
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join("redis-server"))
        .find(|b| b.exists());
    found.unwrap_or_else(|| {
        panic!(
            "redis-server not found: run `cargo xtask test` (it installs Debian's \
             redis-server) or `apt-get install redis-server`, or set LIVEDASH_REDIS_BIN"
        )
    })
}

impl TestRedis {
    /// A fresh server with an append-only file synced on every write, so
    /// a SIGKILL loses nothing that was acknowledged.
    pub fn start() -> TestRedis {
        let dir = tempfile::Builder::new()
            .prefix("ldr")
            .tempdir_in("/tmp")
            .expect("a temp dir");
        let mut r = TestRedis { dir, child: None };
        r.spawn();
        r
    }

    /// The socket path.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("r.sock")
    }

    /// The URL for `--redis`.
    pub fn url(&self) -> String {
        format!("redis+unix://{}", self.socket().display())
    }

    fn spawn(&mut self) {
        let _ = std::fs::remove_file(self.socket());
        let child = Command::new(redis_bin())
            .args(["--port", "0", "--unixsocket"])
            .arg(self.socket())
            .arg("--dir")
            .arg(self.dir.path())
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .args(["--logfile", "redis.log"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::os::unix::net::UnixStream::connect(self.socket()).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not open {}", self.socket().display());
    }

    /// SIGKILL: no shutdown, no final save.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start again after [`TestRedis::kill`], with the data it had (its
    /// append-only file) or without (a Redis that lost everything).
    pub fn restart(&mut self, keep_data: bool) {
        self.kill();
        if !keep_data {
            for e in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with("appendonly") || name.ends_with(".rdb") {
                    let p = e.path();
                    let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
                }
            }
        }
        self.spawn();
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `livedash` process (the binary) on `redis`, `--tick-ms 100` and
/// `extra` flags: killable with SIGKILL, which an in-process server is not.
pub struct Proc {
    child: std::process::Child,
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    _data: tempfile::TempDir,
}

impl Proc {
    pub fn start(redis: &TestRedis, extra: &[&str]) -> Proc {
        use std::io::BufRead;
        let data = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_livedash"))
            .args([
                "--addr",
                "127.0.0.1:0",
                "--dist",
                "/nonexistent",
                "--tick-ms",
                "100",
            ])
            .arg("--redis")
            .arg(redis.url())
            .arg("--data-dir")
            .arg(data.path())
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("livedash starts");
        let mut line = String::new();
        let out = child.stdout.take().unwrap();
        std::io::BufReader::new(out).read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Proc {
            child,
            addr,
            _data: data,
        }
    }

    /// `/healthz`'s `broker` object.
    pub async fn broker(&self) -> serde_json::Value {
        let (_, body) = super::http(self.addr, "/healthz", "").await;
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["broker"].clone()
    }

    /// A counter or gauge of its `/metrics` (`livedash_` left out).
    pub async fn metric(&self, name: &str) -> u64 {
        let (_, body) = super::http(self.addr, "/metrics", "").await;
        body.lines()
            .find_map(|l| l.strip_prefix(&format!("livedash_{name} ")))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no livedash_{name}")) as u64
    }

    /// A WebSocket to it.
    pub async fn connect(&self) -> super::Ws {
        self.connect_query("").await
    }

    /// A WebSocket to `/ws?{query}`.
    pub async fn connect_query(&self, query: &str) -> super::Ws {
        let url = format!("ws://{}/ws?{query}", self.addr);
        tokio_tungstenite::connect_async(url).await.unwrap().0
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The index of the one replica holding the lease (waits for it; never two).
pub async fn leader(procs: &[&Proc]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut leading = Vec::new();
        for (i, p) in procs.iter().enumerate() {
            if p.broker().await["leader"] == true {
                leading.push(i);
            }
        }
        assert!(leading.len() <= 1, "two leaders: {leading:?}");
        if let [i] = leading[..] {
            return i;
        }
        assert!(Instant::now() < deadline, "nobody leads");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Wait until `check` holds for the replica's broker object.
pub async fn until(p: &Proc, what: &str, check: impl Fn(&serde_json::Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let b = p.broker().await;
        if check(&b) {
            return;
        }
        assert!(Instant::now() < deadline, "broker never {what}: {b}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
