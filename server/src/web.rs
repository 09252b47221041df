//! HTTP hygiene: which `Host` names the server answers to (DNS rebinding),
//! which browser `Origin`s may open `/ws`, and the security headers every
//! response carries (including the page's Content-Security-Policy).
//!
//! DNS rebinding: a page on `evil.example` whose name is made to resolve to
//! `127.0.0.1` is same-origin with a server there, so "the page's own
//! origin" only counts for host names the server is meant to answer to: IP
//! literals (rebinding needs a DNS name), `localhost`, and the names given
//! with `--public-host`.

use crate::Config;
use http::{header, HeaderValue, StatusCode};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;
use warp::filters::path::FullPath;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::routes::DEV_ORIGINS;

/// The host name of a `Host` header value (or an origin's authority):
/// the port is dropped, the name lowercased and a trailing dot removed.
/// IPv6 literals keep their brackets. `None` for an empty or malformed
/// value.
pub fn host_name(authority: &str) -> Option<String> {
    let a = authority.trim();
    if let Some(rest) = a.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        let port_ok = after.is_empty() || after.strip_prefix(':').is_some_and(is_port);
        return (port_ok && v6.parse::<Ipv6Addr>().is_ok())
            .then(|| format!("[{}]", v6.to_ascii_lowercase()));
    }
    let name = match a.rsplit_once(':') {
        Some((name, port)) if is_port(port) => name,
        Some(_) => return None,
        None => a,
    };
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    valid.then_some(name)
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit())
}

/// Whether the server answers to this `Host` (with or without a port):
/// an IP literal, `localhost`, or a name given with `--public-host`
/// (case-insensitive, a trailing dot ignored). A missing or malformed host
/// is not trusted.
pub fn host_trusted(host: &str, public_hosts: &[String]) -> bool {
    let Some(name) = host_name(host) else {
        return false;
    };
    name.starts_with('[')
        || name.parse::<Ipv4Addr>().is_ok()
        || name == "localhost"
        || public_hosts
            .iter()
            .any(|p| host_name(p).is_some_and(|p| p == name))
}

/// Whether a browser with this `Origin` may open `/ws` on a server reached
/// as `host`. No `Origin` (not a browser) is allowed; the page's own
/// origin is allowed when the server answers to its host name
/// ([`host_trusted`]); the Trunk dev server and `--allowed-origin` entries
/// are always allowed.
pub fn origin_allowed(
    origin: Option<&str>,
    host: Option<&str>,
    extra: &[String],
    public_hosts: &[String],
) -> bool {
    let Some(origin) = origin else { return true };
    let origin = origin.trim_end_matches('/');
    let same = |o: &str| o.eq_ignore_ascii_case(origin);
    if let Some(host) = host.filter(|h| host_trusted(h, public_hosts)) {
        if same(&format!("http://{host}")) || same(&format!("https://{host}")) {
            return true;
        }
    }
    DEV_ORIGINS.iter().any(|o| same(o)) || extra.iter().any(|o| same(o.trim_end_matches('/')))
}

/// Whether a request for `path` with this `Host` must be refused: `/api/*`
/// from a DNS name the server does not answer to (a rebinding page would
/// read it same-origin). No `Host` at all is not a browser, so allowed.
pub fn api_host_refused(path: &str, host: Option<&str>, public_hosts: &[String]) -> bool {
    let api = path == "/api" || path.starts_with("/api/");
    api && host.is_some_and(|h| !host_trusted(h, public_hosts))
}

/// The 403 message for [`api_host_refused`].
pub fn host_refused_message(host: &str) -> String {
    let name = host_name(host).unwrap_or_else(|| host.to_string());
    format!(
        "host {name:?} is not served: this server answers to IP addresses, localhost \
         and the names given with --public-host (LIVEDASH_PUBLIC_HOST); \
         start it with --public-host {name} if that is its name\n"
    )
}

