//! The page reconnects with `?since=` its last applied seqs: the server
//! resumes it without a snapshot, and the page stays consistent.

use livedash_e2e::{http_get, wait_for, Browser, Server};
use serde_json::Value;
use std::time::Duration;

const READ: &str = r#"
const app = document.querySelector('[data-testid="app"]');
return app ? { state: app.dataset.state, seq: Number(app.dataset.seqOrders) } : null;
"#;

async fn page(b: &Browser) -> Value {
    b.client.execute(READ, vec![]).await.unwrap_or(Value::Null)
}

/// A counter of the server's `/metrics`.
async fn metric(server: &Server, name: &str) -> u64 {
    let body = http_get(server.port, "/metrics").await.unwrap_or_default();
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("livedash_{name} ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

#[tokio::test]
async fn a_reconnecting_page_resumes_without_a_snapshot() {
    let server = Server::start(&["--tick-ms", "200"]);
    let b = Browser::start("resume").await;
    struct Cont<'a>(&'a Server);
    impl Drop for Cont<'_> {
        fn drop(&mut self) {
            self.0.signal("CONT");
        }
    }
    b.check(|| async {
        b.client.goto(&server.url()).await.map_err(|e| e.to_string())?;
        let live = |min: i64| {
            let b = &b;
            async move {
                let v = page(b).await;
                (v["state"] == "live" && v["seq"].as_i64().unwrap_or(-1) > min).then_some(v)
            }
        };
        wait_for("live", Duration::from_secs(20), || live(2)).await?;
        let snapshots = metric(&server, "snapshots_sent_total").await;
        assert_eq!(metric(&server, "resumes_total").await, 0);
        // Frozen past the page's 12 s pong deadline: it drops the socket
        // and reconnects with the seqs it has.
        server.signal("STOP");
        let _cont = Cont(&server);
        wait_for("the page to notice", Duration::from_secs(16), || async {
            (page(&b).await["state"] != "live").then_some(())
        })
        .await?;
        let seq = page(&b).await["seq"].as_i64().unwrap_or(-1);
        server.signal("CONT");
        wait_for("live again", Duration::from_secs(40), || live(seq + 3)).await?;
        let resumes = metric(&server, "resumes_total").await;
        let after = metric(&server, "snapshots_sent_total").await;
        if resumes < 1 || after != snapshots {
            return Err(format!(
                "expected a resume and no snapshot: resumes {resumes}, snapshots {snapshots} → {after}"
            ));
        }
        Ok(())
    })
    .await;
}
