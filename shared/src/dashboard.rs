//! Dashboards as data: the versioned JSON model shared by the server (which
//! stores it and serves it over REST) and the page (which renders it from a
//! catalogue of widgets).
//!
//! A [`Dashboard`] is a title and a list of [`Widget`]s, each with a
//! [`WidgetKind`] (how it draws), a [`Query`] (what data it shows, with
//! [`Filters`]), free-form-but-typed [`WidgetOptions`] and a [`GridPos`] on a
//! 12-column grid. It borrows the good parts of Grafana's dashboard JSON
//! (`uid`, `title`, `version`, a schema version, `gridPos`) and fixes what its
//! users trip over:
//!
//! - **Forward compatible, never lossy.** Kinds and query sources are plain
//!   strings: a kind this build does not know (written by a newer server or
//!   page) is kept as [`WidgetKind::Other`], and every unknown field of a
//!   dashboard, widget, query or options object is kept in its `extra` map, so
//!   a round trip through an older server or page loses nothing. The page
//!   draws an unknown kind as a placeholder instead of failing.
//! - **Explicit migrations.** A document carries `schema_version`;
//!   [`migrate`] upgrades older documents step by step and refuses a newer
//!   one with a message saying so, instead of silently rewriting it.
//! - **Validation with the field's path.** [`Dashboard::validate`] names
//!   the field (`widgets[3].grid.w`) and what is wrong, for every problem at
//!   once; overlapping widgets are refused instead of being pushed around.
//! - **Queries name series the history keeps** ([`Query::series_names`]),
//!   so a widget's live view and its playback read the same figures.
//!
//! Everything here is pure (no I/O), so `cargo test` covers it natively.

mod filter_vars;
mod migrate;
mod query;
mod v1;
mod validate;

/// An order record for the filter tests: the fields a filter reads are
/// given, the rest fixed.
#[cfg(test)]
fn test_record(country: &str, source: &str, gender: &str, age: u8) -> crate::OrderRecord {
    crate::OrderRecord {
        user_id: 1,
        age,
        gender: gender.into(),
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

pub use filter_vars::{FilterError, MAX_VALUES, MAX_VALUE_LEN};
pub use migrate::{migrate, ModelError};
pub use query::{
    age_band, Dimension, Filters, Query, QuerySource, AGE_BANDS, KPI_NAMES, SYSTEM_FIGURES,
};
pub use validate::{
    is_slug, FieldError, Invalid, MAX_FILTER_VALUES, MAX_LIMIT, MAX_NAME_BYTES, MAX_QUERY_NAMES,
};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The schema this build writes and understands. [`migrate`] upgrades
/// older documents to it.
pub const SCHEMA_VERSION: u32 = 1;

/// The grid's width in columns (`x + w` is at most this).
pub const GRID_COLUMNS: u32 = 12;

/// Height of one grid row in CSS pixels (a widget `h` rows high is `h`
/// rows plus the gaps between them): a layout hint for pages.
pub const GRID_ROW_PX: u32 = 40;

/// The bottom of the grid: `y + h` is at most this many rows.
pub const MAX_GRID_ROWS: u32 = 1000;

/// Tallest widget, in rows.
pub const MAX_WIDGET_ROWS: u32 = 100;

/// Most widgets on one dashboard (a page with more is slow to draw and
/// harder to read than two dashboards).
pub const MAX_WIDGETS: usize = 100;

/// Longest dashboard or widget title, in characters.
pub const MAX_TITLE_CHARS: usize = 120;

/// Longest dashboard description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;

/// Longest `uid` (Grafana's limit too), in bytes of `[A-Za-z0-9_-]`.
pub const MAX_UID_LEN: usize = 40;

/// Longest widget `id`, in bytes of `[A-Za-z0-9_-]`.
pub const MAX_WIDGET_ID_LEN: usize = 64;

/// The uid of the dashboard that always exists and reproduces the v1 page.
pub const DEFAULT_UID: &str = "default";

/// A dashboard: what the page shows, stored and versioned by the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    /// Stable identifier, in URLs (`?dashboard=UID`, `/api/dashboards/UID`):
    /// 1–40 of `[A-Za-z0-9_-]`. Empty in a `POST` means "assign one".
    #[serde(default)]
    pub uid: String,
    /// Shown in the page and the dashboard picker; 1–120 characters.
    pub title: String,
    /// Optional longer text for the picker.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Optimistic-concurrency version, set by the server: 1 when created,
    /// +1 on every save. A client sends it back as `If-Match` so two
    /// editors never overwrite each other silently; the server ignores the
    /// value in a body.
    #[serde(default)]
    pub version: u64,
    /// The model's schema; [`migrate`] upgrades older ones.
    #[serde(default = "current_schema")]
    pub schema_version: u32,
    /// When the server last stored it (Unix ms); set by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<crate::Ts>,
    /// Filters applied to every widget (a widget's own filters and the
    /// page's `?var-NAME=` parameters override them per dimension).
    #[serde(default, skip_serializing_if = "Filters::is_empty")]
    pub filters: Filters,
    /// The widgets, in reading order (the page lays them out by `grid`).
    #[serde(default)]
    pub widgets: Vec<Widget>,
    /// Fields this build does not know, kept as they came so that a round
    /// trip through an older server or page loses nothing.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn current_schema() -> u32 {
    SCHEMA_VERSION
}

/// One widget: a kind, its data, its options and its place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Widget {
    /// Unique within its dashboard; 1–64 of `[A-Za-z0-9_-]`. Stable across
    /// saves so the page can keep a widget's chart instance while editing.
    pub id: String,
    /// How it draws.
    pub kind: WidgetKind,
    /// Its heading (may be empty); up to 120 characters.
    #[serde(default)]
    pub title: String,
    /// What data it shows.
    pub query: Query,
    /// How it draws that data.
    #[serde(default, skip_serializing_if = "WidgetOptions::is_empty")]
    pub options: WidgetOptions,
    /// Its place on the 12-column grid.
    pub grid: GridPos,
    /// Unknown fields, kept (see [`Dashboard::extra`]).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A widget's place on the grid, in columns (`x`, `w`: 0–12) and rows of
/// [`GRID_ROW_PX`] (`y`, `h`), like Grafana's `gridPos`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridPos {
    /// Left column, from 0.
    pub x: u32,
    /// Top row, from 0.
    pub y: u32,
    /// Width in columns, 1–12, with `x + w` at most 12.
    pub w: u32,
    /// Height in rows, 1–100.
    pub h: u32,
}

