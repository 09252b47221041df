//! `/api/alerts/rules` and `/api/alerts/log`.
//!
//! | request | answer |
//! |---|---|
//! | `GET /api/alerts/rules` | 200, every rule by id |
//! | `POST /api/alerts/rules` | 201 + the rule with its `id` |
//! | `GET /api/alerts/rules/{id}` | 200 + the rule |
//! | `PUT /api/alerts/rules/{id}` | 200 + the rule (a changed condition starts over from normal) |
//! | `DELETE /api/alerts/rules/{id}` | 204 |
//! | `GET /api/alerts/log?after=ID&limit=N` | 200, entries with an id above `after`, oldest first (`limit` 1–1000, default 100) |
//!
//! Reads need the viewer token when there is one; writes are guarded like
//! `/api/dashboards` (foreign Origin 403; with `--admin-token`, Bearer
//! 401), `Content-Type: application/json` (415), at most [`MAX_BODY`]
//! (413), JSON (400), a valid rule (422 naming the `field`).

// Handlers answer a refusal with its whole `Response` (the cold path).
#![allow(clippy::result_large_err)]

use super::rule;
use crate::dashboards::{error, guard, json_reply, read_body, store_error};
use crate::history::api::{unauthorized, viewer_ok};
use crate::hub::{lock, Hub};
use crate::store::alerts::RuleError;
use crate::store::Store;
use bytes::Buf;
use futures_util::Stream;
use http::{header, HeaderMap, Method, StatusCode};
use livedash_shared::AlertRule;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use warp::filters::path::Tail;
use warp::reply::Response;
use warp::{Filter, Reply};

/// Largest rule body.
pub const MAX_BODY: usize = 16 * 1024;

/// Most log entries per request.
pub const MAX_LOG: usize = 1000;

/// What every handler needs.
#[derive(Clone)]
struct Ctx {
    /// Config, metrics, the rules in force.
    hub: Arc<Hub>,
    /// Where rules and the log live.
    store: Store,
}

type Answer = Result<Response, Response>;

/// Every `/api/alerts/...` route.
pub fn routes(
    hub: Arc<Hub>,
    store: Store,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    let ctx = Ctx { hub, store };
    warp::path!("api" / "alerts" / ..)
        .and(warp::path::tail())
        .and(warp::method())
        .and(warp::query::<HashMap<String, String>>())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(move |tail: Tail, method, q, headers, body| {
            let ctx = ctx.clone();
            let tail = tail.as_str().trim_end_matches('/').to_string();
            async move {
                handle(&ctx, &tail, method, &q, &headers, body)
                    .await
                    .unwrap_or_else(|e| e)
            }
        })
}

async fn handle<S, B>(
    ctx: &Ctx,
    tail: &str,
    method: Method,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: S,
) -> Answer
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let read = method == Method::GET || method == Method::HEAD;
    if read {
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if !viewer_ok(&ctx.hub, q.get("token").map(String::as_str), auth) {
            return Err(unauthorized());
        }
    } else {
        guard(&ctx.hub, headers, "alert rules").map_err(|r| *r)?;
    }
    let id = tail.strip_prefix("rules/").map(|id| {
        id.parse::<u64>()
            .map_err(|_| not_found(&format!("no alert rule has id {id:?}")))
    });
    match (tail, id, method) {
        ("log", _, _) if read => log(ctx, q).await,
        ("rules", _, _) if read => {
            let all = ctx.store.alert_rules().await.map_err(store_error)?;
            Ok(json_reply(StatusCode::OK, &json!(all)))
        }
        ("rules", _, Method::POST) => create(ctx, headers, body).await,
        (_, Some(id), _) if read => {
            let r = ctx.store.alert_rule(id?).await.map_err(store_error)?;
            let r = r.ok_or_else(|| not_found("no alert rule has this id"))?;
            Ok(json_reply(StatusCode::OK, &json!(r)))
        }
        (_, Some(id), Method::PUT) => update(ctx, id?, headers, body).await,
        (_, Some(id), Method::DELETE) => {
            let id = id?;
            if !ctx.store.delete_alert_rule(id).await.map_err(store_error)? {
                return Err(not_found("no alert rule has this id"));
            }
            lock(&ctx.hub.history.alerts).remove(id);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        ("rules" | "log", _, _) | (_, Some(_), _) => Err(error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "see the table in README.md: GET/POST /api/alerts/rules, \
             GET/PUT/DELETE /api/alerts/rules/{id}, GET /api/alerts/log",
        )),
        _ => Err(not_found("no such alerts resource")),
    }
}

