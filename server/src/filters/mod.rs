//! Filters: Grafana's URL convention `?var-country=China&var-traffic_source=Search`.
//!
//! A [`FilterSet`] is parsed from `var-NAME=value` pairs (repeatable: OR
//! within a variable, AND across variables), validated (known names,
//! bounded values) and kept canonical (sorted, deduplicated), so two tabs
//! that ask for the same records in any order or spelling of the query get
//! the same [`FilterSet::key`] and share one aggregator
//! ([`registry::FilterSets`]). Pure: no I/O, unit-tested natively.

pub mod http;
pub mod registry;
pub mod snapshot;

use livedash_shared::OrderRecord;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Values one filter set may hold, over all its variables: a filter names
/// a few categories; hundreds would be a scan, not a dashboard filter.
pub const MAX_VALUES: usize = 32;
/// Longest value accepted, bytes (the longest country name is ~56).
pub const MAX_VALUE_LEN: usize = 100;
/// The age bands of `var-age_band` (Grafana-style labels).
pub const AGE_BANDS: [&str; 7] = ["0-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"];

/// A filterable field of an order record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Var {
    /// `var-country`: the buyer's country.
    Country,
    /// `var-traffic_source`: how the buyer arrived.
    TrafficSource,
    /// `var-category`: the product category.
    Category,
    /// `var-item_status`: Complete, Shipped, Returned, ...
    ItemStatus,
    /// `var-gender`: the buyer's gender (M/F in theLook).
    Gender,
    /// `var-age_band`: the buyer's age in one of [`AGE_BANDS`].
    AgeBand,
}

impl Var {
    /// Every variable, in key order.
    pub const ALL: [Var; 6] = [
        Var::Country,
        Var::TrafficSource,
        Var::Category,
        Var::ItemStatus,
        Var::Gender,
        Var::AgeBand,
    ];

    /// Its name in `var-NAME`.
    pub fn name(self) -> &'static str {
        match self {
            Var::Country => "country",
            Var::TrafficSource => "traffic_source",
            Var::Category => "category",
            Var::ItemStatus => "item_status",
            Var::Gender => "gender",
            Var::AgeBand => "age_band",
        }
    }

    /// The variable called `name`.
    pub fn from_name(name: &str) -> Option<Var> {
        Var::ALL.into_iter().find(|v| v.name() == name)
    }

    /// The record's value of this variable.
    fn of(self, r: &OrderRecord) -> &str {
        match self {
            Var::Country => &r.country,
            Var::TrafficSource => &r.traffic_source,
            Var::Category => &r.category,
            Var::ItemStatus => &r.item_status,
            Var::Gender => &r.gender,
            Var::AgeBand => age_band(r.age),
        }
    }
}

/// The band of [`AGE_BANDS`] an age falls in.
pub fn age_band(age: u8) -> &'static str {
    match age {
        0..=17 => AGE_BANDS[0],
        18..=24 => AGE_BANDS[1],
        25..=34 => AGE_BANDS[2],
        35..=44 => AGE_BANDS[3],
        45..=54 => AGE_BANDS[4],
        55..=64 => AGE_BANDS[5],
        _ => AGE_BANDS[6],
    }
}

/// Why a filter was refused; the text names the culprit and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A canonical filter: per variable, the accepted values (sorted, unique).
/// Empty = no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FilterSet {
    /// Variable → the values any of which a record must have.
    vars: BTreeMap<Var, BTreeSet<String>>,
}

impl FilterSet {
    /// From `(name, value)` pairs without the `var-` prefix.
    pub fn from_vars<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<FilterSet, FilterError> {
        let mut set = FilterSet::default();
        let mut count = 0;
        for (name, value) in pairs {
            let var = Var::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = Var::ALL.iter().map(|v| v.name()).collect();
                FilterError(format!(
                    "unknown filter variable \"var-{name}\": use one of {}",
                    known.join(", ")
                ))
            })?;
            check_value(var, value)?;
            if set.vars.entry(var).or_default().insert(value.to_string()) {
                count += 1;
            }
            if count > MAX_VALUES {
                let why = format!("a filter holds at most {MAX_VALUES} values");
                return Err(FilterError(why));
            }
        }
        Ok(set)
    }

    /// From a whole query's pairs: the `var-` ones, others ignored.
    pub fn from_query<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<FilterSet, FilterError> {
        FilterSet::from_vars(
            pairs
                .into_iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("var-")?, v))),
        )
    }

    /// From a raw query string (`a=1&var-country=China`), percent-decoded.
    pub fn from_query_string(query: &str) -> Result<FilterSet, FilterError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        FilterSet::from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// No variable set: every record matches.
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// Whether `r` passes: for every variable, its value is one of those
    /// asked for.
    pub fn matches(&self, r: &OrderRecord) -> bool {
        self.vars
            .iter()
            .all(|(var, values)| values.contains(var.of(r)))
    }

    /// The canonical query string (`var-country=China&var-country=Japan`,
    /// variables and values sorted, percent-encoded): equal for equal sets,
    /// the registry key, and what a page puts back in its URL.
    pub fn key(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (var, values) in &self.vars {
            for v in values {
                s.append_pair(&format!("var-{}", var.name()), v);
            }
        }
        s.finish()
    }

    /// Variable name → values, as the `filter` client frame carries them.
    pub fn to_map(&self) -> BTreeMap<String, Vec<String>> {
        self.vars
            .iter()
            .map(|(k, v)| (k.name().to_string(), v.iter().cloned().collect()))
            .collect()
    }
}

