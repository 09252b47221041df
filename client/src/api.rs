//! The REST calls the page makes (dashboards, stream controls), with the
//! admin token when one is kept for this tab. Browser only (gloo-net).

use gloo_net::http::{Request, RequestBuilder, Response};
use livedash_shared::dashboard::{migrate, DashboardSummary};
use livedash_shared::Dashboard;

/// sessionStorage key of the admin token (this tab only, never a cookie).
pub const ADMIN_KEY: &str = "livedash.admin";

fn session() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

/// The admin token kept for this tab.
pub fn admin_token() -> Option<String> {
    session()?
        .get_item(ADMIN_KEY)
        .ok()?
        .filter(|t| !t.is_empty())
}

/// Keep (or with `None`, forget) the admin token for this tab.
pub fn set_admin_token(t: Option<&str>) {
    if let Some(s) = session() {
        let _ = match t {
            Some(t) => s.set_item(ADMIN_KEY, t),
            None => s.remove_item(ADMIN_KEY),
        };
    }
}

/// Why a write failed.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteError {
    /// 412: someone saved first; the stored dashboard.
    Conflict(Box<Dashboard>),
    /// 401: the admin token is missing or wrong.
    Unauthorized,
    /// Anything else, in words.
    Other(String),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Conflict(d) => write!(f, "saved meanwhile as version {}", d.version),
            WriteError::Unauthorized => f.write_str("the admin token is missing or wrong"),
            WriteError::Other(s) => f.write_str(s),
        }
    }
}

pub(crate) fn authed(r: RequestBuilder) -> RequestBuilder {
    match admin_token() {
        Some(t) => r.header("Authorization", &format!("Bearer {t}")),
        None => r,
    }
}

pub(crate) async fn message(resp: Response) -> String {
    let status = resp.status();
    let body: Option<serde_json::Value> = resp.json().await.ok();
    let text = body
        .as_ref()
        .and_then(|b| b["message"].as_str())
        .map(str::to_string)
        .unwrap_or_default();
    format!("HTTP {status} {text}").trim().to_string()
}

async fn dashboard_of(resp: Response) -> Result<Dashboard, WriteError> {
    match resp.status() {
        200 | 201 => {
            let doc: serde_json::Value = resp
                .json()
                .await
                .map_err(|e| WriteError::Other(e.to_string()))?;
            migrate(doc).map_err(|e| WriteError::Other(e.to_string()))
        }
        401 => Err(WriteError::Unauthorized),
        412 => {
            let body: serde_json::Value = resp
                .json()
                .await
                .map_err(|e| WriteError::Other(e.to_string()))?;
            let current =
                migrate(body["current"].clone()).map_err(|e| WriteError::Other(e.to_string()))?;
            Err(WriteError::Conflict(Box::new(current)))
        }
        _ => Err(WriteError::Other(message(resp).await)),
    }
}

fn sent(e: gloo_net::Error) -> WriteError {
    WriteError::Other(format!("no answer: {e}"))
}

/// `GET /api/dashboards`.
pub async fn list(api: &str) -> Result<Vec<DashboardSummary>, String> {
    let resp = Request::get(&format!("{api}/api/dashboards"))
        .cache(web_sys::RequestCache::NoCache)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !resp.ok() {
        return Err(message(resp).await);
    }
    resp.json().await.map_err(|e| e.to_string())
}

/// `POST /api/dashboards`: the stored dashboard (uid assigned, version 1).
pub async fn create(api: &str, d: &Dashboard) -> Result<Dashboard, WriteError> {
    let resp = authed(Request::post(&format!("{api}/api/dashboards")))
        .json(d)
        .map_err(|e| WriteError::Other(e.to_string()))?
        .send()
        .await
        .map_err(sent)?;
    dashboard_of(resp).await
}

/// What an import's `POST` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Imported {
    /// Stored (created, or with `overwrite` replaced).
    Stored(Box<Dashboard>),
    /// 409: a dashboard with the file's uid exists (its version).
    Exists(u64),
}

/// `POST /api/dashboards[?overwrite=1]` of an imported file.
pub async fn import(api: &str, d: &Dashboard, overwrite: bool) -> Result<Imported, WriteError> {
    let q = if overwrite { "?overwrite=1" } else { "" };
    let resp = authed(Request::post(&format!("{api}/api/dashboards{q}")))
        .json(d)
        .map_err(|e| WriteError::Other(e.to_string()))?
        .send()
        .await
        .map_err(sent)?;
    if resp.status() == 409 {
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        return Ok(Imported::Exists(
            body["current_version"].as_u64().unwrap_or(0),
        ));
    }
    dashboard_of(resp)
        .await
        .map(|d| Imported::Stored(Box::new(d)))
}

/// `PUT /api/dashboards/{uid}` with `If-Match: version` (`None`: `*`,
/// overwrite whatever is stored).
pub async fn save(api: &str, d: &Dashboard, version: Option<u64>) -> Result<Dashboard, WriteError> {
    let if_match = version.map(|v| format!("\"{v}\"")).unwrap_or("*".into());
    let resp = authed(Request::put(&format!("{api}/api/dashboards/{}", d.uid)))
        .header("If-Match", &if_match)
        .json(d)
        .map_err(|e| WriteError::Other(e.to_string()))?
        .send()
        .await
        .map_err(sent)?;
    dashboard_of(resp).await
}

/// `DELETE /api/dashboards/{uid}`.
pub async fn delete(api: &str, uid: &str) -> Result<(), WriteError> {
    let resp = authed(Request::delete(&format!("{api}/api/dashboards/{uid}")))
        .send()
        .await
        .map_err(sent)?;
    match resp.status() {
        200 | 204 => Ok(()),
        401 => Err(WriteError::Unauthorized),
        _ => Err(WriteError::Other(message(resp).await)),
    }
}

/// `POST /api/streams/{stream}/{start|stop}`.
pub async fn stream(api: &str, stream: &str, on: bool) -> Result<(), WriteError> {
    let action = if on { "start" } else { "stop" };
    let resp = authed(Request::post(&format!(
        "{api}/api/streams/{stream}/{action}"
    )))
    .send()
    .await
    .map_err(sent)?;
    match resp.status() {
        200 => Ok(()),
        401 => Err(WriteError::Unauthorized),
        _ => Err(WriteError::Other(message(resp).await)),
    }
}

/// Open the page on dashboard `uid` (the URL is the truth: `?d=UID`,
/// other parameters kept).
pub fn go_to(uid: &str) {
    let Some(w) = web_sys::window() else {
        return;
    };
    let loc = w.location();
    let search = loc.search().unwrap_or_default();
    let (_, rest) = crate::connection::take_param(&search, "d");
    let (_, rest) = crate::connection::take_param(&rest, "dashboard");
    let sep = if rest.is_empty() { '?' } else { '&' };
    let _ = loc.set_search(&format!("{rest}{sep}d={uid}"));
}
