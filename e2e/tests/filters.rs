//! Filters in a real headless Chromium against a server fed only known
//! ingested records: `?var-country=China` shows the KPIs and bars of
//! China's records only (computed by the server), as removable chips;
//! clicking a traffic-source bar adds that filter, updates the numbers and
//! the address (a reload keeps it); removing a chip widens it again. A
//! share link opened in another browser shows the same view, read-only.

use livedash_e2e::{create_dashboard, http_request, wait_for, Browser, Server};
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T: Duration = Duration::from_secs(20);
const TOKEN: &str = "f1lter";

/// `POST /api/ingest/orders` with the token: the status.
async fn push(port: u16, ndjson: &str) -> u16 {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let req = format!(
        "POST /api/ingest/orders HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\
         Authorization: Bearer {TOKEN}\r\nContent-Type: application/x-ndjson\r\n\
         Content-Length: {}\r\n\r\n{ndjson}",
        ndjson.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out[9..12].parse().unwrap()
}

/// One record: `(order, item, country, source, price)`.
fn record(r: (u64, u64, &str, &str, f64), now: u128) -> String {
    let (order, item, country, source, price) = r;
    format!(
        r#"{{"user_id":{order},"age":34,"gender":"F","country":"{country}","traffic_source":"{source}","order_id":{order},"item_id":{item},"category":"Jeans","cost":1.5,"item_status":"Shipped","sale_price":{price},"created_at":{now}}}"#
    )
}

/// The known records: China 10 + 20.50 (order 1, Search) and 30 (order 2,
/// Email); Spain 100 (order 3) and 200 (order 4), Search; Japan 50 (order
/// 5, Email).
const RECORDS: [(u64, u64, &str, &str, f64); 6] = [
    (1, 1, "China", "Search", 10.0),
    (1, 2, "China", "Search", 20.5),
    (2, 3, "China", "Email", 30.0),
    (3, 4, "Spain", "Search", 100.0),
    (4, 5, "Spain", "Search", 200.0),
    (5, 6, "Japan", "Email", 50.0),
];

/// KPI cards, both breakdown charts' bars (from ECharts itself), the chips
/// and the address.
const READ: &str = r#"
const q = id => document.querySelector(`[data-testid="${id}"]`);
const t = id => (q(id) ? q(id).textContent.trim() : null);
const bars = id => {
  const el = q(id); const i = el && window.echarts && echarts.getInstanceByDom(el);
  const o = i ? i.getOption() : null;
  if (!o || !o.xAxis || !o.xAxis[0] || !o.series[0]) return [];
  return o.xAxis[0].data.map((n, k) => { const d = o.series[0].data[k]; return [typeof n === 'object' ? n.value : n, typeof d === 'object' && d !== null ? d.value : d]; });
};
const app = q('app');
return {
  state: app ? app.dataset.state : null,
  orders: t('kpi-num_orders'), items: t('kpi-num_order_items'), sales: t('kpi-total_sales'),
  countries: bars('chart-revenue-by-country'), sources: bars('chart-revenue-by-traffic-source'),
  chips: [...document.querySelectorAll('[data-testid="filter-chip"]')].map(c => [c.dataset.var, c.dataset.value]),
  search: location.search,
};
"#;

/// Where the bar named `name` of chart `id` is, as an offset from its
/// canvas's centre (the WebDriver pointer origin): its middle.
fn bar_offset(id: &str, name: &str) -> String {
    format!(
        r#"
const el = document.querySelector('[data-testid="{id}"]');
el.scrollIntoView({{block: 'center'}});
const i = echarts.getInstanceByDom(el);
const o = i.getOption();
const k = o.xAxis[0].data.map(n => typeof n === 'object' ? n.value : n).indexOf('{name}');
if (k < 0) return null;
// The rectangle ECharts drew for the bar (its layout, in canvas pixels).
const l = i.getModel().getSeriesByIndex(0).getData().getItemLayout(k);
const [x, y] = [l.x + l.width / 2, l.y + l.height / 2];
const r = el.querySelector('canvas').getBoundingClientRect();
return [x - r.width / 2, y - r.height / 2];
"#
    )
}

/// Click the bar named `name` of chart `id` with the WebDriver mouse, as a
/// person would.
async fn click_bar(b: &Browser, id: &str, name: &str) -> Result<(), String> {
    use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
    let at = b
        .js(&bar_offset(id, name))
        .await
        .ok_or("chart unreadable")?;
    let (Some(x), Some(y)) = (at[0].as_f64(), at[1].as_f64()) else {
        return Err(format!("no {name} bar in {id}"));
    };
    let canvas = b
        .client
        .find(fantoccini::Locator::Css(&format!(
            "[data-testid='{id}'] canvas"
        )))
        .await
        .map_err(|e| e.to_string())?;
    let mouse = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: canvas,
            duration: None,
            x,
            y,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    b.client
        .perform_actions(mouse)
        .await
        .map_err(|e| e.to_string())
}

fn pairs(v: &Value, key: &str) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = v[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p[0].as_str()?.to_string(), p[1].as_f64()?)))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn chips(v: &Value) -> Vec<(String, String)> {
    v["chips"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| Some((c[0].as_str()?.to_string(), c[1].as_str()?.to_string())))
        .collect()
}

