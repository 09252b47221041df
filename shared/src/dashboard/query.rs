//! What a widget shows: a [`Query`] names a source (a KPI, a breakdown, a
//! system figure, a series, the recent orders, the feed, ...) and carries
//! [`Filters`] on the order dimensions, which follow Grafana's URL
//! convention `?var-country=China&var-country=Japan`.

use super::open_enum;
use crate::OrderRecord;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The KPIs a `kpi` query may name (each also the series `orders.NAME`).
pub const KPI_NAMES: &[&str] = &["num_orders", "num_order_items", "total_sales"];

/// The host figures a `system` query may name (each also the series
/// `system.NAME`).
pub const SYSTEM_FIGURES: &[&str] = &[
    "cpu_percent",
    "memory_percent",
    "swap_percent",
    "net_rx_bps",
    "net_tx_bps",
    "load_1",
    "load_5",
    "load_15",
];

open_enum! {
    /// Where a widget's data comes from.
    QuerySource {
        /// KPIs over the lookback window; `names` ⊆ [`KPI_NAMES`].
        Kpi = "kpi",
        /// Revenue by a dimension over the window; `by` names it.
        Breakdown = "breakdown",
        /// Host figures; `names` ⊆ [`SYSTEM_FIGURES`] (empty: all, for the
        /// system panel).
        System = "system",
        /// Named series (ingested, e.g. `cpu.usage_user{host=a}`).
        Series = "series",
        /// The most recent order records (a table).
        Records = "records",
        /// The activity feed.
        Events = "events",
        /// Order items streamed since the server started.
        Counter = "counter",
        /// The number of connected clients.
        Clients = "clients",
    }
}

/// A widget's data query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Query {
    /// Where the data comes from.
    pub source: QuerySource,
    /// Which figures of the source (KPI names, system figures, series
    /// names); empty where the source has only one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// For a `breakdown`: the dimension the revenue is broken down by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<Dimension>,
    /// Only order records matching these count (KPIs, breakdowns, records).
    #[serde(default, skip_serializing_if = "Filters::is_empty")]
    pub filters: Filters,
    /// Unknown fields, kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Query {
    /// A query of `source` naming `names`.
    pub fn new(source: QuerySource, names: &[&str]) -> Query {
        Query {
            source,
            names: names.iter().map(|s| s.to_string()).collect(),
            by: None,
            filters: Filters::default(),
            extra: Map::new(),
        }
    }

    /// Revenue broken down by `by`.
    pub fn breakdown(by: Dimension) -> Query {
        Query {
            by: Some(by),
            ..Query::new(QuerySource::Breakdown, &[])
        }
    }

    /// The history series this query reads (`orders.num_orders`,
    /// `system.cpu_percent`, a series' own name); empty for sources that
    /// are not series.
    pub fn series_names(&self) -> Vec<String> {
        let prefixed = |p: &str, all: &[&str]| -> Vec<String> {
            let names: Vec<&str> = if self.names.is_empty() {
                all.to_vec()
            } else {
                self.names.iter().map(String::as_str).collect()
            };
            names.iter().map(|n| format!("{p}.{n}")).collect()
        };
        match self.source {
            QuerySource::Kpi => prefixed("orders", KPI_NAMES),
            QuerySource::System => prefixed("system", SYSTEM_FIGURES),
            QuerySource::Series => self.names.clone(),
            _ => Vec::new(),
        }
    }
}

/// An order dimension that can be filtered on (and broken down by).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// The buyer's country.
    Country,
    /// Search, Organic, Facebook, Email, Display.
    TrafficSource,
    /// The product category.
    Category,
    /// Shipped, Complete, Processing, Cancelled, Returned.
    ItemStatus,
    /// `M` or `F`.
    Gender,
    /// The buyer's age in one of [`AGE_BANDS`] (filters only: revenue is
    /// not broken down by it).
    AgeBand,
}

