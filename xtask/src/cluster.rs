//! `cargo xtask cluster [--replicas N] [--port P]`: a Redis, N livedash
//! replicas started with `--redis`, and nginx in front of them (WebSocket
//! upgrades and Server-Sent Events passed through), all on loopback, built
//! first. Prints `cluster ready: http://127.0.0.1:P/` once the page, `/ws`
//! and `/healthz` answer through the balancer, then runs until Ctrl-C (or
//! SIGTERM) and stops everything it started. A replica killed by hand stays
//! dead (that is the point: its clients move to the others).

use crate::{root, tools};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A child process stopped (SIGTERM, then SIGKILL after 5 s) on drop.
struct Proc {
    name: String,
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                println!("    stopped {}", self.name);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        println!("    killed {}", self.name);
    }
}

fn spawn(name: &str, cmd: &mut Command, log: &Path) -> Result<Proc, String> {
    let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("start {name}: {e}"))?;
    println!(
        "    started {name} (pid {}, log {})",
        child.id(),
        log.display()
    );
    Ok(Proc {
        name: name.to_string(),
        child,
    })
}

/// A port free on 127.0.0.1 right now.
fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// The nginx configuration: one upstream of the replicas, WebSocket
/// upgrades passed through (`Upgrade`/`Connection` by `$http_upgrade`),
/// no buffering (Server-Sent Events), the client's `Host` kept (the
/// replicas' Origin check compares the two), the next replica tried when
/// one is down. Pure: unit-tested.
pub fn nginx_conf(dir: &Path, port: u16, replicas: &[u16], as_root: bool) -> String {
    let d = dir.display();
    let servers: String = replicas
        .iter()
        .map(|p| format!("        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;\n"))
        .collect();
    let user = if as_root { "user root;\n" } else { "" };
    format!(
        "# Written by cargo xtask cluster.\n\
         {user}worker_processes 1;\n\
         daemon off;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/nginx-error.log warn;\n\
         events {{ worker_connections 8192; }}\n\
         http {{\n\
         \x20   access_log off;\n\
         \x20   client_body_temp_path {d}/nginx-tmp/body;\n\
         \x20   proxy_temp_path {d}/nginx-tmp/proxy;\n\
         \x20   fastcgi_temp_path {d}/nginx-tmp/fastcgi;\n\
         \x20   uwsgi_temp_path {d}/nginx-tmp/uwsgi;\n\
         \x20   scgi_temp_path {d}/nginx-tmp/scgi;\n\
         \x20   map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}\n\
         \x20   upstream livedash {{\n{servers}\x20   }}\n\
         \x20   server {{\n\
         \x20       listen 127.0.0.1:{port};\n\
         \x20       client_max_body_size 20m;\n\
         \x20       location / {{\n\
         \x20           proxy_pass http://livedash;\n\
         \x20           proxy_http_version 1.1;\n\
         \x20           proxy_set_header Upgrade $http_upgrade;\n\
         \x20           proxy_set_header Connection $connection_upgrade;\n\
         \x20           proxy_set_header Host $http_host;\n\
         \x20           proxy_set_header X-Forwarded-For $remote_addr;\n\
         \x20           proxy_buffering off;\n\
         \x20           proxy_read_timeout 1h;\n\
         \x20           proxy_send_timeout 1h;\n\
         \x20           proxy_next_upstream error timeout http_502 http_503;\n\
         \x20       }}\n\
         \x20   }}\n\
         }}\n"
    )
}

/// `redis-server` and `nginx`, installed with apt when missing.
fn ensure_tools() -> Result<(PathBuf, PathBuf), String> {
    let find = |name: &str, extra: &[&str]| -> Option<PathBuf> {
        let from_path = std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|f| f.is_file())
        });
        from_path.or_else(|| extra.iter().map(PathBuf::from).find(|p| p.is_file()))
    };
    let redis = || find("redis-server", &["/usr/bin/redis-server"]);
    let nginx = || find("nginx", &["/usr/sbin/nginx"]);
    let mut missing = Vec::new();
    if redis().is_none() {
        missing.push("redis-server");
    }
    if nginx().is_none() {
        missing.push("nginx");
    }
    if !missing.is_empty() {
        tools::apt_install(&missing)?;
    }
    match (redis(), nginx()) {
        (Some(r), Some(n)) => {
            println!("ok  {} and {}", r.display(), n.display());
            Ok((r, n))
        }
        _ => Err("redis-server or nginx still missing after apt-get install".into()),
    }
}

/// One HTTP/1.1 exchange on loopback; the status code.
fn http_status(port: u16, request: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).ok()?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split(' ').nth(1)?.parse().ok()
}