/// A value must be non-empty, short, printable, and a known band for
/// `age_band`.
fn check_value(var: Var, value: &str) -> Result<(), FilterError> {
    let name = var.name();
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
    if var == Var::AgeBand && !AGE_BANDS.contains(&value) {
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
    use super::*;

    fn rec(country: &str, source: &str, age: u8) -> OrderRecord {
        OrderRecord {
            user_id: 1,
            age,
            gender: "F".into(),
            country: country.into(),
            traffic_source: source.into(),
            order_id: 1,
            item_id: 1,
            category: "Jeans".into(),
            cost: 1.0,
            item_status: "Shipped".into(),
            sale_price: 2.0,
            created_at: 0,
        }
    }

    #[test]
    fn or_within_a_variable_and_across_variables() {
        let f = FilterSet::from_query_string(
            "var-country=China&var-traffic_source=Search&var-country=Japan&history=60",
        )
        .unwrap();
        assert!(f.matches(&rec("China", "Search", 30)));
        assert!(f.matches(&rec("Japan", "Search", 30)));
        assert!(!f.matches(&rec("Spain", "Search", 30)));
        assert!(!f.matches(&rec("China", "Email", 30)));
        assert!(FilterSet::default().matches(&rec("Spain", "Email", 30)));
    }

    #[test]
    fn the_key_is_canonical() {
        let a = FilterSet::from_query_string(
            "var-traffic_source=Search&var-country=Japan&var-country=China&var-country=Japan",
        )
        .unwrap();
        let b = FilterSet::from_vars([
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
        let spaced = FilterSet::from_query_string("var-country=United+States").unwrap();
        assert_eq!(spaced.key(), "var-country=United+States");
        assert_eq!(FilterSet::from_query_string(&spaced.key()).unwrap(), spaced);
    }

    #[test]
    fn age_bands() {
        let f = FilterSet::from_vars([("age_band", "25-34")]).unwrap();
        assert!(f.matches(&rec("China", "Search", 25)));
        assert!(f.matches(&rec("China", "Search", 34)));
        assert!(!f.matches(&rec("China", "Search", 35)));
        assert_eq!(age_band(70), "65+");
        assert_eq!(age_band(12), "0-17");
    }

    #[test]
    fn bad_names_and_values_are_refused_with_the_reason() {
        let e = FilterSet::from_query_string("var-colour=red").unwrap_err();
        assert!(
            e.0.contains("unknown filter variable \"var-colour\""),
            "{e}"
        );
        assert!(e.0.contains("traffic_source"), "{e}");
        let e = FilterSet::from_query_string("var-country=").unwrap_err();
        assert_eq!(e.0, "var-country has an empty value");
        let e = FilterSet::from_vars([("age_band", "20-30")]).unwrap_err();
        assert!(e.0.starts_with("var-age_band must be one of 0-17"), "{e}");
        let long = "x".repeat(MAX_VALUE_LEN + 1);
        assert!(FilterSet::from_vars([("country", long.as_str())]).is_err());
        assert!(FilterSet::from_vars([("country", "a\nb")]).is_err());
        let many: Vec<String> = (0..=MAX_VALUES).map(|i| format!("c{i}")).collect();
        let e = FilterSet::from_vars(many.iter().map(|c| ("country", c.as_str()))).unwrap_err();
        assert!(e.0.contains("at most 32 values"), "{e}");
        // Not a `var-` parameter: not a filter, not an error.
        assert!(FilterSet::from_query_string("since=5&history=0")
            .unwrap()
            .is_empty());
    }
}
