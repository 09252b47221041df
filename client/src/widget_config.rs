//! A widget's settings panel, the pure part: which query sources and
//! figures the panel offers for a kind ([`sources`], [`figures`]), and the
//! panel's form fields turned into a new query and options ([`configure`]),
//! refused with the field and the reason when a value is not one. The
//! dashboard's rules (a kind draws only some sources, a gauge shows one
//! figure, …) are checked once more by [`crate::edit::apply`] through
//! `Dashboard::validate`. `widgets/settings.rs` draws the form.

use livedash_shared::dashboard::{
    Dimension, Query, QuerySource, SortOrder, Widget, WidgetKind, WidgetOptions, KPI_NAMES,
    MAX_LIMIT, SYSTEM_FIGURES,
};

/// The sources a kind can draw, in menu order (the panel offers these).
pub fn sources(kind: &WidgetKind) -> Vec<QuerySource> {
    QuerySource::NAMES
        .iter()
        .map(|s| QuerySource::parse(s))
        .filter(|s| kind.accepts(s))
        .collect()
}

/// The figures a source offers to pick from (`None`: names are typed, as
/// for ingested series; empty: the source has no figures to pick).
pub fn figures(source: &QuerySource) -> Option<&'static [&'static str]> {
    match source {
        QuerySource::Kpi => Some(KPI_NAMES),
        QuerySource::System => Some(SYSTEM_FIGURES),
        QuerySource::Series => None,
        _ => Some(&[]),
    }
}

/// Whether the panel shows option `name` (`limit`, `sort`, `unit`, `min`,
/// `max`, `decimals`, `color`) for a widget of this kind and source.
pub fn offers(kind: &WidgetKind, source: &QuerySource, name: &str) -> bool {
    use WidgetKind as K;
    match name {
        "limit" => matches!(
            kind,
            K::Bar | K::Pie | K::Line | K::Area | K::Table | K::Feed
        ),
        "sort" => matches!(kind, K::Bar | K::Pie | K::Table) && *source == QuerySource::Breakdown,
        "unit" | "decimals" => kind.is_chart() || *kind == K::Kpi,
        "min" | "max" => matches!(kind, K::Gauge | K::Line | K::Area | K::Bar),
        "color" => kind.is_chart(),
        _ => false,
    }
}

/// The value of form field `name` ("" when absent), trimmed.
fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .unwrap_or("")
}

/// An optional number field: empty is "not set".
fn number<T: std::str::FromStr>(
    fields: &[(String, String)],
    name: &str,
    what: &str,
) -> Result<Option<T>, String> {
    match field(fields, name) {
        "" => Ok(None),
        v => v
            .parse()
            .map(Some)
            .map_err(|_| format!("{name}: {v:?} is not {what}")),
    }
}

/// An optional real-number field: empty is "not set" ([`number`] for
/// `f64`, by [`crate::number::parse_f64`]: no core float parser in the
/// wasm).
fn real(fields: &[(String, String)], name: &str) -> Result<Option<f64>, String> {
    match field(fields, name) {
        "" => Ok(None),
        v => crate::number::parse_f64(v)
            .map(Some)
            .ok_or_else(|| format!("{name}: {v:?} is not a number")),
    }
}

/// The query and options the panel's fields say, from widget `w`'s own
/// (filters and unknown fields are kept). Fields: `source`, `names`
/// (repeated: the figures ticked), `series` (typed names, comma
/// separated), `by`, `limit`, `sort`, `unit`, `min`, `max`, `decimals`,
/// `color`.
pub fn configure(
    w: &Widget,
    fields: &[(String, String)],
) -> Result<(Query, WidgetOptions), String> {
    let source = match field(fields, "source") {
        "" => w.query.source.clone(),
        s => QuerySource::parse(s),
    };
    let mut q = Query {
        source: source.clone(),
        names: Vec::new(),
        by: None,
        ..w.query.clone()
    };
    q.names = match figures(&source) {
        None => field(fields, "series")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        Some(_) => fields
            .iter()
            .filter(|(k, _)| k == "names")
            .map(|(_, v)| v.clone())
            .collect(),
    };
    if source == QuerySource::Breakdown {
        q.by = match field(fields, "by") {
            // Not in the form: the widget's own (the dashboard rules
            // refuse a breakdown without one).
            "" => w.query.by,
            by => {
                Some(Dimension::parse(by).ok_or_else(|| format!("by: {by:?} is not a dimension"))?)
            }
        };
    }
    let mut o = WidgetOptions {
        extra: w.options.extra.clone(),
        ..WidgetOptions::default()
    };
    o.limit = number(fields, "limit", "a whole number")?;
    if o.limit.is_some_and(|l| l == 0 || l > MAX_LIMIT) {
        return Err(format!("limit: from 1 to {MAX_LIMIT}"));
    }
    o.sort = match field(fields, "sort") {
        "" => None,
        "desc" => Some(SortOrder::Desc),
        "asc" => Some(SortOrder::Asc),
        "none" => Some(SortOrder::None),
        s => return Err(format!("sort: {s:?} is not desc, asc or none")),
    };
    o.unit = Some(field(fields, "unit").to_string()).filter(|u| !u.is_empty());
    o.min = real(fields, "min")?;
    o.max = real(fields, "max")?;
    o.decimals = number(fields, "decimals", "a whole number from 0 to 10")?;
    o.color = Some(field(fields, "color").to_string()).filter(|c| !c.is_empty());
    Ok((q, o))
}

