//! Harness for livedash's end-to-end tests: a real `livedash` server per
//! test on a free port, a real headless Chromium per test through
//! chromedriver with a fresh profile, bounded waits, and a screenshot under
//! `target/e2e/` when a test fails. Everything is killed on drop, also when
//! the test panics.
//!
//! Run through `cargo xtask test`, which builds the bundle and the server and
//! sets `LIVEDASH_BIN`, `LIVEDASH_DIST`, `CHROMIUM`, `CHROMEDRIVER`.

use fantoccini::{Client, ClientBuilder, Locator};
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An environment variable set by `cargo xtask test`.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the end-to-end tests through `cargo xtask test`")
    })
}

/// A free loopback port (bound, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Data directories handed out, for unique names.
static DATA_DIRS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A `livedash` server process.
pub struct Server {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The temporary `--data-dir` it was given (removed on drop).
    data_dir: Option<std::path::PathBuf>,
}

impl Server {
    /// Start on a free port with extra flags.
    pub fn start(args: &[&str]) -> Server {
        Server::start_on(0, args)
    }

    /// Start on `port` (0 = free) with extra flags; waits for its
    /// "livedash listening on http://..." line.
    pub fn start_on(port: u16, args: &[&str]) -> Server {
        let mut cmd = Command::new(env("LIVEDASH_BIN"));
        cmd.args(["--addr", &format!("127.0.0.1:{port}")]);
        if !args.contains(&"--dist") {
            cmd.args(["--dist", &env("LIVEDASH_DIST")]);
        }
        // A fresh store per server, never ./livedash-data in the repo.
        let data_dir = (!args.contains(&"--data-dir")).then(|| {
            std::env::temp_dir().join(format!(
                "livedash-e2e-data-{}-{}",
                std::process::id(),
                DATA_DIRS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ))
        });
        if let Some(dir) = &data_dir {
            cmd.arg("--data-dir").arg(dir);
        }
        let mut child = cmd
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start livedash");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read livedash stdout");
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from livedash: {line:?}"));
        Server {
            child,
            port,
            data_dir,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The process id (for SIGSTOP / SIGCONT).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send a signal by name (`STOP`, `CONT`, `TERM`).
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .stderr(Stdio::null())
            .status();
    }

    /// Stop it now and wait for the port to be free.
    pub fn kill(&mut self) {
        self.signal("CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The client count from /healthz.
    pub async fn clients(&self) -> Option<u64> {
        let body = http_get(self.port, "/healthz").await?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        v["clients"].as_u64()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A tiny HTTP/1.0 GET on loopback; the body.
pub async fn http_get(port: u16, path: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    .ok()?
    .ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(2), s.read_to_string(&mut out))
        .await
        .ok()?
        .ok()?;
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// One HTTP/1.0 request to the server on `port`: `(status, body)`.
/// `headers` are extra `Name: value` lines; a body is sent as JSON.
pub async fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[&str],
    body: Option<&str>,
) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    .ok()?
    .ok()?;
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or(""));
    s.write_all(req.as_bytes()).await.ok()?;
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out))
        .await
        .ok()?
        .ok()?;
    let (head, body) = out.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// Store `dashboard` on the server on `port` through the REST API (with
/// the admin token when the server has one); panics unless it answers 201.
pub async fn create_dashboard(port: u16, admin: Option<&str>, dashboard: &str) {
    let auth = admin.map(|t| format!("Authorization: Bearer {t}"));
    let headers: Vec<&str> = auth.iter().map(String::as_str).collect();
    let made = http_request(port, "POST", "/api/dashboards", &headers, Some(dashboard)).await;
    assert_eq!(made.as_ref().map(|m| m.0), Some(201), "{made:?}");
}

/// chromedriver plus one headless Chromium session with a fresh profile.
pub struct Browser {
    driver: Child,
    /// The WebDriver session.
    pub client: Client,
    profile: PathBuf,
    name: String,
}

impl Browser {
    /// Start chromedriver on a free port and open a session. `name` names
    /// the failure screenshot.
    pub async fn start(name: &str) -> Browser {
        Browser::start_with(name, &[]).await
    }

    /// Like [`Browser::start`], with extra Chromium flags.
    pub async fn start_with(name: &str, extra: &[&str]) -> Browser {
        Browser::start_full(name, extra, "normal").await
    }

