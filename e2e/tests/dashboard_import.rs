//! A dashboard file exported from the page and imported back through the
//! page's file input: imported as a new dashboard it has the same widgets;
//! over the stored one, after the page asks, it replaces it; a bad file is
//! refused with the reason and writes nothing.

mod dash_common;

use dash_common::*;
use livedash_e2e::{create_dashboard, http_get, wait_for, Browser, Server};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Put `text` in a file for the browser to pick (chromedriver runs here).
fn file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("livedash-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write the file");
    p
}

async fn choose(b: &Browser, path: &std::path::Path) -> Result<(), String> {
    b.client
        .find(fantoccini::Locator::Css("[data-testid='dashboard-import']"))
        .await
        .map_err(|e| format!("the import input: {e}"))?
        .send_keys(&path.display().to_string())
        .await
        .map_err(|e| format!("choose {}: {e}", path.display()))
}

async fn stored(port: u16, uid: &str) -> Option<Value> {
    serde_json::from_str(&http_get(port, &format!("/api/dashboards/{uid}")).await?).ok()
}

async fn count(port: u16) -> Option<usize> {
    let l: Value = serde_json::from_str(&http_get(port, "/api/dashboards").await?).ok()?;
    l.as_array().map(Vec::len)
}

#[tokio::test]
async fn an_exported_dashboard_imports_as_new_or_replacing_and_a_bad_file_is_refused() {
    let server = Server::start(&["--tick-ms", "200", "--admin-token", "adm1n"]);
    create_dashboard(server.port, Some("adm1n"), &sales_dashboard().to_string()).await;
    let b = Browser::start("dashboard_import").await;
    b.check(|| async {
        b.open_as_admin(&format!("{}/?d=sales", server.url()), "adm1n").await?;
        let shown = wait_for("the sales dashboard", T, || async {
            let v = read(&b).await;
            (layout(&v).len() == 7).then(|| layout(&v))
        })
        .await?;
        // Export: the page's link, fetched as the browser would save it.
        let href = b
            .js("return new URL(document.querySelector('[data-testid=dashboard-export]').href).pathname + new URL(document.querySelector('[data-testid=dashboard-export]').href).search")
            .await
            .and_then(|v| v.as_str().map(str::to_string))
            .ok_or("the export link")?;
        if href != "/api/dashboards/sales?download=1" {
            return Err(format!("export link {href}"));
        }
        let exported = http_get(server.port, &href).await.ok_or("the export")?;
        let original = stored(server.port, "sales").await.ok_or("GET sales")?;
        let before = count(server.port).await.ok_or("list")?;
        // A bad file: refused, saying why; nothing stored.
        choose(&b, &file("broken.json", "{\"title\": \"Half")).await?;
        wait_for("the refusal of a bad file", T, || async {
            let t = content(&b, "import-error").await?;
            (t.contains("broken.json") && t.contains("not JSON")).then_some(())
        })
        .await?;
        let mut overlapping: Value = serde_json::from_str(&exported).map_err(|e| e.to_string())?;
        overlapping["widgets"][1]["grid"] = json!({"x": 0, "y": 0, "w": 3, "h": 3});
        choose(&b, &file("overlap.json", &overlapping.to_string())).await?;
        wait_for("the refusal of an invalid dashboard", T, || async {
            let t = content(&b, "import-error").await?;
            (t.contains("overlap.json") && t.contains("widgets[1].grid")).then_some(())
        })
        .await?;
        if count(server.port).await != Some(before) {
            return Err("a refused file was stored".into());
        }
        // The export itself: its uid is taken, the page asks; as new.
        let export_file = file("livedash-dashboard-sales.json", &exported);
        choose(&b, &export_file).await?;
        wait_for("the question: replace or import as new", T, || async {
            content(&b, "import-exists").await?.contains("\"sales\"").then_some(())
        })
        .await?;
        click(&b, "import-copy").await?;
        let new_uid = wait_for("the imported copy opened", T, || async {
            let v = read(&b).await;
            let uid = s(&v["dashboard"]);
            (!uid.is_empty() && uid != "sales" && layout(&v) == shown).then_some(uid)
        })
        .await?;
        let copy = stored(server.port, &new_uid).await.ok_or("GET the copy")?;
        if copy["widgets"] != original["widgets"] || copy["title"] != "Sales (imported)" {
            return Err(format!("the copy {copy}\nthe original {original}"));
        }
        // Replace: an edited export over the stored one, after the question.
        let mut edited: Value = serde_json::from_str(&exported).map_err(|e| e.to_string())?;
        edited["title"] = json!("Sales, edited elsewhere");
        edited["widgets"].as_array_mut().ok_or("widgets")?.pop();
        choose(&b, &file("edited.json", &edited.to_string())).await?;
        wait_for("the question again", T, || async {
            content(&b, "import-exists").await?.contains("Sales, edited elsewhere").then_some(())
        })
        .await?;
        click(&b, "import-replace").await?;
        wait_for("sales replaced and opened", T, || async {
            let v = read(&b).await;
            (v["dashboard"] == "sales" && layout(&v).len() == 6).then_some(())
        })
        .await?;
        let replaced = stored(server.port, "sales").await.ok_or("GET sales")?;
        if replaced["version"] != 2
            || replaced["title"] != "Sales, edited elsewhere"
            || replaced["widgets"] != edited["widgets"]
        {
            return Err(format!("replaced {replaced}"));
        }
        Ok(())
    })
    .await;
}
