//! Alert rules edited in the page, end to end: a refusal is shown as the
//! server said it; with the admin token a rule created in the page is
//! stored, listed, fires on the server, and its `alert` frame shows as a
//! toast and a feed entry with the rule's text (the same text as the
//! server's alert log); rules deleted in the page are gone from the server.

use livedash_e2e::{http_get, wait_for, Browser, Server};
use serde_json::Value;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);
const ADMIN: &str = "adm1n";

const READ: &str = r#"
const q = id => document.querySelector(`[data-testid="${id}"]`);
const toast = q('alert-toast');
return {
  rules: [...document.querySelectorAll('[data-testid="alert-rule"]')].map(r => ({ id: Number(r.dataset.ruleId), text: r.querySelector('.rule-text').textContent })),
  series: q('rule-series') ? [...q('rule-series').options].map(o => o.value) : [],
  error: q('alert-rules-error') ? q('alert-rules-error').textContent : null,
  toast: toast ? { rule: Number(toast.dataset.ruleId), state: toast.dataset.state, text: toast.querySelector('span').textContent } : null,
  feed: q('feed') ? [...q('feed').querySelectorAll('.feed-text')].map(e => e.textContent) : [],
};
"#;

async fn read(b: &Browser) -> Value {
    b.js(READ).await.unwrap_or(Value::Null)
}

/// The element with `testid`, once it is there.
async fn el(b: &Browser, testid: &str) -> Result<fantoccini::elements::Element, String> {
    let css = format!("[data-testid='{testid}']");
    wait_for(testid, T, || async {
        b.client.find(fantoccini::Locator::Css(&css)).await.ok()
    })
    .await
}

async fn click(b: &Browser, testid: &str) -> Result<(), String> {
    el(b, testid)
        .await?
        .click()
        .await
        .map_err(|e| format!("click {testid}: {e}"))
}

async fn fill(b: &Browser, testid: &str, text: &str) -> Result<(), String> {
    let e = el(b, testid).await?;
    e.clear().await.map_err(|e| e.to_string())?;
    e.send_keys(text).await.map_err(|e| e.to_string())?;
    // `change` fires on blur.
    b.js(&format!("document.querySelector('[data-testid={testid}]').dispatchEvent(new Event('change', {{bubbles: true}})); return 1")).await;
    Ok(())
}

/// Click `testid` in the row of rule `id`.
async fn click_in(b: &Browser, id: u64, testid: &str) -> Result<(), String> {
    b.client
        .find(fantoccini::Locator::Css(&format!(
            "[data-rule-id='{id}'] [data-testid='{testid}']"
        )))
        .await
        .map_err(|e| format!("{testid} of rule {id}: {e}"))?
        .click()
        .await
        .map_err(|e| format!("click {testid}: {e}"))
}

#[tokio::test]
async fn a_rule_created_in_the_page_fires_a_toast_and_a_feed_entry() {
    let server = Server::start(&[
        "--admin-token",
        ADMIN,
        "--system-ms",
        "200",
        "--tick-ms",
        "200",
    ]);
    let b = Browser::start("alert_rules").await;
    b.check(|| async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        click(&b, "alert-rules-open").await?;
        wait_for(
            "the series picker listing system.cpu_percent",
            T,
            || async {
                let v = read(&b).await;
                v["series"]
                    .as_array()?
                    .iter()
                    .any(|s| s == "system.cpu_percent")
                    .then_some(())
            },
        )
        .await?;
        // The form says what is wrong before asking the server.
        el(&b, "rule-series")
            .await?
            .select_by_value("system.cpu_percent")
            .await
            .map_err(|e| e.to_string())?;
        el(&b, "rule-op")
            .await?
            .select_by_value(">=")
            .await
            .map_err(|e| e.to_string())?;
        fill(&b, "rule-threshold", "lots").await?;
        click(&b, "rule-save").await?;
        wait_for("the form's own error", T, || async {
            let v = read(&b).await;
            v["error"].as_str()?.starts_with("threshold:").then_some(())
        })
        .await?;
        // Without the admin token the server refuses; the page says so.
        fill(&b, "rule-threshold", "0").await?;
        fill(&b, "rule-name", "cpu watch").await?;
        click(&b, "rule-save").await?;
        wait_for("the refusal shown", T, || async {
            let v = read(&b).await;
            v["error"].as_str()?.contains("admin token").then_some(())
        })
        .await?;
        // With the admin token (the editor's Admin form): stored and listed.
        click(&b, "admin-open").await?;
        el(&b, "admin-token-input")
            .await?
            .send_keys(ADMIN)
            .await
            .map_err(|e| e.to_string())?;
        click(&b, "admin-token-submit").await?;
        // Delete the default rules in the page (the built-in CPU rule
        // could fire meanwhile): gone from the server too.
        loop {
            let v = read(&b).await;
            let Some(first) = v["rules"].as_array().and_then(|a| a.first()).cloned() else {
                break;
            };
            let id = first["id"].as_u64().unwrap_or(0);
            click_in(&b, id, "rule-delete").await?;
            wait_for("a rule deleted", T, || async {
                let v = read(&b).await;
                (!v["rules"].as_array()?.iter().any(|r| r["id"] == id)).then_some(())
            })
            .await?;
        }
        let stored = http_get(server.port, "/api/alerts/rules")
            .await
            .unwrap_or_default();
        if stored.trim() != "[]" {
            return Err(format!("rules left on the server: {stored}"));
        }
        click(&b, "rule-save").await?;
        let v = wait_for("the rule listed", T, || async {
            let v = read(&b).await;
            (v["rules"].as_array()?.len() == 1 && v["error"].is_null()).then_some(v)
        })
        .await?;
        let id = v["rules"][0]["id"].as_u64().unwrap();
        if v["rules"][0]["text"] != "system.cpu_percent >= 0" {
            return Err(format!("listed as {}", v["rules"][0]["text"]));
        }
        let stored = http_get(server.port, "/api/alerts/rules")
            .await
            .unwrap_or_default();
        let stored: Value = serde_json::from_str(&stored).map_err(|e| e.to_string())?;
        let r = stored
            .as_array()
            .and_then(|a| a.iter().find(|r| r["id"] == id))
            .cloned()
            .unwrap_or_default();
        if r["series"] != "system.cpu_percent"
            || r["op"] != ">="
            || r["threshold"] != 0.0
            || r["name"] != "cpu watch"
        {
            return Err(format!("stored as {r}"));
        }
        // CPU is always >= 0: it fires at the next sample.
        let v = wait_for("the toast of the rule", T, || async {
            let v = read(&b).await;
            (v["toast"]["rule"] == id && v["toast"]["state"] == "firing").then_some(v)
        })
        .await?;
        let text = v["toast"]["text"].as_str().unwrap_or_default().to_string();
        if !text.starts_with("cpu watch: system.cpu_percent is ") {
            return Err(format!("toast says {text:?}"));
        }
        let log = http_get(server.port, "/api/alerts/log")
            .await
            .unwrap_or_default();
        let log: Value = serde_json::from_str(&log).map_err(|e| e.to_string())?;
        let logged = log
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["rule_id"] == id && e["text"] == text.as_str());
        if !logged {
            return Err(format!("{text:?} is not in the alert log {log}"));
        }
        wait_for("the feed entry", T, || async {
            let v = read(&b).await;
            v["feed"]
                .as_array()?
                .iter()
                .any(|f| f == text.as_str())
                .then_some(())
        })
        .await?;
        Ok(())
    })
    .await;
}

