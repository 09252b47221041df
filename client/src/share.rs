//! Share links: the address of the view on screen — dashboard, filters
//! (`var-`), theme and time range (`from`/`to` when the address has them)
//! — opened read-only (`viewer=1`: no edit controls) in another browser.
//! Pure, tested natively; [`crate::components::editor`] copies it.

use crate::filters::UrlFilter;

/// Parameters a share link carries over from the current address as they
/// are (the time range of the time bar).
const KEPT: [&str; 2] = ["from", "to"];

/// `base` (origin and path, e.g. `https://dash.example/`) with a query
/// naming `dashboard`, the filter of `search`, its time range, `theme`
/// (`light`/`dark`: what is on screen, not `system`) and `viewer=1`.
pub fn link(base: &str, search: &str, dashboard: &str, theme: &str) -> String {
    let q = search.strip_prefix('?').unwrap_or(search);
    let mut s = form_urlencoded::Serializer::new(String::new());
    s.append_pair("d", dashboard);
    for (k, v) in form_urlencoded::parse(q.as_bytes()) {
        if KEPT.contains(&k.as_ref()) && !v.is_empty() {
            s.append_pair(&k, &v);
        }
    }
    s.append_pair("theme", theme);
    s.append_pair("viewer", "1");
    let filter = UrlFilter::from_search(search).query();
    let mut out = format!("{base}?{}", s.finish());
    if !filter.is_empty() {
        out.push('&');
        out.push_str(&filter);
    }
    out
}

/// Whether the address asks for the read-only view (`viewer=1`).
pub fn is_viewer(search: &str) -> bool {
    let q = search.strip_prefix('?').unwrap_or(search);
    form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "viewer" && v == "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carries_dashboard_filters_theme_and_time_range() {
        let l = link(
            "https://dash.example/",
            "?d=old&token=secret&var-country=China&from=1000&to=2000&theme=system&var-gender=F",
            "sales",
            "light",
        );
        assert_eq!(
            l,
            "https://dash.example/?d=sales&from=1000&to=2000&theme=light&viewer=1&var-country=China&var-gender=F"
        );
        assert!(!l.contains("secret"), "a token never goes into a link");
        assert_eq!(
            link("http://h/", "", "default", "dark"),
            "http://h/?d=default&theme=dark&viewer=1"
        );
    }

    #[test]
    fn viewer_flag() {
        assert!(is_viewer("?d=x&viewer=1"));
        assert!(!is_viewer("?viewer=0"));
        assert!(!is_viewer(""));
    }
}
