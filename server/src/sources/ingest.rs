//! `POST /api/ingest/orders`: order records pushed over HTTP.
//!
//! The body is a JSON array of records or NDJSON (one record per line),
//! told apart by its first non-space byte (`[` → array). It is read up to
//! `--ingest-max-bytes` (after gzip decoding; reading stops there, 413),
//! parsed and validated whole in the request's task (a large body on a
//! blocking thread, so the runtime's workers keep serving the fan-out),
//! and only if every record is valid is the batch queued in the
//! [`Inbox`](super::Inbox) the orders task drains each tick: all or
//! nothing. Errors are JSON `{"error": "...", "line": N}` naming the first
//! bad line (NDJSON: the 1-based line of the body; array: the 1-based
//! element), with `line: null` when no line is at fault.
//!
//! A record is the v1 record's 12 fields ([`OrderRecord`]):
//! - `user_id`, `order_id`, `item_id`: integers from 0 to 2^64−1;
//! - `age`: an integer from 0 to 255;
//! - `gender`, `country`, `traffic_source`, `category`, `item_status`:
//!   non-empty strings of at most [`MAX_STRING_BYTES`] bytes;
//! - `cost`, `sale_price`: numbers from 0 to [`MAX_PRICE`] dollars (JSON has
//!   no NaN or Infinity; strings are not numbers);
//! - `created_at`: Unix epoch milliseconds, integer, not before 2000-01-01
//!   (a value in seconds is refused, not taken for 1970) and at most
//!   [`MAX_FUTURE_MS`] ahead of the server's clock.
//!
//! Other fields are ignored, so rows that carry more columns (`id`,
//! `status`, ...) can be sent as they are; a misspelt field still fails as
//! a missing one. A record whose `created_at` is already outside the
//! lookback window is valid but expired: it is counted (`"expired": K` in
//! the 202 body, `livedash_ingest_expired_total`) and not added.

use super::Refused;
use crate::hub::Hub;
use crate::metrics::Metrics;
use bytes::Buf;
use futures_util::Stream;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use livedash_shared::OrderRecord;
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use warp::reply::Response;

/// Longest accepted string field, bytes.
pub const MAX_STRING_BYTES: usize = 256;
/// Largest accepted `cost` or `sale_price`, dollars (sums stay exact in
/// integer cents).
pub const MAX_PRICE: f64 = 1e9;
/// Earliest accepted `created_at`: 2000-01-01T00:00:00Z in milliseconds.
pub const MIN_CREATED_AT: u64 = 946_684_800_000;
/// How far ahead of the server's clock `created_at` may be (clock skew).
/// The window expires records in arrival order, so a record from the
/// future would hold back the expiry of every record after it.
pub const MAX_FUTURE_MS: u64 = 60_000;
/// Bodies at least this large are parsed on a blocking thread.
const BLOCKING_PARSE_BYTES: usize = 64 * 1024;
/// The whole body must arrive within this time (408 otherwise).
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Bodies being read or parsed at once, at most (each up to
/// `--ingest-max-bytes`); one more gets 429.
pub const MAX_CONCURRENT_BODIES: usize = 4;
/// `Retry-After` seconds with 429 (the queue drains every tick).
const RETRY_FULL_S: u64 = 1;
/// `Retry-After` seconds with 503.
const RETRY_UNAVAILABLE_S: u64 = 5;

/// A refused request: its status, message and the first bad line.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestError {
    pub status: StatusCode,
    pub message: String,
    pub line: Option<usize>,
}

impl IngestError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        IngestError {
            status,
            message: message.into(),
            line: None,
        }
    }

    fn at(status: StatusCode, line: usize, message: impl fmt::Display) -> Self {
        IngestError {
            status,
            message: format!("line {line}: {message}"),
            line: Some(line),
        }
    }

    fn element(status: StatusCode, n: usize, message: impl fmt::Display) -> Self {
        IngestError {
            status,
            message: format!("line {n} (array element {n}): {message}"),
            line: Some(n),
        }
    }
}