/// Stands in for the browser's Notification (headless Chromium shows
/// none): granted, the person opted in, each one shown recorded per tab.
const STUB_NOTIFICATION: &str = r#"
localStorage.setItem('livedash.notify', 'on');
window.__shown = window.__shown || [];
window.Notification = class { constructor(title, o) { window.__shown.push(o.tag); } static get permission() { return 'granted'; } };
return true;
"#;

#[tokio::test]
async fn three_tabs_show_one_notification_per_alert() {
    let server = Server::start(&["--system-ms", "200", "--tick-ms", "200"]);
    let b = Browser::start("notify_once").await;
    b.check(|| async {
        for i in 0..3 {
            if i > 0 {
                let w = b.client.new_window(true).await.map_err(|e| e.to_string())?;
                b.client.switch_to_window(w.handle).await.map_err(|e| e.to_string())?;
            }
            b.client.goto(&server.url()).await.map_err(|e| e.to_string())?;
            el(&b, "alert-rules-open").await?;
            b.js(STUB_NOTIFICATION).await.ok_or("stub")?;
        }
        // Fires at every sample, again every second while firing.
        let rule = r#"{"series":"system.cpu_percent","op":">=","threshold":0,"repeat_s":1,"level":"warn","name":"always"}"#;
        let made = livedash_e2e::http_request(server.port, "POST", "/api/alerts/rules", &[], Some(rule)).await;
        let made: Value = serde_json::from_str(&made.ok_or("no answer")?.1).map_err(|e| e.to_string())?;
        let id = made["id"].as_u64().ok_or(format!("not created: {made}"))?;
        let windows = b.client.windows().await.map_err(|e| e.to_string())?;
        let mut shown: Vec<u64> = Vec::new();
        let mut per_tab = Vec::new();
        let deadline = std::time::Instant::now() + T;
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            shown.clear();
            per_tab.clear();
            for w in &windows {
                b.client.switch_to_window(w.clone()).await.map_err(|e| e.to_string())?;
                let tags = b.js("return window.__shown").await.unwrap_or_default();
                let seqs: Vec<u64> = tags
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str()?.strip_prefix("livedash-alert-")?.parse().ok())
                    .collect();
                per_tab.push(seqs.len());
                shown.extend(seqs);
            }
            let mut distinct = shown.clone();
            distinct.sort_unstable();
            distinct.dedup();
            if distinct.len() != shown.len() {
                return Err(format!("an alert was notified twice: {shown:?} (per tab {per_tab:?})"));
            }
            if distinct.len() >= 4 {
                break;
            }
            if std::time::Instant::now() > deadline {
                return Err(format!("too few notifications: {shown:?}"));
            }
        }
        // Every alert of the rule the server logged meanwhile was shown once.
        let log = livedash_e2e::http_get(server.port, "/api/alerts/log?limit=1000").await.unwrap_or_default();
        let log: Value = serde_json::from_str(&log).map_err(|e| e.to_string())?;
        let last = *shown.iter().max().unwrap();
        let first = *shown.iter().min().unwrap();
        let logged: Vec<u64> = log
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["rule_id"] == id)
            .filter_map(|e| e["seq"].as_u64())
            .filter(|s| (first..=last).contains(s))
            .collect();
        let mut all = shown.clone();
        all.sort_unstable();
        let logged_all: Vec<u64> = log
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["seq"].as_u64())
            .filter(|s| (first..=last).contains(s))
            .collect();
        if logged.is_empty() || logged_all != all {
            return Err(format!("shown {all:?}, logged {logged_all:?} (rule {id}: {logged:?})"));
        }
        Ok(())
    })
    .await;
}