impl GridPos {
    /// Whether two places share a cell.
    pub fn overlaps(&self, o: &GridPos) -> bool {
        self.x < o.x + o.w && o.x < self.x + self.w && self.y < o.y + o.h && o.y < self.y + self.h
    }
}

/// Presentation options. Every field is optional; the page picks a
/// default per kind. Unknown options are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WidgetOptions {
    /// How many items it shows: the top N bars or slices, the last N
    /// points of a line, N table rows or feed entries (1–10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Order of categories in bars, pies and tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<SortOrder>,
    /// Main colour, `#rgb` or `#rrggbb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// Lower bound of a gauge or value axis (finite, below `max`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Upper bound of a gauge or value axis (finite, above `min`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Unit shown after values (`%`, `$`, `B/s`), up to 16 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Digits after the decimal point, 0–10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u8>,
    /// Unknown options, kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl WidgetOptions {
    /// No option set (serialized as nothing).
    pub fn is_empty(&self) -> bool {
        *self == WidgetOptions::default()
    }
}

/// Order of categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Largest first (the tutorial's bars).
    Desc,
    /// Smallest first.
    Asc,
    /// As the server sends them.
    None,
}

/// Declares a string-tagged enum whose unknown names survive a round trip
/// as `Other(name)`.
macro_rules! open_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $var,)*
            /// A name this build does not know, kept as written.
            Other(String),
        }

        impl $name {
            /// Every name this build knows, in catalogue order.
            pub const NAMES: &'static [&'static str] = &[$($s,)*];

            /// The wire name.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$var => $s,)*
                    $name::Other(s) => s,
                }
            }

            /// From a wire name; unknown names become `Other`.
            pub fn parse(s: &str) -> Self {
                match s {
                    $($s => $name::$var,)*
                    other => $name::Other(other.to_string()),
                }
            }

            /// Whether this build knows it.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Other(_))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map(|s| $name::parse(&s))
            }
        }
    };
}
pub(crate) use open_enum;

open_enum! {
    /// How a widget draws. Chart kinds (bar, line, area, pie, gauge) can
    /// switch into each other where the query fits ([`WidgetKind::accepts`]).
    WidgetKind {
        /// Bars: a breakdown (revenue by country) or the latest values.
        Bar = "bar",
        /// A line over time: KPI history, system figures, series.
        Line = "line",
        /// A filled line over time.
        Area = "area",
        /// Slices of a breakdown or of the latest values.
        Pie = "pie",
        /// One value against `min`/`max`.
        Gauge = "gauge",
        /// A table: recent orders (`records`) or a breakdown.
        Table = "table",
        /// A KPI card: one value with its change (and a trend line).
        Kpi = "kpi",
        /// The host panel: CPU, cores, memory, swap, network, load.
        System = "system",
        /// The live counter of order items streamed.
        Counter = "counter",
        /// The activity feed.
        Feed = "feed",
        /// A custom series (ingested, e.g. through the InfluxDB write API)
        /// drawn as a line, with a picker.
        Series = "series",
        /// The number of connected clients.
        Clients = "clients",
    }
}

impl WidgetKind {
    /// The kinds a chart widget can switch between.
    pub const CHARTS: [WidgetKind; 5] = [
        WidgetKind::Bar,
        WidgetKind::Line,
        WidgetKind::Area,
        WidgetKind::Pie,
        WidgetKind::Gauge,
    ];

    /// Whether this is a chart kind (see [`WidgetKind::CHARTS`]).
    pub fn is_chart(&self) -> bool {
        Self::CHARTS.contains(self)
    }

