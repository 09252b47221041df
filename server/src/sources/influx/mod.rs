//! `POST /api/v2/write`: the InfluxDB v2 write API, so Telegraf
//! (`[[outputs.influxdb_v2]]`) and the InfluxDB client libraries write
//! named series to livedash unchanged.
//!
//! - Query: `bucket` (required, as InfluxDB; any name: every bucket feeds
//!   one namespace of series), `org` (accepted, ignored), `precision`
//!   `ns` (default) / `us` / `ms` / `s` (the clients' long forms too).
//! - `Authorization: Token <ingest token>` (or `Bearer`); without
//!   `--ingest-token` the route answers 404, as the JSON ingest does.
//! - Body: line protocol, parsed by influxdata's `influxdb-line-protocol`
//!   crate, optionally `Content-Encoding: gzip`; `--ingest-max-bytes`
//!   bounds the body as sent *and* as decoded (a gzip bomb gets 413).
//! - Every numeric field of a line is one point of the series
//!   `measurement.field{tag=value,...}` ([`crate::series::name`]): floats,
//!   integers (`i`), unsigned (`u`); booleans become 1 / 0; string fields
//!   are skipped (Telegraf mixes them into numeric lines). NaN and ±inf are
//!   refused. A line without a timestamp takes the server's clock.
//! - All or nothing: the first bad line refuses the whole request with
//!   InfluxDB's error JSON `{"code": "invalid", "message": "line N: ..."}`
//!   (400); `unauthorized` (401), `request too large` (413),
//!   `unprocessable entity` (422: more series than `--max-series`),
//!   `too many requests` (429) and `unavailable` (503) with `Retry-After`.
//!   204 when every point was taken.
//!
//! Accepted points wait in the hub's [`Pending`](crate::series::Pending);
//! a flusher task (started by the first write) publishes them every
//! [`FLUSH_EVERY`]: one `series` frame per written series, at most
//! [`frames_per_flush`] frames per flush, oldest-written series first.

use super::ingest::{gunzip, read_body, IngestError};
use crate::hub::Hub;
use crate::series::{self, Batch, Refused};
use bytes::Buf;
use futures_util::Stream;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use influxdb_line_protocol::{parse_lines, split_lines, FieldValue};
use livedash_shared::SeriesPoint;
use std::collections::HashMap;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use warp::reply::Response;

/// How often waiting points are published as `series` frames.
pub const FLUSH_EVERY: Duration = Duration::from_millis(250);
/// Points accepted and not yet published, at most, over all series; a
/// write past it gets 429 (a single larger write is taken when nothing
/// waits).
pub const MAX_WAITING_POINTS: usize = 1_000_000;
/// Bodies at least this large are parsed on a blocking thread.
const BLOCKING_PARSE_BYTES: usize = 64 * 1024;
/// `Retry-After` seconds with 429.
const RETRY_BUSY_S: u64 = 1;
/// `Retry-After` seconds with 503.
const RETRY_UNAVAILABLE_S: u64 = 5;

/// `series` frames per flush, at most: a small share of the broadcast ring,
/// so a burst of series never pushes a client past the ring's end.
pub fn frames_per_flush(ring_capacity: u64) -> usize {
    (ring_capacity / 8).clamp(1, 32) as usize
}

/// A refused write, answered as InfluxDB answers.
#[derive(Debug, Clone, PartialEq)]
pub struct InfluxError {
    pub status: StatusCode,
    pub message: String,
}

impl InfluxError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        InfluxError {
            status,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        InfluxError::new(StatusCode::BAD_REQUEST, message)
    }

    /// InfluxDB's `code` for the status.
    pub fn code(&self) -> &'static str {
        match self.status {
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::NOT_FOUND => "not found",
            StatusCode::PAYLOAD_TOO_LARGE => "request too large",
            StatusCode::UNPROCESSABLE_ENTITY => "unprocessable entity",
            StatusCode::TOO_MANY_REQUESTS => "too many requests",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported media type",
            StatusCode::REQUEST_TIMEOUT => "request timeout",
            _ => "invalid",
        }
    }
}

impl From<IngestError> for InfluxError {
    fn from(e: IngestError) -> Self {
        InfluxError::new(e.status, e.message)
    }
}

/// Timestamp precision of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    Ns,
    Us,
    Ms,
    S,
}

impl Precision {
    /// From `?precision=` (absent: ns, as InfluxDB).
    pub fn from_query(q: Option<&str>) -> Result<Precision, InfluxError> {
        match q.unwrap_or("ns") {
            "ns" | "n" => Ok(Precision::Ns),
            "us" | "u" => Ok(Precision::Us),
            "ms" => Ok(Precision::Ms),
            "s" => Ok(Precision::S),
            other => Err(InfluxError::invalid(format!(
                "invalid precision {:?}: expected ns, us, ms or s",
                shorten(other)
            ))),
        }
    }

