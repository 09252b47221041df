//! The dashboards REST API against a server started in-process, each with
//! its own temporary `--data-dir`: create / list / get / put / delete,
//! optimistic versions between two editors, the admin token, refused
//! bodies naming their problem, restarts, the `default` dashboard, export
//! and import, and CORS for a page served from another origin.

mod common;

use common::TestServer;
use livedash_shared::Dashboard;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response: status, lowercased header names to values (repeated
/// headers joined with ", "), body.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// Send raw request bytes, read the whole answer (`Connection: close`).
async fn exchange(addr: SocketAddr, raw: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // The server may answer (413) before reading all of a big body.
    let _ = s.write_all(raw).await;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("an answer in time")
        .ok();
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&out)));
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let mut headers = HashMap::<String, String>::new();
    for (k, v) in lines.filter_map(|l| l.split_once(':')) {
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
        headers
            .entry(k)
            .and_modify(|old| *old = format!("{old}, {v}"))
            .or_insert(v);
    }
    assert_ne!(
        headers.get("transfer-encoding").map(String::as_str),
        Some("chunked")
    );
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&out[split + 4..]).to_string(),
    }
}

/// One request with extra header lines (each ending in `\r\n`) and a body.
async fn call(addr: SocketAddr, method: &str, path: &str, extra: &str, body: &str) -> Reply {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Length: {}\r\n{extra}\r\n{body}",
        body.len()
    );
    exchange(addr, req.as_bytes()).await
}

const JSON: &str = "Content-Type: application/json\r\n";

async fn get(addr: SocketAddr, path: &str) -> Reply {
    call(addr, "GET", path, "", "").await
}

async fn post(addr: SocketAddr, path: &str, extra: &str, body: &Value) -> Reply {
    call(
        addr,
        "POST",
        path,
        &format!("{JSON}{extra}"),
        &body.to_string(),
    )
    .await
}

async fn put(addr: SocketAddr, uid: &str, extra: &str, body: &Value) -> Reply {
    let path = format!("/api/dashboards/{uid}");
    call(
        addr,
        "PUT",
        &path,
        &format!("{JSON}{extra}"),
        &body.to_string(),
    )
    .await
}

/// A small valid dashboard: one KPI card and one bar chart.
fn sample(title: &str) -> Value {
    json!({
        "title": title,
        "widgets": [
            {"id": "orders", "kind": "kpi", "title": "Orders",
             "query": {"source": "kpi", "names": ["num_orders"]},
             "grid": {"x": 0, "y": 0, "w": 4, "h": 3}},
            {"id": "by-country", "kind": "bar", "title": "China and Japan",
             "query": {"source": "breakdown", "by": "country",
                       "filters": {"country": ["China", "Japan"]}},
             "options": {"limit": 10, "color": "#5b8cff"},
             "grid": {"x": 4, "y": 0, "w": 8, "h": 9}}
        ]
    })
}

