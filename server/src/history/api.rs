//! `GET /api/history` and `GET /api/series`.
//!
//! `/api/history?series=A&series=B&from=F&to=T&max_points=N`: `series`
//! repeated (1 to [`MAX_SERIES_PER_REQUEST`]), `from`/`to` as Unix ms or
//! `now`, `now-1h`, ... (default the last hour), `max_points` per series
//! (default [`DEFAULT_MAX_POINTS`], at most [`MAX_POINTS`]). Each series
//! reads the minute tier before its first full-resolution point in memory
//! and full resolution from there on ([`super::query`]). The viewer token
//! is needed as for `/api/snapshot`. Errors are JSON
//! `{"error": CODE, "message": TEXT}`.

use super::query::{self, Point};
use crate::dashboards::{error, json_reply, store_error};
use crate::hub::{lock, Hub};
use crate::metrics::Metrics;
use crate::store::Store;
use http::StatusCode;
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;
use warp::reply::Response;
use warp::Filter;

/// Series one request may ask for, at most.
pub const MAX_SERIES_PER_REQUEST: usize = 16;

/// `max_points` when the request does not say.
pub const DEFAULT_MAX_POINTS: usize = 1000;

/// Largest `max_points`.
pub const MAX_POINTS: usize = 10_000;

/// A checked `/api/history` request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The series asked for, in order, without repeats.
    pub series: Vec<String>,
    /// Start, Unix ms (inclusive).
    pub from: u64,
    /// End, Unix ms (inclusive).
    pub to: u64,
    /// Points per series, at most.
    pub max_points: usize,
}

/// Parse the query string (`raw`, undecoded) at time `now`.
pub fn parse(raw: &str, now: u64) -> Result<Request, String> {
    let mut series: Vec<String> = Vec::new();
    let (mut range, mut max_points) = (query::RangeParams::default(), None);
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        if range.take(&k, &v, now)? {
            continue;
        }
        match k.as_ref() {
            "series" if !series.iter().any(|s| *s == v) => series.push(v.into_owned()),
            "series" => {}
            "max_points" => {
                let n = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_POINTS).contains(n));
                max_points = Some(n.ok_or_else(|| {
                    format!("max_points must be an integer from 1 to {MAX_POINTS}, got {v:?}")
                })?);
            }
            _ => {} // `token`, cache busters
        }
    }
    if series.is_empty() {
        return Err(
            "name at least one series: ?series=system.cpu_percent (GET /api/series lists them)"
                .into(),
        );
    }
    if series.len() > MAX_SERIES_PER_REQUEST {
        return Err(format!(
            "at most {MAX_SERIES_PER_REQUEST} series per request, got {}",
            series.len()
        ));
    }
    let (from, to) = range.range(now)?;
    Ok(Request {
        series,
        from,
        to,
        max_points: max_points.unwrap_or(DEFAULT_MAX_POINTS),
    })
}

/// One series of an answer.
#[derive(Debug, Serialize)]
pub struct SeriesAnswer {
    /// Its name.
    pub name: String,
    /// Where the points came from: `raw` (full resolution), `minute`
    /// (1-minute rows: `value` is the average, with `min`/`max`/`count`),
    /// or `mixed` (minute rows, then raw points).
    pub tier: &'static str,
    /// At most `max_points`, oldest first.
    pub points: Vec<Point>,
}

/// The points of one series for a request.
pub async fn series(
    hub: &Hub,
    store: &Store,
    name: &str,
    req: &Request,
) -> Result<SeriesAnswer, crate::store::StoreError> {
    let (from, to) = (req.from, req.to);
    let (split, raw, pending) = {
        let reg = lock(&hub.history.registry);
        let split = query::split(from, to, reg.full_resolution_from(name));
        let raw = split
            .1
            .map(|(a, b)| reg.raw(name, a, b))
            .unwrap_or_default();
        // Minute rows still in memory were built from points this process
        // holds at full resolution too: only those before it count.
        let pending_to = |b: u64| match split.1 {
            Some((s, _)) => b.min(super::minute::minute_of(s).saturating_sub(1)),
            None => b,
        };
        let pending = split
            .0
            .map(|(a, b)| reg.pending_minutes(name, super::minute::minute_of(a), pending_to(b)))
            .unwrap_or_default();
        (split, raw, pending)
    };
    let (for_minutes, for_raw) = query::share(req.max_points, &split);
    let mut points = Vec::new();
    if let Some((a, b)) = split.0 {
        let stored = store
            .load_minutes(name, super::minute::minute_of(a), b)
            .await?;
        let rows = query::combine_rows(stored, pending);
        points.extend(query::merge_rows(&rows, a, b, for_minutes));
    }
    if let Some((a, b)) = split.1 {
        points.extend(query::envelope(&raw, a, b, for_raw));
    }
    let tier = match split {
        (Some(_), Some(_)) => "mixed",
        (Some(_), None) => "minute",
        _ => "raw",
    };
    Ok(SeriesAnswer {
        name: name.to_string(),
        tier,
        points,
    })
}