#[cfg(test)]
mod tests {
    use super::*;
    use livedash_shared::Dashboard;

    fn f(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_panel_offers_what_the_kind_draws() {
        let names =
            |k: WidgetKind| -> Vec<String> { sources(&k).iter().map(|s| s.to_string()).collect() };
        assert_eq!(names(WidgetKind::Line), ["kpi", "system", "series"]);
        assert_eq!(names(WidgetKind::Bar), ["kpi", "breakdown", "system"]);
        assert_eq!(names(WidgetKind::Table), ["breakdown", "records"]);
        assert_eq!(figures(&QuerySource::Kpi), Some(KPI_NAMES));
        assert_eq!(figures(&QuerySource::Series), None);
        assert!(offers(&WidgetKind::Bar, &QuerySource::Breakdown, "sort"));
        assert!(!offers(&WidgetKind::Bar, &QuerySource::System, "sort"));
        assert!(offers(&WidgetKind::Gauge, &QuerySource::System, "max"));
        assert!(!offers(
            &WidgetKind::Counter,
            &QuerySource::Counter,
            "limit"
        ));
    }

    #[test]
    fn fields_become_the_query_and_options() {
        let d = Dashboard::default_v1();
        let line = d.widget("chart-system").unwrap();
        let (q, o) = configure(
            line,
            &f(&[
                ("source", "system"),
                ("names", "memory_percent"),
                ("names", "load_1"),
                ("limit", "20"),
                ("unit", " % "),
                ("min", "0"),
                ("max", ""),
                ("decimals", "1"),
            ]),
        )
        .unwrap();
        assert_eq!(q.names, ["memory_percent", "load_1"]);
        assert_eq!((q.source, q.by), (QuerySource::System, None));
        assert_eq!(
            (o.limit, o.min, o.max, o.decimals),
            (Some(20), Some(0.0), None, Some(1))
        );
        assert_eq!(o.unit.as_deref(), Some("%"));
        let bars = d.widget("chart-revenue-by-country").unwrap();
        let (q, o) = configure(
            bars,
            &f(&[
                ("source", "breakdown"),
                ("by", "traffic_source"),
                ("limit", "3"),
                ("sort", "asc"),
            ]),
        )
        .unwrap();
        assert_eq!(q.by, Some(Dimension::TrafficSource));
        assert!(q.names.is_empty());
        assert_eq!((o.limit, o.sort), (Some(3), Some(SortOrder::Asc)));
        let (q, _) = configure(
            line,
            &f(&[("source", "series"), ("series", "cpu.user{host=a}, ,temp ")]),
        )
        .unwrap();
        assert_eq!(q.names, ["cpu.user{host=a}", "temp"]);
    }

    #[test]
    fn bad_values_name_the_field() {
        let d = Dashboard::default_v1();
        let w = d.widget("chart-revenue-by-country").unwrap();
        let bad = |pairs: &[(&str, &str)]| configure(w, &f(pairs)).unwrap_err();
        assert!(bad(&[("limit", "ten")]).starts_with("limit:"));
        assert!(bad(&[("limit", "0")]).starts_with("limit:"));
        assert!(bad(&[("min", "low")]).starts_with("min:"));
        assert!(bad(&[("decimals", "-1")]).starts_with("decimals:"));
        assert!(bad(&[("sort", "up")]).starts_with("sort:"));
        assert!(bad(&[("source", "breakdown"), ("by", "planet")]).starts_with("by:"));
    }

    #[test]
    fn a_configured_widget_is_checked_by_the_dashboard_rules() {
        use crate::edit::{apply, Edit};
        let d = Dashboard::default_v1();
        let line = d.widget("chart-system").unwrap();
        let (q, o) =
            configure(line, &f(&[("source", "system"), ("names", "swap_percent")])).unwrap();
        let out = apply(
            &d,
            &Edit::Configure(line.id.clone(), Box::new(q), Box::new(o)),
        )
        .unwrap();
        assert_eq!(
            out.widget("chart-system").unwrap().query.names,
            ["swap_percent"]
        );
        // A line cannot draw a breakdown; a KPI query names a figure.
        let (q, o) = configure(line, &f(&[("source", "breakdown"), ("by", "country")])).unwrap();
        let e = apply(
            &d,
            &Edit::Configure(line.id.clone(), Box::new(q), Box::new(o)),
        )
        .unwrap_err();
        assert!(e.contains("cannot show breakdown"), "{e}");
        let (q, o) = configure(line, &f(&[("source", "kpi")])).unwrap();
        let e = apply(
            &d,
            &Edit::Configure(line.id.clone(), Box::new(q), Box::new(o)),
        )
        .unwrap_err();
        assert!(e.contains("names"), "{e}");
    }
}
