//! Export what a chart shows: the numbers of its ECharts option, as CSV
//! and as JSON. Pure (no web-sys): the page serializes the very option it
//! gave ECharts and hands it here, so the file holds exactly what is on
//! screen; the browser download is in `widgets/chart.rs`.

use serde_json::{json, Map, Value};

/// A chart's data as a table: one label column, one column per series.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Column titles: the label column first, then each series' name.
    pub columns: Vec<String>,
    /// Rows: a label, then one number per series (`None`: no value).
    pub rows: Vec<(String, Vec<Option<f64>>)>,
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::Object(o) => o.get("value").and_then(num),
        _ => None,
    }
}

fn series_list(option: &Value) -> Vec<&Value> {
    match &option["series"] {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![&option["series"]],
        _ => Vec::new(),
    }
}

/// The x-axis categories of a cartesian chart.
fn categories(option: &Value) -> Vec<String> {
    let axis = match &option["xAxis"] {
        Value::Array(a) => a.first().cloned().unwrap_or(Value::Null),
        other => other.clone(),
    };
    axis["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    c.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| c.to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The numbers of a chart option: bars and lines by category (one column
/// per series), pies and gauges by item name.
pub fn table(option: &Value) -> Table {
    let series = series_list(option);
    let itemwise = series
        .first()
        .is_some_and(|s| matches!(s["type"].as_str(), Some("pie" | "gauge")));
    if itemwise {
        let s = series[0];
        let rows = s["data"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|d| (d["name"].as_str().unwrap_or("").to_string(), vec![num(d)]))
                    .collect()
            })
            .unwrap_or_default();
        return Table {
            columns: vec!["name".into(), "value".into()],
            rows,
        };
    }
    let cats = categories(option);
    let mut columns = vec!["category".to_string()];
    columns.extend(series.iter().enumerate().map(|(i, s)| {
        s["name"]
            .as_str()
            .map(str::to_string)
            .unwrap_or(format!("series {}", i + 1))
    }));
    let rows = cats
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let vals = series
                .iter()
                .map(|s| s["data"].get(i).and_then(num))
                .collect();
            (c.clone(), vals)
        })
        .collect();
    Table { columns, rows }
}

/// RFC 4180 field: quoted when it holds a comma, quote or line break.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// CSV with a header line; numbers as JSON writes them, empty when none.
pub fn csv(t: &Table) -> String {
    let mut out = t
        .columns
        .iter()
        .map(|c| field(c))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for (label, vals) in &t.rows {
        out.push_str(&field(label));
        for v in vals {
            out.push(',');
            if let Some(v) = v {
                out.push_str(&json!(v).to_string());
            }
        }
        out.push('\n');
    }
    out
}

/// JSON: an array of objects, one per row, keyed by the column titles
/// (numbers as numbers, `null` when none).
pub fn json_rows(t: &Table) -> Value {
    Value::Array(
        t.rows
            .iter()
            .map(|(label, vals)| {
                let mut m = Map::new();
                m.insert(t.columns[0].clone(), json!(label));
                for (c, v) in t.columns[1..].iter().zip(vals) {
                    m.insert(c.clone(), json!(v));
                }
                Value::Object(m)
            })
            .collect(),
    )
}

/// A file name for a widget's export: `livedash-ID.csv`.
pub fn file_name(widget_id: &str, ext: &str) -> String {
    format!("livedash-{widget_id}.{ext}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::{revenue_bars, BLUE};
    use livedash_shared::Revenue;

    #[test]
    fn bars_export_their_categories_and_cents() {
        let rows = vec![
            Revenue {
                name: "China".into(),
                revenue: 300.456,
            },
            Revenue {
                name: "Korea, South".into(),
                revenue: 12.0,
            },
        ];
        let option = serde_json::to_value(revenue_bars(&rows, BLUE)).unwrap();
        let t = table(&option);
        assert_eq!(t.columns, ["category", "Revenue"]);
        assert_eq!(
            csv(&t),
            "category,Revenue\nChina,300.46\n\"Korea, South\",12.0\n"
        );
        assert_eq!(
            json_rows(&t),
            json!([{"category": "China", "Revenue": 300.46}, {"category": "Korea, South", "Revenue": 12.0}])
        );
    }

    #[test]
    fn lines_export_one_column_per_series_and_pies_by_name() {
        let option = json!({
            "xAxis": {"data": ["10:00:00", "10:00:01"]},
            "series": [
                {"type": "line", "name": "CPU %", "data": [1.5, 2.0]},
                {"type": "line", "name": "Memory %", "data": [40.0]}
            ]
        });
        let t = table(&option);
        assert_eq!(
            csv(&t),
            "category,CPU %,Memory %\n10:00:00,1.5,40.0\n10:00:01,2.0,\n"
        );
        assert_eq!(json_rows(&t)[1]["Memory %"], Value::Null);
        let pie = json!({"series": [{"type": "pie", "data": [
            {"name": "Search", "value": 3.25}, {"name": "Email", "value": 1.0}
        ]}]});
        assert_eq!(csv(&table(&pie)), "name,value\nSearch,3.25\nEmail,1.0\n");
        let gauge =
            json!({"series": [{"type": "gauge", "data": [{"name": "CPU %", "value": 12.3}]}]});
        assert_eq!(
            json_rows(&table(&gauge)),
            json!([{"name": "CPU %", "value": 12.3}])
        );
        assert_eq!(file_name("cpu", "csv"), "livedash-cpu.csv");
    }
}
