//! The filters' HTTP side: the raw query string (repeated `var-` keys
//! survive, unlike warp's map of parameters) and the filtered
//! `/api/snapshot`.

use super::FilterSet;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::routes::{json, text};
use crate::snapshot::HistoryCap;
use http::StatusCode;
use warp::reply::Response;
use warp::Filter;

/// The request's query string, empty when it has none.
pub fn raw_query() -> impl Filter<Extract = (String,), Error = std::convert::Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

/// `GET /api/snapshot?var-...`: the snapshot computed over the filter set
/// (the set is used for the request only: created and filled from the
/// window if no connection uses it). 400 for a bad filter, 503 when the
/// server holds as many sets as it allows; `None` without a filter.
pub fn snapshot(hub: &Hub, raw_query: &str, cap: HistoryCap) -> Option<Response> {
    let filter = match FilterSet::from_query_string(raw_query) {
        Ok(f) if f.is_empty() => return None,
        Ok(f) => f,
        Err(e) => return Some(text(StatusCode::BAD_REQUEST, &format!("{e}\n"))),
    };
    let sub = match hub.filters.acquire(&filter, livedash_shared::now_ms()) {
        Ok(sub) => sub,
        Err(full) => {
            let why = format!("{full}\n");
            return Some(text(StatusCode::SERVICE_UNAVAILABLE, &why));
        }
    };
    let (body, _) = super::snapshot::build(hub, &sub.entry, cap);
    Metrics::add(&hub.metrics.snapshots_sent, 1);
    Some(json(warp::hyper::body::Bytes::copy_from_slice(
        body.as_bytes(),
    )))
}