async fn create<S, B>(ctx: &Ctx, headers: &HeaderMap, body: S) -> Answer
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let r = read_rule(headers, body).await?;
    let stored = ctx.store.create_alert_rule(r).await.map_err(rule_error)?;
    lock(&ctx.hub.history.alerts).put(stored.clone());
    Ok(json_reply(StatusCode::CREATED, &json!(stored)))
}

async fn update<S, B>(ctx: &Ctx, id: u64, headers: &HeaderMap, body: S) -> Answer
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let r = read_rule(headers, body).await?;
    let stored = ctx
        .store
        .update_alert_rule(id, r)
        .await
        .map_err(rule_error)?;
    lock(&ctx.hub.history.alerts).put(stored.clone());
    Ok(json_reply(StatusCode::OK, &json!(stored)))
}

async fn log(ctx: &Ctx, q: &HashMap<String, String>) -> Answer {
    let num = |name: &str, default: u64, max: u64| match q.get(name) {
        None => Ok(default),
        Some(v) => v.parse::<u64>().ok().filter(|n| *n <= max).ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                &format!("{name} must be an integer from 0 to {max}, got {v:?}"),
            )
        }),
    };
    let after = num("after", 0, i64::MAX as u64)?;
    let limit = num("limit", 100, MAX_LOG as u64)?.max(1);
    let entries = ctx
        .store
        .alert_log(after, limit as usize)
        .await
        .map_err(store_error)?;
    Ok(json_reply(StatusCode::OK, &json!(entries)))
}

/// Content type, size, JSON, then the rule's own checks.
async fn read_rule<S, B>(headers: &HeaderMap, body: S) -> Result<AlertRule, Response>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    crate::dashboards::require_json(headers, "the rule")?;
    let bytes = read_body(body).await?;
    if bytes.len() > MAX_BODY {
        return Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!("a rule body is at most {MAX_BODY} bytes"),
        ));
    }
    let r: AlertRule = serde_json::from_slice(&bytes).map_err(|e| {
        let message = e.to_string();
        invalid_or_bad(e.is_syntax() || e.is_eof(), field_of(&message), &message)
    })?;
    rule::normalize(r)
        .map_err(|e| invalid_or_bad(false, e.field, &format!("{}: {}", e.field, e.message)))
}

/// The field a serde message names (`missing field `op``), if any.
fn field_of(message: &str) -> &str {
    message.split('`').nth(1).unwrap_or("")
}

fn invalid_or_bad(syntax: bool, field: &str, message: &str) -> Response {
    if syntax {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_json",
            &format!("the body is not valid JSON: {message}"),
        );
    }
    json_reply(
        StatusCode::UNPROCESSABLE_ENTITY,
        &json!({"error": "invalid_rule", "field": field, "message": message}),
    )
}

fn rule_error(e: RuleError) -> Response {
    match e {
        RuleError::NotFound => not_found("no alert rule has this id"),
        RuleError::Full(n) => error(
            StatusCode::CONFLICT,
            "too_many_rules",
            &format!("the server keeps at most {n} alert rules; delete one first"),
        ),
        RuleError::Store(e) => store_error(e),
    }
}

fn not_found(message: &str) -> Response {
    error(StatusCode::NOT_FOUND, "not_found", message)
}
