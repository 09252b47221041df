//! Filters: Grafana's URL convention `?var-country=China&var-traffic_source=Search`.
//!
//! The filter type is the dashboard model's
//! [`livedash_shared::dashboard::Filters`] (one type for the page, the
//! dashboards and the server): parsed from `var-NAME=value` pairs
//! (repeatable: OR within a variable, AND across variables), validated
//! (known names, bounded values) and canonical (sorted, deduplicated), so
//! two tabs that ask for the same records in any order or spelling of the
//! query get the same [`FilterSet::key`] and share one aggregator
//! ([`registry::FilterSets`]).

pub mod http;
pub mod registry;
pub mod snapshot;

pub use livedash_shared::dashboard::{age_band, FilterError, AGE_BANDS, MAX_VALUES, MAX_VALUE_LEN};

/// The server's name for the shared filter type: one distinct filter is
/// one set of aggregates ([`registry::FilterSets`]).
pub type FilterSet = livedash_shared::dashboard::Filters;
