//! The dashboards REST API (handlers only: the model and its rules are in
//! `livedash_shared::dashboard`, persistence in [`crate::store`]).
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/dashboards` | 200, `[{uid, title, version, updated_at, widgets}]`, `default` first |
//! | `POST /api/dashboards[?overwrite=1]` | 201 + the stored dashboard (`uid` assigned when absent, `version` 1); a taken uid: 409, or with `?overwrite=1` 200 and the next version (import) |
//! | `GET /api/dashboards/{uid}[?download=1]` | 200 + `ETag: "N"`; `download=1` adds `Content-Disposition: attachment` (export) |
//! | `PUT /api/dashboards/{uid}` + `If-Match: N` or `*` | 200 + version N+1; no If-Match: 428; stale: 412 with the current one |
//! | `DELETE /api/dashboards/{uid}` [+ `If-Match`] | 204; `default` is reset to the v1 layout instead (200 + it) |
//!
//! Writes: a foreign browser `Origin` gets 403 (as on `/ws`), then, with
//! `--admin-token`, `Authorization: Bearer` is required (401); bodies must
//! be `Content-Type: application/json` (415: a cross-site form or a
//! `no-cors` fetch cannot send that without a CORS preflight), at most
//! [`MAX_BODY`] (413), valid JSON (400 naming the position) and a valid
//! dashboard (422 naming the field). Errors are JSON:
//! `{"error": CODE, "message": TEXT, ...}`.

// Handlers answer a refusal with its whole `Response` as the `Err` of a
// `Result`: the cold path, where boxing each one would only add noise.
#![allow(clippy::result_large_err)]

use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::store::dashboards::{Deleted, Expect, WriteError};
use crate::store::{Store, StoreError};
use bytes::Buf;
use futures_util::Stream;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use livedash_shared::dashboard::{self, ModelError, DEFAULT_UID, MAX_UID_LEN};
use livedash_shared::Dashboard;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use warp::filters::path::Tail;
use warp::reply::Response;
use warp::{Filter, Reply};

/// Largest accepted dashboard body (the v1 default is ~3 KiB).
pub const MAX_BODY: usize = 256 * 1024;

/// Bodies read at once, at most (memory stays under 8 × [`MAX_BODY`]).
pub const MAX_CONCURRENT_BODIES: usize = 8;

/// Longest wait for a body to arrive.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What every handler needs.
#[derive(Clone)]
struct Ctx {
    /// Config (tokens, origins) and metrics.
    hub: Arc<Hub>,
    /// Where dashboards live.
    store: Store,
    /// Permits for reading bodies.
    readers: Arc<Semaphore>,
}

/// `/api/dashboards` and `/api/dashboards/{uid}`, every method.
pub fn routes(
    hub: Arc<Hub>,
    store: Store,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    let ctx = Ctx {
        hub,
        store,
        readers: Arc::new(Semaphore::new(MAX_CONCURRENT_BODIES)),
    };
    warp::path!("api" / "dashboards" / ..)
        .and(warp::path::tail())
        .and(warp::method())
        .and(warp::query::<HashMap<String, String>>())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(move |tail: Tail, method, q, headers, body| {
            handle(
                ctx.clone(),
                tail.as_str().to_string(),
                method,
                q,
                headers,
                body,
            )
        })
}

async fn handle<S, B>(
    ctx: Ctx,
    tail: String,
    method: Method,
    q: HashMap<String, String>,
    headers: HeaderMap,
    body: S,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let uid = tail.trim_end_matches('/');
    let read = method == Method::GET || method == Method::HEAD;
    let write = matches!(method, Method::POST | Method::PUT | Method::DELETE);
    if uid.contains('/') {
        return not_found(uid);
    }
    if write {
        if let Err(refused) = guard(&ctx.hub, &headers, "dashboards") {
            return *refused;
        }
    }
    let r = match (uid.is_empty(), method) {
        (true, _) if read => list(&ctx).await,
        (true, Method::POST) => create(&ctx, &q, &headers, body).await,
        (true, _) => Err(not_allowed("GET, HEAD, POST")),
        (false, _) if !dashboard::is_slug(uid, MAX_UID_LEN) => Err(not_found(uid)),
        (false, _) if read => get(&ctx, uid, &q).await,
        (false, Method::PUT) => update(&ctx, uid, &headers, body).await,
        (false, Method::DELETE) => delete(&ctx, uid, &headers).await,
        (false, _) => Err(not_allowed("GET, HEAD, PUT, DELETE")),
    };
    r.unwrap_or_else(|e| e)
}

type Answer = Result<Response, Response>;

/// Origin, then the admin token, for a write to `what` (`dashboards`,
/// `alert rules`).
pub(crate) fn guard(hub: &Hub, headers: &HeaderMap, what: &str) -> Result<(), Box<Response>> {
    let h = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let c = &hub.config;
    if !crate::web::origin_allowed(
        h(header::ORIGIN),
        h(header::HOST),
        &c.allowed_origins,
        &c.public_hosts,
    ) {
        Metrics::add(&hub.metrics.origin_rejected, 1);
        return Err(Box::new(error(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            &format!("this page's origin may not change {what} here (see --allowed-origin)"),
        )));
    }
    if let Some(secret) = &c.admin_token {
        let presented = h(header::AUTHORIZATION).and_then(|a| a.strip_prefix("Bearer "));
        if !presented.is_some_and(|t| secret.matches(t.trim())) {
            Metrics::add(&hub.metrics.unauthorized, 1);
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                &format!("changing {what} needs Authorization: Bearer <admin token>"),
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"livedash\""),
            );
            return Err(Box::new(r));
        }
    }
    Ok(())
}

async fn list(ctx: &Ctx) -> Answer {
    let all = ctx.store.list_dashboards().await.map_err(store_error)?;
    Ok(json_reply(StatusCode::OK, &json!(all)))
}

async fn get(ctx: &Ctx, uid: &str, q: &HashMap<String, String>) -> Answer {
    let d = ctx
        .store
        .get_dashboard(uid)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found(uid))?;
    if !flag(q, "download") {
        return Ok(dashboard_reply(StatusCode::OK, &d));
    }
    // An export: pretty, and saved as a file by browsers.
    let mut text = serde_json::to_string_pretty(&d).expect("a dashboard serializes");
    text.push('\n');
    let mut r = json_text(StatusCode::OK, text);
    with_etag(&mut r, &d);
    let disposition = format!("attachment; filename=\"livedash-dashboard-{uid}.json\"");
    r.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).expect("a uid is a valid header value"),
    );
    Ok(r)
}

async fn create<S, B>(
    ctx: &Ctx,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: S,
) -> Answer
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut d = read_dashboard(ctx, headers, body).await?;
    if d.uid.is_empty() {
        d.uid = new_uid();
    }
    valid(&d)?;
    let overwrite = flag(q, "overwrite");
    match ctx.store.create_dashboard(d, overwrite).await {
        Ok((d, created)) => {
            tracing::info!(uid = %d.uid, version = d.version, created, "dashboard stored");
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let mut r = dashboard_reply(status, &d);
            let location = format!("/api/dashboards/{}", d.uid);
            r.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_str(&location).expect("a uid is a valid header value"),
            );
            Ok(r)
        }
        Err(WriteError::Exists { current }) => Err(json_reply(
            StatusCode::CONFLICT,
            &json!({
                "error": "exists",
                "message": format!(
                    "a dashboard with this uid exists (version {current}): POST with \
                     ?overwrite=1 to replace it, or leave uid out to import a copy"
                ),
                "current_version": current,
            }),
        )),
        Err(e) => Err(write_error(e, "")),
    }
}

async fn update<S, B>(ctx: &Ctx, uid: &str, headers: &HeaderMap, body: S) -> Answer
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let expect = if_match(headers)?.ok_or_else(|| {
        error(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition_required",
            "PUT needs If-Match: <the version you edited> (or * to overwrite whatever is stored)",
        )
    })?;
    let mut d = read_dashboard(ctx, headers, body).await?;
    if d.uid.is_empty() {
        d.uid = uid.to_string();
    } else if d.uid != uid {
        return Err(invalid(
            "uid",
            &format!("is {:?} but the URL says {uid:?}", d.uid),
        ));
    }
    valid(&d)?;
    match ctx.store.update_dashboard(d, expect).await {
        Ok(d) => {
            tracing::info!(uid = %d.uid, version = d.version, "dashboard saved");
            Ok(dashboard_reply(StatusCode::OK, &d))
        }
        Err(e) => Err(write_error(e, uid)),
    }
}

async fn delete(ctx: &Ctx, uid: &str, headers: &HeaderMap) -> Answer {
    let expect = if_match(headers)?;
    match ctx.store.delete_dashboard(uid, expect).await {
        Ok(Deleted::Removed) => {
            tracing::info!(%uid, "dashboard deleted");
            let mut r = Response::default();
            *r.status_mut() = StatusCode::NO_CONTENT;
            Ok(r)
        }
        Ok(Deleted::Reset(d)) => {
            tracing::info!(
                version = d.version,
                "default dashboard reset to the v1 layout"
            );
            Ok(dashboard_reply(StatusCode::OK, &d))
        }
        Err(e) => Err(write_error(e, uid)),
    }
}

/// `If-Match`: absent → `None`; `*` → any; `3`, `"3"` or `W/"3"` → 3.
fn if_match(headers: &HeaderMap) -> Result<Option<Expect>, Response> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(Some(Expect::Any));
    }
    let bare = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    bare.parse::<u64>()
        .map(|n| Some(Expect::Version(n)))
        .map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                "bad_if_match",
                &format!("If-Match must be a version number (as in ETag) or *, got {text:?}"),
            )
        })
}

/// Content type, size, JSON syntax (400), then the model (422).
async fn read_dashboard<S, B>(
    ctx: &Ctx,
    headers: &HeaderMap,
    body: S,
) -> Result<Dashboard, Response>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    require_json(headers, "the dashboard")?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    let _permit = ctx.readers.try_acquire().map_err(|_| {
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "busy",
            "too many dashboard bodies are being read at once; retry shortly",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        r
    })?;
    let bytes = read_body(body).await?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            "bad_json",
            &format!("the body is not valid JSON: {e}"),
        )
    })?;
    dashboard::migrate(value).map_err(|e| model_error(&e))
}

/// 415 unless the request says its body is JSON (`what` names the body
/// in the message: "the dashboard", "the rule").
pub(crate) fn require_json(headers: &HeaderMap, what: &str) -> Result<(), Response> {
    let (ct, json) = crate::body::json_content_type(headers);
    if json {
        return Ok(());
    }
    Err(error(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        &format!("send {what} as Content-Type: application/json, not {ct:?}"),
    ))
}

/// Read the body, stopping as soon as it passes [`MAX_BODY`].
pub(crate) async fn read_body<S, B>(body: S) -> Result<Vec<u8>, Response>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    use crate::body::{read_limited, BodyError};
    read_limited(body, MAX_BODY as u64, READ_TIMEOUT)
        .await
        .map_err(|e| match e {
            BodyError::Read(e) => error(
                StatusCode::BAD_REQUEST,
                "bad_body",
                &format!("reading the body: {e}"),
            ),
            BodyError::TooLarge => too_large(),
            BodyError::Timeout => error(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "the body did not arrive in time",
            ),
        })
}

fn valid(d: &Dashboard) -> Result<(), Response> {
    d.validate().map_err(|e| {
        let first = &e.errors[0];
        json_reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({
                "error": "invalid_dashboard",
                "field": first.field,
                "message": e.to_string(),
                "errors": e.errors,
            }),
        )
    })
}

fn model_error(e: &ModelError) -> Response {
    json_reply(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({
            "error": "invalid_dashboard",
            "field": e.field(),
            "message": e.to_string(),
            "errors": [{"field": e.field(), "message": e.to_string()}],
        }),
    )
}

fn invalid(field: &str, message: &str) -> Response {
    let message = format!("{field}: {message}");
    json_reply(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({
            "error": "invalid_dashboard",
            "field": field,
            "message": message,
            "errors": [{"field": field, "message": message}],
        }),
    )
}

/// A fresh uid: 12 random letters and digits.
fn new_uid() -> String {
    use rand::distributions::{Alphanumeric, DistString};
    Alphanumeric.sample_string(&mut rand::thread_rng(), 12)
}

fn flag(q: &HashMap<String, String>, name: &str) -> bool {
    q.get(name)
        .is_some_and(|v| matches!(v.as_str(), "" | "1" | "true" | "yes"))
}

fn write_error(e: WriteError, uid: &str) -> Response {
    match e {
        WriteError::NotFound => not_found(uid),
        WriteError::Stale { current } => json_reply(
            StatusCode::PRECONDITION_FAILED,
            &json!({
                "error": "version_conflict",
                "message": format!(
                    "dashboard {uid:?} was saved by someone else since you loaded it: it is at \
                     version {}; reload it (it is in `current`), apply your change and save \
                     with that If-Match",
                    current.version
                ),
                "current_version": current.version,
                "current": current,
            }),
        ),
        WriteError::Exists { current } => error(
            StatusCode::CONFLICT,
            "exists",
            &format!("a dashboard with this uid exists (version {current})"),
        ),
        WriteError::Full(n) => error(
            StatusCode::CONFLICT,
            "too_many_dashboards",
            &format!("the server keeps at most {n} dashboards; delete one first"),
        ),
        WriteError::Store(e) => store_error(e),
    }
}

pub(crate) fn store_error(e: StoreError) -> Response {
    tracing::warn!("store: {e}");
    let mut r = match &e {
        StoreError::Busy(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_busy",
            &e.to_string(),
        ),
        _ => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store_error",
            &e.to_string(),
        ),
    };
    if r.status() == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

fn not_found(uid: &str) -> Response {
    let hint = if uid == DEFAULT_UID {
        ""
    } else {
        " (GET /api/dashboards lists them)"
    };
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("no dashboard has uid {uid:?}{hint}"),
    )
}

fn not_allowed(allow: &'static str) -> Response {
    let mut r = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        &format!("this resource answers {allow}"),
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    r
}

fn too_large() -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        &format!("a dashboard body is at most {MAX_BODY} bytes"),
    )
}

pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json_reply(status, &json!({ "error": code, "message": message }))
}

pub(crate) fn json_reply(status: StatusCode, v: &Value) -> Response {
    json_text(status, v.to_string())
}

fn json_text(status: StatusCode, text: String) -> Response {
    let mut r = warp::reply::with_status(text, status).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn with_etag(r: &mut Response, d: &Dashboard) {
    let tag = format!("\"{}\"", d.version);
    r.headers_mut().insert(
        header::ETAG,
        HeaderValue::from_str(&tag).expect("digits are a valid header value"),
    );
}

fn dashboard_reply(status: StatusCode, d: &Dashboard) -> Response {
    let mut r = json_text(
        status,
        serde_json::to_string(d).expect("a dashboard serializes"),
    );
    with_etag(&mut r, d);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(name: &'static str, v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(name, HeaderValue::from_str(v).unwrap());
        m
    }

    #[test]
    fn if_match_forms() {
        assert_eq!(if_match(&HeaderMap::new()).unwrap(), None);
        assert_eq!(if_match(&h("if-match", "*")).unwrap(), Some(Expect::Any));
        for v in ["3", "\"3\"", "W/\"3\"", " 3 "] {
            assert_eq!(
                if_match(&h("if-match", v)).unwrap(),
                Some(Expect::Version(3)),
                "{v}"
            );
        }
        for v in ["three", "-1", "\"\"", "1,2"] {
            assert_eq!(
                if_match(&h("if-match", v)).unwrap_err().status(),
                StatusCode::BAD_REQUEST,
                "{v}"
            );
        }
    }

    #[test]
    fn uids_are_fresh_slugs() {
        let (a, b) = (new_uid(), new_uid());
        assert_ne!(a, b);
        assert!(dashboard::is_slug(&a, MAX_UID_LEN), "{a}");
        assert_eq!(a.len(), 12);
    }
}
