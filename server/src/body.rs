//! Reading request bodies for the JSON and ingest endpoints: a size bound
//! checked chunk by chunk (a body is never buffered past its limit), a
//! deadline for slow senders, and the `Content-Type` check. Each endpoint
//! turns a [`BodyError`] into its own error format.

use bytes::Buf;
use futures_util::{Stream, StreamExt};
use std::time::Duration;
use warp::http::{header, HeaderMap};

/// Why a body could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// The connection failed while the body arrived.
    Read(String),
    /// It passed the limit (the rest was not read).
    TooLarge,
    /// It did not arrive within the deadline.
    Timeout,
}

/// Read the body, stopping as soon as it passes `max` bytes or `deadline`.
pub async fn read_limited<S, B>(body: S, max: u64, deadline: Duration) -> Result<Vec<u8>, BodyError>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let read = async {
        tokio::pin!(body);
        let mut out = Vec::new();
        while let Some(chunk) = body.next().await {
            let mut chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
            if (out.len() + chunk.remaining()) as u64 > max {
                return Err(BodyError::TooLarge);
            }
            while chunk.has_remaining() {
                let c = chunk.chunk();
                out.extend_from_slice(c);
                let n = c.len();
                chunk.advance(n);
            }
        }
        Ok(out)
    };
    tokio::time::timeout(deadline, read)
        .await
        .unwrap_or(Err(BodyError::Timeout))
}

/// The request's `Content-Type` as sent (`""` when missing), and whether
/// its essence is `application/json` (parameters such as `charset` aside).
pub fn json_content_type(headers: &HeaderMap) -> (&str, bool) {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    (ct, essence.eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn chunks(parts: &[&'static str]) -> impl Stream<Item = Result<Bytes, warp::Error>> {
        futures_util::stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p.as_bytes())))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn a_body_is_read_whole_up_to_its_limit_and_no_further() {
        let t = Duration::from_secs(1);
        let ok = read_limited(chunks(&["{\"a\":", "1}"]), 7, t).await;
        assert_eq!(ok.unwrap(), b"{\"a\":1}");
        let over = read_limited(chunks(&["{\"a\":", "12}"]), 7, t).await;
        assert_eq!(over, Err(BodyError::TooLarge));
    }

    #[tokio::test]
    async fn a_body_that_never_ends_times_out() {
        let never = futures_util::stream::pending::<Result<Bytes, warp::Error>>();
        let r = read_limited(never, 10, Duration::from_millis(20)).await;
        assert_eq!(r, Err(BodyError::Timeout));
    }

    #[test]
    fn json_content_types_are_recognised_with_parameters() {
        let mut h = HeaderMap::new();
        assert_eq!(json_content_type(&h), ("", false));
        h.insert(
            header::CONTENT_TYPE,
            "Application/JSON; charset=utf-8".parse().unwrap(),
        );
        assert!(json_content_type(&h).1);
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert_eq!(json_content_type(&h), ("text/plain", false));
    }
}
