//! HTTP hygiene against the server started in-process on 127.0.0.1:0:
//! DNS rebinding (Host/Origin policy), HEAD on every GET route, and the
//! security headers (CSP with the inline loader's hash) on every response.

use clap::Parser;
use livedash_server::{run, Config};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::time::timeout;

struct TestServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The server's `--data-dir`, removed when the server is dropped.
    _data: tempfile::TempDir,
}

impl TestServer {
    /// Start with `--dist /nonexistent` unless `args` name a `--dist`.
    async fn start(args: &[&str]) -> TestServer {
        let mut argv = vec!["livedash", "--seed", "7"];
        // A fresh store per server (never ./livedash-data in the repo).
        let data = tempfile::tempdir().expect("a temp dir");
        let data_dir = data.path().to_str().expect("utf-8 temp path").to_string();
        if !args.contains(&"--data-dir") {
            argv.extend(["--data-dir", &data_dir]);
        }
        if !args.contains(&"--dist") {
            argv.extend(["--dist", "/nonexistent"]);
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
        TestServer {
            addr,
            stop: Some(tx),
            task: Some(task),
            _data: data,
        }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        timeout(Duration::from_secs(5), self.task.take().unwrap())
            .await
            .expect("run returns after shutdown")
            .unwrap();
    }
}

/// A response: status, lowercased header names to values, body bytes.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
}

/// One HTTP/1.1 request (`Connection: close`) with the given `Host` and
/// extra header lines; a 101 answer is returned as soon as its head is in.
async fn request(addr: SocketAddr, method: &str, path: &str, host: &str, extra: &str) -> Reply {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
             Content-Length: 0\r\n{extra}\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let n = tokio::time::timeout_at(deadline, s.read(&mut buf))
            .await
            .expect("a response in time")
            .unwrap();
        out.extend_from_slice(&buf[..n]);
        let switching =
            out.starts_with(b"HTTP/1.1 101") && out.windows(4).any(|w| w == b"\r\n\r\n");
        if n == 0 || switching {
            break;
        }
    }
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: out[split + 4..].to_vec(),
    }
}

const UPGRADE: &str = "Connection: Upgrade\r\nUpgrade: websocket\r\n\
    Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

/// The `/ws` handshake from a page at `http://{host}` reaching the server
/// as `host`: the status.
async fn page_upgrade(srv: &TestServer, host: &str) -> u16 {
    request(
        srv.addr,
        "GET",
        "/ws",
        host,
        &format!("{UPGRADE}Origin: http://{host}\r\n"),
    )
    .await
    .status
}

/// The inline module loader of the test bundle and its sha256 (base64),
/// computed independently: `printf %s "$SCRIPT" | openssl dgst -sha256 -binary | base64`.
const LOADER: &str = "\nimport init from '/app-0123456789abcdef.js';\nawait init();\n";
const LOADER_SHA256: &str = "92acNlhr400q5RfEmIijNUUZl95AFVHPe6jqRDrt2sE=";

/// A bundle like Trunk's: an external script, the inline loader, a stylesheet.
fn test_dist(name: &str, config_json: Option<&str>) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("livedash-hygiene-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("index.html"),
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\">\
             <link rel=\"stylesheet\" href=\"/style.css\">\
             <script src=\"echarts.min.js\"></script>\
             <script type=\"module\">{LOADER}</script></head><body></body></html>"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("style.css"), "body{color:red}").unwrap();
    if let Some(c) = config_json {
        std::fs::write(dir.join("config.json"), c).unwrap();
    }
    dir
}

#[tokio::test]
async fn a_rebinding_page_cannot_open_the_websocket() {
    let srv = TestServer::start(&[]).await;
    let port = srv.port();
    // evil.example resolves to 127.0.0.1: the browser sends its own name.
    assert_eq!(
        page_upgrade(&srv, &format!("evil.example:{port}")).await,
        403
    );
    assert_eq!(
        page_upgrade(&srv, &format!("Evil.Example.:{port}")).await,
        403
    );
    // The names the server answers to.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LocalHost.:{port}"),
        format!("[::1]:{port}"),
    ] {
        assert_eq!(page_upgrade(&srv, &host).await, 101, "{host}");
    }
    srv.stop().await;
}