    /// Like [`Browser::start`], but `goto` returns as soon as the navigation
    /// is sent (WebDriver's `pageLoadStrategy: none`): for measuring a page
    /// load from inside the page while it happens.
    pub async fn start_no_wait(name: &str) -> Browser {
        Browser::start_full(name, &[], "none").await
    }

    async fn start_full(name: &str, extra: &[&str], page_load_strategy: &str) -> Browser {
        let port = free_port();
        let driver = Command::new(env("CHROMEDRIVER"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = std::env::temp_dir().join(format!(
            "livedash-e2e-{}-{}-{}",
            name,
            std::process::id(),
            Instant::now().elapsed().as_nanos()
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).expect("profile dir");
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-background-timer-throttling",
            "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows",
            "--window-size=1440,1300",
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let caps = serde_json::json!({
            "goog:chromeOptions": { "binary": env("CHROMIUM"), "args": args },
            "pageLoadStrategy": page_load_strategy,
        });
        let caps = match caps {
            serde_json::Value::Object(m) => m,
            _ => unreachable!(),
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            match ClientBuilder::new(connector.clone())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() > deadline => panic!("chromedriver session: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Browser {
            driver,
            client,
            profile,
            name: name.to_string(),
        }
    }

    /// Save a screenshot of the current tab under `target/e2e/`.
    pub async fn screenshot(&self, file: &str) -> Option<PathBuf> {
        let png = self.client.screenshot().await.ok()?;
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/e2e");
        std::fs::create_dir_all(&dir).ok()?;
        let path = dir.join(file);
        std::fs::write(&path, png).ok()?;
        Some(path)
    }

    /// Open `url` as an admin: the page keeps the admin token in
    /// sessionStorage (as its token dialog does) and is reloaded with it.
    pub async fn open_as_admin(&self, url: &str, token: &str) -> Result<(), String> {
        self.client.goto(url).await.map_err(|e| e.to_string())?;
        self.admin_token(token).await
    }

    /// Give the page already open the admin token and reload it.
    pub async fn admin_token(&self, token: &str) -> Result<(), String> {
        let set = format!("sessionStorage.setItem('livedash.admin', {token:?}); return true");
        self.client
            .execute(&set, vec![])
            .await
            .map_err(|e| e.to_string())?;
        self.client.refresh().await.map_err(|e| e.to_string())
    }

    /// Run a test body; on failure save a screenshot, then fail.
    pub async fn check<F, Fut>(&self, body: F)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        if let Err(e) = body().await {
            let shot = self.screenshot(&format!("{}-failure.png", self.name)).await;
            panic!("{}: {e}\n(screenshot: {shot:?})", self.name);
        }
    }

    /// Text of the element with `data-testid`, if present.
    pub async fn text(&self, testid: &str) -> Option<String> {
        let el = self
            .client
            .find(Locator::Css(&format!("[data-testid='{testid}']")))
            .await
            .ok()?;
        el.text().await.ok()
    }

    /// An attribute of the app root.
    pub async fn app_attr(&self, name: &str) -> Option<String> {
        let el = self
            .client
            .find(Locator::Css("[data-testid='app']"))
            .await
            .ok()?;
        el.attr(name).await.ok()?
    }

    /// Switch to the `i`th open tab (in opening order).
    pub async fn tab(&self, i: usize) {
        let w = self.client.windows().await.expect("windows");
        self.client
            .switch_to_window(w[i].clone())
            .await
            .expect("switch");
    }

    /// Open a new tab at `url`; it becomes current.
    pub async fn open_tab(&self, url: &str) {
        let w = self.client.new_window(true).await.expect("new tab");
        self.client
            .switch_to_window(w.handle)
            .await
            .expect("switch");
        self.client.goto(url).await.expect("goto");
    }

    /// Evaluate JS and return its JSON result.
    pub async fn js(&self, script: &str) -> Option<serde_json::Value> {
        self.client.execute(script, vec![]).await.ok()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // chromedriver's Chromium dies with it; its profile goes too.
        let _ = Command::new("pkill")
            .args(["-f", &format!("user-data-dir={}", self.profile.display())])
            .status();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A counter or gauge of the server's `/metrics` (unlabelled).
pub async fn metric(port: u16, name: &str) -> Option<u64> {
    let body = http_get(port, "/metrics").await?;
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

/// Poll `probe` every 100 ms until it returns `Some`, at most `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return Ok(v);
        }
        if Instant::now() > deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
