//! HTTP routes: `/ws` (in [`crate::upgrade`]), `/api/stream` (in
//! [`crate::sse`]), `/healthz`,
//! `/metrics`, `/api/snapshot`, `/api/dashboards` (in [`crate::dashboards`])
//! and the static bundle.

use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::snapshot::HistoryCap;
use crate::streams::Stream;
use http::{header, HeaderValue, StatusCode};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;
use warp::filters::path::FullPath;
use warp::reply::Response;
use warp::{Filter, Reply};

/// Origins of the Trunk dev server (`trunk serve`), allowed by default.
pub const DEV_ORIGINS: &[&str] = &["http://127.0.0.1:8080", "http://localhost:8080"];

/// Largest accepted `?history=` value.
const MAX_HISTORY_PARAM: usize = 1_000_000;

/// Whether a browser with this `Origin` may open `/ws` on a server reached
/// as `host`: see [`crate::web::origin_allowed`].
pub fn origin_allowed(
    origin: Option<&str>,
    host: Option<&str>,
    extra: &[String],
    public_hosts: &[String],
) -> bool {
    crate::web::origin_allowed(origin, host, extra, public_hosts)
}

/// Parse the optional `history` query parameter.
pub fn parse_history(q: &HashMap<String, String>) -> Result<Option<usize>, String> {
    match q.get("history") {
        None => Ok(None),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n <= MAX_HISTORY_PARAM => Ok(Some(n)),
            _ => Err(format!(
                "history must be an integer from 0 to {MAX_HISTORY_PARAM}, got {v:?}"
            )),
        },
    }
}

