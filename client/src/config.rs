//! Where the page's WebSocket goes. Pure, tested natively.
//!
//! Default: the page's own origin at `/ws` (`wss://` under https). A static
//! bundle on a CDN points elsewhere with `?server=` in the page URL or a
//! `config.json` beside `index.html` (`{"server": "..."}`); the query wins.

/// Snapshot history points the page asks for (`?history=`): it draws 50.
pub const HISTORY_POINTS: usize = 60;

/// `config.json` beside `index.html`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct PageConfig {
    /// Server address, in any form [`ws_url`] accepts.
    #[serde(default)]
    pub server: Option<String>,
}

/// Turn a server address into a WebSocket URL.
/// Accepts `ws://h:p[/path]`, `wss://...`, `http(s)://h:p[/path]`, or `h:p`.
/// A URL without a path gets `/ws`.
pub fn normalize(server: &str, page_is_https: bool) -> String {
    let s = server.trim().trim_end_matches('/');
    let (scheme, rest) = if let Some(r) = s.strip_prefix("ws://") {
        ("ws", r)
    } else if let Some(r) = s.strip_prefix("wss://") {
        ("wss", r)
    } else if let Some(r) = s.strip_prefix("http://") {
        ("ws", r)
    } else if let Some(r) = s.strip_prefix("https://") {
        ("wss", r)
    } else if page_is_https {
        ("wss", s)
    } else {
        ("ws", s)
    };
    if rest.contains('/') {
        format!("{scheme}://{rest}")
    } else {
        format!("{scheme}://{rest}/ws")
    }
}

/// The WebSocket URL for a page at `protocol` (`"http:"`/`"https:"`) and
/// `host` (`"h:p"`), given the `?server=` value and `config.json`'s.
pub fn ws_url(protocol: &str, host: &str, query: Option<&str>, config: Option<&str>) -> String {
    let https = protocol == "https:";
    let base = match query
        .filter(|s| !s.trim().is_empty())
        .or(config.filter(|s| !s.trim().is_empty()))
    {
        Some(s) => normalize(s, https),
        None => normalize(host, https),
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    // Each tick's records are asked for per connection (only a dashboard
    // with a records table needs them): see `connection::socket_url`.
    format!("{base}{sep}history={HISTORY_POINTS}")
}

/// The REST API's origin for a WebSocket URL from [`ws_url`]: same host,
/// `http(s)://` for `ws(s)://`, no path (`/api/...` is appended).
pub fn api_base(ws: &str) -> String {
    let (scheme, rest) = match ws.split_once("://") {
        Some(("wss", r)) => ("https", r),
        Some((_, r)) => ("http", r),
        None => ("http", ws),
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    format!("{scheme}://{host}")
}

/// The dashboard a page URL asks for: `?d=UID` or `?dashboard=UID` (the
/// first given wins), else `default`.
pub fn dashboard_uid(search: &str) -> String {
    let q = search.strip_prefix('?').unwrap_or(search);
    q.split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, v)| (*k == "d" || *k == "dashboard") && !v.is_empty())
        .map(|(_, v)| v.to_string())
        .filter(|v| livedash_shared::dashboard::is_slug(v, livedash_shared::dashboard::MAX_UID_LEN))
        .unwrap_or_else(|| livedash_shared::dashboard::DEFAULT_UID.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_by_default() {
        assert_eq!(
            ws_url("http:", "127.0.0.1:8000", None, None),
            "ws://127.0.0.1:8000/ws?history=60"
        );
        assert_eq!(
            ws_url("https:", "dash.example", None, None),
            "wss://dash.example/ws?history=60"
        );
    }

    #[test]
    fn query_wins_over_config() {
        assert_eq!(
            ws_url(
                "http:",
                "cdn:1",
                Some("http://127.0.0.1:9000"),
                Some("ws://other:1")
            ),
            "ws://127.0.0.1:9000/ws?history=60"
        );
        assert_eq!(
            ws_url("https:", "cdn", None, Some("api.example:443")),
            "wss://api.example:443/ws?history=60"
        );
        assert_eq!(
            ws_url("http:", "cdn", Some(" "), Some("wss://x/live")),
            "wss://x/live?history=60"
        );
    }

    #[test]
    fn the_api_is_at_the_sockets_origin() {
        assert_eq!(
            api_base("ws://127.0.0.1:9000/ws?history=60"),
            "http://127.0.0.1:9000"
        );
        assert_eq!(api_base("wss://x.example/live"), "https://x.example");
        assert_eq!(
            api_base(&ws_url("http:", "cdn:1", Some("h:2"), None)),
            "http://h:2"
        );
    }

    #[test]
    fn the_dashboard_comes_from_d_or_dashboard() {
        assert_eq!(dashboard_uid(""), "default");
        assert_eq!(dashboard_uid("?d=ops"), "ops");
        assert_eq!(dashboard_uid("?server=x&dashboard=sales-1"), "sales-1");
        assert_eq!(dashboard_uid("?d=&dashboard=b"), "b");
        // Not a uid: the default, never a path.
        assert_eq!(dashboard_uid("?d=../x"), "default");
    }

    #[test]
    fn forms() {
        assert_eq!(normalize("https://a.b/", false), "wss://a.b/ws");
        assert_eq!(normalize("ws://a:1/custom", true), "ws://a:1/custom");
        assert_eq!(normalize("a:1", false), "ws://a:1/ws");
        let c: PageConfig = serde_json::from_str(r#"{"server":"h:1"}"#).unwrap();
        assert_eq!(c.server.as_deref(), Some("h:1"));
        let c: PageConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, PageConfig::default());
    }
}