fn uids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|d| d["uid"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn create_list_get_put_delete() {
    let srv = TestServer::start(&[]).await;
    let a = srv.addr;
    let list = get(a, "/api/dashboards").await;
    assert_eq!(list.status, 200);
    assert_eq!(uids(&list.json()), ["default"]);

    let r = post(a, "/api/dashboards", "", &sample("Sales in Asia")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let created = r.json();
    let uid = created["uid"].as_str().unwrap().to_string();
    assert_eq!(uid.len(), 12, "a uid was assigned");
    assert_eq!(created["version"], 1);
    assert_eq!(created["title"], "Sales in Asia");
    assert_eq!(
        created["widgets"][1]["query"]["filters"]["country"],
        json!(["China", "Japan"])
    );
    assert_eq!(r.header("etag"), "\"1\"");
    assert_eq!(r.header("location"), format!("/api/dashboards/{uid}"));

    let r = get(a, &format!("/api/dashboards/{uid}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), created);
    assert_eq!(r.header("etag"), "\"1\"");

    let list = get(a, "/api/dashboards").await.json();
    assert_eq!(uids(&list), ["default", uid.as_str()]);
    assert_eq!(list[1]["title"], "Sales in Asia");
    assert_eq!(list[1]["version"], 1);
    assert_eq!(list[1]["widgets"], 2);
    assert!(list[1]["updated_at"].as_u64().unwrap() > 1_700_000_000_000);

    let mut edited = created.clone();
    edited["title"] = json!("Sales in East Asia");
    edited["widgets"][1]["kind"] = json!("pie");
    let r = put(a, &uid, "If-Match: \"1\"\r\n", &edited).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["version"], 2);
    assert_eq!(r.header("etag"), "\"2\"");
    let stored = get(a, &format!("/api/dashboards/{uid}")).await.json();
    assert_eq!(stored["title"], "Sales in East Asia");
    assert_eq!(stored["widgets"][1]["kind"], "pie");

    let path = format!("/api/dashboards/{uid}");
    let r = call(a, "DELETE", &path, "", "").await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = get(a, &path).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "not_found");
    assert_eq!(call(a, "DELETE", &path, "", "").await.status, 404);
    assert_eq!(uids(&get(a, "/api/dashboards").await.json()), ["default"]);
    srv.stop().await;
}

#[tokio::test]
async fn two_editors_never_overwrite_each_other_silently() {
    let srv = TestServer::start(&[]).await;
    let a = srv.addr;
    let r = post(a, "/api/dashboards", "", &sample("Shared")).await;
    let uid = r.json()["uid"].as_str().unwrap().to_string();
    // Both editors load version 1.
    let mut alice = get(a, &format!("/api/dashboards/{uid}")).await.json();
    let mut bob = alice.clone();
    alice["title"] = json!("Alice's title");
    bob["widgets"][0]["grid"]["w"] = json!(3);

    let r = put(a, &uid, "If-Match: 1\r\n", &alice).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = put(a, &uid, "If-Match: 1\r\n", &bob).await;
    assert_eq!(r.status, 412, "{}", r.body);
    let conflict = r.json();
    assert_eq!(conflict["error"], "version_conflict");
    assert_eq!(conflict["current_version"], 2);
    assert_eq!(conflict["current"]["title"], "Alice's title");
    assert!(
        conflict["message"].as_str().unwrap().contains("version 2"),
        "{conflict}"
    );
    // Alice's save is intact.
    let now = get(a, &format!("/api/dashboards/{uid}")).await.json();
    assert_eq!(now["title"], "Alice's title");
    assert_eq!(now["widgets"][0]["grid"]["w"], 4);

    // Without If-Match: 428, and nothing changes.
    let r = put(a, &uid, "", &bob).await;
    assert_eq!(r.status, 428, "{}", r.body);
    assert!(r.json()["message"].as_str().unwrap().contains("If-Match"));
    assert_eq!(
        get(a, &format!("/api/dashboards/{uid}")).await.json()["version"],
        2
    );

    // Bob merges onto version 2 and saves.
    let mut merged = conflict["current"].clone();
    merged["widgets"][0]["grid"]["w"] = json!(3);
    let r = put(a, &uid, "If-Match: 2\r\n", &merged).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let now = r.json();
    assert_eq!(
        (now["version"].as_u64(), now["title"].as_str()),
        (Some(3), Some("Alice's title"))
    );
    assert_eq!(now["widgets"][0]["grid"]["w"], 3);
    // `*` overwrites whatever is stored, on purpose.
    let r = put(a, &uid, "If-Match: *\r\n", &bob).await;
    assert_eq!((r.status, r.json()["version"].as_u64()), (200, Some(4)));
    // A stale delete is refused too.
    let path = format!("/api/dashboards/{uid}");
    assert_eq!(
        call(a, "DELETE", &path, "If-Match: 3\r\n", "").await.status,
        412
    );
    assert_eq!(
        call(a, "DELETE", &path, "If-Match: 4\r\n", "").await.status,
        204
    );
    srv.stop().await;
}

#[tokio::test]
async fn writes_need_the_admin_token_reads_do_not() {
    let srv = TestServer::start(&["--admin-token", "s3cret"]).await;
    let a = srv.addr;
    for auth in [
        "",
        "Authorization: Bearer wrong\r\n",
        "Authorization: s3cret\r\n",
    ] {
        let r = post(a, "/api/dashboards", auth, &sample("X")).await;
        assert_eq!(r.status, 401, "{auth:?}: {}", r.body);
        assert_eq!(r.json()["error"], "unauthorized");
        assert!(r.header("www-authenticate").starts_with("Bearer"));
    }
    let d = get(a, "/api/dashboards/default").await;
    assert_eq!(d.status, 200, "reads are open");
    let body = d.json();
    assert_eq!(
        put(a, "default", "If-Match: 1\r\n", &body).await.status,
        401
    );
    let r = call(a, "DELETE", "/api/dashboards/default", "", "").await;
    assert_eq!(r.status, 401);
    assert_eq!(
        get(a, "/api/dashboards")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let ok = "Authorization: Bearer s3cret\r\n";
    let r = post(a, "/api/dashboards", ok, &sample("X")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = put(a, "default", &format!("{ok}If-Match: 1\r\n"), &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let metrics = get(a, "/metrics").await.body;
    assert!(
        metrics.contains("livedash_unauthorized_total 5"),
        "{metrics}"
    );
    srv.stop().await;
}

#[tokio::test]
async fn refused_bodies_name_their_problem_and_change_nothing() {
    let srv = TestServer::start(&[]).await;
    let a = srv.addr;
    let path = "/api/dashboards";

    // Too large, declared.
    let big = format!("{{\"title\": \"{}\"}}", "x".repeat(300 * 1024));
    let r = call(a, "POST", path, JSON, &big).await;
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(r.json()["message"].as_str().unwrap().contains("262144"));
    // Too large, chunked (no length announced).
    let chunk = "y".repeat(64 * 1024);
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n{JSON}\
         Transfer-Encoding: chunked\r\n\r\n"
    );
    for _ in 0..5 {
        raw.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    raw.push_str("0\r\n\r\n");
    assert_eq!(exchange(a, raw.as_bytes()).await.status, 413);

    // Not JSON: 400 with serde's position.
    let r = call(
        a,
        "POST",
        path,
        JSON,
        "{\"title\": \"x\",\n \"widgets\": [}",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let e = r.json();
    assert_eq!(e["error"], "bad_json");
    assert!(
        e["message"].as_str().unwrap().contains("line 2 column"),
        "{e}"
    );

    // Not JSON by its Content-Type: 415 (a cross-site form cannot post).
    let r = call(
        a,
        "POST",
        path,
        "Content-Type: text/plain\r\n",
        &sample("T").to_string(),
    )
    .await;
    assert_eq!(r.status, 415, "{}", r.body);

    // Valid JSON, wrong shape or rules: 422 naming the field.
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"widgets": []}), "", "missing field `title`"),
        (
            {
                let mut d = sample("Grid");
                d["widgets"][1]["grid"]["x"] = json!(6);
                d
            },
            "widgets[1].grid.x",
            "x + w = 6 + 8 = 14 leaves the 12-column grid",
        ),
        (
            {
                let mut d = sample("Type");
                d["widgets"][0]["grid"]["h"] = json!("tall");
                d
            },
            "widgets[0].grid.h",
            "invalid type: string",
        ),
        (
            {
                let mut d = sample("Filter");
                d["widgets"][1]["query"]["filters"] = json!({"planet": ["Mars"]});
                d
            },
            "widgets[1].query.filters.planet",
            "unknown field `planet`",
        ),
        (
            {
                let mut d = sample("Dup");
                d["widgets"][1]["id"] = json!("orders");
                d
            },
            "widgets[1].id",
            "already the id of widgets[0]",
        ),
        (
            {
                let mut d = sample("Kind");
                d["widgets"][1]["kind"] = json!("line");
                d
            },
            "widgets[1].query.source",
            "a line widget cannot show breakdown data",
        ),
        (
            json!({"title": "Future", "schema_version": 7}),
            "schema_version",
            "newer livedash",
        ),
        (
            json!({"title": "", "uid": "no spaces please"}),
            "uid",
            "letters, digits",
        ),
    ];
    for (body, field, words) in cases {
        let r = post(a, path, "", &body).await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        let e = r.json();
        assert_eq!(e["error"], "invalid_dashboard");
        assert_eq!(e["field"], field, "{e}");
        assert!(e["message"].as_str().unwrap().contains(words), "{e}");
    }
    // Every problem is listed, not only the first.
    let mut d = sample("");
    d["widgets"][0]["options"] = json!({"color": "blue", "limit": 0});
    let e = post(a, path, "", &d).await.json();
    let fields: Vec<&str> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "title",
            "widgets[0].options.limit",
            "widgets[0].options.color"
        ]
    );
    // A body's uid must match the URL's.
    let mut other = get(a, "/api/dashboards/default").await.json();
    other["uid"] = json!("elsewhere");
    let r = put(a, "default", "If-Match: 1\r\n", &other).await;
    assert_eq!((r.status, r.json()["field"].as_str()), (422, Some("uid")));
    // Methods the resources do not answer.
    let r = call(a, "PATCH", "/api/dashboards/default", "", "").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), "GET, HEAD, PUT, DELETE");

    // Nothing of it was stored.
    let list = get(a, path).await.json();
    assert_eq!(uids(&list), ["default"]);
    assert_eq!(list[0]["version"], 1);
    srv.stop().await;
}