/// A short JSON rendering of a bad value for messages.
fn shown(v: &Value) -> String {
    match v {
        Value::Object(_) => "an object".into(),
        Value::Array(_) => "an array".into(),
        v => {
            let s = v.to_string();
            if s.len() > 40 {
                let mut end = 37;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                format!("{}...", &s[..end])
            } else {
                s
            }
        }
    }
}

fn field<'a>(m: &'a Map<String, Value>, name: &str) -> Result<&'a Value, String> {
    m.get(name)
        .ok_or_else(|| format!("missing field \"{name}\""))
}

fn uint(m: &Map<String, Value>, name: &str, max: u64) -> Result<u64, String> {
    let v = field(m, name)?;
    match v.as_u64() {
        Some(n) if n <= max => Ok(n),
        _ => Err(format!(
            "field \"{name}\": expected an integer from 0 to {max}, got {}",
            shown(v)
        )),
    }
}

/// A string field, moved out of the record (no copy).
fn string(m: &mut Map<String, Value>, name: &str) -> Result<String, String> {
    let v = m
        .get_mut(name)
        .ok_or_else(|| format!("missing field \"{name}\""))?;
    let Value::String(s) = v else {
        return Err(format!(
            "field \"{name}\": expected a string, got {}",
            shown(v)
        ));
    };
    if s.trim().is_empty() {
        return Err(format!("field \"{name}\": must not be empty"));
    }
    if s.len() > MAX_STRING_BYTES {
        return Err(format!(
            "field \"{name}\": {} bytes, longer than {MAX_STRING_BYTES}",
            s.len()
        ));
    }
    Ok(std::mem::take(s))
}

fn money(m: &Map<String, Value>, name: &str) -> Result<f64, String> {
    let v = field(m, name)?;
    let Some(x) = v.as_f64().filter(|x| x.is_finite()) else {
        return Err(format!(
            "field \"{name}\": expected a number, got {}",
            shown(v)
        ));
    };
    if !(0.0..=MAX_PRICE).contains(&x) {
        return Err(format!(
            "field \"{name}\": must be from 0 to {MAX_PRICE:.0}, got {}",
            shown(v)
        ));
    }
    Ok(x)
}

fn created_at(m: &Map<String, Value>, now_ms: u64) -> Result<u64, String> {
    let v = field(m, "created_at")?;
    let Some(t) = v.as_u64() else {
        return Err(format!(
            "field \"created_at\": expected Unix epoch milliseconds (an integer), got {}",
            shown(v)
        ));
    };
    if t < MIN_CREATED_AT {
        return Err(format!(
            "field \"created_at\": {t} is before 2000-01-01; expected Unix epoch milliseconds, not seconds"
        ));
    }
    if t > now_ms + MAX_FUTURE_MS {
        return Err(format!(
            "field \"created_at\": {t} is {} s ahead of the server's clock (at most {} s)",
            (t - now_ms) / 1000,
            MAX_FUTURE_MS / 1000
        ));
    }
    Ok(t)
}

/// Validate one parsed value as an order record.
pub fn record(v: Value, now_ms: u64) -> Result<OrderRecord, String> {
    let Value::Object(mut m) = v else {
        return Err(format!(
            "expected an object with the 12 order record fields, got {}",
            shown(&v)
        ));
    };
    let m = &mut m;
    Ok(OrderRecord {
        user_id: uint(m, "user_id", u64::MAX)?,
        age: uint(m, "age", u8::MAX as u64)? as u8,
        gender: string(m, "gender")?,
        country: string(m, "country")?,
        traffic_source: string(m, "traffic_source")?,
        order_id: uint(m, "order_id", u64::MAX)?,
        item_id: uint(m, "item_id", u64::MAX)?,
        category: string(m, "category")?,
        cost: money(m, "cost")?,
        item_status: string(m, "item_status")?,
        sale_price: money(m, "sale_price")?,
        created_at: created_at(m, now_ms)?,
    })
}