/// The `'sha256-…'` CSP sources of the inline `<script>` elements of an
/// HTML page: the script text exactly as the browser sees it (the bytes
/// between `<script …>` and `</script`, line breaks normalized to `\n` as
/// the HTML parser does). Scripts with a `src` are left out ('self' covers
/// them).
pub fn inline_script_hashes(html: &str) -> Vec<String> {
    use base64::Engine;
    use sha2::Digest;
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = lower[at..].find("<script") {
        let start = at + i + "<script".len();
        // `<scripts>` or `<script-x>` is another element.
        if !lower[start..].starts_with(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/') {
            at = start;
            continue;
        }
        let Some(gt) = tag_end(&html[start..]) else {
            break;
        };
        let attrs = &html[start..start + gt];
        let body_start = start + gt + 1;
        let Some(end) = script_end(&lower[body_start..]) else {
            break;
        };
        let body = &html[body_start..body_start + end];
        at = body_start + end;
        if attr_names(attrs).iter().any(|n| n == "src") {
            continue;
        }
        let text = body.replace("\r\n", "\n").replace('\r', "\n");
        let digest = sha2::Sha256::digest(text.as_bytes());
        out.push(format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        ));
    }
    out
}

/// Index of the `>` that closes a start tag (quoted values may hold `>`).
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// Where a script's text ends: at `</script` followed by whitespace, `/`
/// or `>` (the HTML tokenizer's rule; `s` is lowercased).
fn script_end(s: &str) -> Option<usize> {
    let mut at = 0;
    while let Some(i) = s[at..].find("</script") {
        let end = at + i;
        let next = s[end + "</script".len()..].chars().next();
        if next.is_none_or(|c| c.is_ascii_whitespace() || c == '/' || c == '>') {
            return Some(end);
        }
        at = end + 1;
    }
    None
}

/// Lowercased attribute names of a start tag's attribute text.
fn attr_names(attrs: &str) -> Vec<String> {
    let b = attrs.as_bytes();
    let mut names = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let s = i;
        while i < b.len() && !(b[i].is_ascii_whitespace() || b[i] == b'=' || b[i] == b'/') {
            i += 1;
        }
        if i > s {
            names.push(attrs[s..i].to_ascii_lowercase());
        }
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                i += 1;
            } else {
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
            }
        }
    }
    names
}