#[tokio::test]
async fn dashboards_survive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap().to_string();
    let srv = TestServer::start(&["--data-dir", &dir]).await;
    let r = post(srv.addr, "/api/dashboards", "", &sample("Kept")).await;
    let saved = r.json();
    let uid = saved["uid"].as_str().unwrap().to_string();
    let mut edited = saved.clone();
    edited["widgets"][1]["options"]["limit"] = json!(5);
    let saved = put(srv.addr, &uid, "If-Match: 1\r\n", &edited).await.json();
    assert_eq!(saved["version"], 2);
    srv.stop().await;

    let srv = TestServer::start(&["--data-dir", &dir]).await;
    let r = get(srv.addr, &format!("/api/dashboards/{uid}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), saved, "the same dashboard, version and time");
    assert_eq!(
        uids(&get(srv.addr, "/api/dashboards").await.json()),
        ["default", uid.as_str()]
    );
    // And versions go on from there.
    let r = put(srv.addr, &uid, "If-Match: 2\r\n", &saved).await;
    assert_eq!(r.json()["version"], 3);
    srv.stop().await;
    assert!(data.path().join("livedash.sqlite3").is_file());
}

#[tokio::test]
async fn the_default_dashboard_always_exists_and_is_the_v1_page() {
    let srv = TestServer::start(&[]).await;
    let a = srv.addr;
    let r = get(a, "/api/dashboards/default").await;
    assert_eq!(r.status, 200);
    let d: Dashboard = serde_json::from_str(&r.body).unwrap();
    assert!(d.updated_at.is_some());
    assert_eq!(
        Dashboard {
            updated_at: None,
            ..d.clone()
        },
        Dashboard::default_v1()
    );
    // Emptied, then "deleted": it comes back as the v1 page, a new version.
    let mut empty = r.json();
    empty["widgets"] = json!([]);
    assert_eq!(
        put(a, "default", "If-Match: 1\r\n", &empty).await.status,
        200
    );
    let r = call(a, "DELETE", "/api/dashboards/default", "", "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let reset: Dashboard = serde_json::from_str(&r.body).unwrap();
    assert_eq!(reset.version, 3);
    assert_eq!(reset.widgets, Dashboard::default_v1().widgets);
    let again: Dashboard =
        serde_json::from_str(&get(a, "/api/dashboards/default").await.body).unwrap();
    assert_eq!(again.widgets.len(), Dashboard::default_v1().widgets.len());
    assert_eq!(again.version, 3);
    srv.stop().await;
}

#[tokio::test]
async fn export_import_and_unknown_kinds_round_trip() {
    let srv = TestServer::start(&[]).await;
    let a = srv.addr;
    // A dashboard from a newer page: an unknown kind and unknown fields.
    let mut doc = sample("From the future");
    doc["uid"] = json!("future");
    doc["tags"] = json!(["ops"]);
    doc["widgets"].as_array_mut().unwrap().push(json!({
        "id": "heat", "kind": "heatmap", "query": {"source": "latency", "bucket_ms": 50},
        "grid": {"x": 0, "y": 9, "w": 12, "h": 6}, "legend": {"show": false}
    }));
    let r = post(a, "/api/dashboards", "", &doc).await;
    assert_eq!(r.status, 201, "{}", r.body);

    let r = get(a, "/api/dashboards/future?download=1").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-disposition"),
        "attachment; filename=\"livedash-dashboard-future.json\""
    );
    let exported = r.json();
    assert_eq!(exported["tags"], json!(["ops"]));
    assert_eq!(exported["widgets"][2]["kind"], "heatmap");
    assert_eq!(exported["widgets"][2]["legend"], json!({"show": false}));
    assert_eq!(exported["widgets"][2]["query"]["bucket_ms"], 50);

    // Importing it where its uid is taken: 409, unless ?overwrite=1.
    let r = post(a, "/api/dashboards", "", &exported).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["current_version"], 1);
    let r = post(a, "/api/dashboards?overwrite=1", "", &exported).await;
    assert_eq!((r.status, r.json()["version"].as_u64()), (200, Some(2)));
    // Without its uid it is imported as a copy.
    let mut copy = exported.clone();
    copy.as_object_mut().unwrap().remove("uid");
    let r = post(a, "/api/dashboards", "", &copy).await;
    assert_eq!(r.status, 201);
    assert_ne!(r.json()["uid"], "future");
    assert_eq!(r.json()["widgets"], exported["widgets"]);

    // On another server, the file keeps its uid and starts at version 1.
    let other = TestServer::start(&[]).await;
    let r = post(other.addr, "/api/dashboards", "", &exported).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let imported = r.json();
    assert_eq!(
        (imported["uid"].as_str(), imported["version"].as_u64()),
        (Some("future"), Some(1))
    );
    assert_eq!(imported["widgets"], exported["widgets"]);
    other.stop().await;
    srv.stop().await;
}

