//! The page's filter: Grafana's `?var-NAME=value` in the address bar
//! (repeatable), sent to the server, which computes the numbers over the
//! matching records (see PROTOCOL.md "Filters"). Pure: parsing, the
//! canonical query, adding and removing a value, and the address with its
//! `var-` parameters replaced (kept in sync with `history.replaceState`
//! by [`crate::components::filter_bar`]).

use livedash_shared::dashboard::{Dimension, Filters};
use std::collections::BTreeMap;

/// The active filter: the shared [`Filters`] (the type the server and the
/// dashboards use), canonical — values sorted and unique per variable — so
/// equal filters have equal queries (and share one server aggregator).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlFilter {
    /// What the page filters by, as the server will compute it.
    f: Filters,
}

impl UrlFilter {
    /// The `var-` parameters of a query string (`?a=1&var-country=China`);
    /// other parameters are not filters. Variables the server does not
    /// know and values it would refuse are left out (it would refuse the
    /// socket with a 400 the page cannot read); the chips show what is
    /// applied.
    pub fn from_search(search: &str) -> UrlFilter {
        let q = search.strip_prefix('?').unwrap_or(search);
        form_urlencoded::parse(q.as_bytes())
            .filter_map(|(k, v)| Some((k.strip_prefix("var-")?.to_string(), v.into_owned())))
            .fold(UrlFilter::default(), |f, (k, v)| f.with(&k, &v))
    }

    /// `(variable, value)` pairs in [`Dimension::ALL`] order, values sorted.
    pub fn pairs(&self) -> Vec<(String, String)> {
        Dimension::ALL
            .iter()
            .flat_map(|d| {
                self.f
                    .get(*d)
                    .iter()
                    .map(|v| (d.as_str().to_string(), v.clone()))
            })
            .collect()
    }

    /// No filter.
    pub fn is_empty(&self) -> bool {
        self.f.is_empty()
    }

    /// This filter plus `var=value` (unchanged when the server would
    /// refuse the value or the variable).
    pub fn with(&self, var: &str, value: &str) -> UrlFilter {
        let pairs = self.pairs();
        let more = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain([(var, value)]);
        match Filters::from_vars(more) {
            Ok(f) => UrlFilter { f },
            Err(_) => self.clone(),
        }
    }

    /// This filter without `var=value`.
    pub fn without(&self, var: &str, value: &str) -> UrlFilter {
        let mut f = self.f.clone();
        if let Some(d) = Dimension::parse(var) {
            f.get_mut(d).retain(|v| v != value);
        }
        UrlFilter { f }
    }

    /// The canonical query (`var-country=China&var-traffic_source=Search`),
    /// percent-encoded; empty without a filter ([`Filters::key`]).
    pub fn query(&self) -> String {
        self.f.key()
    }

    /// `search` (with or without `?`) with its `var-` parameters replaced
    /// by this filter's, other parameters kept in order; `?`-prefixed, or
    /// empty when nothing is left.
    pub fn in_search(&self, search: &str) -> String {
        let q = search.strip_prefix('?').unwrap_or(search);
        let mut parts: Vec<String> = q
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("var-"))
            .map(str::to_string)
            .collect();
        if !self.is_empty() {
            parts.push(self.query());
        }
        match parts.is_empty() {
            true => String::new(),
            false => format!("?{}", parts.join("&")),
        }
    }
}

impl UrlFilter {
    /// The same filter as the dashboard model's [`Filters`] (which the
    /// server computes with too): what a record must match.
    pub fn filters(&self) -> Filters {
        self.f.clone()
    }
}

/// A canonical query (`var-country=China&var-country=Japan`) as the
/// `vars` of a `filter` frame: variable → values.
pub fn vars_of_query(query: &str) -> BTreeMap<String, Vec<String>> {
    let mut vars: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if let Some(k) = k.strip_prefix("var-") {
            vars.entry(k.to_string()).or_default().push(v.into_owned());
        }
    }
    vars
}

/// `url` (a `/ws` or `/api/stream` address) with the filter's parameters.
pub fn with_filter(url: &str, query: &str) -> String {
    match (query.is_empty(), url.contains('?')) {
        (true, _) => url.to_string(),
        (false, true) => format!("{url}&{query}"),
        (false, false) => format!("{url}?{query}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_var_parameters_canonically() {
        let f = UrlFilter::from_search(
            "?dashboard=x&var-traffic_source=Search&var-country=United+States&var-country=China&var-country=China&theme=dark",
        );
        assert_eq!(
            f.query(),
            "var-country=China&var-country=United+States&var-traffic_source=Search"
        );
        assert_eq!(f.pairs()[1], ("country".into(), "United States".into()));
        assert!(UrlFilter::from_search("?dashboard=x&var-country=").is_empty());
        assert!(UrlFilter::from_search("?var-colour=red").is_empty());
        // A value the server would refuse is left out, the rest kept.
        let f = UrlFilter::from_search("?var-age_band=20-30&var-gender=F&var-country=a%0Ab");
        assert_eq!(f.query(), "var-gender=F");
        assert_eq!(f.with("age_band", "nope"), f);
    }

    #[test]
    fn add_remove_and_back_into_the_address() {
        let f = UrlFilter::default()
            .with("country", "China")
            .with("gender", "F");
        assert_eq!(f.query(), "var-country=China&var-gender=F");
        let f = f.with("country", "China").without("gender", "F");
        assert_eq!(f.query(), "var-country=China");
        assert_eq!(
            f.in_search("?dashboard=d&var-country=Spain&theme=light"),
            "?dashboard=d&theme=light&var-country=China"
        );
        assert_eq!(UrlFilter::default().in_search("?var-country=Spain"), "");
        assert_eq!(
            with_filter("ws://h/ws?history=60", &f.query()),
            "ws://h/ws?history=60&var-country=China"
        );
        assert_eq!(with_filter("ws://h/ws", ""), "ws://h/ws");
    }

    #[test]
    fn the_filter_as_frame_vars_and_as_record_filters() {
        let f =
            UrlFilter::from_search("?var-country=China&var-country=South+Korea&var-age_band=25-34");
        let vars = vars_of_query(&f.query());
        assert_eq!(vars["country"], ["China", "South Korea"]);
        assert_eq!(vars["age_band"], ["25-34"]);
        assert!(vars_of_query("").is_empty());
        let m = f.filters();
        assert_eq!(m.country, ["China", "South Korea"]);
        assert_eq!(m.age_band, ["25-34"]);
    }
}
