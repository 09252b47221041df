//! A stream stopped by an admin is shown as stopped in every tab, and is not
//! mistaken for a lost connection: the page stays live, the cards say which
//! stream stopped, and a tab opened meanwhile learns it from the snapshot.

use livedash_e2e::{wait_for, Browser, Server};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T: Duration = Duration::from_secs(20);

/// `POST /api/streams/{stream}/{action}` with the admin token; the status.
async fn control(port: u16, stream: &str, action: &str) -> u16 {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let req = format!(
        "POST /api/streams/{stream}/{action} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\
         Authorization: Bearer adm1n\r\nContent-Length: 0\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out[9..12].parse().unwrap()
}

/// (connection state, the orders stream's state, the badge text).
async fn shown(b: &Browser) -> Option<(String, String, Option<String>)> {
    let state = b.app_attr("data-state").await?;
    let orders = b.app_attr("data-stream-orders").await?;
    // WebDriver reads the rendered text (the badge is upper-cased by CSS).
    let badge = b
        .text("stream-status-orders")
        .await
        .map(|t| t.to_lowercase());
    Some((state, orders, badge))
}

#[tokio::test]
async fn a_stopped_stream_is_shown_as_stopped_not_as_offline() {
    let server = Server::start(&["--tick-ms", "200", "--admin-token", "adm1n"]);
    let b = Browser::start("stream_stopped").await;
    b.check(|| async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        wait_for("live and running", T, || async {
            let (state, orders, badge) = shown(&b).await?;
            (state == "live" && orders == "running" && badge.is_none()).then_some(())
        })
        .await?;
        if control(server.port, "orders", "stop").await != 200 {
            return Err("the admin stop was refused".into());
        }
        wait_for("the orders stream shown stopped, still live", T, || async {
            let (state, orders, badge) = shown(&b).await?;
            (state == "live"
                && orders == "stopped"
                && badge.as_deref() == Some("orders stream stopped"))
            .then_some(())
        })
        .await?;
        // The KPIs stop moving while the connection stays live.
        let seq = b.app_attr("data-seq-orders").await;
        tokio::time::sleep(Duration::from_millis(1000)).await;
        if b.app_attr("data-seq-orders").await != seq {
            return Err("orders frames kept coming from a stopped stream".into());
        }
        // A tab opened now learns it from its snapshot.
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        wait_for("the new tab shows the stopped stream", T, || async {
            let (state, orders, _) = shown(&b).await?;
            (state == "live" && orders == "stopped").then_some(())
        })
        .await?;
        if control(server.port, "orders", "start").await != 200 {
            return Err("the admin start was refused".into());
        }
        wait_for("running again, badge gone", T, || async {
            let (state, orders, badge) = shown(&b).await?;
            (state == "live" && orders == "running" && badge.is_none()).then_some(())
        })
        .await
    })
    .await;
}