    /// Whether this kind can draw data from `source`. Unknown kinds and
    /// sources are accepted (a newer page knows what to do with them).
    pub fn accepts(&self, source: &QuerySource) -> bool {
        use QuerySource as S;
        use WidgetKind as K;
        if !self.is_known() || !source.is_known() {
            return true;
        }
        match self {
            K::Bar | K::Pie => matches!(source, S::Breakdown | S::Kpi | S::System),
            K::Line | K::Area => matches!(source, S::Kpi | S::System | S::Series),
            K::Gauge | K::Kpi => matches!(source, S::Kpi | S::System | S::Series),
            K::Table => matches!(source, S::Records | S::Breakdown),
            K::System => *source == S::System,
            K::Counter => *source == S::Counter,
            K::Feed => *source == S::Events,
            K::Series => *source == S::Series,
            K::Clients => *source == S::Clients,
            K::Other(_) => true,
        }
    }

    /// Whether this kind shows exactly one value (its query names one).
    pub fn single_value(&self) -> bool {
        matches!(self, WidgetKind::Gauge | WidgetKind::Kpi)
    }
}

impl Dashboard {
    /// An empty dashboard with this title (no uid yet: the server assigns
    /// one on `POST`).
    pub fn new(title: impl Into<String>) -> Dashboard {
        Dashboard {
            uid: String::new(),
            title: title.into(),
            description: String::new(),
            version: 0,
            schema_version: SCHEMA_VERSION,
            updated_at: None,
            filters: Filters::default(),
            widgets: Vec::new(),
            extra: Map::new(),
        }
    }

    /// The `default` dashboard: the v1 page, widget for widget.
    pub fn default_v1() -> Dashboard {
        v1::default_v1()
    }

    /// The widget with this id.
    pub fn widget(&self, id: &str) -> Option<&Widget> {
        self.widgets.iter().find(|w| w.id == id)
    }
}

/// A dashboard in a list (`GET /api/dashboards`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DashboardSummary {
    /// Its uid.
    pub uid: String,
    /// Its title.
    pub title: String,
    /// Its stored version.
    pub version: u64,
    /// When it was last stored (Unix ms).
    pub updated_at: crate::Ts,
    /// How many widgets it has (for the picker).
    pub widgets: usize,
}

impl DashboardSummary {
    /// The summary of a stored dashboard.
    pub fn of(d: &Dashboard) -> DashboardSummary {
        DashboardSummary {
            uid: d.uid.clone(),
            title: d.title.clone(),
            version: d.version,
            updated_at: d.updated_at.unwrap_or(0),
            widgets: d.widgets.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_kinds_and_fields_survive_a_round_trip() {
        let doc = json!({
            "uid": "ops", "title": "Ops", "version": 3, "schema_version": 1,
            "tags": ["team-a"],
            "widgets": [{
                "id": "w1", "kind": "heatmap", "title": "", "query": {
                    "source": "histogram", "names": ["latency"], "bucket_ms": 50
                },
                "options": {"limit": 5, "palette": "viridis"},
                "grid": {"x": 0, "y": 0, "w": 6, "h": 4},
                "links": [{"url": "https://example.com"}]
            }]
        });
        let d: Dashboard = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(d.widgets[0].kind, WidgetKind::Other("heatmap".into()));
        assert!(!d.widgets[0].kind.is_known());
        assert_eq!(
            d.widgets[0].query.source,
            QuerySource::Other("histogram".into())
        );
        assert_eq!(d.extra["tags"], json!(["team-a"]));
        assert_eq!(d.widgets[0].options.limit, Some(5));
        assert_eq!(serde_json::to_value(&d).unwrap(), doc);
        d.validate().expect("unknown kinds are valid");
    }

    #[test]
    fn kinds_parse_and_print() {
        for name in WidgetKind::NAMES {
            let k = WidgetKind::parse(name);
            assert!(k.is_known(), "{name}");
            assert_eq!(k.as_str(), *name);
            assert_eq!(serde_json::to_value(&k).unwrap(), json!(name));
        }
        assert_eq!(WidgetKind::NAMES.len(), 12);
        assert!(WidgetKind::Bar.is_chart() && !WidgetKind::Table.is_chart());
        assert!(WidgetKind::Pie.accepts(&QuerySource::Breakdown));
        assert!(!WidgetKind::Line.accepts(&QuerySource::Breakdown));
        assert!(WidgetKind::Area.accepts(&QuerySource::Series));
        assert!(WidgetKind::Other("x".into()).accepts(&QuerySource::Events));
    }

    #[test]
    fn grid_overlap() {
        let a = GridPos {
            x: 0,
            y: 0,
            w: 6,
            h: 4,
        };
        let right = GridPos { x: 6, ..a };
        let below = GridPos { y: 4, ..a };
        let inside = GridPos {
            x: 5,
            y: 3,
            w: 2,
            h: 2,
        };
        assert!(!a.overlaps(&right) && !right.overlaps(&a));
        assert!(!a.overlaps(&below));
        assert!(a.overlaps(&inside) && inside.overlaps(&a) && inside.overlaps(&right));
        assert!(a.overlaps(&a));
    }
}
