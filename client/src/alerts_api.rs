//! The alert rule calls the page makes (`/api/alerts/rules`, and
//! `/api/series` for the series picker): reads with the viewer token,
//! writes with the admin token kept for this tab. Browser only.

use crate::api::{authed, message};
use crate::hooks::use_connection::viewer_token;
use gloo_net::http::{Request, Response};
use livedash_shared::AlertRule;

/// `?token=...` when this tab keeps a viewer token.
fn token_query() -> String {
    viewer_token()
        .map(|t| format!("?token={}", js_sys::encode_uri_component(&t)))
        .unwrap_or_default()
}

async fn sent(r: Result<Response, gloo_net::Error>) -> Result<Response, String> {
    let resp = r.map_err(|e| format!("no answer: {e}"))?;
    match resp.status() {
        200..=299 => Ok(resp),
        401 => Err("the admin token is missing or wrong (set it with Edit)".into()),
        _ => Err(message(resp).await),
    }
}

async fn get<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, String> {
    let r = Request::get(url)
        .cache(web_sys::RequestCache::NoCache)
        .send()
        .await;
    sent(r).await?.json().await.map_err(|e| e.to_string())
}

/// `GET /api/alerts/rules`.
pub async fn rules(api: &str) -> Result<Vec<AlertRule>, String> {
    get(&format!("{api}/api/alerts/rules{}", token_query())).await
}

/// `GET /api/series`: every series name the server keeps.
pub async fn series(api: &str) -> Result<Vec<String>, String> {
    get(&format!("{api}/api/series{}", token_query())).await
}

/// `POST /api/alerts/rules` (no id) or `PUT /api/alerts/rules/{id}`: the
/// stored rule.
pub async fn save(api: &str, r: &AlertRule, id: Option<u64>) -> Result<AlertRule, String> {
    let req = match id {
        Some(id) => Request::put(&format!("{api}/api/alerts/rules/{id}")),
        None => Request::post(&format!("{api}/api/alerts/rules")),
    };
    let req = authed(req).json(r).map_err(|e| e.to_string())?;
    sent(req.send().await)
        .await?
        .json()
        .await
        .map_err(|e| e.to_string())
}

/// `DELETE /api/alerts/rules/{id}`.
pub async fn delete(api: &str, id: u64) -> Result<(), String> {
    let r = authed(Request::delete(&format!("{api}/api/alerts/rules/{id}")))
        .send()
        .await;
    sent(r).await.map(|_| ())
}
