//! [`Dashboard::validate`]: every rule a stored dashboard keeps, each
//! problem reported with the path of the field (`widgets[2].grid.w`).

use super::query::{Dimension, Filters, QuerySource, KPI_NAMES, SYSTEM_FIGURES};
use super::{
    Dashboard, Widget, WidgetOptions, GRID_COLUMNS, MAX_DESCRIPTION_CHARS, MAX_GRID_ROWS,
    MAX_TITLE_CHARS, MAX_UID_LEN, MAX_WIDGETS, MAX_WIDGET_ID_LEN, MAX_WIDGET_ROWS, SCHEMA_VERSION,
};
use serde::Serialize;

/// Most values per filter dimension.
pub const MAX_FILTER_VALUES: usize = 100;
/// Longest filter value or series name, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// Most names in one query.
pub const MAX_QUERY_NAMES: usize = 20;
/// Largest `options.limit`.
pub const MAX_LIMIT: u32 = 10_000;

/// One problem: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Path of the field, e.g. `widgets[2].grid.w` (empty: the document).
    pub field: String,
    /// What is wrong, in words.
    pub message: String,
}

/// A dashboard that breaks rules: every problem found, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// At least one.
    pub errors: Vec<FieldError>,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let first = &self.errors[0];
        write!(f, "{}: {}", first.field, first.message)?;
        if self.errors.len() > 1 {
            write!(f, " (and {} more problems)", self.errors.len() - 1)?;
        }
        Ok(())
    }
}

impl std::error::Error for Invalid {}

/// Collects problems.
#[derive(Default)]
struct Check(Vec<FieldError>);

impl Check {
    fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    fn ensure(&mut self, ok: bool, field: impl Into<String>, message: impl FnOnce() -> String) {
        if !ok {
            self.fail(field, message());
        }
    }
}