#[tokio::test]
async fn public_host_names_the_server_may_be_reached_by() {
    let srv = TestServer::start(&["--public-host", "evil.example,dash.example"]).await;
    let port = srv.port();
    assert_eq!(
        page_upgrade(&srv, &format!("evil.example:{port}")).await,
        101
    );
    assert_eq!(
        page_upgrade(&srv, &format!("DASH.example.:{port}")).await,
        101
    );
    assert_eq!(
        page_upgrade(&srv, &format!("other.example:{port}")).await,
        403
    );
    let r = request(
        srv.addr,
        "GET",
        "/api/snapshot",
        &format!("evil.example:{port}"),
        "",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    srv.stop().await;
}

#[tokio::test]
async fn the_api_refuses_dns_names_the_server_does_not_answer_to() {
    let srv = TestServer::start(&["--admin-token", "adm"]).await;
    let port = srv.port();
    let evil = format!("evil.example:{port}");
    let r = request(srv.addr, "GET", "/api/snapshot", &evil, "").await;
    assert_eq!(r.status, 403);
    assert!(
        r.text().contains("--public-host evil.example"),
        "the message names the flag: {}",
        r.text()
    );
    let r = request(
        srv.addr,
        "POST",
        "/api/streams/orders/stop",
        &evil,
        "Authorization: Bearer adm\r\n",
    )
    .await;
    assert_eq!(r.status, 403);
    // Health, metrics and the page stay reachable by any name.
    for path in ["/healthz", "/metrics", "/"] {
        let r = request(srv.addr, "GET", path, &evil, "").await;
        assert_eq!(r.status, 200, "{path}");
    }
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        "localhost".to_string(),
    ] {
        let r = request(srv.addr, "GET", "/api/snapshot", &host, "").await;
        assert_eq!(r.status, 200, "{host}");
    }
    srv.stop().await;
}

