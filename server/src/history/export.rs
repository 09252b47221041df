//! `GET /api/export?series=NAME&from=MS&to=MS&format=csv|json`: one
//! series at full resolution, read like `/api/history` ([`super::api::series`]
//! with no point limit): the minute tier before the first point held in
//! memory, every sample from there on.
//!
//! - `from`/`to`: Unix ms or `now`, `now-1h`, ... (default the last hour).
//! - `format=csv` (default): a header line `ts,value,min,max,count`, then
//!   one row per point; a sample is a row of one (`min = max = value`,
//!   `count = 1`), a minute row carries its average in `value`.
//! - `format=json`: `{"series", "from", "to", "points": [{"ts", "value"}, ...]}`
//!   with numbers as numbers (minute rows add `min`, `max`, `count`).
//!
//! The points are read first (one copy under the registry lock, one store
//! read), then the body is streamed in chunks of [`CHUNK`] rows, so the
//! formatted text is never held whole. Errors are JSON like `/api/history`.

use super::api::{self, unauthorized, viewer_ok};
use super::query::{Point, RangeParams};
use crate::dashboards::{error, store_error};
use crate::hub::Hub;
use crate::store::Store;
use http::{header, HeaderValue, StatusCode};
use std::sync::Arc;
use warp::reply::Response;
use warp::{Filter, Reply};

/// Rows formatted per body chunk.
pub const CHUNK: usize = 1000;

/// The file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A header line, then `ts,value,min,max,count` rows.
    Csv,
    /// One JSON object with a `points` array.
    Json,
}

/// A checked export request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The series.
    pub series: String,
    /// Start, Unix ms (inclusive).
    pub from: u64,
    /// End, Unix ms (inclusive).
    pub to: u64,
    /// How the body is written.
    pub format: Format,
}

/// Parse the query string (`raw`, undecoded) at time `now`.
pub fn parse(raw: &str, now: u64) -> Result<Request, String> {
    let (mut series, mut range, mut format) = (None::<String>, RangeParams::default(), Format::Csv);
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        if range.take(&k, &v, now)? {
            continue;
        }
        match k.as_ref() {
            "series" if series.as_deref().is_some_and(|s| s != v) => {
                return Err("name one series per export".into())
            }
            "series" => series = Some(v.into_owned()),
            "format" => {
                format = match v.as_ref() {
                    "csv" => Format::Csv,
                    "json" => Format::Json,
                    _ => return Err(format!("format must be csv or json, got {v:?}")),
                }
            }
            _ => {} // `token`, cache busters
        }
    }
    let series = series
        .filter(|s| !s.is_empty())
        .ok_or("name the series: ?series=system.cpu_percent (GET /api/series lists them)")?;
    let (from, to) = range.range(now)?;
    Ok(Request {
        series,
        from,
        to,
        format,
    })
}

/// One CSV row (with its line end).
pub fn csv_row(p: &Point) -> String {
    let (min, max, count) = (
        p.min.unwrap_or(p.value),
        p.max.unwrap_or(p.value),
        p.count.unwrap_or(1),
    );
    format!("{},{},{min},{max},{count}\n", p.ts, p.value)
}

/// The body in pieces: head, chunks of rows, tail.
pub fn pieces(req: &Request, points: Vec<Point>) -> impl Iterator<Item = String> {
    let (head, sep, tail) = match req.format {
        Format::Csv => ("ts,value,min,max,count\n".to_string(), "", String::new()),
        Format::Json => (
            format!(
                "{{\"series\":{},\"from\":{},\"to\":{},\"points\":[",
                serde_json::Value::from(req.series.as_str()),
                req.from,
                req.to
            ),
            ",",
            "]}".to_string(),
        ),
    };
    let format = req.format;
    let chunks: Vec<Vec<Point>> = points.chunks(CHUNK).map(<[Point]>::to_vec).collect();
    let body = chunks.into_iter().enumerate().map(move |(i, c)| {
        let rows: Vec<String> = c
            .iter()
            .map(|p| match format {
                Format::Csv => csv_row(p),
                Format::Json => serde_json::to_string(p).unwrap_or_default(),
            })
            .collect();
        let lead = if i > 0 { sep } else { "" };
        format!("{lead}{}", rows.join(sep))
    });
    std::iter::once(head)
        .chain(body)
        .chain(std::iter::once(tail))
}