/// The age bands of the `age_band` filter (Grafana-style labels).
pub const AGE_BANDS: [&str; 7] = ["0-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"];

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

impl Dimension {
    /// Every dimension, in URL order.
    pub const ALL: [Dimension; 6] = [
        Dimension::Country,
        Dimension::TrafficSource,
        Dimension::Category,
        Dimension::ItemStatus,
        Dimension::Gender,
        Dimension::AgeBand,
    ];

    /// The dimensions the server breaks revenue down by today.
    pub const BREAKDOWNS: [Dimension; 2] = [Dimension::Country, Dimension::TrafficSource];

    /// The field name (`traffic_source`), also the URL's `var-` suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Country => "country",
            Dimension::TrafficSource => "traffic_source",
            Dimension::Category => "category",
            Dimension::ItemStatus => "item_status",
            Dimension::Gender => "gender",
            Dimension::AgeBand => "age_band",
        }
    }

    /// From a field name.
    pub fn parse(s: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// The record's value of this dimension.
    pub fn of(self, r: &OrderRecord) -> &str {
        match self {
            Dimension::Country => &r.country,
            Dimension::TrafficSource => &r.traffic_source,
            Dimension::Category => &r.category,
            Dimension::ItemStatus => &r.item_status,
            Dimension::Gender => &r.gender,
            Dimension::AgeBand => age_band(r.age),
        }
    }
}

/// Filters on the order dimensions: a record matches when, for every
/// dimension with values, its value is one of them (OR within a
/// dimension, AND across dimensions). No values: no filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    /// Countries to keep.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub country: Vec<String>,
    /// Traffic sources to keep.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traffic_source: Vec<String>,
    /// Categories to keep.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub category: Vec<String>,
    /// Item statuses to keep.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub item_status: Vec<String>,
    /// Genders to keep.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gender: Vec<String>,
    /// Age bands ([`AGE_BANDS`]) to keep.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub age_band: Vec<String>,
}

impl Filters {
    /// No filter at all.
    pub fn is_empty(&self) -> bool {
        Dimension::ALL.iter().all(|d| self.get(*d).is_empty())
    }

    /// The values of one dimension.
    pub fn get(&self, d: Dimension) -> &Vec<String> {
        match d {
            Dimension::Country => &self.country,
            Dimension::TrafficSource => &self.traffic_source,
            Dimension::Category => &self.category,
            Dimension::ItemStatus => &self.item_status,
            Dimension::Gender => &self.gender,
            Dimension::AgeBand => &self.age_band,
        }
    }

    /// The values of one dimension, to change.
    pub fn get_mut(&mut self, d: Dimension) -> &mut Vec<String> {
        match d {
            Dimension::Country => &mut self.country,
            Dimension::TrafficSource => &mut self.traffic_source,
            Dimension::Category => &mut self.category,
            Dimension::ItemStatus => &mut self.item_status,
            Dimension::Gender => &mut self.gender,
            Dimension::AgeBand => &mut self.age_band,
        }
    }

    /// Whether the record passes.
    pub fn matches(&self, r: &OrderRecord) -> bool {
        Dimension::ALL.iter().all(|d| {
            let want = self.get(*d);
            want.is_empty() || want.iter().any(|v| v == d.of(r))
        })
    }

    /// These filters with `over`'s dimensions replacing ours where `over`
    /// has values (dashboard ← widget ← URL).
    pub fn overlay(&self, over: &Filters) -> Filters {
        let mut out = self.clone();
        for d in Dimension::ALL {
            if !over.get(d).is_empty() {
                *out.get_mut(d) = over.get(d).clone();
            }
        }
        out
    }

    /// The same filter set in a canonical form (values sorted, duplicates
    /// dropped): equal filter sets compare and hash equal, so the server
    /// can share one aggregate per distinct set.
    pub fn canonical(&self) -> Filters {
        let mut out = self.clone();
        for d in Dimension::ALL {
            let v = out.get_mut(d);
            v.sort();
            v.dedup();
        }
        out
    }