/// Parse and validate a whole body: every record, or the first bad line.
/// 400 for bad syntax or UTF-8, 422 for valid JSON that is not a record.
pub fn parse(body: &[u8], now_ms: u64) -> Result<Vec<OrderRecord>, IngestError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Err(IngestError::new(
            StatusCode::BAD_REQUEST,
            "empty body: expected a JSON array of order records or NDJSON",
        )),
        Some(b'[') => parse_array(body, now_ms),
        Some(_) => parse_ndjson(body, now_ms),
    }
}

/// NDJSON: one record per line; blank lines are skipped; `\r\n` is fine.
fn parse_ndjson(body: &[u8], now_ms: u64) -> Result<Vec<OrderRecord>, IngestError> {
    let mut out = Vec::with_capacity(body.len() / 256);
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let n = i + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if let Err(e) = std::str::from_utf8(line) {
            return Err(IngestError::at(
                StatusCode::BAD_REQUEST,
                n,
                format!("invalid UTF-8 at byte {} of the line", e.valid_up_to() + 1),
            ));
        }
        let v: Value = serde_json::from_slice(line)
            .map_err(|e| IngestError::at(StatusCode::BAD_REQUEST, n, syntax(&e)))?;
        out.push(
            record(v, now_ms)
                .map_err(|e| IngestError::at(StatusCode::UNPROCESSABLE_ENTITY, n, e))?,
        );
    }
    Ok(out)
}

/// serde_json's message, with the column only (a line holds one record).
fn syntax(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rsplit_once(" at line ") {
        Some((what, _)) => format!("{what} at column {}", e.column()),
        None => msg,
    }
}

/// Streams the array's elements: each is validated as it is parsed, so the
/// first bad element is named without building a tree of the whole body.
struct Elements<'a> {
    now_ms: u64,
    out: &'a mut Vec<OrderRecord>,
    /// The first invalid element: its 1-based number and what is wrong.
    bad: &'a mut Option<(usize, String)>,
}

impl<'de> Visitor<'de> for Elements<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array of order records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            match record(v, self.now_ms) {
                Ok(r) => self.out.push(r),
                Err(e) => {
                    *self.bad = Some((self.out.len() + 1, e));
                    return Err(serde::de::Error::custom("invalid record"));
                }
            }
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Elements<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