/// A file name from a series name: letters, digits, `.`, `-`, `_` kept.
fn file_name(series: &str, ext: &str) -> String {
    let stem: String = series
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    format!("{stem}.{ext}")
}

async fn export_reply(hub: Arc<Hub>, store: Store, raw: String, auth: Option<String>) -> Response {
    let token = form_urlencoded::parse(raw.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned());
    if !viewer_ok(&hub, token.as_deref(), auth.as_deref()) {
        return unauthorized();
    }
    let req = match parse(&raw, livedash_shared::now_ms()) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_request", &e),
    };
    if !hub.history.knows(&req.series) {
        let msg = format!(
            "no series is named {:?} (GET /api/series lists them)",
            req.series
        );
        return error(StatusCode::NOT_FOUND, "unknown_series", &msg);
    }
    let full = api::Request {
        series: vec![req.series.clone()],
        from: req.from,
        to: req.to,
        max_points: usize::MAX,
    };
    let points = match api::series(&hub, &store, &req.series, &full).await {
        Ok(s) => s.points,
        Err(e) => return store_error(e),
    };
    let (mime, ext) = match req.format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Json => ("application/json", "json"),
    };
    let chunks = pieces(&req, points).map(Ok::<_, std::convert::Infallible>);
    let mut r = warp::reply::stream(futures_util::stream::iter(chunks)).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        file_name(&req.series, ext)
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// `GET /api/export`.
pub fn route(
    hub: Arc<Hub>,
    store: Store,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    let raw_query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::path!("api" / "export")
        .and(crate::web::get_or_head())
        .and(raw_query)
        .and(warp::header::optional::<String>("authorization"))
        .then(move |raw, auth| export_reply(hub.clone(), store.clone(), raw, auth))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked() {
        let now = 10_000_000;
        let r = parse(
            "series=room.temp%7Bfloor%3D2%7D&from=now-5m&format=json",
            now,
        )
        .unwrap();
        assert_eq!(r.series, "room.temp{floor=2}");
        assert_eq!((r.from, r.to, r.format), (now - 300_000, now, Format::Json));
        let r = parse("series=a&from=1&to=2&token=x", now).unwrap();
        assert_eq!((r.from, r.to, r.format), (1, 2, Format::Csv));
        assert_eq!(parse("series=a", now).unwrap().from, now - 3_600_000);
        for (bad, says) in [
            ("", "name the series"),
            ("series=", "name the series"),
            ("series=a&series=b", "one series"),
            ("series=a&format=xml", "csv or json"),
            ("series=a&from=soon", "from:"),
            ("series=a&to=x", "to:"),
            ("series=a&from=5&to=1", "after"),
        ] {
            let e = parse(bad, now).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    fn points() -> Vec<Point> {
        let mut row = Point::raw(60_000, 2.5);
        (row.min, row.max, row.count) = (Some(1.0), Some(4.0), Some(60));
        let mut v = vec![row];
        v.extend((0..2500).map(|i| Point::raw(120_000 + i, i as f64 * 0.5)));
        v
    }

    #[test]
    fn csv_has_a_header_and_one_row_per_point() {
        let req = parse("series=a&from=0&to=200000", 1).unwrap();
        let body: String = pieces(&req, points()).collect();
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(lines.len(), 2502);
        assert_eq!(lines[0], "ts,value,min,max,count");
        assert_eq!(lines[1], "60000,2.5,1,4,60");
        assert_eq!(lines[2], "120000,0,0,0,1");
        assert_eq!(lines[2501], "122499,1249.5,1249.5,1249.5,1");
        assert_eq!(
            pieces(&req, points()).count(),
            2 + 3,
            "head, 3 chunks, tail"
        );
    }

    #[test]
    fn json_numbers_are_numbers_across_chunks() {
        let req = parse("series=a%22b&from=0&to=200000&format=json", 1).unwrap();
        let body: String = pieces(&req, points()).collect();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["series"], "a\"b");
        let pts = v["points"].as_array().unwrap();
        assert_eq!(pts.len(), 2501);
        assert_eq!(pts[0]["count"], 60);
        assert_eq!(pts[1000]["value"], 499.5);
        assert!(pts[1001].get("count").is_none());
        let empty: String = pieces(&req, vec![]).collect();
        let v: serde_json::Value = serde_json::from_str(&empty).unwrap();
        assert_eq!(v["points"], serde_json::json!([]));
        assert_eq!(
            file_name("room.temp{floor=2}", "csv"),
            "room.temp_floor_2_.csv"
        );
    }
}