/// `Cache-Control` for a static path: hashed assets forever, the page and
/// its config always revalidated.
pub fn cache_control(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or("");
    if name.is_empty() || name.ends_with(".html") || name == "config.json" {
        return "no-cache";
    }
    let stem = name.split('.').next().unwrap_or("");
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    let hashed = stem
        .rsplit('-')
        .next()
        .is_some_and(|h| h.len() >= 8 && h.chars().all(|c| c.is_ascii_hexdigit()));
    if hashed && stem.contains('-') {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

pub(crate) fn text(status: StatusCode, body: &str) -> Response {
    let mut r = warp::reply::with_status(body.to_string(), status).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

pub(crate) fn json(body: impl Into<warp::hyper::body::Bytes>) -> Response {
    let body: warp::hyper::body::Bytes = body.into();
    let mut r = Response::new(body.into());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// What `/ws` asks for in its query string.
pub fn parse_ws_params(q: &HashMap<String, String>) -> Result<(HistoryCap, bool, bool), String> {
    let flag = |name: &str, default: bool| match q.get(name).map(String::as_str) {
        None => Ok(default),
        Some("1") => Ok(true),
        Some("0") => Ok(false),
        Some(v) => Err(format!("{name} must be 0 or 1, got {v:?}")),
    };
    let history = HistoryCap::for_request(parse_history(q)?);
    let records = flag("records", true)?;
    Ok((
        history.with_records(records),
        records,
        flag("paused", false)?,
    ))
}

/// The token of an `Authorization: Bearer TOKEN` header.
pub(crate) fn bearer(h: Option<&str>) -> Option<&str> {
    h?.strip_prefix("Bearer ").map(str::trim)
}

/// `GET /api/snapshot[?history=N][&token=T]`: the cached snapshot bytes
/// (at most one second old; built at most once a second per size however
/// often it is asked for).
async fn snapshot_reply(
    hub: Arc<Hub>,
    q: HashMap<String, String>,
    raw_query: String,
    auth: Option<String>,
) -> Result<Response, std::convert::Infallible> {
    if let Some(secret) = &hub.config.viewer_token {
        let presented = q
            .get("token")
            .map(String::as_str)
            .or_else(|| bearer(auth.as_deref()));
        if !presented.is_some_and(|t| secret.matches(t)) {
            Metrics::add(&hub.metrics.unauthorized, 1);
            return Ok(text(
                StatusCode::UNAUTHORIZED,
                "a viewer token is required\n",
            ));
        }
    }
    // `history` and `records` as on `/ws`: the same object as a socket's.
    let cap = parse_ws_params(&q).map(|(cap, _, _)| cap);
    if let Some(r) = cap
        .as_ref()
        .ok()
        .and_then(|&c| crate::filters::http::snapshot(&hub, &raw_query, c))
    {
        return Ok(r);
    }
    Ok(match cap {
        Ok(cap) => {
            Metrics::add(&hub.metrics.snapshots_sent, 1);
            let s = hub.snapshot(cap).await;
            json(warp::hyper::body::Bytes::copy_from_slice(
                s.text.as_str().as_bytes(),
            ))
        }
        Err(e) => text(StatusCode::BAD_REQUEST, &format!("{e}\n")),
    })
}

/// `POST /api/streams/{orders|system}/{start|stop}` with the admin token:
/// the tutorials' "start/stop data streams", announced in the feed.
fn control_reply(stream: String, action: String, hub: Arc<Hub>, auth: Option<String>) -> Response {
    let Some(secret) = &hub.config.admin_token else {
        return text(
            StatusCode::NOT_FOUND,
            "control endpoints are off (no --admin-token)\n",
        );
    };
    if !bearer(auth.as_deref()).is_some_and(|t| secret.matches(t)) {
        Metrics::add(&hub.metrics.unauthorized, 1);
        return text(
            StatusCode::UNAUTHORIZED,
            "Authorization: Bearer <admin token> required\n",
        );
    }
    let Some(which) = Stream::parse(&stream) else {
        return text(StatusCode::NOT_FOUND, "stream must be orders or system\n");
    };
    let on = match action.as_str() {
        "start" => true,
        "stop" => false,
        _ => return text(StatusCode::NOT_FOUND, "action must be start or stop\n"),
    };
    let was = hub.streams.set_on(which, on);
    if was != on {
        let verb = if on { "started" } else { "stopped" };
        hub.publish_event(
            livedash_shared::Level::Warn,
            format!("The {stream} stream was {verb} by an admin"),
        );
        hub.publish_streams();
    }
    json(serde_json::json!({ "stream": stream, "running": on }).to_string())
}

/// The `/healthz` body: `status` is `ok` while every stream runs or was
/// stopped on purpose, `degraded` while a producer is failing (or the
/// source, or the broker: Redis unreachable).
pub fn health(hub: &Hub) -> serde_json::Value {
    let streams = hub.streams.status();
    let failing = [&streams.orders, &streams.system]
        .iter()
        .any(|s| s.state == livedash_shared::StreamState::Failed)
        || !streams.source.ok
        || !hub.broker.ok();
    let source = streams.source.clone();
    serde_json::json!({
        "status": if failing { "degraded" } else { "ok" },
        "version": env!("CARGO_PKG_VERSION"),
        "clients": hub.presence.count(),
        "uptime_s": hub.started.elapsed().as_secs_f64(),
        "streams": streams,
        "broker": hub.broker.health(),
        "source": {
            "kind": source.kind,
            "ok": source.ok,
            "error": source.error,
            "ingest": hub.inbox.is_some(),
        },
    })
}

/// The page shown at `/` when no bundle was built.
const NO_BUNDLE: &str = "<!doctype html><meta charset=utf-8><title>livedash</title>\
<body style=\"font-family:system-ui;background:#0f1420;color:#e6e9f0;padding:3rem\">\
<h1>livedash server is running</h1><p>The page bundle was not found in the <code>--dist</code> \
directory. Build it with <code>cargo xtask run</code> (or <code>trunk build --release</code>). \
The WebSocket is at <code>/ws</code>, the snapshot at <code>/api/snapshot</code>.</p>";

/// All routes.
pub fn routes(
    hub: Arc<Hub>,
    store: crate::store::Store,
    shutdown: watch::Receiver<bool>,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    let with_hub = {
        let hub = hub.clone();
        warp::any().map(move || hub.clone())
    };
    let ingest_shutdown = shutdown.clone();
    let sse_shutdown = shutdown.clone();
    let compat = crate::compat::routes(hub.clone(), shutdown.clone());
    let ws = {
        let hub = hub.clone();
        warp::path!("ws")
            .and(crate::web::get_or_head())
            .and(warp::header::headers_cloned())
            .and(crate::accept::remote())
            .and(warp::query::<HashMap<String, String>>())
            .and(crate::filters::http::raw_query())
            .and(warp::ext::optional::<hyper::upgrade::OnUpgrade>())
            .map(move |headers, remote, query, raw, on_upgrade| {
                crate::upgrade::upgrade(&hub, &shutdown, headers, remote, query, raw, on_upgrade)
            })
    };
    let sse = {
        let (hub, shutdown) = (hub.clone(), sse_shutdown);
        warp::path!("api" / "stream")
            .and(crate::web::get_or_head())
            .and(warp::header::headers_cloned())
            .and(crate::accept::remote())
            .and(warp::query::<HashMap<String, String>>())
            .and(crate::filters::http::raw_query())
            .and(warp::ext::optional::<Arc<crate::accept::WriteStall>>())
            .map(move |headers, remote, query, raw_query, stall| {
                let req = crate::sse::Request {
                    headers,
                    remote,
                    query,
                    raw_query,
                    stall,
                };
                crate::sse::reply(&hub, &shutdown, req)
            })
    };
    let healthz = warp::path!("healthz")
        .and(crate::web::get_or_head())
        .and(with_hub.clone())
        .map(|hub: Arc<Hub>| json(health(&hub).to_string()));
    let metrics = warp::path!("metrics")
        .and(crate::web::get_or_head())
        .and(with_hub.clone())
        .map(|hub: Arc<Hub>| {
            let mut body = hub
                .metrics
                .render(hub.queue_depth(), hub.started.elapsed().as_secs_f64());
            body.push_str(&hub.filters.render_metrics());
            body.push_str(&format!(
                "# HELP livedash_broker_up 1 while the broker (Redis with --redis) is reachable.\n\
                 # TYPE livedash_broker_up gauge\nlivedash_broker_up {}\n\
                 # HELP livedash_broker_leader 1 while this replica runs the shared producers.\n\
                 # TYPE livedash_broker_leader gauge\nlivedash_broker_leader {}\n",
                hub.broker.ok() as u8,
                hub.broker.leads() as u8
            ));
            let mut r = Response::new(body.into());
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            r
        });
    let snapshot = warp::path!("api" / "snapshot")
        .and(crate::web::get_or_head())
        .and(with_hub.clone())
        .and(warp::query::<HashMap<String, String>>())
        .and(crate::filters::http::raw_query())
        .and(warp::header::optional::<String>("authorization"))
        .and_then(snapshot_reply);
    let ingest = {
        let shutdown = ingest_shutdown.clone();
        warp::path!("api" / "ingest" / "orders")
            .and(warp::post())
            .and(with_hub.clone())
            .and(warp::any().map(move || shutdown.clone()))
            .and(warp::header::headers_cloned())
            .and(warp::body::stream())
            .then(crate::sources::ingest::handle)
    };
    let influx = {
        let shutdown = ingest_shutdown.clone();
        warp::path!("api" / "v2" / "write")
            .and(warp::post())
            .and(with_hub.clone())
            .and(warp::any().map(move || shutdown.clone()))
            .and(warp::query::<HashMap<String, String>>())
            .and(warp::header::headers_cloned())
            .and(warp::body::stream())
            .then(crate::sources::influx::handle)
    };
    let control = warp::path!("api" / "streams" / String / String)
        .and(warp::post())
        .and(with_hub.clone())
        .and(warp::header::optional::<String>("authorization"))
        .map(control_reply);
    let precompressed = Arc::new(crate::static_files::Precompressed::load(&hub.config.dist));
    let files = crate::web::get_or_head()
        .and(warp::path::full())
        .and(warp::header::optional::<String>("accept-encoding"))
        .and(warp::fs::dir(hub.config.dist.clone()))
        .map(
            move |path: FullPath, accept: Option<String>, file: warp::fs::File| {
                let at = file.path().to_path_buf();
                let mut r = precompressed.respond(&at, accept.as_deref(), file.into_response());
                r.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static(cache_control(path.as_str())),
                );
                r
            },
        );
    // The page asks for `config.json` on every load; a bundle without one
    // means defaults, answered as such rather than with a 404.
    let no_config = warp::path!("config.json")
        .and(crate::web::get_or_head())
        .map(|| {
            let mut r = json("{}".to_string());
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            r
        });
    let no_bundle = warp::path::end().and(crate::web::get_or_head()).map(|| {
        let mut r = warp::reply::html(NO_BUNDLE).into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        r
    });
    let dashboards = crate::dashboards::routes(hub.clone(), store.clone());
    // Boxed: one more `or` in this chain overflows the compiler's type
    // recursion limit in the release binary.
    let history = crate::history::api::routes(hub.clone(), store.clone())
        .or(crate::history::export::route(hub.clone(), store.clone()))
        .unify()
        .boxed();
    let alerts = crate::alerts::api::routes(hub.clone(), store);
    let all = ws
        .or(sse)
        .unify()
        .or(compat)
        .unify()
        .or(healthz)
        .unify()
        .or(dashboards)
        .unify()
        .or(history)
        .unify()
        .or(alerts)
        .unify()
        .or(ingest)
        .unify()
        .or(influx)
        .unify()
        .or(control)
        .unify()
        .or(metrics)
        .unify()
        .or(snapshot)
        .unify()
        .or(files)
        .unify()
        .or(no_config)
        .unify()
        .or(no_bundle)
        .unify();
    crate::web::harden(all, &hub.config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_param() {
        let q = |v: &str| HashMap::from([("history".to_string(), v.to_string())]);
        assert_eq!(parse_history(&HashMap::new()), Ok(None));
        assert_eq!(parse_history(&q("60")), Ok(Some(60)));
        assert!(parse_history(&q("-1")).is_err());
        assert!(parse_history(&q("lots")).is_err());
        assert!(parse_history(&q("99999999999")).is_err());
    }

    #[test]
    fn cache_rules() {
        assert_eq!(cache_control("/"), "no-cache");
        assert_eq!(cache_control("/index.html"), "no-cache");
        assert_eq!(cache_control("/config.json"), "no-cache");
        assert_eq!(
            cache_control("/livedash-client-9f86d081884c7d65_bg.wasm"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(
            cache_control("/livedash-client-9f86d081884c7d65.js"),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(
            cache_control("/livedash-client-8361ca304542133_bg.wasm"),
            "public, max-age=31536000, immutable",
            "trunk's hash has no leading zeros"
        );
        assert_eq!(cache_control("/echarts.min.js"), "no-cache");
        assert_eq!(cache_control("/style-abc.css"), "no-cache");
    }
}
