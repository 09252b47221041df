//! Line protocol written to `POST /api/v2/write` is drawn by the custom
//! series widget: points written before the tab opened come from its
//! snapshot, points written after from `series` frames; the person picks
//! the series by name and the chart holds exactly the values written.

use livedash_e2e::{wait_for, Browser, Server};
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T: Duration = Duration::from_secs(20);
const TOKEN: &str = "wr1te";
const ROOM: &str = "room.temp{building=hq,floor=2}";

/// `POST /api/v2/write?bucket=home&precision=s` with the token, as curl
/// would send it; the status.
async fn write(port: u16, lines: &str) -> u16 {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let req = format!(
        "POST /api/v2/write?org=me&bucket=home&precision=s HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\
         Authorization: Token {TOKEN}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{lines}",
        lines.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out[9..12].parse().unwrap()
}

/// What the widget shows: the picker's options and value, and the chart's
/// series name and data from ECharts itself.
const READ_SERIES: &str = r#"
const q = id => document.querySelector(`[data-testid="${id}"]`);
const el = q('chart-series');
const i = el && window.echarts && echarts.getInstanceByDom(el);
const o = i ? i.getOption() : null;
const s = o && o.series && o.series[0];
const pick = q('series-picker');
return {
  options: pick ? Array.from(pick.options).map(x => x.value) : [],
  picked: pick ? pick.value : null,
  name: s ? s.name : null,
  values: s ? (s.data || []) : [],
  labels: o && o.xAxis && o.xAxis[0] ? (o.xAxis[0].data || []).length : 0,
};
"#;

async fn widget(b: &Browser) -> Option<Value> {
    b.js(READ_SERIES).await
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

/// Wait until the chart shows `name` with exactly `want`.
async fn shows(b: &Browser, name: &str, want: &[f64]) -> Result<(), String> {
    let what = format!("the chart showing {name} = {want:?}");
    wait_for(&what, T, || async {
        let w = widget(b).await?;
        let values = nums(&w["values"]);
        (w["name"] == name && values == want && w["labels"].as_u64() == Some(want.len() as u64))
            .then_some(())
    })
    .await
}

#[tokio::test]
async fn written_points_are_drawn_in_the_custom_series_chart() {
    let server = Server::start(&["--ingest-token", TOKEN]);
    // Before the tab opens: two series (tags in any order).
    let before = "room,floor=2,building=hq temp=21.5 1764000000\n\
                  room,building=hq,floor=2 temp=22i 1764000010\n\
                  room,floor=2,building=hq temp=22.75 1764000020\n\
                  app latency_ms=12.5 1764000000\n";
    assert_eq!(write(server.port, before).await, 204);
    let b = Browser::start("series_widget").await;
    b.check(|| async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        // The picker lists both series, sorted.
        wait_for("the picker listing both series", T, || async {
            let w = widget(&b).await?;
            (w["options"] == serde_json::json!(["app.latency_ms", ROOM])).then_some(())
        })
        .await?;
        // Pick the room temperature: the snapshot's points, as written.
        let pick = b
            .client
            .find(fantoccini::Locator::Css("[data-testid='series-picker']"))
            .await
            .map_err(|e| e.to_string())?;
        pick.select_by_value(ROOM)
            .await
            .map_err(|e| e.to_string())?;
        shows(&b, ROOM, &[21.5, 22.0, 22.75]).await?;
        // A point written now arrives in a `series` frame.
        if write(
            server.port,
            "room,building=hq,floor=2 temp=-1.25 1764000030\n",
        )
        .await
            != 204
        {
            return Err("the live write was refused".into());
        }
        shows(&b, ROOM, &[21.5, 22.0, 22.75, -1.25]).await?;
        // The other series, picked back.
        pick.select_by_value("app.latency_ms")
            .await
            .map_err(|e| e.to_string())?;
        shows(&b, "app.latency_ms", &[12.5]).await
    })
    .await;
}