fn parse_array(body: &[u8], now_ms: u64) -> Result<Vec<OrderRecord>, IngestError> {
    let mut out = Vec::with_capacity(body.len() / 256);
    let mut bad = None;
    let mut de = serde_json::Deserializer::from_slice(body);
    let result = Elements {
        now_ms,
        out: &mut out,
        bad: &mut bad,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    if let Some((n, e)) = bad {
        return Err(IngestError::element(StatusCode::UNPROCESSABLE_ENTITY, n, e));
    }
    if let Err(e) = result {
        // The element being parsed when the syntax broke (or, after the
        // closing bracket, the one after the last).
        let n = out.len() + 1;
        return Err(IngestError::element(
            StatusCode::BAD_REQUEST,
            n,
            format!("{e}"),
        ));
    }
    Ok(out)
}

/// A JSON answer with `Cache-Control: no-store`.
fn json(status: StatusCode, body: &Value) -> Response {
    let mut r = Response::new(body.to_string().into());
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn refuse(hub: &Hub, e: IngestError) -> Response {
    hub.metrics.ingest_answered(e.status.as_u16());
    let mut r = json(
        e.status,
        &serde_json::json!({ "error": e.message, "line": e.line }),
    );
    let retry = match e.status {
        StatusCode::TOO_MANY_REQUESTS => Some(RETRY_FULL_S),
        StatusCode::SERVICE_UNAVAILABLE => Some(RETRY_UNAVAILABLE_S),
        _ => None,
    };
    if let Some(s) = retry {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    if e.status == StatusCode::UNAUTHORIZED {
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
}

/// Whether the server can take records now: 503 while shutting down or
/// while an admin has stopped the orders stream.
fn unavailable(hub: &Hub, shutdown: &watch::Receiver<bool>) -> Option<IngestError> {
    let closed = *shutdown.borrow() || hub.inbox.as_ref().is_none_or(|i| i.is_closed());
    if closed {
        return Some(IngestError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        ));
    }
    if !hub.broker.ok() {
        return Some(IngestError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the broker (Redis) is unreachable: nothing can be published",
        ));
    }
    if !hub.streams.is_on(crate::streams::Stream::Orders) {
        return Some(IngestError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the orders stream is stopped by an admin",
        ));
    }
    None
}

/// Checks before the body is read: token, availability, content type and
/// encoding, declared length. Returns whether the body is gzip.
fn check_headers(
    hub: &Hub,
    shutdown: &watch::Receiver<bool>,
    headers: &HeaderMap,
) -> Result<bool, IngestError> {
    let secret = hub.config.ingest_token.as_ref().ok_or_else(|| {
        IngestError::new(
            StatusCode::NOT_FOUND,
            "ingest is off (start livedash with --ingest-token)",
        )
    })?;
    let h = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let presented = h(header::AUTHORIZATION).and_then(|a| a.strip_prefix("Bearer "));
    if !presented.is_some_and(|t| secret.matches(t.trim())) {
        Metrics::add(&hub.metrics.unauthorized, 1);
        return Err(IngestError::new(
            StatusCode::UNAUTHORIZED,
            "Authorization: Bearer <ingest token> required",
        ));
    }
    if let Some(e) = unavailable(hub, shutdown) {
        return Err(e);
    }
    if let Some(ct) = h(header::CONTENT_TYPE) {
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        // curl's `--data-binary` default type is accepted too.
        let accepted = [
            "application/json",
            "application/x-ndjson",
            "text/plain",
            "application/x-www-form-urlencoded",
        ];
        if !accepted.contains(&mime.as_str()) {
            return Err(IngestError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Type {mime:?}: expected application/json, application/x-ndjson or text/plain"),
            ));
        }
    }
    let gzip = match h(header::CONTENT_ENCODING).map(|e| e.trim().to_ascii_lowercase()) {
        None => false,
        Some(e) if e == "identity" || e.is_empty() => false,
        Some(e) if e == "gzip" || e == "x-gzip" => true,
        Some(e) => {
            return Err(IngestError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Encoding {e:?}: only gzip is supported"),
            ))
        }
    };
    let max = hub.config.ingest_max_bytes;
    if let Some(len) = h(header::CONTENT_LENGTH).and_then(|l| l.parse::<u64>().ok()) {
        if len > max {
            return Err(too_large(max));
        }
    }
    Ok(gzip)
}

fn too_large(max: u64) -> IngestError {
    IngestError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("body larger than {max} bytes (--ingest-max-bytes)"),
    )
}

/// Read the body, stopping as soon as it passes `max` bytes.
pub(super) async fn read_body<S, B>(body: S, max: u64) -> Result<Vec<u8>, IngestError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    use crate::body::{read_limited, BodyError};
    read_limited(body, max, READ_TIMEOUT)
        .await
        .map_err(|e| match e {
            BodyError::Read(e) => {
                IngestError::new(StatusCode::BAD_REQUEST, format!("reading the body: {e}"))
            }
            BodyError::TooLarge => too_large(max),
            BodyError::Timeout => IngestError::new(
                StatusCode::REQUEST_TIMEOUT,
                "the body did not arrive in time",
            ),
        })
}

/// Decode gzip, refusing output over `max` bytes (a zip bomb stops there).
pub(super) fn gunzip(body: &[u8], max: u64) -> Result<Vec<u8>, IngestError> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(body)
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| IngestError::new(StatusCode::BAD_REQUEST, format!("gzip: {e}")))?;
    if out.len() as u64 > max {
        return Err(too_large(max));
    }
    Ok(out)
}

/// Handle `POST /api/ingest/orders`.
pub async fn handle<S, B>(
    hub: Arc<Hub>,
    shutdown: watch::Receiver<bool>,
    headers: HeaderMap,
    body: S,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    match accept(&hub, &shutdown, &headers, body).await {
        Ok((accepted, expired)) => {
            hub.metrics.ingest_answered(202);
            Metrics::add(&hub.metrics.ingest_records, accepted as u64);
            Metrics::add(&hub.metrics.ingest_expired, expired as u64);
            json(
                StatusCode::ACCEPTED,
                &serde_json::json!({ "accepted": accepted, "expired": expired }),
            )
        }
        Err(e) => refuse(&hub, e),
    }
}