    /// A line's timestamp as Unix epoch milliseconds.
    pub fn to_ms(self, t: i64) -> Result<u64, String> {
        if t < 0 {
            return Err(format!("timestamp {t} is before 1970"));
        }
        let ms = match self {
            Precision::Ns => Some(t / 1_000_000),
            Precision::Us => Some(t / 1_000),
            Precision::Ms => Some(t),
            Precision::S => t.checked_mul(1000),
        };
        ms.map(|m| m as u64)
            .ok_or_else(|| format!("timestamp {t} is out of range for precision s"))
    }
}

/// At most 40 characters of user text for a message.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((end, _)) => format!("{}...", &s[..end]),
        None => s.to_string(),
    }
}

/// The point value of a field; `None` for string fields (skipped).
fn value(v: &FieldValue<'_>) -> Option<Result<f64, String>> {
    let x = match v {
        FieldValue::F64(x) => *x,
        FieldValue::I64(x) => *x as f64,
        FieldValue::U64(x) => *x as f64,
        FieldValue::Boolean(b) => f64::from(u8::from(*b)),
        FieldValue::String(_) => return None,
    };
    Some(if x.is_finite() {
        Ok(x)
    } else {
        Err(format!("{x} is not a finite number"))
    })
}

/// Parse a whole body into points grouped per series, or the first bad
/// line (1-based, counting every line of the body).
pub fn parse(body: &[u8], precision: Precision, now_ms: u64) -> Result<Batch, InfluxError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        let at = e.valid_up_to();
        let line = 1 + body[..at].iter().filter(|&&b| b == b'\n').count();
        InfluxError::invalid(format!("line {line}: invalid UTF-8"))
    })?;
    let mut batch: Batch = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut lines = 0usize;
    let mut line = 1usize;
    for chunk in split_lines(text) {
        let n = line;
        // The next chunk starts after this one's own newlines (inside
        // quoted strings) and the one that ended it.
        line += 1 + chunk.matches('\n').count();
        let chunk = chunk.strip_suffix('\r').unwrap_or(chunk);
        let Some(parsed) = parse_lines(chunk).next() else {
            continue; // blank or a comment
        };
        let at = |what: String| InfluxError::invalid(format!("line {n}: {what}"));
        let parsed = parsed.map_err(|e| at(e.to_string()))?;
        lines += 1;
        let ts = match parsed.timestamp {
            Some(t) => precision.to_ms(t).map_err(at)?,
            None => now_ms,
        };
        let mut tags: Vec<(&str, &str)> = parsed
            .series
            .tag_set
            .iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        tags.sort_unstable();
        if let Some(w) = tags.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(at(format!("duplicate tag {:?}", shorten(w[0].0))));
        }
        for (field, v) in &parsed.field_set {
            let Some(v) = value(v) else { continue };
            let v = v.map_err(|e| at(format!("field {:?}: {e}", shorten(field))))?;
            let name = series::name(parsed.series.measurement.as_str(), field, &tags);
            if name.len() > series::MAX_NAME_BYTES {
                return Err(at(format!(
                    "series name {:?} is {} bytes, longer than {}",
                    shorten(&name),
                    name.len(),
                    series::MAX_NAME_BYTES
                )));
            }
            let point = SeriesPoint { ts, value: v };
            match index.get(&name) {
                Some(&i) => batch[i].1.push(point),
                None => {
                    index.insert(name.clone(), batch.len());
                    batch.push((name, vec![point]));
                }
            }
        }
    }
    if lines == 0 {
        return Err(InfluxError::invalid("writing requires points"));
    }
    Ok(batch)
}

