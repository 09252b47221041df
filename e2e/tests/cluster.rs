//! Replicas behind a load balancer: a real Redis, two `livedash --redis`
//! replicas and HAProxy in front (as `cargo xtask cluster` runs them). The
//! page is opened through the balancer; the replica holding its socket is
//! killed (SIGKILL); the page reconnects through the balancer to the other
//! one, resumes by `seq` (no snapshot, so no gap: a gap would make the page
//! ask for one) and keeps updating.

use livedash_e2e::{env, free_port, http_get, metric, wait_for, Browser, Server};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

/// A child process killed on drop, with its folder.
struct Proc(Child, Option<PathBuf>);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        if let Some(d) = &self.1 {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// `LIVEDASH_REDIS_BIN` or Debian's path.
fn bin(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

/// A Redis on a unix socket in a fresh folder; its `--redis` URL.
fn redis() -> (Proc, String) {
    let dir = std::env::temp_dir().join(format!("ldc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("redis dir");
    let sock = dir.join("r.sock");
    let child = Command::new(bin("LIVEDASH_REDIS_BIN", "/usr/bin/redis-server"))
        .args(["--port", "0", "--unixsocket"])
        .arg(&sock)
        .arg("--dir")
        .arg(&dir)
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts (cargo xtask test installs it)");
    let until = Instant::now() + Duration::from_secs(10);
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        assert!(
            Instant::now() < until,
            "redis-server did not open its socket"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (
        Proc(child, Some(dir)),
        format!("redis+unix://{}", sock.display()),
    )
}

/// HAProxy on `port` in front of `replicas`: HTTP mode (WebSocket upgrades
/// pass through), health checks on `/healthz`, tunnels kept an hour.
fn haproxy(port: u16, replicas: &[u16]) -> Proc {
    let mut cfg = format!(
        "global\n    maxconn 1000\n\
         defaults\n    mode http\n    timeout connect 5s\n    timeout client 120s\n    \
         timeout server 120s\n    timeout tunnel 1h\n\
         frontend livedash\n    bind 127.0.0.1:{port}\n    default_backend replicas\n\
         backend replicas\n    balance roundrobin\n    option httpchk GET /healthz\n"
    );
    for (i, p) in replicas.iter().enumerate() {
        cfg.push_str(&format!(
            "    server r{i} 127.0.0.1:{p} check inter 500ms fall 2 rise 1\n"
        ));
    }
    let dir = std::env::temp_dir().join(format!("ldh-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("haproxy dir");
    let file = dir.join("haproxy.cfg");
    std::fs::write(&file, cfg).expect("haproxy.cfg");
    let child = Command::new(bin("LIVEDASH_HAPROXY_BIN", "/usr/sbin/haproxy"))
        .arg("-db")
        .arg("-f")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy starts (cargo xtask test installs it)");
    Proc(child, Some(dir))
}

/// What the page shows: state, orders seq, snapshots applied, KPI text.
async fn shown(b: &Browser) -> Value {
    b.js(r#"
const app = document.querySelector('[data-testid="app"]');
const k = document.querySelector('[data-testid="kpi-num_orders"]');
return app ? { state: app.dataset.state, seq: Number(app.dataset.seqOrders),
               snapshots: Number(app.dataset.snapshots), orders: k ? k.textContent.trim() : '' } : null;
"#)
    .await
    .unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_page_behind_the_balancer_survives_the_kill_of_its_replica_without_a_gap() {
    let _ = env("LIVEDASH_BIN");
    let (_redis, url) = redis();
    let flags = ["--redis", &url, "--tick-ms", "250", "--system-ms", "500"];
    let mut replicas = [Server::start(&flags), Server::start(&flags)];
    let lb_port = free_port();
    let _lb = haproxy(lb_port, &[replicas[0].port, replicas[1].port]);
    wait_for("the balancer", T, || async {
        http_get(lb_port, "/healthz").await.map(|_| ())
    })
    .await
    .expect("HAProxy answers");
    let b = Browser::start("cluster").await;
    b.check(|| async {
        b.client
            .goto(&format!("http://127.0.0.1:{lb_port}/"))
            .await
            .map_err(|e| e.to_string())?;
        let before = wait_for("a live page through the balancer", T, || async {
            let v = shown(&b).await;
            (v["state"] == "live" && v["seq"].as_u64()? > 3).then_some(v)
        })
        .await?;
        // The replica that holds the page's socket.
        let mut held = None;
        for (i, r) in replicas.iter().enumerate() {
            if metric(r.port, "livedash_connections").await == Some(1) {
                held = Some(i);
            }
        }
        let held = held.ok_or("no replica holds the page's socket")?;
        let other = 1 - held;
        let resumed0 = metric(replicas[other].port, "livedash_resumes_total")
            .await
            .unwrap_or(0);
        let seq0 = shown(&b).await["seq"].as_u64().unwrap_or(0);
        replicas[held].kill();
        let killed = Instant::now();
        // Through the balancer to the other replica, well past the kill
        // (the producer lease may have had to move too).
        let after = wait_for("the page live again on the other replica", T, || async {
            let v = shown(&b).await;
            (v["state"] == "live" && v["seq"].as_u64()? > seq0 + 8).then_some(v)
        })
        .await?;
        let took = killed.elapsed();
        let resumed = metric(replicas[other].port, "livedash_resumes_total")
            .await
            .unwrap_or(0);
        eprintln!(
            "replica {held} killed at orders seq {seq0}: live on replica {other} at seq {} after \
             {took:?}; snapshots {} → {}; resumes there {resumed0} → {resumed}",
            after["seq"], before["snapshots"], after["snapshots"]
        );
        if after["snapshots"] != before["snapshots"] {
            return Err(format!(
                "the page needed a snapshot (a gap or a failed resume): {before} → {after}"
            ));
        }
        if resumed <= resumed0 {
            return Err("the other replica never resumed the page".into());
        }
        // And the numbers are the cluster's: the surviving replica's.
        wait_for(
            "the page showing the surviving replica's KPIs",
            T,
            || async {
                let v = shown(&b).await;
                let body = http_get(replicas[other].port, "/api/snapshot").await?;
                let snap: Value = serde_json::from_str(&body).ok()?;
                let digits: String = v["orders"]
                    .as_str()?
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect();
                (snap["seq"]["orders"] == v["seq"]
                    && snap["orders"]["num_orders"].as_u64().map(|n| n.to_string()) == Some(digits))
                .then_some(())
            },
        )
        .await?;
        Ok(())
    })
    .await;
}