/// Read, parse, validate, queue. On success: (records accepted, of which
/// expired).
async fn accept<S, B>(
    hub: &Arc<Hub>,
    shutdown: &watch::Receiver<bool>,
    headers: &HeaderMap,
    body: S,
) -> Result<(usize, usize), IngestError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let gzip = check_headers(hub, shutdown, headers)?;
    let inbox = hub.inbox.as_ref().expect("checked with the token");
    // Memory for bodies is bounded too: a few at once, each bounded.
    let _reading = inbox.readers.try_acquire().map_err(|_| {
        IngestError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{MAX_CONCURRENT_BODIES} ingest requests are being read already; retry shortly"
            ),
        )
    })?;
    let max = hub.config.ingest_max_bytes;
    let raw = read_body(body, max).await?;
    let now = livedash_shared::now_ms();
    let big = gzip || raw.len() >= BLOCKING_PARSE_BYTES;
    let work = move || {
        let text = if gzip { gunzip(&raw, max)? } else { raw };
        parse(&text, now)
    };
    let records = if big {
        tokio::task::spawn_blocking(work).await.map_err(|e| {
            IngestError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("parser failed: {e}"),
            )
        })??
    } else {
        work()?
    };
    let n = records.len();
    let cutoff = now.saturating_sub(hub.config.lookback.as_millis() as u64);
    let live: Vec<OrderRecord> = records
        .into_iter()
        .filter(|r| r.created_at > cutoff)
        .collect();
    let expired = n - live.len();
    if let Some(e) = unavailable(hub, shutdown) {
        return Err(e);
    }
    if let crate::broker::Broker::Redis(r) = &hub.broker {
        // Any replica: queued in Redis for the lease holder's orders task.
        use crate::broker::ingest::Refused as R;
        return match r.push_ingest(&live, hub.config.ingest_queue).await {
            Ok(()) => Ok((n, expired)),
            Err(R::Full) => Err(IngestError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "the cluster's ingest queue holds --ingest-queue {} records already; \
                     retry shortly",
                    hub.config.ingest_queue
                ),
            )),
            Err(R::Down(why)) => Err(IngestError::new(StatusCode::SERVICE_UNAVAILABLE, why)),
        };
    }
    match inbox.try_push(live) {
        Ok(()) => Ok((n, expired)),
        Err(Refused::Full) => Err(IngestError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{} records are waiting for the next tick (--ingest-queue {}); retry shortly",
                inbox.pending(),
                hub.config.ingest_queue
            ),
        )),
        Err(Refused::Closed) => Err(IngestError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_764_547_200_000; // 2025-12-01

    fn rec_json(i: u64) -> Value {
        serde_json::json!({
            "user_id": i, "age": 30, "gender": "F", "country": "Spain",
            "traffic_source": "Email", "order_id": i, "item_id": i * 10,
            "category": "Jeans", "cost": 10.5, "item_status": "Shipped",
            "sale_price": 21.0, "created_at": NOW - 1000
        })
    }

    fn ndjson(lines: &[Value]) -> String {
        lines.iter().map(|v| v.to_string() + "\n").collect()
    }

    fn with(i: u64, name: &str, v: Value) -> Value {
        let mut r = rec_json(i);
        r[name] = v;
        r
    }

    fn err(body: &[u8]) -> IngestError {
        parse(body, NOW).expect_err("refused")
    }

    #[test]
    fn a_json_array_is_parsed() {
        let body = Value::Array((1..=3).map(rec_json).collect()).to_string();
        let got = parse(body.as_bytes(), NOW).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[2].order_id, 3);
        assert_eq!(got[2].item_id, 30);
        assert_eq!(got[0].sale_price, 21.0);
        assert_eq!(got[0].country, "Spain");
        assert_eq!(got[0].created_at, NOW - 1000);
        let spaced = format!("  \n\t{body}\n  ");
        assert_eq!(parse(spaced.as_bytes(), NOW).unwrap().len(), 3);
        assert!(parse(b"[]", NOW).unwrap().is_empty());
    }

    #[test]
    fn ndjson_with_blank_lines_and_crlf() {
        let body = format!(
            "\n{}\r\n\r\n   \n{}\r\n{}",
            rec_json(1),
            rec_json(2),
            rec_json(3)
        );
        let got = parse(body.as_bytes(), NOW).unwrap();
        assert_eq!(
            got.iter().map(|r| r.order_id).collect::<Vec<_>>(),
            [1, 2, 3]
        );
    }

    #[test]
    fn the_first_bad_ndjson_line_is_named() {
        let body = ndjson(&[
            rec_json(1),
            rec_json(2),
            with(3, "sale_price", "12.5x".into()),
            with(4, "age", "old".into()),
        ]);
        let e = err(body.as_bytes());
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.line, Some(3));
        assert_eq!(
            e.message,
            r#"line 3: field "sale_price": expected a number, got "12.5x""#
        );
        // Blank lines count: line numbers are the body's own.
        let body = format!("{}\n\n{{\"user_id\": 1,\n", rec_json(1));
        let e = err(body.as_bytes());
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.line, Some(3));
        assert!(e.message.starts_with("line 3: EOF"), "{}", e.message);
    }

    #[test]
    fn the_first_bad_array_element_is_named() {
        let body = Value::Array(vec![
            rec_json(1),
            rec_json(2),
            with(3, "country", Value::Null),
        ])
        .to_string();
        let e = err(body.as_bytes());
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.line, Some(3));
        assert!(
            e.message
                .contains(r#"field "country": expected a string, got null"#),
            "{}",
            e.message
        );
        let e = err(format!("[{}, 7]", rec_json(1)).as_bytes());
        assert_eq!(
            (e.status, e.line),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(2))
        );
        assert!(e.message.contains("expected an object"), "{}", e.message);
    }

    #[test]
    fn nan_and_infinity_are_refused() {
        for bad in ["NaN", "Infinity", "-Infinity", "1e999"] {
            let line = rec_json(1)
                .to_string()
                .replace("\"sale_price\":21.0", &format!("\"sale_price\":{bad}"));
            assert!(line.contains(bad), "{line}");
            let e = err(line.as_bytes());
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}: {}", e.message);
            assert_eq!(e.line, Some(1));
            let e = err(format!("[{line}]").as_bytes());
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}: {}", e.message);
        }
        let e = err(with(1, "cost", "NaN".into()).to_string().as_bytes());
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e
            .message
            .contains(r#"field "cost": expected a number, got "NaN""#));
        let e = err(with(1, "cost", (-1.0).into()).to_string().as_bytes());
        assert!(e.message.contains("must be from 0"), "{}", e.message);
    }

    #[test]
    fn wrong_types_are_refused() {
        let cases = [
            ("user_id", Value::from(-1), "expected an integer"),
            ("order_id", Value::from(1.5), "expected an integer"),
            ("item_id", Value::from("7"), "expected an integer"),
            ("age", Value::from(256), "from 0 to 255"),
            ("gender", Value::from(1), "expected a string, got 1"),
            ("category", Value::from(""), "must not be empty"),
            ("item_status", serde_json::json!(["x"]), "got an array"),
            ("created_at", Value::from(1_700_000_000u64), "not seconds"),
            (
                "created_at",
                Value::from(NOW + 3_600_000),
                "ahead of the server's clock",
            ),
            (
                "created_at",
                Value::from("2025-12-01"),
                "epoch milliseconds",
            ),
        ];
        for (name, v, want) in cases {
            let e = err(with(1, name, v.clone()).to_string().as_bytes());
            assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{name}={v}");
            assert!(
                e.message.contains(&format!("field \"{name}\"")) && e.message.contains(want),
                "{name}={v}: {}",
                e.message
            );
        }
        let e = err(b"42\n");
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn a_missing_field_is_named_and_extra_fields_are_ignored() {
        let mut r = rec_json(1);
        r.as_object_mut().unwrap().remove("traffic_source");
        let e = err(r.to_string().as_bytes());
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.message, r#"line 1: missing field "traffic_source""#);
        let extra = with(1, "shipped_at", "whenever".into());
        assert_eq!(parse(extra.to_string().as_bytes(), NOW).unwrap().len(), 1);
    }

    #[test]
    fn a_huge_string_is_refused() {
        let e = err(with(1, "country", "x".repeat(257).into())
            .to_string()
            .as_bytes());
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e.message.contains("257 bytes"), "{}", e.message);
        let ok = with(1, "country", "é".repeat(128).into());
        assert_eq!(parse(ok.to_string().as_bytes(), NOW).unwrap().len(), 1);
    }

    #[test]
    fn invalid_utf8_is_a_syntax_error() {
        let good = rec_json(1).to_string();
        let mut body = format!("{good}\n").into_bytes();
        let bad = good.replace("Spain", "Sp\u{1}in").into_bytes();
        let at = bad.iter().position(|&b| b == 1).unwrap();
        let mut bad = bad;
        bad[at] = 0xff;
        body.extend_from_slice(&bad);
        let e = err(&body);
        assert_eq!((e.status, e.line), (StatusCode::BAD_REQUEST, Some(2)));
        assert!(e.message.contains("invalid UTF-8"), "{}", e.message);
        let mut arr = b"[".to_vec();
        arr.extend_from_slice(good.as_bytes());
        arr.push(b',');
        arr.extend_from_slice(&bad);
        arr.push(b']');
        let e = err(&arr);
        assert_eq!((e.status, e.line), (StatusCode::BAD_REQUEST, Some(2)));
    }

    #[test]
    fn truncated_json_is_a_syntax_error() {
        let body = Value::Array((1..=3).map(rec_json).collect()).to_string();
        let cut = &body[..body.len() - 20];
        let e = err(cut.as_bytes());
        assert_eq!((e.status, e.line), (StatusCode::BAD_REQUEST, Some(3)));
        let e = err(format!("{body} trailing").as_bytes());
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = err(b"{\"user_id\": 1");
        assert_eq!((e.status, e.line), (StatusCode::BAD_REQUEST, Some(1)));
        let e = err(b"   \n ");
        assert_eq!((e.status, e.line), (StatusCode::BAD_REQUEST, None));
    }

    proptest::proptest! {
        /// Arbitrary bytes, and valid bodies with one byte changed, never
        /// panic: they parse, or name a line within the body.
        #[test]
        fn any_body_parses_or_names_a_line(
            junk in proptest::collection::vec(proptest::num::u8::ANY, 0..400),
            array in proptest::bool::ANY,
            at in 0usize..10_000,
            byte in proptest::num::u8::ANY,
        ) {
            let _ = parse(&junk, NOW);
            let recs: Vec<Value> = (1..=4).map(rec_json).collect();
            let mut body = if array {
                Value::Array(recs).to_string().into_bytes()
            } else {
                ndjson(&recs).into_bytes()
            };
            let i = at % body.len();
            body[i] = byte;
            match parse(&body, NOW) {
                Ok(got) => proptest::prop_assert!(got.len() <= 4),
                Err(e) => {
                    let lines = if array { 5 } else { body.split(|&b| b == b'\n').count() };
                    proptest::prop_assert!(
                        e.line.is_some_and(|n| (1..=lines).contains(&n)),
                        "{:?}", e
                    );
                    proptest::prop_assert!(
                        e.status == StatusCode::BAD_REQUEST
                            || e.status == StatusCode::UNPROCESSABLE_ENTITY
                    );
                }
            }
        }
    }

    #[test]
    fn gzip_is_decoded_within_the_limit() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut z = GzEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&vec![b' '; 100_000]).unwrap();
        let bomb = z.finish().unwrap();
        assert!(bomb.len() < 2_000);
        let e = gunzip(&bomb, 10_000).unwrap_err();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(gunzip(&bomb, 100_000).unwrap().len(), 100_000);
        assert_eq!(
            gunzip(b"nope", 100).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }
}