/// Whether the request carries the viewer token (query or Bearer) when
/// the server has one.
pub fn viewer_ok(hub: &Hub, query_token: Option<&str>, auth: Option<&str>) -> bool {
    let Some(secret) = &hub.config.viewer_token else {
        return true;
    };
    let bearer = auth.and_then(|a| a.strip_prefix("Bearer ")).map(str::trim);
    let ok = query_token.or(bearer).is_some_and(|t| secret.matches(t));
    if !ok {
        Metrics::add(&hub.metrics.unauthorized, 1);
    }
    ok
}

/// The 401 of a missing or wrong viewer token.
pub fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "a viewer token is required (?token= or Authorization: Bearer)",
    )
}

fn token_of(raw: &str) -> Option<String> {
    form_urlencoded::parse(raw.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

async fn history_reply(hub: Arc<Hub>, store: Store, raw: String, auth: Option<String>) -> Response {
    if !viewer_ok(&hub, token_of(&raw).as_deref(), auth.as_deref()) {
        return unauthorized();
    }
    let req = match parse(&raw, livedash_shared::now_ms()) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", &e),
    };
    if let Some(unknown) = req.series.iter().find(|s| !hub.history.knows(s)) {
        return error(
            StatusCode::NOT_FOUND,
            "unknown_series",
            &format!("no series is named {unknown:?} (GET /api/series lists them)"),
        );
    }
    let mut out = Vec::with_capacity(req.series.len());
    for name in &req.series {
        match series(&hub, &store, name, &req).await {
            Ok(s) => out.push(s),
            Err(e) => return store_error(e),
        }
    }
    let body = json!({
        "from": req.from,
        "to": req.to,
        "max_points": req.max_points,
        "series": out,
    });
    json_reply(StatusCode::OK, &body)
}

/// `/api/history` and `/api/series`.
pub fn routes(
    hub: Arc<Hub>,
    store: Store,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    let raw_query = warp::query::raw().or(warp::any().map(String::new)).unify();
    let history = {
        let (hub, store) = (hub.clone(), store);
        warp::path!("api" / "history")
            .and(crate::web::get_or_head())
            .and(raw_query)
            .and(warp::header::optional::<String>("authorization"))
            .then(move |raw, auth| history_reply(hub.clone(), store.clone(), raw, auth))
    };
    let names = warp::path!("api" / "series")
        .and(crate::web::get_or_head())
        .and(raw_query)
        .and(warp::header::optional::<String>("authorization"))
        .map(move |raw: String, auth: Option<String>| {
            if !viewer_ok(&hub, token_of(&raw).as_deref(), auth.as_deref()) {
                return unauthorized();
            }
            json_reply(StatusCode::OK, &json!(hub.history.names()))
        });
    history.or(names).unify()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked() {
        let now = 10_000_000;
        let r = parse(
            "series=a&series=b%7Bhost%3Dx%7D&series=a&from=now-5m&max_points=50",
            now,
        )
        .unwrap();
        assert_eq!(r.series, ["a", "b{host=x}"]);
        assert_eq!((r.from, r.to, r.max_points), (now - 300_000, now, 50));
        let r = parse("series=a&from=1000&to=2000", now).unwrap();
        assert_eq!(
            (r.from, r.to, r.max_points),
            (1000, 2000, DEFAULT_MAX_POINTS)
        );
        assert_eq!(parse("series=a", now).unwrap().from, now - 3_600_000);
        for (bad, says) in [
            ("", "at least one series"),
            ("series=a&from=later", "from:"),
            ("series=a&to=x", "to:"),
            ("series=a&max_points=0", "max_points"),
            ("series=a&max_points=10001", "max_points"),
            ("series=a&from=2000&to=1000", "after"),
        ] {
            let e = parse(bad, now).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let many: Vec<String> = (0..17).map(|i| format!("series=s{i}")).collect();
        assert!(parse(&many.join("&"), now)
            .unwrap_err()
            .contains("at most 16"));
    }
}