/// Whether `s` is 1–`max` bytes of `[A-Za-z0-9_-]`.
pub fn is_slug(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Dashboard {
    /// Check every rule; `Err` lists every problem with its field path.
    /// A dashboard must have a uid here (the server assigns one before).
    pub fn validate(&self) -> Result<(), Invalid> {
        let mut c = Check::default();
        c.ensure(is_slug(&self.uid, MAX_UID_LEN), "uid", || {
            format!(
                "must be 1 to {MAX_UID_LEN} letters, digits, '-' or '_', got {:?}",
                self.uid
            )
        });
        title(&mut c, "title", &self.title, true);
        c.ensure(
            self.description.chars().count() <= MAX_DESCRIPTION_CHARS,
            "description",
            || format!("is longer than {MAX_DESCRIPTION_CHARS} characters"),
        );
        c.ensure(
            self.schema_version == SCHEMA_VERSION,
            "schema_version",
            || {
                format!(
                    "must be {SCHEMA_VERSION} after migration, got {}",
                    self.schema_version
                )
            },
        );
        filters(&mut c, "filters", &self.filters);
        c.ensure(self.widgets.len() <= MAX_WIDGETS, "widgets", || {
            format!(
                "has {} widgets; a dashboard holds at most {MAX_WIDGETS}",
                self.widgets.len()
            )
        });
        for (i, w) in self.widgets.iter().enumerate() {
            widget(&mut c, &format!("widgets[{i}]"), w);
        }
        unique_and_apart(&mut c, &self.widgets);
        if c.0.is_empty() {
            Ok(())
        } else {
            Err(Invalid { errors: c.0 })
        }
    }
}

fn title(c: &mut Check, field: &str, t: &str, required: bool) {
    let n = t.chars().count();
    if required && t.trim().is_empty() {
        c.fail(field, "must not be empty");
    } else if n > MAX_TITLE_CHARS {
        c.fail(
            field,
            format!("is {n} characters long; at most {MAX_TITLE_CHARS}"),
        );
    } else if t.chars().any(char::is_control) {
        c.fail(field, "must not contain control characters");
    }
}

fn name(c: &mut Check, field: &str, v: &str) {
    c.ensure(!v.is_empty() && v.len() <= MAX_NAME_BYTES, field, || {
        format!("must be 1 to {MAX_NAME_BYTES} bytes, got {} bytes", v.len())
    });
}

fn filters(c: &mut Check, field: &str, f: &Filters) {
    for d in Dimension::ALL {
        let values = f.get(d);
        let at = format!("{field}.{}", d.as_str());
        c.ensure(values.len() <= MAX_FILTER_VALUES, &at, || {
            format!("has {} values; at most {MAX_FILTER_VALUES}", values.len())
        });
        for (i, v) in values.iter().enumerate() {
            name(c, &format!("{at}[{i}]"), v);
            c.ensure(
                d != Dimension::AgeBand || super::AGE_BANDS.contains(&v.as_str()),
                format!("{at}[{i}]"),
                || {
                    format!(
                        "{v:?} is not an age band; one of {}",
                        super::AGE_BANDS.join(", ")
                    )
                },
            );
        }
    }
}

fn widget(c: &mut Check, at: &str, w: &Widget) {
    c.ensure(
        is_slug(&w.id, MAX_WIDGET_ID_LEN),
        format!("{at}.id"),
        || {
            format!(
                "must be 1 to {MAX_WIDGET_ID_LEN} letters, digits, '-' or '_', got {:?}",
                w.id
            )
        },
    );
    title(c, &format!("{at}.title"), &w.title, false);
    let g = &w.grid;
    let gat = format!("{at}.grid");
    c.ensure(
        (1..=GRID_COLUMNS).contains(&g.w),
        format!("{gat}.w"),
        || format!("must be 1 to {GRID_COLUMNS} columns, got {}", g.w),
    );
    c.ensure(g.x + g.w <= GRID_COLUMNS, format!("{gat}.x"), || {
        format!(
            "x + w = {} + {} = {} leaves the {GRID_COLUMNS}-column grid",
            g.x,
            g.w,
            g.x + g.w
        )
    });
    c.ensure(
        (1..=MAX_WIDGET_ROWS).contains(&g.h),
        format!("{gat}.h"),
        || format!("must be 1 to {MAX_WIDGET_ROWS} rows, got {}", g.h),
    );
    c.ensure(
        g.y.saturating_add(g.h) <= MAX_GRID_ROWS,
        format!("{gat}.y"),
        || format!("y + h must be at most {MAX_GRID_ROWS} rows"),
    );
    query(c, at, w);
    options(c, &format!("{at}.options"), &w.options);
}

fn query(c: &mut Check, at: &str, w: &Widget) {
    let q = &w.query;
    let qat = format!("{at}.query");
    if !w.kind.accepts(&q.source) {
        let fits: Vec<&str> = QuerySource::NAMES
            .iter()
            .copied()
            .filter(|s| w.kind.accepts(&QuerySource::parse(s)))
            .collect();
        c.fail(
            format!("{qat}.source"),
            format!(
                "a {} widget cannot show {} data; it takes {}",
                w.kind,
                q.source,
                fits.join(", ")
            ),
        );
    }
    filters(c, &format!("{qat}.filters"), &q.filters);
    c.ensure(
        q.names.len() <= MAX_QUERY_NAMES,
        format!("{qat}.names"),
        || format!("names {} figures; at most {MAX_QUERY_NAMES}", q.names.len()),
    );
    let known: Option<&[&str]> = match q.source {
        QuerySource::Kpi => Some(KPI_NAMES),
        QuerySource::System => Some(SYSTEM_FIGURES),
        _ => None,
    };
    for (i, n) in q.names.iter().enumerate() {
        let field = format!("{qat}.names[{i}]");
        match known {
            Some(k) if !k.contains(&n.as_str()) => c.fail(
                field,
                format!(
                    "{n:?} is not a {} figure; one of {}",
                    q.source,
                    k.join(", ")
                ),
            ),
            _ => name(c, &field, n),
        }
    }
    // A `series` widget with no names shows a picker over every series.
    let picker = w.kind == super::WidgetKind::Series;
    let needs_names = q.source == QuerySource::Kpi || (q.source == QuerySource::Series && !picker);
    let takes_names = needs_names || q.source == QuerySource::System || !q.source.is_known();
    if needs_names && q.names.is_empty() {
        c.fail(
            format!("{qat}.names"),
            format!("a {} query names at least one figure", q.source),
        );
    } else if !takes_names && !q.names.is_empty() {
        c.fail(
            format!("{qat}.names"),
            format!("a {} query takes no names", q.source),
        );
    } else if w.kind.single_value() && q.names.len() != 1 {
        c.fail(
            format!("{qat}.names"),
            format!("a {} widget shows exactly one figure", w.kind),
        );
    }
    match (&q.source, q.by) {
        (QuerySource::Breakdown, Some(d)) if !Dimension::BREAKDOWNS.contains(&d) => c.fail(
            format!("{qat}.by"),
            format!(
                "revenue is broken down by country or traffic_source, not {}",
                d.as_str()
            ),
        ),
        (QuerySource::Breakdown, None) => c.fail(
            format!("{qat}.by"),
            "a breakdown names its dimension: country or traffic_source",
        ),
        (s, Some(_)) if s.is_known() && *s != QuerySource::Breakdown => c.fail(
            format!("{qat}.by"),
            format!("only a breakdown query takes by, not a {s} query"),
        ),
        _ => {}
    }
}

fn options(c: &mut Check, at: &str, o: &WidgetOptions) {
    if let Some(l) = o.limit {
        c.ensure((1..=MAX_LIMIT).contains(&l), format!("{at}.limit"), || {
            format!("must be 1 to {MAX_LIMIT}, got {l}")
        });
    }
    if let Some(col) = &o.color {
        let hex = col.strip_prefix('#').unwrap_or("");
        let ok = matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit());
        c.ensure(ok, format!("{at}.color"), || {
            format!("must be #rgb or #rrggbb, got {col:?}")
        });
    }
    for (f, v) in [("min", o.min), ("max", o.max)] {
        if let Some(v) = v {
            c.ensure(v.is_finite(), format!("{at}.{f}"), || {
                "must be a finite number".into()
            });
        }
    }
    if let (Some(lo), Some(hi)) = (o.min, o.max) {
        c.ensure(lo < hi, format!("{at}.max"), || {
            format!("must be above min ({lo}), got {hi}")
        });
    }
    if let Some(u) = &o.unit {
        c.ensure(u.chars().count() <= 16, format!("{at}.unit"), || {
            "is longer than 16 characters".into()
        });
    }
    if let Some(d) = o.decimals {
        c.ensure(d <= 10, format!("{at}.decimals"), || {
            format!("must be 0 to 10, got {d}")
        });
    }
}

