//! Building dashboards in the page, end to end: the admin token asked for,
//! widgets added, moved, resized by keyboard, renamed, saved with
//! `If-Match`, reloaded and opened by another browser with the same
//! widgets and numbers; a 412 conflict; the stream controls.

mod dash_common;

use dash_common::*;
use livedash_e2e::{create_dashboard, http_get, http_request, wait_for, Browser, Server};
use serde_json::{json, Value};

#[tokio::test]
async fn a_dashboard_built_in_the_page_is_saved_and_shared() {
    let server = Server::start(&["--tick-ms", "200", "--admin-token", "adm1n"]);
    let b = Browser::start("dashboard_build").await;
    let uid = std::cell::RefCell::new(String::new());
    let built = std::cell::RefCell::new(Vec::new());
    b.check(|| async {
        b.client
            .goto(&server.url())
            .await
            .map_err(|e| e.to_string())?;
        wait_for("the dashboard bar", T, || async {
            b.js("return !!document.querySelector('[data-testid=dashboard-new]')")
                .await
                .filter(|v| v == &json!(true))
        })
        .await?;
        // Without the admin token the server refuses; the page asks for it.
        click(&b, "dashboard-new").await?;
        wait_for("the admin token form", T, || async {
            b.js("return !!document.querySelector('[data-testid=admin-token-input]')")
                .await
                .filter(|v| v == &json!(true))
        })
        .await?;
        b.client
            .find(fantoccini::Locator::Css("[data-testid='admin-token-input']"))
            .await
            .map_err(|e| e.to_string())?
            .send_keys("adm1n")
            .await
            .map_err(|e| e.to_string())?;
        click(&b, "admin-token-submit").await?;
        click(&b, "dashboard-new").await?;
        let new_uid = wait_for("a new empty dashboard", T, || async {
            let v = read(&b).await;
            let d = s(&v["dashboard"]);
            (!d.is_empty() && d != "default" && v["widgets"].as_array().is_some_and(|w| w.is_empty()))
                .then_some(d)
        })
        .await?;
        *uid.borrow_mut() = new_uid.clone();
        // Build: a pie of revenue by country, a KPI moved beside it, a
        // table of recent orders made wider; rename the dashboard.
        click(&b, "edit-toggle").await?;
        select(&b, "widget-kind", "pie").await?;
        click(&b, "widget-add").await?;
        select(&b, "widget-kind", "kpi").await?;
        click(&b, "widget-add").await?;
        select(&b, "widget-kind", "table").await?;
        click(&b, "widget-add").await?;
        // The KPI sits below the pie: move it up beside it (right 6, up 8
        // would overlap on the way, so first right, then up).
        for _ in 0..6 {
            click(&b, "w-right-kpi").await?;
        }
        for _ in 0..8 {
            click(&b, "w-up-kpi").await?;
        }
        // Keyboard: shift+up on the table shortens it.
        b.client
            .find(fantoccini::Locator::Css("[data-widget-id='table']"))
            .await
            .map_err(|e| e.to_string())?
            .send_keys(&format!("{}{}", '\u{E008}', '\u{E013}'))
            .await
            .map_err(|e| e.to_string())?;
        let title = b
            .client
            .find(fantoccini::Locator::Css("[data-testid='dashboard-title']"))
            .await
            .map_err(|e| e.to_string())?;
        // Select all, type over it, Enter commits (a change event).
        title
            .send_keys(&format!("{}a{}Built here\n", '\u{E009}', '\u{E009}'))
            .await
            .map_err(|e| e.to_string())?;
        // A refused edit says why and changes nothing.
        click(&b, "w-left-pie").await?;
        wait_for("the refusal", T, || async {
            let t = b.text("edit-error").await?;
            t.to_lowercase().contains("left edge").then_some(())
        })
        .await?;
        click(&b, "dashboard-save").await?;
        let v = wait_for("saved (version 2, out of edit mode)", T, || async {
            let v = b
                .js("const a = document.querySelector('[data-testid=app]'); return {version: a.dataset.dashboardVersion, editing: !!document.querySelector('.is-editing')}")
                .await?;
            (v["version"] == "2" && v["editing"] == json!(false)).then_some(v)
        })
        .await?;
        let _ = v;
        let stored = http_get(server.port, &format!("/api/dashboards/{new_uid}")).await.ok_or("GET")?;
        let stored: Value = serde_json::from_str(&stored).map_err(|e| e.to_string())?;
        if stored["title"] != "Built here" || stored["widgets"].as_array().map(Vec::len) != Some(3) {
            return Err(format!("stored {stored}"));
        }
        let kpi = stored["widgets"].as_array().unwrap().iter().find(|w| w["id"] == "kpi").cloned();
        if kpi.as_ref().map(|k| (&k["grid"]["x"], &k["grid"]["y"])) != Some((&json!(6), &json!(0))) {
            return Err(format!("the KPI is at {kpi:?}"));
        }
        let table = stored["widgets"].as_array().unwrap().iter().find(|w| w["id"] == "table").cloned();
        if table.as_ref().map(|t| &t["grid"]["h"]) != Some(&json!(6)) {
            return Err(format!("the table is {table:?}"));
        }
        // Reload: the same widgets, with the server's numbers.
        b.client.refresh().await.map_err(|e| e.to_string())?;
        let after = wait_for("the saved widgets after a reload", T, || async {
            let v = read(&b).await;
            (v["dashboard"] == json!(new_uid) && layout(&v).len() == 3).then_some(v)
        })
        .await?;
        *built.borrow_mut() = layout(&after);
        pie_matches_server(&b, server.port, "pie").await?;
        Ok(())
    })
    .await;
    drop(b);
    // Another browser (fresh profile) opens the link: the same widgets.
    let uid = uid.into_inner();
    let built = built.into_inner();
    let b2 = Browser::start("dashboard_shared").await;
    b2.check(|| async {
        b2.client
            .goto(&format!("{}/?d={uid}", server.url()))
            .await
            .map_err(|e| e.to_string())?;
        wait_for("the same widgets in a second browser", T, || async {
            let v = read(&b2).await;
            (layout(&v) == built).then_some(())
        })
        .await?;
        pie_matches_server(&b2, server.port, "pie").await?;
        // A viewer without the admin token sees no stream controls.
        let controls = b2
            .js("return !!document.querySelector('[data-testid=stream-toggle-orders]')")
            .await;
        if controls != Some(json!(false)) {
            return Err("stream controls without the admin token".into());
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_save_over_a_newer_version_shows_the_conflict() {
    let server = Server::start(&["--tick-ms", "200"]);
    create_dashboard(server.port, None, &sales_dashboard().to_string()).await;
    let b = Browser::start("dashboard_conflict").await;
    b.check(|| async {
        b.client
            .goto(&format!("{}/?d=sales", server.url()))
            .await
            .map_err(|e| e.to_string())?;
        wait_for("the sales dashboard", T, || async {
            (layout(&read(&b).await).len() == 7).then_some(())
        })
        .await?;
        click(&b, "edit-toggle").await?;
        click(&b, "w-remove-future").await?;
        // Someone else saves first.
        let mut other = sales_dashboard();
        other["title"] = json!("Theirs");
        let put = http_request(
            server.port,
            "PUT",
            "/api/dashboards/sales",
            &["If-Match: 1"],
            Some(&other.to_string()),
        )
        .await;
        if put.as_ref().map(|p| p.0) != Some(200) {
            return Err(format!("their PUT: {put:?}"));
        }
        click(&b, "dashboard-save").await?;
        wait_for("the conflict banner", T, || async {
            let t = b.text("save-conflict").await?;
            t.contains("version 2").then_some(())
        })
        .await?;
        // Overwrite: ours wins, as version 3, without the removed widget.
        click(&b, "conflict-overwrite").await?;
        wait_for("ours stored as version 3", T, || async {
            let body = http_get(server.port, "/api/dashboards/sales").await?;
            let d: Value = serde_json::from_str(&body).ok()?;
            (d["version"] == 3 && d["title"] == "Sales" && d["widgets"].as_array()?.len() == 6)
                .then_some(())
        })
        .await
    })
    .await;
}

#[tokio::test]
async fn stream_controls_stop_and_start_a_stream_for_every_tab() {
    let server = Server::start(&["--tick-ms", "200", "--admin-token", "adm1n"]);
    let b = Browser::start("dashboard_streams").await;
    b.check(|| async {
        b.open_as_admin(&server.url(), "adm1n").await?;
        // A second tab without the token: no controls, but it sees the state.
        let w = b.client.new_window(true).await.map_err(|e| e.to_string())?;
        let first = b.client.window().await.map_err(|e| e.to_string())?;
        b.client.switch_to_window(w.handle.clone()).await.map_err(|e| e.to_string())?;
        b.client.goto(&server.url()).await.map_err(|e| e.to_string())?;
        b.client
            .execute("sessionStorage.removeItem('livedash.admin'); return true", vec![])
            .await
            .map_err(|e| e.to_string())?;
        b.client.switch_to_window(first.clone()).await.map_err(|e| e.to_string())?;
        wait_for("the orders toggle", T, || async {
            let r = b
                .js("const t = document.querySelector('[data-testid=stream-toggle-orders]'); return t ? t.dataset.running : null")
                .await?;
            (r == "true").then_some(())
        })
        .await?;
        click(&b, "stream-toggle-orders").await?;
        for (tab, name) in [(first.clone(), "admin tab"), (w.handle.clone(), "viewer tab")] {
            b.client.switch_to_window(tab).await.map_err(|e| e.to_string())?;
            wait_for(&format!("the {name} showing orders stopped"), T, || async {
                let v = b
                    .js("const a = document.querySelector('[data-testid=app]'); return {s: a && a.dataset.streamOrders, st: a && a.dataset.state}")
                    .await?;
                (v["s"] == "stopped" && v["st"] == "live").then_some(())
            })
            .await?;
        }
        b.client.switch_to_window(first).await.map_err(|e| e.to_string())?;
        click(&b, "stream-toggle-orders").await?;
        wait_for("orders running again", T, || async {
            let body = http_get(server.port, "/healthz").await?;
            let h: Value = serde_json::from_str(&body).ok()?;
            (h["streams"]["orders"]["state"] == "running").then_some(())
        })
        .await
    })
    .await;
}
