//! `/api/alerts/...` over real sockets: the default rules, create / get /
//! put / delete with the admin token, rules refused with the field named,
//! a rule on an ingested series firing and resolving as `alert` frames on
//! the `alerts` topic (and in the log and the feed), a client subscribed
//! to other topics only getting none, and rules surviving a restart.

mod common;

use common::{influx_write, next_of, now_ms, request_with_body, send, TestServer, Ws};
use serde_json::{json, Value};
use std::time::Duration;

const INGEST: &str = "al-ingest";
const ADMIN: &str = "al-admin";

async fn call(srv: &TestServer, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut h = format!("Authorization: Bearer {ADMIN}\r\n");
    if body.is_some() {
        h.push_str("Content-Type: application/json\r\n");
    }
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let (status, text) = request_with_body(srv.addr, method, path, &h, bytes.as_bytes()).await;
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text:?}"))
    };
    (status, v)
}

fn temp_rule() -> Value {
    json!({"series": "temp.v", "op": ">", "threshold": 50, "clear_threshold": 40,
           "for_s": 0, "repeat_s": 0, "level": "warn"})
}

async fn live(srv: &TestServer) -> Ws {
    let mut ws = srv.connect().await;
    next_of(&mut ws, "snapshot").await;
    ws
}

#[tokio::test]
async fn the_v1_host_alerts_are_default_rules() {
    let srv = TestServer::start(&[]).await;
    let (status, rules) = call(&srv, "GET", "/api/alerts/rules", None).await;
    assert_eq!(status, 200);
    let series: Vec<&str> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["series"].as_str().unwrap())
        .collect();
    assert_eq!(series, ["system.cpu_percent", "system.memory_percent"]);
    assert_eq!(rules[0]["clear_threshold"], 70.0);
    srv.stop().await;
}

#[tokio::test]
async fn rules_are_edited_with_the_admin_token_and_checked() {
    let srv = TestServer::start(&["--admin-token", ADMIN]).await;
    let h = "Content-Type: application/json\r\n";
    let body = temp_rule().to_string();
    let (status, _) =
        request_with_body(srv.addr, "POST", "/api/alerts/rules", h, body.as_bytes()).await;
    assert_eq!(status, 401, "writes need the admin token");
    let (status, r) = call(&srv, "POST", "/api/alerts/rules", Some(&temp_rule())).await;
    assert_eq!(status, 201, "{r}");
    let id = r["id"].as_u64().unwrap();
    assert_eq!(r["name"], "temp.v > 50");
    let (status, got) = call(&srv, "GET", &format!("/api/alerts/rules/{id}"), None).await;
    assert_eq!((status, got["threshold"].as_f64()), (200, Some(50.0)));
    let mut changed = temp_rule();
    changed["threshold"] = json!(60);
    let (status, r) = call(
        &srv,
        "PUT",
        &format!("/api/alerts/rules/{id}"),
        Some(&changed),
    )
    .await;
    assert_eq!(
        (status, r["threshold"].as_f64(), r["id"].as_u64()),
        (200, Some(60.0), Some(id))
    );
    for (bad, field) in [
        (
            json!({"series": "x", "op": ">", "threshold": 5, "clear_threshold": 9, "level": "warn"}),
            "clear_threshold",
        ),
        (
            json!({"series": "x", "op": "=", "threshold": 5, "level": "warn"}),
            "",
        ),
        (
            json!({"series": "x", "threshold": 5, "level": "warn"}),
            "op",
        ),
        (
            json!({"series": "", "op": "<", "threshold": 5, "level": "warn"}),
            "series",
        ),
    ] {
        let (status, e) = call(&srv, "POST", "/api/alerts/rules", Some(&bad)).await;
        assert_eq!(
            (status, e["error"].as_str()),
            (422, Some("invalid_rule")),
            "{bad}: {e}"
        );
        if !field.is_empty() {
            assert_eq!(e["field"], field, "{e}");
        }
    }
    let (status, e) = request_with_body(
        srv.addr,
        "POST",
        "/api/alerts/rules",
        &format!("Authorization: Bearer {ADMIN}\r\n{h}"),
        b"{not json",
    )
    .await;
    assert_eq!(status, 400, "{e}");
    let (status, _) = call(&srv, "DELETE", &format!("/api/alerts/rules/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, e) = call(&srv, "GET", &format!("/api/alerts/rules/{id}"), None).await;
    assert_eq!((status, e["error"].as_str()), (404, Some("not_found")));
    let (status, _) = call(&srv, "GET", "/api/alerts/rules/abc", None).await;
    assert_eq!(status, 404);
    srv.stop().await;
}

#[tokio::test]
async fn a_rule_fires_and_resolves_once_as_alert_frames() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap().to_string();
    let args = ["--data-dir", &dir, "--ingest-token", INGEST];
    let srv = TestServer::start(&args).await;
    let (status, rule) = call(&srv, "POST", "/api/alerts/rules", Some(&temp_rule())).await;
    assert_eq!(status, 201);
    let id = rule["id"].as_u64().unwrap();
    let mut ws = live(&srv).await;
    let mut others = live(&srv).await;
    send(
        &mut others,
        json!({"type": "unsubscribe", "topics": ["alerts"]}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Over 50, flapping inside the hysteresis band, then under 40.
    let t = now_ms() - 10_000;
    let values = [45.0, 55.0, 45.0, 51.0, 42.0, 39.0, 45.0];
    let lines: String = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("temp v={v} {}\n", t + i as u64 * 1000))
        .collect();
    assert_eq!(influx_write(srv.addr, INGEST, &lines).await, 204);
    let firing = next_of(&mut ws, "alert").await;
    assert_eq!(firing["rule_id"].as_u64(), Some(id));
    assert_eq!(firing["state"], "firing");
    assert_eq!(firing["value"], 55.0);
    assert_eq!(firing["ts"].as_u64(), Some(t + 1000));
    let resolved = next_of(&mut ws, "alert").await;
    assert_eq!(
        (resolved["state"].as_str(), resolved["value"].as_f64()),
        (Some("resolved"), Some(39.0))
    );
    assert_eq!(
        resolved["seq"].as_u64(),
        Some(firing["seq"].as_u64().unwrap() + 1)
    );
    // The feed has them too; the log lists both, in order.
    let ev = next_of(&mut ws, "event").await;
    assert!(ev["text"].as_str().unwrap().contains("temp.v"), "{ev}");
    let mut log = Value::Null;
    for _ in 0..100 {
        log = call(&srv, "GET", "/api/alerts/log?after=0", None).await.1;
        if log.as_array().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let states: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["firing", "resolved"]);
    let first = log[0]["id"].as_u64().unwrap();
    let (_, later) = call(&srv, "GET", &format!("/api/alerts/log?after={first}"), None).await;
    assert_eq!(later.as_array().unwrap().len(), 1);
    // The unsubscribed client got no alert frame (it still gets events).
    next_of(&mut others, "event").await;
    while let Ok(Some(Ok(m))) = tokio::time::timeout(
        Duration::from_millis(300),
        futures_util::StreamExt::next(&mut others),
    )
    .await
    {
        let v: Value = serde_json::from_str(m.to_text().unwrap_or("{}")).unwrap_or_default();
        assert_ne!(v["type"], "alert");
    }
    srv.stop().await;
    // Rules survive a restart.
    let srv = TestServer::start(&args).await;
    let (_, rules) = call(&srv, "GET", "/api/alerts/rules", None).await;
    assert!(
        rules
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"].as_u64() == Some(id)),
        "{rules}"
    );
    srv.stop().await;
}