/// Whether the page, `/healthz` and a WebSocket upgrade answer on `port`.
fn answers(port: u16) -> bool {
    let get = |path: &str| {
        http_status(
            port,
            &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"),
        )
    };
    let upgrade = http_status(
        port,
        &format!(
            "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        ),
    );
    get("/") == Some(200) && get("/healthz") == Some(200) && upgrade == Some(101)
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) -> Result<(), String> {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("{what}: not ready within {limit:?}"))
}

fn flag(args: &[String], name: &str) -> Option<String> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

pub fn main(args: &[String]) -> Result<(), String> {
    let replicas: usize = flag(args, "--replicas")
        .map(|s| {
            s.parse()
                .map_err(|_| format!("--replicas {s}: not a number"))
        })
        .transpose()?
        .unwrap_or(3)
        .clamp(1, 16);
    let port: u16 = flag(args, "--port")
        .map(|s| s.parse().map_err(|_| format!("--port {s}: not a port")))
        .transpose()?
        .unwrap_or(8000);
    let bin = crate::build_all()?;
    let (redis_bin, nginx_bin) = ensure_tools()?;
    let dir = std::env::temp_dir().join(format!("livedash-cluster-{}", std::process::id()));
    for sub in ["nginx-tmp", "redis"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| e.to_string())?;
    }
    // Stopped in reverse order: the balancer, the replicas, then Redis.
    let mut procs: Vec<Proc> = Vec::new();
    let redis_port = free_port()?;
    procs.push(spawn(
        "redis",
        Command::new(&redis_bin).args([
            "--bind",
            "127.0.0.1",
            "--port",
            &redis_port.to_string(),
            "--dir",
            &dir.join("redis").display().to_string(),
            "--appendonly",
            "yes",
            "--save",
            "",
        ]),
        &dir.join("redis.log"),
    )?);
    wait_until("redis", Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", redis_port)).is_ok()
    })?;
    let redis_url = format!("redis://127.0.0.1:{redis_port}/");
    let mut ports = Vec::new();
    for i in 0..replicas {
        let p = free_port()?;
        let data = dir.join(format!("replica-{i}"));
        procs.push(spawn(
            &format!("replica {i} (:{p})"),
            Command::new(&bin)
                .args(["--addr", &format!("127.0.0.1:{p}")])
                .arg("--dist")
                .arg(root().join("dist"))
                .arg("--data-dir")
                .arg(&data)
                .args(["--redis", &redis_url]),
            &dir.join(format!("replica-{i}.log")),
        )?);
        ports.push(p);
    }
    for &p in &ports {
        wait_until(&format!("replica :{p}"), Duration::from_secs(30), || {
            answers(p)
        })?;
    }
    let as_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, nginx_conf(&dir, port, &ports, as_root)).map_err(|e| e.to_string())?;
    procs.push(spawn(
        "nginx",
        Command::new(&nginx_bin)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf),
        &dir.join("nginx.log"),
    )?);
    wait_until(
        "nginx in front of the replicas",
        Duration::from_secs(15),
        || answers(port),
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .map_err(|e| format!("signal handler: {e}"))?;
    }
    println!(
        "    Redis {redis_url} (appendonly), {replicas} replicas on {:?}, logs in {}",
        ports,
        dir.display()
    );
    println!("cluster ready: http://127.0.0.1:{port}/");
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(200));
        for p in procs.iter_mut() {
            if let Ok(Some(status)) = p.child.try_wait() {
                if !p.name.is_empty() {
                    println!("    {} exited ({status})", p.name);
                }
                p.name.clear();
            }
        }
    }
    println!("==> stopping the cluster");
    while let Some(p) = procs.pop() {
        drop(p);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_passes_upgrades_and_streams_to_every_replica() {
        let c = nginx_conf(Path::new("/tmp/c"), 8000, &[7001, 7002, 7003], true);
        for p in [7001, 7002, 7003] {
            assert!(c.contains(&format!("server 127.0.0.1:{p} ")), "{c}");
        }
        assert!(c.contains("listen 127.0.0.1:8000;"));
        assert!(c.contains("proxy_set_header Upgrade $http_upgrade;"));
        assert!(c.contains("proxy_set_header Connection $connection_upgrade;"));
        assert!(c.contains("proxy_http_version 1.1;"));
        assert!(c.contains("proxy_buffering off;"));
        assert!(c.contains("proxy_set_header Host $http_host;"));
        assert!(c.starts_with("# Written by cargo xtask cluster.\nuser root;\n"));
        assert!(!nginx_conf(Path::new("/tmp/c"), 1, &[2], false).contains("user root;"));
        // Balanced braces: nginx would refuse the file otherwise.
        assert_eq!(c.matches('{').count(), c.matches('}').count());
    }
}
