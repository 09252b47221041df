//! [`Filters`] from and to Grafana's URL convention
//! (`?var-country=China&var-traffic_source=Search`), validated: known
//! variables, bounded values, a known band for `age_band`. Built this way a
//! filter is canonical (values sorted, no repeats), so two tabs that ask
//! for the same records in any order or spelling of the query get equal
//! filters with the same [`Filters::key`] and the server shares one
//! aggregator between them. The server parses `?var-` parameters and
//! `filter` frames with it, the page its address bar; a dashboard's
//! filters are the same type.

use super::{Dimension, Filters, AGE_BANDS};
use std::collections::BTreeMap;
use std::fmt;

/// Values one filter may hold, over all its variables: a filter names a
/// few categories; hundreds would be a scan, not a dashboard filter.
pub const MAX_VALUES: usize = 32;

/// Longest value accepted, bytes (the longest country name is ~56).
pub const MAX_VALUE_LEN: usize = 100;

/// Why a filter was refused; the text names the culprit and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FilterError {}

impl Filters {
    /// From `(name, value)` pairs without the `var-` prefix, canonical.
    pub fn from_vars<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Filters, FilterError> {
        let mut f = Filters::default();
        let mut count = 0;
        for (name, value) in pairs {
            let d = Dimension::parse(name).ok_or_else(|| {
                let known: Vec<&str> = Dimension::ALL.iter().map(|d| d.as_str()).collect();
                FilterError(format!(
                    "unknown filter variable \"var-{name}\": use one of {}",
                    known.join(", ")
                ))
            })?;
            check_value(d, value)?;
            let values = f.get_mut(d);
            if let Err(at) = values.binary_search_by(|v| v.as_str().cmp(value)) {
                values.insert(at, value.to_string());
                count += 1;
            }
            if count > MAX_VALUES {
                let why = format!("a filter holds at most {MAX_VALUES} values");
                return Err(FilterError(why));
            }
        }
        Ok(f)
    }

    /// From a whole query's pairs: the `var-` ones, others ignored.
    pub fn from_query<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Filters, FilterError> {
        Filters::from_vars(
            pairs
                .into_iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("var-")?, v))),
        )
    }

    /// From a raw query string (`a=1&var-country=China`), percent-decoded.
    pub fn from_query_string(query: &str) -> Result<Filters, FilterError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        Filters::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// The canonical query string (`var-country=China&var-country=Japan`,
    /// variables in [`Dimension::ALL`] order, values sorted,
    /// percent-encoded): equal for equal canonical filters, the server's
    /// registry key, and what a page puts back in its URL.
    pub fn key(&self) -> String {
        let c = self.canonical();
        let mut s = form_urlencoded::Serializer::new(String::new());
        for d in Dimension::ALL {
            for v in c.get(d) {
                s.append_pair(&format!("var-{}", d.as_str()), v);
            }
        }
        s.finish()
    }

    /// Variable name → values, as the `filter` client frame carries them.
    pub fn to_map(&self) -> BTreeMap<String, Vec<String>> {
        Dimension::ALL
            .iter()
            .filter(|d| !self.get(**d).is_empty())
            .map(|d| (d.as_str().to_string(), self.get(*d).clone()))
            .collect()
    }
}

/// A value must be non-empty, short, printable, and a known band for
/// `age_band`.
fn check_value(d: Dimension, value: &str) -> Result<(), FilterError> {
    let name = d.as_str();
    if value.is_empty() {
        return Err(FilterError(format!("var-{name} has an empty value")));
    }
    if value.len() > MAX_VALUE_LEN {
        let why = format!("var-{name} values are at most {MAX_VALUE_LEN} bytes");
        return Err(FilterError(why));
    }
    if value.chars().any(char::is_control) {
        let why = format!("var-{name} has a control character in {value:?}");
        return Err(FilterError(why));
    }
    if d == Dimension::AgeBand && !AGE_BANDS.contains(&value) {
        let why = format!(
            "var-age_band must be one of {}, got {value:?}",
            AGE_BANDS.join(", ")
        );
        return Err(FilterError(why));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::age_band;
    use super::*;
    use crate::OrderRecord;

    fn rec(country: &str, source: &str, age: u8) -> OrderRecord {
        super::super::test_record(country, source, "F", age)
    }

    #[test]
    fn or_within_a_variable_and_across_variables() {
        let f = Filters::from_query_string(
            "var-country=China&var-traffic_source=Search&var-country=Japan&history=60",
        )
        .unwrap();
        assert!(f.matches(&rec("China", "Search", 30)));
        assert!(f.matches(&rec("Japan", "Search", 30)));
        assert!(!f.matches(&rec("Spain", "Search", 30)));
        assert!(!f.matches(&rec("China", "Email", 30)));
        assert!(Filters::default().matches(&rec("Spain", "Email", 30)));
    }

    #[test]
    fn the_key_is_canonical() {
        let a = Filters::from_query_string(
            "var-traffic_source=Search&var-country=Japan&var-country=China&var-country=Japan",
        )
        .unwrap();
        let b = Filters::from_vars([
            ("country", "China"),
            ("country", "Japan"),
            ("traffic_source", "Search"),
        ])
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(
            a.key(),
            "var-country=China&var-country=Japan&var-traffic_source=Search"
        );
        let spaced = Filters::from_query_string("var-country=United+States").unwrap();
        assert_eq!(spaced.key(), "var-country=United+States");
        assert_eq!(Filters::from_query_string(&spaced.key()).unwrap(), spaced);
        assert_eq!(a.to_map()["country"], ["China", "Japan"]);
        assert_eq!(a.to_map().len(), 2);
    }

    #[test]
    fn age_bands() {
        let f = Filters::from_vars([("age_band", "25-34")]).unwrap();
        assert!(f.matches(&rec("China", "Search", 25)));
        assert!(f.matches(&rec("China", "Search", 34)));
        assert!(!f.matches(&rec("China", "Search", 35)));
        assert_eq!(age_band(70), "65+");
        assert_eq!(age_band(12), "0-17");
    }

    #[test]
    fn bad_names_and_values_are_refused_with_the_reason() {
        let e = Filters::from_query_string("var-colour=red").unwrap_err();
        assert!(
            e.0.contains("unknown filter variable \"var-colour\""),
            "{e}"
        );
        assert!(e.0.contains("traffic_source"), "{e}");
        let e = Filters::from_query_string("var-country=").unwrap_err();
        assert_eq!(e.0, "var-country has an empty value");
        let e = Filters::from_vars([("age_band", "20-30")]).unwrap_err();
        assert!(e.0.starts_with("var-age_band must be one of 0-17"), "{e}");
        let long = "x".repeat(MAX_VALUE_LEN + 1);
        assert!(Filters::from_vars([("country", long.as_str())]).is_err());
        assert!(Filters::from_vars([("country", "a\nb")]).is_err());
        let many: Vec<String> = (0..=MAX_VALUES).map(|i| format!("c{i}")).collect();
        let e = Filters::from_vars(many.iter().map(|c| ("country", c.as_str()))).unwrap_err();
        assert!(e.0.contains("at most 32 values"), "{e}");
        // Not a `var-` parameter: not a filter, not an error.
        assert!(Filters::from_query_string("since=5&history=0")
            .unwrap()
            .is_empty());
    }
}