#[tokio::test]
async fn head_answers_every_get_route_without_a_body() {
    let dist = test_dist("head", None);
    let srv = TestServer::start(&["--dist", dist.to_str().unwrap()]).await;
    let host = srv.addr.to_string();
    for path in [
        "/healthz",
        "/",
        "/index.html",
        "/style.css",
        "/metrics",
        "/api/snapshot",
    ] {
        let get = request(srv.addr, "GET", path, &host, "").await;
        let head = request(srv.addr, "HEAD", path, &host, "").await;
        assert_eq!(head.status, 200, "HEAD {path}");
        assert!(head.body.is_empty(), "HEAD {path} sent a body");
        assert!(!get.body.is_empty(), "GET {path}");
        assert_eq!(
            head.header("content-type"),
            get.header("content-type"),
            "{path}"
        );
        assert_eq!(
            head.header("content-security-policy"),
            get.header("content-security-policy")
        );
    }
    // Static files keep their length.
    let head = request(srv.addr, "HEAD", "/index.html", &host, "").await;
    let get = request(srv.addr, "GET", "/index.html", &host, "").await;
    assert_eq!(head.header("content-length"), get.body.len().to_string());
    srv.stop().await;
    // Without a bundle the placeholder page answers HEAD too.
    let srv = TestServer::start(&[]).await;
    let head = request(srv.addr, "HEAD", "/", &srv.addr.to_string(), "").await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    srv.stop().await;
    let _ = std::fs::remove_dir_all(&dist);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let dist = test_dist("headers", None);
    let srv = TestServer::start(&["--dist", dist.to_str().unwrap(), "--admin-token", "adm"]).await;
    let host = srv.addr.to_string();
    let cases: Vec<(&str, &str, String, String, u16)> = vec![
        ("GET", "/", host.clone(), String::new(), 200),
        ("GET", "/style.css", host.clone(), String::new(), 200),
        ("GET", "/healthz", host.clone(), String::new(), 200),
        ("GET", "/metrics", host.clone(), String::new(), 200),
        ("GET", "/api/snapshot", host.clone(), String::new(), 200),
        (
            "GET",
            "/api/snapshot?history=x",
            host.clone(),
            String::new(),
            400,
        ),
        ("GET", "/nope", host.clone(), String::new(), 404),
        ("DELETE", "/healthz", host.clone(), String::new(), 405),
        (
            "POST",
            "/api/streams/orders/stop",
            host.clone(),
            String::new(),
            401,
        ),
        ("GET", "/ws", host.clone(), String::new(), 426),
        (
            "GET",
            "/ws",
            host.clone(),
            format!("{UPGRADE}Origin: http://evil.example\r\n"),
            403,
        ),
        ("GET", "/ws", host.clone(), UPGRADE.to_string(), 101),
        (
            "GET",
            "/api/snapshot",
            "evil.example".into(),
            String::new(),
            403,
        ),
    ];
    for (method, path, host, extra, status) in cases {
        let r = request(srv.addr, method, path, &host, &extra).await;
        let what = format!("{method} {path} ({host})");
        assert_eq!(r.status, status, "{what}: {}", r.text());
        assert_eq!(r.header("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(r.header("referrer-policy"), "no-referrer", "{what}");
        assert_eq!(r.header("x-frame-options"), "DENY", "{what}");
        let csp = r.header("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp:?}");
    }
    srv.stop().await;
    let _ = std::fs::remove_dir_all(&dist);
}

/// The CSP directives as name → sources.
fn directives(csp: &str) -> HashMap<String, Vec<String>> {
    csp.split(';')
        .filter_map(|d| {
            let mut it = d.split_whitespace();
            let name = it.next()?.to_string();
            Some((name, it.map(str::to_string).collect()))
        })
        .collect()
}

#[tokio::test]
async fn the_csp_allows_the_page_and_its_inline_loader_by_hash() {
    let dist = test_dist("csp", Some(r#"{"server": "ws://10.0.0.5:9000/ws"}"#));
    let srv = TestServer::start(&[
        "--dist",
        dist.to_str().unwrap(),
        "--connect-src",
        "https://data.example",
        "--connect-src",
        "http://127.0.0.1:9001",
    ])
    .await;
    let r = request(srv.addr, "GET", "/", &srv.addr.to_string(), "").await;
    assert_eq!(r.status, 200);
    let d = directives(r.header("content-security-policy"));
    let sources = |name: &str| d.get(name).cloned().unwrap_or_default();
    assert_eq!(sources("default-src"), ["'self'"]);
    assert_eq!(
        sources("script-src"),
        [
            "'self'".to_string(),
            "'wasm-unsafe-eval'".to_string(),
            format!("'sha256-{LOADER_SHA256}'"),
        ],
        "no 'unsafe-inline' for scripts; exactly the loader's hash"
    );
    assert_eq!(
        sources("connect-src"),
        [
            "'self'",
            "ws://10.0.0.5:9000",
            "http://10.0.0.5:9000",
            "wss://data.example",
            "https://data.example",
            "ws://127.0.0.1:9001",
            "http://127.0.0.1:9001"
        ]
    );
    assert_eq!(sources("frame-ancestors"), ["'none'"]);
    assert_eq!(sources("object-src"), ["'none'"]);
    srv.stop().await;

    // Embedding allowed: the listed ancestors, and no X-Frame-Options.
    let srv = TestServer::start(&[
        "--dist",
        dist.to_str().unwrap(),
        "--frame-ancestors",
        "'self' https://portal.example",
        "--frame-ancestors",
        "https://wall.example",
    ])
    .await;
    let r = request(srv.addr, "GET", "/", &srv.addr.to_string(), "").await;
    let d = directives(r.header("content-security-policy"));
    assert_eq!(
        d["frame-ancestors"],
        ["'self'", "https://portal.example", "https://wall.example"]
    );
    assert_eq!(r.header("x-frame-options"), "");
    srv.stop().await;
    let _ = std::fs::remove_dir_all(&dist);
}

#[test]
fn bad_policy_flags_are_refused() {
    let parse = |args: &[&str]| {
        let mut argv = vec!["livedash"];
        argv.extend_from_slice(args);
        Config::try_parse_from(argv)
    };
    assert!(parse(&["--public-host", "http://dash.example"]).is_err());
    assert!(parse(&["--public-host", "dash.example:8000"]).is_err());
    assert!(parse(&["--public-host", "dash.example"]).is_ok());
    assert!(parse(&["--connect-src", "not a url"]).is_err());
    assert!(parse(&["--frame-ancestors", "'self'; script-src *"]).is_err());
}

proptest::proptest! {
    #[test]
    fn host_and_html_parsers_never_panic(host in ".{0,40}", html in "(<script|</script|<SCRIPT src=x>|>|'|\"|\r\n|[a-z =]|.){0,60}") {
        let trusted = livedash_server::web::host_trusted(&host, &["dash.example".to_string()]);
        if trusted {
            proptest::prop_assert!(livedash_server::web::host_name(&host).is_some());
        }
        for h in livedash_server::web::inline_script_hashes(&html) {
            proptest::prop_assert!(h.starts_with("'sha256-") && h.ends_with("='") && h.len() == 53);
        }
        let _ = livedash_server::web::connect_sources(&host);
    }
}

/// The bundle's precompressed variants go to browsers that accept them
/// (brotli first), with `Vary: Accept-Encoding`; others get the file as it
/// is; a bundle without `config.json` answers it with `{}` (no 404 in the
/// page's console).
#[tokio::test]
async fn precompressed_files_are_served_by_accept_encoding() {
    use std::io::{Read, Write};
    let dist = test_dist("compressed", None);
    let css = "body{color:red}";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(css.as_bytes()).unwrap();
    std::fs::write(dist.join("style.css.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(dist.join("style.css.br"), b"brotli-bytes-of-the-css").unwrap();
    let srv = TestServer::start(&["--dist", dist.to_str().unwrap()]).await;
    let host = srv.addr.to_string();
    let br = request(
        srv.addr,
        "GET",
        "/style.css",
        &host,
        "Accept-Encoding: gzip, deflate, br, zstd\r\n",
    )
    .await;
    assert_eq!(br.status, 200);
    assert_eq!(br.header("content-encoding"), "br");
    assert_eq!(br.body, b"brotli-bytes-of-the-css");
    assert_eq!(br.header("vary").to_lowercase(), "accept-encoding");
    assert!(br.header("content-type").starts_with("text/css"));
    let g = request(
        srv.addr,
        "GET",
        "/style.css",
        &host,
        "Accept-Encoding: gzip\r\n",
    )
    .await;
    assert_eq!(g.header("content-encoding"), "gzip");
    let mut plain = String::new();
    flate2::read::GzDecoder::new(&g.body[..])
        .read_to_string(&mut plain)
        .unwrap();
    assert_eq!(plain, css);
    let id = request(srv.addr, "GET", "/style.css", &host, "").await;
    assert_eq!(id.header("content-encoding"), "");
    assert_eq!(id.text(), css);
    assert_eq!(id.header("vary").to_lowercase(), "accept-encoding");
    let head = request(
        srv.addr,
        "HEAD",
        "/style.css",
        &host,
        "Accept-Encoding: br\r\n",
    )
    .await;
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-length"), "23");
    let config = request(srv.addr, "GET", "/config.json", &host, "").await;
    assert_eq!((config.status, config.text().as_str()), (200, "{}"));
    srv.stop().await;
    let _ = std::fs::remove_dir_all(&dist);
}