fn named(list: &[(&str, f64)]) -> Vec<(String, f64)> {
    list.iter().map(|(n, x)| (n.to_string(), *x)).collect()
}

/// Wait until the page shows these KPIs and bars.
async fn shows(
    b: &Browser,
    what: &str,
    kpis: (&str, &str, &str),
    countries: &[(&str, f64)],
    sources: &[(&str, f64)],
) -> Result<Value, String> {
    let (countries, sources) = (named(countries), named(sources));
    let r = wait_for(what, T, || async {
        let v = b.js(READ).await?;
        (v["state"] == "live"
            && v["orders"] == kpis.0
            && v["items"] == kpis.1
            && v["sales"].as_str()?.contains(kpis.2)
            && pairs(&v, "countries") == countries
            && pairs(&v, "sources") == sources)
            .then_some(v)
    })
    .await;
    if r.is_err() {
        eprintln!("page now: {:?}", b.js(READ).await);
    }
    r
}

#[tokio::test]
async fn url_filters_and_click_to_filter_show_the_servers_filtered_numbers() {
    let server = Server::start(&[
        "--source",
        "ingest",
        "--ingest-token",
        TOKEN,
        "--tick-ms",
        "200",
    ]);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let body: Vec<String> = RECORDS.iter().map(|r| record(*r, now)).collect();
    assert_eq!(push(server.port, &body.join("\n")).await, 202);
    let b = Browser::start("filters_url_and_click").await;
    b.check(|| async {
        let url = format!("{}/?var-country=China", server.url());
        b.client.goto(&url).await.map_err(|e| e.to_string())?;
        // China: orders 1 and 2, three items, 10 + 20.50 + 30.
        let v = shows(
            &b,
            "China's numbers only",
            ("2", "3", "$60.50"),
            &[("China", 60.5)],
            &[("Email", 30.0), ("Search", 30.5)],
        )
        .await?;
        if chips(&v) != [("country".to_string(), "China".to_string())] {
            return Err(format!("chips {v}"));
        }
        // Click the Search bar: China and Search, order 1 only.
        click_bar(&b, "chart-revenue-by-traffic-source", "Search").await?;
        let v = shows(
            &b,
            "China and Search after the click",
            ("1", "2", "$30.50"),
            &[("China", 30.5)],
            &[("Search", 30.5)],
        )
        .await?;
        if v["search"] != "?var-country=China&var-traffic_source=Search" {
            return Err(format!("address {}", v["search"]));
        }
        // A reload keeps it (the address was replaced, not pushed).
        b.client.refresh().await.map_err(|e| e.to_string())?;
        let v = shows(&b, "the same after a reload", ("1", "2", "$30.50"), &[("China", 30.5)], &[("Search", 30.5)]).await?;
        if chips(&v).len() != 2 {
            return Err(format!("chips after reload {v}"));
        }
        // Remove the country chip: Search everywhere (China + Spain).
        b.js(r#"document.querySelector('[data-testid="filter-chip"][data-var="country"] [data-testid="filter-chip-remove"]').click(); return true"#)
            .await;
        let v = shows(
            &b,
            "Search only after removing China",
            ("3", "4", "$330.50"),
            &[("China", 30.5), ("Spain", 300.0)],
            &[("Search", 330.5)],
        )
        .await?;
        if v["search"] != "?var-traffic_source=Search" {
            return Err(format!("address {}", v["search"]));
        }
        Ok(())
    })
    .await;
}

/// The controls that change something, and the read-only badge.
const CONTROLS: &str = r#"
const has = id => !!document.querySelector(`[data-testid="${id}"]`);
return {
  writes: ['edit-toggle', 'dashboard-save', 'dashboard-new', 'dashboard-duplicate', 'dashboard-delete', 'widget-add', 'admin-open', 'stream-toggle-orders'].filter(has),
  read_only: has('read-only'),
  theme: document.documentElement.dataset.theme || null,
  dashboard: document.querySelector('[data-testid="app"]').dataset.dashboard || null,
};
"#;

#[tokio::test]
async fn a_share_link_opens_the_same_view_read_only_in_another_browser() {
    let server = Server::start(&[
        "--source",
        "ingest",
        "--ingest-token",
        TOKEN,
        "--tick-ms",
        "200",
        "--admin-token",
        "adm1n",
    ]);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let body: Vec<String> = RECORDS.iter().map(|r| record(*r, now)).collect();
    assert_eq!(push(server.port, &body.join("\n")).await, 202);
    let a = Browser::start("share_from").await;
    let link = std::cell::RefCell::new(String::new());
    a.check(|| async {
            let url = format!("{}/?var-country=China&theme=light", server.url());
            a.client.goto(&url).await.map_err(|e| e.to_string())?;
            shows(&a, "China's numbers", ("2", "3", "$60.50"), &[("China", 60.5)], &[("Email", 30.0), ("Search", 30.5)]).await?;
            a.js(r#"document.querySelector('[data-testid="share"]').click(); return true"#).await;
            let l = wait_for("the share link", T, || async {
                let v = a.js(r#"const i = document.querySelector('[data-testid="share-link"]'); return i ? i.value : null"#).await?;
                v.as_str().map(str::to_string)
            })
            .await?;
            *link.borrow_mut() = l;
            Ok(())
        })
        .await;
    let link = link.into_inner();
    let want = format!(
        "{}/?d=default&theme=light&viewer=1&var-country=China",
        server.url()
    );
    assert_eq!(link, want);
    // Another browser, no session, no token.
    let b = Browser::start("share_to").await;
    b.check(|| async {
        b.client.goto(&link).await.map_err(|e| e.to_string())?;
        let v = shows(
            &b,
            "the same numbers",
            ("2", "3", "$60.50"),
            &[("China", 60.5)],
            &[("Email", 30.0), ("Search", 30.5)],
        )
        .await?;
        if chips(&v) != [("country".to_string(), "China".to_string())] {
            return Err(format!("chips {v}"));
        }
        let c = b.js(CONTROLS).await.ok_or("page unreadable")?;
        if c["writes"] != serde_json::json!([]) || c["read_only"] != true {
            return Err(format!("a shared link shows write controls: {c}"));
        }
        if c["theme"] != "light" || c["dashboard"] != "default" {
            return Err(format!("not the same view: {c}"));
        }
        Ok(())
    })
    .await;
    // And the server refuses a write without the admin token anyway.
    let put = http_request(
        server.port,
        "PUT",
        "/api/dashboards/default",
        &["If-Match: *", "Content-Type: application/json"],
        Some("{}"),
    )
    .await;
    assert_eq!(put.map(|p| p.0), Some(401));
}

/// A dashboard of one recent-orders table.
const TABLE_DASHBOARD: &str = r#"{"uid": "recent", "title": "Recent", "widgets": [
  {"id": "recent", "kind": "table", "title": "Recent orders",
   "query": {"source": "records"}, "options": {"limit": 20},
   "grid": {"x": 0, "y": 0, "w": 12, "h": 8}}]}"#;

/// The table's rows: (order, country, source, price).
const TABLE_ROWS: &str = r#"
const t = document.querySelector('[data-testid="recent"]');
if (!t || t.tagName !== 'TABLE') return null;
return [...t.querySelectorAll('tbody tr')].map(tr => [...tr.children].map(td => td.textContent.trim()))
  .filter(r => r.length === 7).map(r => [r[1], r[2], r[3], r[6]]);
"#;

/// The connection state and the dashboard the page shows.
const DASHBOARD_STATE: &str = "const a = document.querySelector('[data-testid=app]'); \
    return a ? {state: a.dataset.state, dashboard: a.dataset.dashboard} : null";

/// A server fed by pushed records only (5 ticks a second), holding `dashboard`.
async fn ingest_server_with(dashboard: &str) -> Server {
    let server = Server::start(&[
        "--source",
        "ingest",
        "--ingest-token",
        TOKEN,
        "--tick-ms",
        "200",
    ]);
    create_dashboard(server.port, None, dashboard).await;
    server
}

#[tokio::test]
async fn the_recent_orders_table_lists_the_filtered_rows() {
    let server = ingest_server_with(TABLE_DASHBOARD).await;
    let b = Browser::start("filters_table").await;
    b.check(|| async {
        let url = format!("{}/?d=recent&var-country=Spain", server.url());
        b.client.goto(&url).await.map_err(|e| e.to_string())?;
        // (The page connects before it has the dashboard; once the table
        // is there it asks for records, reconnecting if it was live
        // already: rows pushed before that come with that snapshot.)
        wait_for("the live table", T, || async {
            let v = b.js(DASHBOARD_STATE).await?;
            (v["state"] == "live" && v["dashboard"] == "recent").then_some(())
        })
        .await?;
        // Rows arrive with the frames: pushed now, after the page is live.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let body: Vec<String> = RECORDS.iter().map(|r| record(*r, now)).collect();
        if push(server.port, &body.join("\n")).await != 202 {
            return Err("ingest refused".into());
        }
        let mut rows = wait_for("Spain's two rows", T, || async {
            let v = b.js(TABLE_ROWS).await?;
            let rows: Vec<Vec<String>> = serde_json::from_value(v).ok()?;
            (rows.len() == 2).then_some(rows)
        })
        .await?;
        rows.sort();
        let want = vec![
            vec!["3", "Spain", "Search", "$100.00"],
            vec!["4", "Spain", "Search", "$200.00"],
        ];
        if rows != want {
            return Err(format!("table rows {rows:?}"));
        }
        // No other country ever reaches the table.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let again = b.js(TABLE_ROWS).await.unwrap_or_default();
        if again.as_array().map(Vec::len) != Some(2) {
            return Err(format!("table later {again}"));
        }
        // Reloaded, with no new order: the snapshot brings the same rows.
        b.client.refresh().await.map_err(|e| e.to_string())?;
        let mut reloaded = wait_for("the rows from the snapshot", T, || async {
            let v = b.js(TABLE_ROWS).await?;
            let rows: Vec<Vec<String>> = serde_json::from_value(v).ok()?;
            (rows.len() == 2).then_some(rows)
        })
        .await?;
        reloaded.sort();
        if reloaded != want {
            return Err(format!("table after a reload {reloaded:?}"));
        }
        Ok(())
    })
    .await;
}

/// The recent orders table beside revenue by country, to click on.
const REFILTER_DASHBOARD: &str = r#"{"uid": "refilter", "title": "Refilter", "widgets": [
  {"id": "chart-revenue-by-country", "kind": "bar", "title": "Revenue by country",
   "query": {"source": "breakdown", "by": "country"},
   "grid": {"x": 0, "y": 0, "w": 6, "h": 8}},
  {"id": "recent", "kind": "table", "title": "Recent orders",
   "query": {"source": "records"}, "options": {"limit": 20},
   "grid": {"x": 6, "y": 0, "w": 6, "h": 8}}]}"#;