/// The CSP sources a server address allows to be connected to, in any form
/// the page accepts (`ws://h:p[/path]`, `wss://…`, `http(s)://…`, `h:p`):
/// the WebSocket origin(s) the page derives from it, and the same host over
/// HTTP(S), where the page calls the REST API (dashboards).
pub fn connect_sources(server: &str) -> Vec<String> {
    let s = server.trim();
    let (schemes, rest): (&[&str], &str) = if let Some(r) = s.strip_prefix("ws://") {
        (&["ws", "http"], r)
    } else if let Some(r) = s.strip_prefix("wss://") {
        (&["wss", "https"], r)
    } else if let Some(r) = s.strip_prefix("http://") {
        (&["ws", "http"], r)
    } else if let Some(r) = s.strip_prefix("https://") {
        (&["wss", "https"], r)
    } else {
        // The scheme follows the page's: either.
        (&["ws", "wss", "http", "https"], s)
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let ok = !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:[]".contains(c));
    if !ok {
        return Vec::new();
    }
    let authority = authority.to_ascii_lowercase();
    schemes
        .iter()
        .map(|sc| format!("{sc}://{authority}"))
        .collect()
}

/// The Content-Security-Policy for the page bundle in `dist`: exactly what
/// the page needs. `connect` and `frame_ancestors` are the
/// `--connect-src` and `--frame-ancestors` values.
pub fn content_security_policy(
    dist: &Path,
    connect: &[String],
    frame_ancestors: &[String],
) -> String {
    let html = std::fs::read_to_string(dist.join("index.html")).unwrap_or_default();
    let mut script = vec!["'self'".to_string(), "'wasm-unsafe-eval'".to_string()];
    script.extend(inline_script_hashes(&html));
    let mut conn = vec!["'self'".to_string()];
    let config_server = std::fs::read_to_string(dist.join("config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("server")?.as_str().map(str::to_string));
    for s in config_server.iter().chain(connect) {
        for src in connect_sources(s) {
            if !conn.contains(&src) {
                conn.push(src);
            }
        }
    }
    let frames = if frame_ancestors.is_empty() {
        "'none'".to_string()
    } else {
        frame_ancestors.join(" ")
    };
    format!(
        "default-src 'self'; script-src {}; style-src 'self'; \
         style-src-attr 'unsafe-inline'; connect-src {}; object-src 'none'; \
         base-uri 'self'; form-action 'self'; frame-ancestors {frames}",
        script.join(" "),
        conn.join(" ")
    )
}

/// `GET` or `HEAD` (hyper leaves the body out of a HEAD response and keeps
/// its headers).
pub fn get_or_head() -> impl Filter<Extract = (), Error = Rejection> + Copy + Send + Sync + 'static
{
    warp::get().or(warp::head()).unify()
}

/// The headers every response gets, and the Host policy for `/api/*`.
#[derive(Debug)]
pub struct Hygiene {
    csp: HeaderValue,
    frame_deny: bool,
    public_hosts: Vec<String>,
}

impl Hygiene {
    /// Read the bundle's `index.html` (and `config.json`) once, now.
    pub fn new(config: &Config) -> Hygiene {
        let csp =
            content_security_policy(&config.dist, &config.connect_src, &config.frame_ancestors);
        tracing::debug!(%csp, "content security policy");
        Hygiene {
            csp: HeaderValue::from_str(&csp).expect("the CSP is a valid header value"),
            frame_deny: config.frame_ancestors.is_empty(),
            public_hosts: config.public_hosts.clone(),
        }
    }

    /// The Content-Security-Policy header value.
    pub fn csp(&self) -> &HeaderValue {
        &self.csp
    }

    /// Add the security headers a response does not set itself.
    pub fn secure(&self, mut r: Response) -> Response {
        let h = r.headers_mut();
        let mut add = |name: header::HeaderName, value: HeaderValue| {
            h.entry(name).or_insert(value);
        };
        add(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        add(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        add(header::CONTENT_SECURITY_POLICY, self.csp.clone());
        if self.frame_deny {
            add(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        }
        r
    }
}

fn text(status: StatusCode, body: String) -> Response {
    let mut r = warp::reply::with_status(body, status).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The response warp would make for a rejection, for the kinds our routes
/// produce; others are passed on unchanged.
fn rejection_response(r: &Rejection) -> Option<Response> {
    use warp::reject::{
        InvalidHeader, InvalidQuery, LengthRequired, MethodNotAllowed, MissingHeader,
        PayloadTooLarge, UnsupportedMediaType,
    };
    let known = |status, msg: String| Some(text(status, msg));
    if let Some(e) = r.find::<InvalidQuery>() {
        return known(StatusCode::BAD_REQUEST, e.to_string());
    }
    if let Some(e) = r.find::<InvalidHeader>() {
        return known(StatusCode::BAD_REQUEST, e.to_string());
    }
    if let Some(e) = r.find::<MissingHeader>() {
        return known(StatusCode::BAD_REQUEST, e.to_string());
    }
    if let Some(e) = r.find::<LengthRequired>() {
        return known(StatusCode::LENGTH_REQUIRED, e.to_string());
    }
    if let Some(e) = r.find::<PayloadTooLarge>() {
        return known(StatusCode::PAYLOAD_TOO_LARGE, e.to_string());
    }
    if let Some(e) = r.find::<UnsupportedMediaType>() {
        return known(StatusCode::UNSUPPORTED_MEDIA_TYPE, e.to_string());
    }
    if let Some(e) = r.find::<MethodNotAllowed>() {
        return known(StatusCode::METHOD_NOT_ALLOWED, e.to_string());
    }
    if r.is_not_found() {
        let mut res = Response::default();
        *res.status_mut() = StatusCode::NOT_FOUND;
        return Some(res);
    }
    None
}

/// Wrap all routes: refuse `/api/*` for host names the server does not
/// answer to (DNS rebinding), and add the security headers to every
/// response, also to 404 and 405.
pub fn harden<F>(
    routes: F,
    config: &Config,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static
where
    F: Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static,
{
    let hygiene = Arc::new(Hygiene::new(config));
    let guard = {
        let hygiene = hygiene.clone();
        warp::path::full()
            .and(warp::header::optional::<String>("host"))
            .and_then(move |path: FullPath, host: Option<String>| {
                let refused =
                    api_host_refused(path.as_str(), host.as_deref(), &hygiene.public_hosts);
                async move {
                    match (refused, host) {
                        (true, Some(host)) => {
                            Ok(text(StatusCode::FORBIDDEN, host_refused_message(&host)))
                        }
                        _ => Err(warp::reject::not_found()),
                    }
                }
            })
    };
    let cors = Arc::new(Cors::new(config));
    let preflight = {
        let cors = cors.clone();
        // Not `warp::options()`: its "method not allowed" would outrank the
        // "not found" of other requests and turn every 404 into a 405.
        warp::method()
            .and(warp::path::full())
            .and(origin_header())
            .and_then(
                move |m: http::Method, path: FullPath, origin: Option<String>| {
                    let r = (m == http::Method::OPTIONS && is_api(path.as_str()))
                        .then(|| cors.preflight(origin.as_deref()));
                    async move { r.ok_or_else(warp::reject::not_found) }
                },
            )
    };
    let inner = guard
        .or(preflight)
        .unify()
        .or(routes)
        .unify()
        .recover(|r: Rejection| async move { rejection_response(&r).ok_or(r) })
        .unify();
    warp::path::full().and(origin_header()).and(inner).map(
        move |path: FullPath, origin: Option<String>, r: Response| {
            hygiene.secure(cors.grant(path.as_str(), origin.as_deref(), r))
        },
    )
}

/// The request's `Origin`, if it is readable text (never a rejection).
fn origin_header() -> impl Filter<Extract = (Option<String>,), Error = std::convert::Infallible>
       + Clone
       + Send
       + Sync
       + 'static {
    warp::header::headers_cloned().map(|h: http::HeaderMap| {
        h.get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    })
}

/// Whether `path` is under `/api`.
fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// Methods a page from an `--allowed-origin` may use on `/api/*`.
pub const CORS_METHODS: &str = "GET, HEAD, POST, PUT, DELETE, OPTIONS";
/// Request headers it may send.
pub const CORS_HEADERS: &str = "Authorization, If-Match, Content-Type, Content-Encoding";
/// Response headers it may read.
pub const CORS_EXPOSE: &str = "ETag, Location, Retry-After, Content-Disposition";
/// How long a browser may cache a preflight answer, seconds.
pub const CORS_MAX_AGE: &str = "600";

/// CORS for `/api/*`: the page bundle served by a CDN (an
/// `--allowed-origin`) calls the REST API cross-origin. Only those origins
/// get a grant (the exact `Access-Control-Allow-Origin` echo); the
/// server's own page is same-origin and needs none, and `trunk serve`
/// proxies `/api`. No credentials mode: tokens travel in `Authorization`,
/// never in cookies.
#[derive(Debug)]
pub struct Cors {
    /// `--allowed-origin`, lowercased, without a trailing slash.
    allowed: Vec<String>,
}

impl Cors {
    /// From `--allowed-origin`.
    pub fn new(config: &Config) -> Cors {
        Cors {
            allowed: config
                .allowed_origins
                .iter()
                .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
                .collect(),
        }
    }

    /// The origin to echo, when `origin` is allowed.
    pub fn granted<'a>(&self, origin: Option<&'a str>) -> Option<&'a str> {
        let o = origin?;
        let want = o.trim_end_matches('/').to_ascii_lowercase();
        self.allowed.contains(&want).then_some(o)
    }

    /// The answer to `OPTIONS /api/...`: 204 with the grant for an allowed
    /// origin, 403 without one otherwise.
    pub fn preflight(&self, origin: Option<&str>) -> Response {
        let Some(o) = self.granted(origin) else {
            return text(
                StatusCode::FORBIDDEN,
                "this origin gets no CORS grant: list it with --allowed-origin\n".into(),
            );
        };
        let mut r = Response::default();
        *r.status_mut() = StatusCode::NO_CONTENT;
        let h = r.headers_mut();
        let mut set = |name, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(name, v);
            }
        };
        set(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        set(header::ACCESS_CONTROL_ALLOW_METHODS, CORS_METHODS);
        set(header::ACCESS_CONTROL_ALLOW_HEADERS, CORS_HEADERS);
        set(header::ACCESS_CONTROL_MAX_AGE, CORS_MAX_AGE);
        r
    }

    /// Add the grant (and `Vary: Origin`) to an `/api/*` response.
    pub fn grant(&self, path: &str, origin: Option<&str>, mut r: Response) -> Response {
        if !is_api(path) {
            return r;
        }
        let h = r.headers_mut();
        h.append(header::VARY, HeaderValue::from_static("Origin"));
        if let Some(v) = self
            .granted(origin)
            .and_then(|o| HeaderValue::from_str(o).ok())
        {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            h.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(CORS_EXPOSE),
            );
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cors_grants_only_allowed_origins_on_the_api() {
        let cors = Cors::new(&Config {
            allowed_origins: v(&["https://CDN.example.com/"]),
            ..Config::default()
        });
        let ok = Some("https://cdn.example.com");
        assert_eq!(cors.granted(ok), ok);
        assert_eq!(cors.granted(Some("https://cdn.example.com.evil")), None);
        assert_eq!(cors.granted(Some("http://cdn.example.com")), None);
        assert_eq!(cors.granted(None), None);
        let p = cors.preflight(ok);
        assert_eq!(p.status(), StatusCode::NO_CONTENT);
        let h = p.headers();
        assert_eq!(h["access-control-allow-origin"], "https://cdn.example.com");
        assert!(h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("PUT, DELETE"));
        assert!(h["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("If-Match"));
        let p = cors.preflight(Some("https://evil.example"));
        assert_eq!(p.status(), StatusCode::FORBIDDEN);
        assert!(!p.headers().contains_key("access-control-allow-origin"));
        let r = cors.grant("/api/dashboards", ok, Response::default());
        assert_eq!(
            r.headers()["access-control-allow-origin"],
            "https://cdn.example.com"
        );
        assert_eq!(r.headers()["vary"], "Origin");
        assert!(r.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("ETag"));
        let r = cors.grant(
            "/api/snapshot",
            Some("https://evil.example"),
            Response::default(),
        );
        assert!(!r.headers().contains_key("access-control-allow-origin"));
        assert_eq!(r.headers()["vary"], "Origin");
        let r = cors.grant("/healthz", ok, Response::default());
        assert!(r.headers().is_empty(), "only /api is CORS-enabled");
    }

    #[test]
    fn host_names() {
        assert_eq!(host_name("127.0.0.1:8000").as_deref(), Some("127.0.0.1"));
        assert_eq!(
            host_name("Dash.Example.:443").as_deref(),
            Some("dash.example")
        );
        assert_eq!(host_name("[::1]:8000").as_deref(), Some("[::1]"));
        assert_eq!(host_name("[FE80::1]").as_deref(), Some("[fe80::1]"));
        assert_eq!(host_name("localhost").as_deref(), Some("localhost"));
        assert_eq!(host_name(""), None);
        assert_eq!(host_name("a:b"), None, "a port is digits");
        assert_eq!(host_name("::1"), None, "IPv6 needs brackets");
        assert_eq!(host_name("[::1]x"), None);
        assert_eq!(host_name("[nope]:1"), None);
        assert_eq!(host_name("a..b"), None);
        assert_eq!(host_name("evil.example/x"), None);
    }

    #[test]
    fn trusted_hosts() {
        let public = v(&["dash.example.com", "Wall.Example."]);
        for h in [
            "127.0.0.1:8000",
            "127.0.0.1",
            "10.1.2.3:80",
            "[::1]:8000",
            "[::1]",
            "[2001:db8::7]:443",
            "localhost:8000",
            "LOCALHOST",
            "localhost.:8000",
            "dash.example.com",
            "DASH.example.com.:8443",
            "wall.example:1",
        ] {
            assert!(host_trusted(h, &public), "{h}");
        }
        for h in [
            "evil.example:8000",
            "evil.example",
            "localhost.evil.example",
            "dash.example.com.evil",
            "sub.dash.example.com",
            "127.0.0.1.nip.io:8000",
            "",
            "::1",
            "[::1",
        ] {
            assert!(!host_trusted(h, &public), "{h}");
        }
        assert!(!host_trusted("dash.example.com", &[]));
    }

    #[test]
    fn origin_rules() {
        let extra = v(&["https://cdn.example.com/"]);
        let none: &[String] = &[];
        assert!(origin_allowed(None, Some("127.0.0.1:8000"), none, none));
        assert!(origin_allowed(None, Some("evil.example:8000"), none, none));
        assert!(origin_allowed(
            Some("http://127.0.0.1:8000"),
            Some("127.0.0.1:8000"),
            none,
            none
        ));
        assert!(origin_allowed(
            Some("http://[::1]:8000"),
            Some("[::1]:8000"),
            none,
            none
        ));
        assert!(origin_allowed(
            Some("http://LOCALHOST:8000/"),
            Some("localhost:8000"),
            none,
            none
        ));
        // DNS rebinding: the page's own origin on a name we do not serve.
        assert!(!origin_allowed(
            Some("http://evil.example:8000"),
            Some("evil.example:8000"),
            none,
            none
        ));
        assert!(!origin_allowed(
            Some("https://dash.example"),
            Some("dash.example"),
            none,
            none
        ));
        assert!(origin_allowed(
            Some("https://dash.example"),
            Some("dash.example"),
            none,
            &v(&["dash.example"])
        ));
        assert!(origin_allowed(
            Some("http://dash.example.:8000"),
            Some("dash.example.:8000"),
            none,
            &v(&["dash.example"])
        ));
        // The port is part of the origin.
        assert!(!origin_allowed(
            Some("http://dash.example:8001"),
            Some("dash.example:8000"),
            none,
            &v(&["dash.example"])
        ));
        assert!(!origin_allowed(
            Some("http://127.0.0.1:8001"),
            Some("127.0.0.1:8000"),
            none,
            none
        ));
        assert!(origin_allowed(
            Some("http://localhost:8080"),
            Some("127.0.0.1:8000"),
            none,
            none
        ));
        assert!(!origin_allowed(
            Some("http://evil.example"),
            Some("127.0.0.1:8000"),
            none,
            none
        ));
        assert!(!origin_allowed(
            Some("null"),
            Some("127.0.0.1:8000"),
            none,
            none
        ));
        // --allowed-origin holds whatever the Host.
        assert!(origin_allowed(
            Some("https://CDN.example.com"),
            Some("x"),
            &extra,
            none
        ));
        assert!(!origin_allowed(
            Some("https://cdn.example.com.evil"),
            Some("x"),
            &extra,
            none
        ));
    }

    #[test]
    fn api_host_rule() {
        let public = v(&["dash.example"]);
        assert!(api_host_refused(
            "/api/snapshot",
            Some("evil.example:8000"),
            &public
        ));
        assert!(api_host_refused(
            "/api/streams/orders/stop",
            Some("evil.example"),
            &public
        ));
        assert!(api_host_refused("/api", Some("evil.example"), &public));
        assert!(!api_host_refused(
            "/api/snapshot",
            Some("dash.example:8000"),
            &public
        ));
        assert!(!api_host_refused(
            "/api/snapshot",
            Some("127.0.0.1:8000"),
            &public
        ));
        assert!(!api_host_refused(
            "/api/snapshot",
            Some("[::1]:8000"),
            &public
        ));
        assert!(!api_host_refused(
            "/api/snapshot",
            Some("localhost"),
            &public
        ));
        assert!(!api_host_refused("/api/snapshot", None, &public));
        for path in ["/healthz", "/metrics", "/", "/index.html", "/apiary", "/ws"] {
            assert!(
                !api_host_refused(path, Some("evil.example"), &public),
                "{path}"
            );
        }
        let m = host_refused_message("Evil.Example:8000");
        assert!(m.contains("--public-host evil.example"), "{m}");
    }

    #[test]
    fn inline_script_hashes_match_what_browsers_hash() {
        // sha256 of "alert(1)" (no whitespace) and of "\nx\n".
        let html = "<html><head>\
            <script src=\"echarts.min.js\"></script>\
            <SCRIPT type=module>alert(1)</SCRIPT >\
            <script data-x='a>b'>\r\nx\r\n</script>\
            <scripts>not a script</scripts>\
            <script src=a.js>ignored</script>";
        assert_eq!(
            inline_script_hashes(html),
            vec![
                "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='".to_string(),
                format!(
                    "'sha256-{}'",
                    base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        <sha2::Sha256 as sha2::Digest>::digest(b"\nx\n")
                    )
                ),
            ]
        );
        assert!(inline_script_hashes("<p>no scripts</p>").is_empty());
        assert!(inline_script_hashes("<script>unterminated").is_empty());
    }

    #[test]
    fn connect_source_forms() {
        assert_eq!(
            connect_sources("http://127.0.0.1:9000"),
            v(&["ws://127.0.0.1:9000", "http://127.0.0.1:9000"])
        );
        assert_eq!(
            connect_sources("https://Data.Example/"),
            v(&["wss://data.example", "https://data.example"])
        );
        assert_eq!(
            connect_sources("ws://h:1/ws?x=1"),
            v(&["ws://h:1", "http://h:1"])
        );
        assert_eq!(
            connect_sources("wss://[::1]:8000/live"),
            v(&["wss://[::1]:8000", "https://[::1]:8000"])
        );
        assert_eq!(
            connect_sources("h:1"),
            v(&["ws://h:1", "wss://h:1", "http://h:1", "https://h:1"])
        );
        assert!(connect_sources("").is_empty());
        assert!(connect_sources("http://a b").is_empty());
        assert!(connect_sources("ws://x;script-src *").is_empty());
    }

    #[test]
    fn csp_for_a_bundle() {
        let dir = std::env::temp_dir().join(format!("livedash-csp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("index.html"),
            "<script src=\"echarts.min.js\"></script><script type=\"module\">alert(1)</script>",
        )
        .unwrap();
        std::fs::write(
            dir.join("config.json"),
            r#"{"server": "ws://10.0.0.5:8000/ws"}"#,
        )
        .unwrap();
        let csp = content_security_policy(&dir, &v(&["https://data.example"]), &[]);
        assert_eq!(
            csp,
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' \
             'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='; \
             style-src 'self'; style-src-attr 'unsafe-inline'; \
             connect-src 'self' ws://10.0.0.5:8000 http://10.0.0.5:8000 wss://data.example \
             https://data.example; object-src 'none'; \
             base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
        );
        let framed = content_security_policy(&dir, &[], &v(&["'self'", "https://wall.example"]));
        assert!(
            framed.ends_with("frame-ancestors 'self' https://wall.example"),
            "{framed}"
        );
        let _ = std::fs::remove_dir_all(&dir);
        // No bundle: no hashes, still a policy.
        let bare = content_security_policy(Path::new("/nonexistent"), &[], &[]);
        assert!(
            bare.contains("script-src 'self' 'wasm-unsafe-eval';"),
            "{bare}"
        );
    }
}