    /// From URL query pairs, Grafana's way: `var-country=China` (repeatable).
    /// Other parameters and unknown `var-` names are ignored; empty values
    /// too (Grafana's "All").
    pub fn from_query_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Filters {
        let mut f = Filters::default();
        for (k, v) in pairs {
            let dim = k.strip_prefix("var-").and_then(Dimension::parse);
            if let (Some(d), false) = (dim, v.is_empty()) {
                let values = f.get_mut(d);
                if !values.iter().any(|x| x == v) {
                    values.push(v.to_string());
                }
            }
        }
        f
    }

    /// As URL query pairs (`var-country`, `China`), in [`Dimension::ALL`]
    /// order (not percent-encoded).
    pub fn to_query_pairs(&self) -> Vec<(String, String)> {
        Dimension::ALL
            .iter()
            .flat_map(|d| {
                self.get(*d)
                    .iter()
                    .map(move |v| (format!("var-{}", d.as_str()), v.clone()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(country: &str, source: &str, gender: &str) -> OrderRecord {
        super::super::test_record(country, source, gender, 30)
    }

    #[test]
    fn filters_match_or_within_and_across() {
        let f = Filters::from_query_pairs([
            ("var-country", "China"),
            ("var-country", "Japan"),
            ("var-traffic_source", "Search"),
            ("var-nope", "x"),
            ("dashboard", "default"),
            ("var-gender", ""),
        ]);
        assert_eq!(f.country, vec!["China", "Japan"]);
        assert_eq!(f.traffic_source, vec!["Search"]);
        assert!(f.gender.is_empty());
        assert!(f.matches(&record("China", "Search", "F")));
        assert!(f.matches(&record("Japan", "Search", "M")));
        assert!(!f.matches(&record("Japan", "Email", "M")));
        assert!(!f.matches(&record("Brasil", "Search", "M")));
        assert!(Filters::default().matches(&record("Brasil", "Email", "M")));
        assert_eq!(
            f.to_query_pairs(),
            vec![
                ("var-country".to_string(), "China".to_string()),
                ("var-country".to_string(), "Japan".to_string()),
                ("var-traffic_source".to_string(), "Search".to_string()),
            ]
        );
    }

    #[test]
    fn overlay_and_canonical() {
        let dash = Filters {
            country: vec!["China".into()],
            gender: vec!["F".into()],
            ..Filters::default()
        };
        let url = Filters {
            country: vec!["Japan".into(), "Brasil".into(), "Japan".into()],
            ..Filters::default()
        };
        let f = dash.overlay(&url);
        assert_eq!(f.country, vec!["Japan", "Brasil", "Japan"]);
        assert_eq!(f.gender, vec!["F"]);
        assert_eq!(f.canonical().country, vec!["Brasil", "Japan"]);
    }

    #[test]
    fn unknown_filter_dimensions_are_refused() {
        let e = serde_json::from_value::<Filters>(json!({"age": ["30"]})).unwrap_err();
        assert!(e.to_string().contains("unknown field `age`"), "{e}");
        assert!(e.to_string().contains("traffic_source"), "{e}");
    }

    #[test]
    fn series_names_follow_the_history_names() {
        let q = Query::new(QuerySource::Kpi, &["total_sales"]);
        assert_eq!(q.series_names(), vec!["orders.total_sales"]);
        let q = Query::new(QuerySource::System, &[]);
        assert_eq!(q.series_names().len(), SYSTEM_FIGURES.len());
        assert_eq!(q.series_names()[1], "system.memory_percent");
        let q = Query::new(QuerySource::Series, &["cpu.usage{host=a}"]);
        assert_eq!(q.series_names(), vec!["cpu.usage{host=a}"]);
        assert!(Query::breakdown(Dimension::Country)
            .series_names()
            .is_empty());
    }
}