/// The table's order ids and countries, sorted.
async fn table(b: &Browser) -> Option<Vec<(String, String)>> {
    let rows: Vec<Vec<String>> = serde_json::from_value(b.js(TABLE_ROWS).await?).ok()?;
    let mut out: Vec<(String, String)> = rows
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    out.sort();
    Some(out)
}

/// Open the dashboard, push the known records, click China's bar: the
/// table keeps China's rows through the change (never empty), and rows
/// pushed after it are China's only. Returns the viewer connections the
/// server accepted during the change.
async fn click_china_keeps_the_rows(
    b: &Browser,
    server: &Server,
    url: &str,
    ids: u64,
) -> Result<u64, String> {
    b.client.goto(url).await.map_err(|e| e.to_string())?;
    wait_for("live", T, || async {
        let state = b
            .js("return document.querySelector('[data-testid=app]').dataset.state")
            .await?;
        (state == "live").then_some(())
    })
    .await?;
    // The table asks for records once the dashboard is in: a new socket.
    // Rows ride on the frames, so push once that socket is the one open.
    let last = std::cell::Cell::new(None);
    wait_for("the connection settled", T, || async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        let now = livedash_e2e::metric(server.port, "livedash_connections_total").await;
        (now.is_some() && last.replace(now) == now).then_some(())
    })
    .await?;
    // The rows an earlier call pushed are in the window: the snapshot
    // brought them.
    let had = table(b).await.ok_or("table")?.len();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let body: Vec<String> = RECORDS
        .iter()
        .map(|&(o, i, c, s, p)| record((o + ids, i + ids, c, s, p), now))
        .collect();
    if push(server.port, &body.join("\n")).await != 202 {
        return Err("ingest refused".into());
    }
    let id = |o: u64| (o + ids).to_string();
    let all = wait_for("all six rows", T, || async {
        let t = table(b).await?;
        (t.len() == had + 6).then_some(t)
    })
    .await?;
    let china: Vec<(String, String)> = all.iter().filter(|r| r.1 == "China").cloned().collect();
    let before = livedash_e2e::metric(server.port, "livedash_connections_total")
        .await
        .ok_or("metrics")?;
    click_bar(b, "chart-revenue-by-country", "China").await?;
    // From the click on: China's rows, at once and through the snapshot.
    let deadline = std::time::Instant::now() + Duration::from_millis(1500);
    wait_for("the China chip", T, || async {
        let c = b
            .js("return [...document.querySelectorAll('[data-testid=filter-chip]')].map(c => [c.dataset.var, c.dataset.value])")
            .await?;
        (c == serde_json::json!([["country", "China"]])).then_some(())
    })
    .await?;
    while std::time::Instant::now() < deadline {
        let t = table(b).await.ok_or("table")?;
        if t != china {
            return Err(format!(
                "after the filter change the table is {t:?}, not {china:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = livedash_e2e::metric(server.port, "livedash_connections_total")
        .await
        .ok_or("metrics")?;
    // New rows: China's only reach the table.
    let more = [
        (40, 40, "China", "Email", 7.0),
        (41, 41, "Spain", "Search", 8.0),
    ];
    let body: Vec<String> = more
        .iter()
        .map(|&(o, i, c, s, p)| record((o + ids, i + ids, c, s, p), now))
        .collect();
    if push(server.port, &body.join("\n")).await != 202 {
        return Err("ingest refused".into());
    }
    let mut want = china.clone();
    want.push((id(40), "China".into()));
    want.sort();
    wait_for("the new China row, and no Spain", T, || async {
        (table(b).await? == want).then_some(())
    })
    .await?;
    Ok(after - before)
}

#[tokio::test]
async fn a_filter_change_keeps_the_matching_rows_and_its_own_socket() {
    let server = ingest_server_with(REFILTER_DASHBOARD).await;
    let b = Browser::start("filters_refilter").await;
    b.check(|| async {
        // A socket of its own (`share=0`): the filter goes as a `filter`
        // frame on it, no new connection.
        let own = format!("{}/?d=refilter&share=0", server.url());
        let opened = click_china_keeps_the_rows(&b, &server, &own, 0).await?;
        if opened != 0 {
            return Err(format!("{opened} new connections for a filter change"));
        }
        // The browser's shared socket is keyed by its filter: the tab
        // moves to China's socket, and the rows still stay.
        let shared = format!("{}/?d=refilter", server.url());
        click_china_keeps_the_rows(&b, &server, &shared, 100).await?;
        Ok(())
    })
    .await;
}