/// InfluxDB's error body, with `Retry-After` where it applies.
fn refuse(e: InfluxError) -> Response {
    let body = serde_json::json!({ "code": e.code(), "message": e.message });
    let mut r = Response::new(body.to_string().into());
    *r.status_mut() = e.status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let retry = match e.status {
        StatusCode::TOO_MANY_REQUESTS => Some(RETRY_BUSY_S),
        StatusCode::SERVICE_UNAVAILABLE => Some(RETRY_UNAVAILABLE_S),
        _ => None,
    };
    if let Some(s) = retry {
        h.insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    if e.status == StatusCode::UNAUTHORIZED {
        h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Token"));
    }
    r
}

/// Checks before the body is read: token, availability, query, encoding,
/// declared length. Returns the precision and whether the body is gzip.
fn check(
    hub: &Hub,
    shutdown: &watch::Receiver<bool>,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<(Precision, bool), InfluxError> {
    let secret = hub.config.ingest_token.as_ref().ok_or_else(|| {
        InfluxError::new(
            StatusCode::NOT_FOUND,
            "the write API is off (start livedash with --ingest-token)",
        )
    })?;
    let h = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let presented = h(header::AUTHORIZATION).and_then(|a| {
        let (scheme, token) = a.trim().split_once(' ')?;
        let known = scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer");
        known.then(|| token.trim())
    });
    if !presented.is_some_and(|t| secret.matches(t)) {
        crate::metrics::Metrics::add(&hub.metrics.unauthorized, 1);
        return Err(InfluxError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized access: Authorization: Token <ingest token> required",
        ));
    }
    if *shutdown.borrow() {
        return Err(InfluxError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        ));
    }
    if !hub.broker.ok() {
        return Err(InfluxError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the broker (Redis) is unreachable: nothing can be published",
        ));
    }
    if query.get("bucket").is_none_or(|b| b.trim().is_empty()) {
        return Err(InfluxError::invalid(
            "missing the bucket parameter (?bucket=NAME)",
        ));
    }
    let precision = Precision::from_query(query.get("precision").map(String::as_str))?;
    let gzip = match h(header::CONTENT_ENCODING).map(|e| e.trim().to_ascii_lowercase()) {
        None => false,
        Some(e) if e == "identity" || e.is_empty() => false,
        Some(e) if e == "gzip" || e == "x-gzip" => true,
        Some(e) => {
            return Err(InfluxError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Encoding {:?}: only gzip is supported", shorten(&e)),
            ))
        }
    };
    let max = hub.config.ingest_max_bytes;
    if let Some(len) = h(header::CONTENT_LENGTH).and_then(|l| l.parse::<u64>().ok()) {
        if len > max {
            return Err(InfluxError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body larger than {max} bytes (--ingest-max-bytes)"),
            ));
        }
    }
    Ok((precision, gzip))
}

/// Handle `POST /api/v2/write`.
pub async fn handle<S, B>(
    hub: Arc<Hub>,
    shutdown: watch::Receiver<bool>,
    query: HashMap<String, String>,
    headers: HeaderMap,
    body: S,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    match accept(&hub, &shutdown, &query, &headers, body).await {
        Ok(()) => {
            start_flusher(&hub, &shutdown);
            let mut r = Response::new(Default::default());
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
        Err(e) => refuse(e),
    }
}

/// Read, decode, parse, and hand the points to the hub (all or nothing).
async fn accept<S, B>(
    hub: &Arc<Hub>,
    shutdown: &watch::Receiver<bool>,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: S,
) -> Result<(), InfluxError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let (precision, gzip) = check(hub, shutdown, query, headers)?;
    let inbox = hub.inbox.as_ref().expect("there with the token");
    // Memory for bodies is bounded: a few at once (shared with the JSON
    // ingest), each bounded.
    let _reading = inbox.readers.try_acquire().map_err(|_| {
        InfluxError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many write requests are being read already; retry shortly",
        )
    })?;
    let max = hub.config.ingest_max_bytes;
    let mut body = read_body(body, max).await?;
    if gzip {
        body = gunzip(&body, max)?;
    }
    let now = livedash_shared::now_ms();
    let batch = if body.len() >= BLOCKING_PARSE_BYTES {
        tokio::task::spawn_blocking(move || parse(&body, precision, now))
            .await
            .map_err(|_| {
                InfluxError::new(StatusCode::INTERNAL_SERVER_ERROR, "the parser failed")
            })??
    } else {
        parse(&body, precision, now)?
    };
    if *shutdown.borrow() {
        return Err(InfluxError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        ));
    }
    let written = crate::hub::lock(&hub.series).write(batch);
    written.map_err(|e| match e {
        Refused::TooManySeries { new, known, max } => InfluxError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "series limit reached: the request adds {new} new series to {known}, \
                 at most {max} (--max-series); nothing was written"
            ),
        ),
        Refused::Busy { pending, max } => InfluxError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{pending} points are waiting to be published (at most {max}); retry shortly"),
        ),
    })
}

/// Publish what waits: at most [`frames_per_flush`] series, one frame
/// each. Returns the frames published.
pub fn flush(hub: &Hub) -> usize {
    let due = crate::hub::lock(&hub.series).take(frames_per_flush(hub.config.ring_capacity));
    let n = due.len();
    for (name, points) in due {
        hub.publish_series(name, points);
    }
    n
}

/// Start the flusher task once (the first accepted write does); it runs
/// until shutdown.
fn start_flusher(hub: &Arc<Hub>, shutdown: &watch::Receiver<bool>) {
    if hub.series_flusher.swap(true, SeqCst) {
        return;
    }
    let hub = hub.clone();
    let mut shutdown = shutdown.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(FLUSH_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => { flush(&hub); }
                r = shutdown.changed() => if r.is_err() || *shutdown.borrow() { break },
            }
        }
    });
}

#[cfg(test)]
mod tests;