fn unique_and_apart(c: &mut Check, widgets: &[Widget]) {
    for (j, b) in widgets.iter().enumerate() {
        if let Some(i) = widgets[..j].iter().position(|a| a.id == b.id) {
            c.fail(
                format!("widgets[{j}].id"),
                format!("{:?} is already the id of widgets[{i}]", b.id),
            );
        }
        if let Some((i, a)) = widgets[..j]
            .iter()
            .enumerate()
            .find(|(_, a)| a.grid.overlaps(&b.grid))
        {
            c.fail(
                format!("widgets[{j}].grid"),
                format!(
                    "widget {:?} overlaps widget {:?} (widgets[{i}]); move or resize one",
                    b.id, a.id
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::{GridPos, Query, WidgetKind};

    fn dash() -> Dashboard {
        Dashboard::default_v1()
    }

    fn errors(d: &Dashboard) -> Vec<(String, String)> {
        d.validate()
            .unwrap_err()
            .errors
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    #[test]
    fn the_default_is_valid() {
        dash().validate().unwrap();
    }

    #[test]
    fn ids_must_be_unique_and_places_apart() {
        let mut d = dash();
        d.widgets[1].id = d.widgets[0].id.clone();
        d.widgets[2].grid = GridPos {
            x: 3,
            y: 1,
            w: 2,
            h: 1,
        };
        let e = errors(&d);
        assert_eq!(e[0].0, "widgets[1].id");
        assert!(e[0].1.contains("already the id of widgets[0]"), "{e:?}");
        assert_eq!(e[1].0, "widgets[2].grid");
        assert!(e[1].1.contains("overlaps"), "{e:?}");
    }

    #[test]
    fn grid_bounds() {
        let mut d = dash();
        d.widgets[0].grid = GridPos {
            x: 10,
            y: 0,
            w: 4,
            h: 0,
        };
        let e = errors(&d);
        assert!(e.contains(&(
            "widgets[0].grid.x".into(),
            "x + w = 10 + 4 = 14 leaves the 12-column grid".into()
        )));
        assert!(e.iter().any(|(f, _)| f == "widgets[0].grid.h"), "{e:?}");
        d.widgets[0].grid = GridPos {
            x: 0,
            y: u32::MAX,
            w: 13,
            h: 1,
        };
        let e = errors(&d);
        assert!(e.iter().any(|(f, _)| f == "widgets[0].grid.w"), "{e:?}");
        assert!(e.iter().any(|(f, _)| f == "widgets[0].grid.y"), "{e:?}");
    }

    #[test]
    fn titles_uids_and_counts() {
        let mut d = dash();
        d.title = "  ".into();
        d.uid = "has space".into();
        d.widgets[0].title = "x".repeat(MAX_TITLE_CHARS + 1);
        let e = errors(&d);
        assert_eq!(e[0].0, "uid");
        assert_eq!(e[1], ("title".into(), "must not be empty".into()));
        assert_eq!(e[2].0, "widgets[0].title");
        let mut d = dash();
        let w = d.widgets[0].clone();
        d.widgets = (0..=MAX_WIDGETS as u32)
            .map(|i| Widget {
                id: format!("w{i}"),
                grid: GridPos {
                    x: 0,
                    y: i,
                    w: 1,
                    h: 1,
                },
                ..w.clone()
            })
            .collect();
        let e = errors(&d);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, "widgets");
        assert!(e[0].1.contains("at most 100"), "{e:?}");
    }

    #[test]
    fn queries_fit_their_kind() {
        let mut d = dash();
        // A line cannot draw a breakdown.
        let i = d
            .widgets
            .iter()
            .position(|w| w.id == "chart-revenue-by-country")
            .unwrap();
        d.widgets[i].kind = WidgetKind::Line;
        d.widgets[0].query = Query::new(QuerySource::Kpi, &["num_orders", "total_sales"]);
        d.widgets[1].query = Query::new(QuerySource::Kpi, &["revenue"]);
        let e = errors(&d);
        assert_eq!(e[0].0, "widgets[0].query.names");
        assert!(e[0].1.contains("exactly one"), "{e:?}");
        assert_eq!(e[1].0, "widgets[1].query.names[0]");
        assert!(e[1].1.contains("num_orders, num_order_items"), "{e:?}");
        let src = format!("widgets[{i}].query.source");
        let m = &e.iter().find(|(f, _)| *f == src).unwrap().1;
        assert_eq!(
            m,
            "a line widget cannot show breakdown data; it takes kpi, system, series"
        );
    }

    #[test]
    fn a_series_picker_needs_no_names_but_a_series_line_does() {
        let mut d = dash();
        let i = d
            .widgets
            .iter()
            .position(|w| w.id == "chart-series")
            .unwrap();
        assert!(d.widgets[i].query.names.is_empty());
        d.validate().unwrap();
        d.widgets[i].kind = WidgetKind::Line;
        let e = errors(&d);
        assert_eq!(e[0].0, format!("widgets[{i}].query.names"), "{e:?}");
    }

    #[test]
    fn breakdowns_name_a_dimension_the_server_computes() {
        let mut d = dash();
        let i = d
            .widgets
            .iter()
            .position(|w| w.id == "chart-revenue-by-country")
            .unwrap();
        d.widgets[i].query.by = Some(Dimension::Gender);
        let e = errors(&d);
        assert_eq!(e[0].0, format!("widgets[{i}].query.by"));
        d.widgets[i].query.by = None;
        assert_eq!(errors(&d)[0].0, format!("widgets[{i}].query.by"));
    }

    #[test]
    fn age_band_filters_name_a_band() {
        let mut d = dash();
        d.filters.age_band = vec!["25-34".into(), "65+".into()];
        assert!(d.validate().is_ok());
        d.widgets[1].query.filters.age_band = vec!["20-30".into()];
        let e = errors(&d);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, "widgets[1].query.filters.age_band[0]");
        assert!(e[0].1.contains("not an age band"), "{e:?}");
    }

    #[test]
    fn options_and_filters() {
        let mut d = dash();
        d.widgets[0].options.color = Some("red".into());
        d.widgets[0].options.min = Some(5.0);
        d.widgets[0].options.max = Some(1.0);
        d.widgets[0].options.limit = Some(0);
        d.filters.country = vec![String::new()];
        d.widgets[1].query.filters.gender = vec!["x".repeat(300)];
        let fields: Vec<String> = errors(&d).into_iter().map(|e| e.0).collect();
        assert_eq!(
            fields,
            vec![
                "filters.country[0]",
                "widgets[0].options.limit",
                "widgets[0].options.color",
                "widgets[0].options.max",
                "widgets[1].query.filters.gender[0]",
            ]
        );
    }

    #[test]
    fn the_message_names_the_first_field() {
        let mut d = dash();
        d.title = String::new();
        d.uid = String::new();
        let e = d.validate().unwrap_err();
        assert!(e.to_string().starts_with("uid: must be 1 to 40"), "{}", e);
        assert!(e.to_string().ends_with("(and 1 more problems)"), "{}", e);
    }
}