#[tokio::test]
async fn head_and_security_headers_on_the_api() {
    let srv = TestServer::start(&[]).await;
    let a = srv.addr;
    for path in ["/api/dashboards", "/api/dashboards/default"] {
        let head = call(a, "HEAD", path, "", "").await;
        assert_eq!(head.status, 200, "{path}");
        assert!(head.body.is_empty(), "{path}");
        let r = get(a, path).await;
        assert_eq!(r.header("content-type"), "application/json");
        assert_eq!(r.header("cache-control"), "no-store");
        assert_eq!(r.header("x-content-type-options"), "nosniff");
    }
    // The preflight route does not turn other requests' 404 into 405.
    for path in ["/api/nope", "/nope", "/api/dashboards/a/b"] {
        assert_eq!(get(a, path).await.status, 404, "{path}");
    }
    srv.stop().await;
}

const CDN: &str = "https://cdn.example.com";

#[tokio::test]
async fn cors_for_the_cdn_page_and_none_for_a_foreign_one() {
    let srv = TestServer::start(&["--allowed-origin", CDN]).await;
    let a = srv.addr;
    let preflight = |origin: &str, method: &str| {
        format!(
            "Origin: {origin}\r\nAccess-Control-Request-Method: {method}\r\n\
             Access-Control-Request-Headers: authorization, if-match, content-type\r\n"
        )
    };
    for path in [
        "/api/dashboards",
        "/api/dashboards/default",
        "/api/snapshot",
    ] {
        let r = call(a, "OPTIONS", path, &preflight(CDN, "PUT"), "").await;
        assert_eq!(r.status, 204, "{path}: {}", r.body);
        assert_eq!(r.header("access-control-allow-origin"), CDN, "{path}");
        let methods = r.header("access-control-allow-methods");
        for m in ["GET", "POST", "PUT", "DELETE"] {
            assert!(methods.contains(m), "{path}: {methods}");
        }
        let allowed = r
            .header("access-control-allow-headers")
            .to_ascii_lowercase();
        for h in ["authorization", "if-match", "content-type"] {
            assert!(allowed.contains(h), "{path}: {allowed}");
        }
        assert!(r.header("vary").contains("Origin"), "{path}");

        let r = call(
            a,
            "OPTIONS",
            path,
            &preflight("https://evil.example", "PUT"),
            "",
        )
        .await;
        assert_eq!(r.header("access-control-allow-origin"), "", "{path}");
        assert_eq!(r.header("access-control-allow-methods"), "", "{path}");
        assert_ne!(r.status / 100, 2, "{path}");

        let r = call(a, "GET", path, &format!("Origin: {CDN}\r\n"), "").await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("access-control-allow-origin"), CDN, "{path}");
        assert!(r.header("vary").contains("Origin"), "{path}");
        assert!(r.header("access-control-expose-headers").contains("ETag"));
        let r = call(a, "GET", path, "Origin: https://evil.example\r\n", "").await;
        assert_eq!(r.header("access-control-allow-origin"), "", "{path}");
        assert!(r.header("vary").contains("Origin"), "{path}");
    }
    // The CDN page saves a dashboard cross-origin and reads the new ETag.
    let d = get(a, "/api/dashboards/default").await.json();
    let extra = format!("Origin: {CDN}\r\nIf-Match: 1\r\n");
    let r = put(a, "default", &extra, &d).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("access-control-allow-origin"), CDN);
    assert_eq!(r.header("etag"), "\"2\"");
    // A foreign page cannot write, even with a body browsers send without
    // a preflight, and gets no grant to read the answer.
    let extra = "Origin: https://evil.example\r\nIf-Match: *\r\n";
    let r = put(a, "default", extra, &d).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.header("access-control-allow-origin"), "");
    let r = call(
        a,
        "POST",
        "/api/dashboards",
        "Origin: https://evil.example\r\nContent-Type: text/plain\r\n",
        &sample("CSRF").to_string(),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        get(a, "/api/dashboards")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(get(a, "/api/dashboards/default").await.json()["version"], 2);
    // Not /api: no CORS headers at all.
    let r = call(a, "GET", "/healthz", &format!("Origin: {CDN}\r\n"), "").await;
    assert_eq!(r.header("access-control-allow-origin"), "");
    srv.stop().await;
}

#[tokio::test]
async fn the_servers_own_page_writes_without_cors() {
    let srv = TestServer::start(&[]).await;
    let a = srv.addr;
    let d = get(a, "/api/dashboards/default").await.json();
    let own = format!("Origin: http://{a}\r\nIf-Match: 1\r\n");
    let r = put(a, "default", &own, &d).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("access-control-allow-origin"),
        "",
        "same origin needs no grant"
    );
    srv.stop().await;
}

/// The example in README.md's "Dashboards" section is a valid dashboard:
/// the document cannot drift from the model.
#[tokio::test]
async fn the_readme_example_is_accepted() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md at the workspace root");
    let marker = "<!-- dashboard example";
    let at = readme.find(marker).expect("the marked example");
    let rest = &readme[at..];
    let start = rest.find("```json\n").expect("a json block") + "```json\n".len();
    let end = rest[start..].find("```").expect("a closed block");
    let example: Value = serde_json::from_str(&rest[start..start + end]).expect("valid JSON");
    let srv = TestServer::start(&[]).await;
    let r = post(srv.addr, "/api/dashboards", "", &example).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let stored = r.json();
    assert_eq!(stored["uid"], "asia");
    // Compared as the model (the server writes `0` as `0.0` in `min`).
    let widgets = |v: &Value| -> Vec<livedash_shared::Widget> {
        serde_json::from_value(v["widgets"].clone()).unwrap()
    };
    assert_eq!(widgets(&stored), widgets(&example));
    assert_eq!(stored["filters"], example["filters"]);
    srv.stop().await;
}

/// Rough costs through HTTP, printed: `cargo test --release -p
/// livedash-server --test dashboards -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn measure_save_and_load() {
    let srv = TestServer::start(&[]).await;
    let a = srv.addr;
    let mut d = get(a, "/api/dashboards/default").await.json();
    let n = 200;
    let t = std::time::Instant::now();
    for v in 1..=n {
        d["title"] = json!(format!("save {v}"));
        let r = put(a, "default", &format!("If-Match: {v}\r\n"), &d).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let save = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    let t = std::time::Instant::now();
    for _ in 0..n {
        assert_eq!(get(a, "/api/dashboards/default").await.status, 200);
    }
    let load = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    // 20 editors saving at once: one wins each round, the rest get 412.
    let t = std::time::Instant::now();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let mut d = d.clone();
            tokio::spawn(async move {
                d["title"] = json!(format!("editor {i}"));
                put(a, "default", &format!("If-Match: {}\r\n", n + 1), &d)
                    .await
                    .status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let race = t.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 1);
    assert_eq!(statuses.iter().filter(|&&s| s == 412).count(), 19);
    println!(
        "PUT (v1 default, {} bytes): {save:.2} ms each; GET: {load:.2} ms each; \
         20 concurrent PUTs on one version: 1 × 200, 19 × 412 in {race:.1} ms",
        d.to_string().len()
    );
    srv.stop().await;
}
