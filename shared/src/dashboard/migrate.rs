//! [`migrate`]: a JSON document of any schema this build knows → the
//! current [`Dashboard`].
//!
//! Each schema change adds one step to [`STEPS`] (`STEPS[i]` turns schema
//! `i + 1` into `i + 2`) and bumps [`SCHEMA_VERSION`]; old documents (in
//! the store, in exported files) are upgraded step by step when read. A
//! document without `schema_version` is taken as schema 1 (hand-written
//! JSON may leave it out); a document from a newer build is refused, not
//! guessed at.

use super::{Dashboard, SCHEMA_VERSION};
use serde_json::Value;

/// One migration step: rewrites a document of schema N into schema N + 1.
type Step = fn(Value) -> Result<Value, String>;

/// The steps from schema 1 on; schema 1 is the first, so none yet.
const STEPS: &[Step] = &[];

/// Why a JSON document is not a dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelError {
    /// The document is not a JSON object.
    NotAnObject,
    /// `schema_version` is not a positive integer.
    BadSchemaVersion(String),
    /// Written by a newer build.
    TooNew {
        /// The document's schema.
        found: u64,
        /// The newest this build knows.
        known: u32,
    },
    /// A migration step refused the document.
    Migration {
        /// The schema the step started from.
        from: u64,
        /// Why.
        message: String,
    },
    /// A field has the wrong shape (missing, wrong type, unknown filter).
    Shape {
        /// Path of the field, e.g. `widgets[0].grid.w`.
        field: String,
        /// What serde said.
        message: String,
    },
}

impl ModelError {
    /// The field the error is about (`schema_version`, `widgets[0].grid`).
    pub fn field(&self) -> &str {
        match self {
            ModelError::NotAnObject => "",
            ModelError::BadSchemaVersion(_)
            | ModelError::TooNew { .. }
            | ModelError::Migration { .. } => "schema_version",
            ModelError::Shape { field, .. } => field,
        }
    }
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelError::NotAnObject => f.write_str("a dashboard is a JSON object"),
            ModelError::BadSchemaVersion(v) => {
                write!(f, "schema_version: must be a positive integer, got {v}")
            }
            ModelError::TooNew { found, known } => write!(
                f,
                "schema_version: {found} was written by a newer livedash; \
                 this one reads schema 1 to {known}"
            ),
            ModelError::Migration { from, message } => {
                write!(f, "schema_version: migration from {from} failed: {message}")
            }
            ModelError::Shape { field, message } if field.is_empty() || field == "." => {
                f.write_str(message)
            }
            ModelError::Shape { field, message } => write!(f, "{field}: {message}"),
        }
    }
}

impl std::error::Error for ModelError {}

/// Upgrade a document to the current schema and decode it.
pub fn migrate(doc: Value) -> Result<Dashboard, ModelError> {
    migrate_with(doc, STEPS)
}

/// [`migrate`] with a given list of steps (tests use their own).
fn migrate_with(mut doc: Value, steps: &[Step]) -> Result<Dashboard, ModelError> {
    let current = steps.len() as u64 + 1;
    let found = match doc
        .as_object()
        .ok_or(ModelError::NotAnObject)?
        .get("schema_version")
    {
        None | Some(Value::Null) => 1,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => n,
            _ => return Err(ModelError::BadSchemaVersion(v.to_string())),
        },
    };
    if found > current {
        return Err(ModelError::TooNew {
            found,
            known: current as u32,
        });
    }
    for (i, step) in steps.iter().enumerate().skip(found as usize - 1) {
        let from = i as u64 + 1;
        doc = step(doc).map_err(|message| ModelError::Migration { from, message })?;
        if let Some(o) = doc.as_object_mut() {
            o.insert("schema_version".into(), Value::from(from + 1));
        }
    }
    let mut d: Dashboard = serde_path_to_error::deserialize(doc).map_err(|e| {
        let field = e.path().to_string();
        ModelError::Shape {
            field: if field == "." { String::new() } else { field },
            message: e.into_inner().to_string(),
        }
    })?;
    d.schema_version = current as u32;
    Ok(d)
}

const _: () = assert!(STEPS.len() as u32 + 1 == SCHEMA_VERSION);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v1_doc() -> Value {
        json!({
            "uid": "a", "title": "A", "schema_version": 1,
            "widgets": [{
                "id": "w", "kind": "line",
                "query": {"source": "kpi", "names": ["num_orders"]},
                "grid": {"x": 0, "y": 0, "w": 12, "h": 4}
            }]
        })
    }

    #[test]
    fn current_documents_decode_unchanged() {
        let d = migrate(v1_doc()).unwrap();
        assert_eq!(d.schema_version, 1);
        assert_eq!(d.widgets[0].grid.w, 12);
        let mut bare = v1_doc();
        bare.as_object_mut().unwrap().remove("schema_version");
        assert_eq!(migrate(bare).unwrap(), d, "no schema_version: schema 1");
    }

    /// A pretend schema 2 that renamed `title` to `name` and `grid` to
    /// `place`, and a schema 3 that drops `legacy`: the hook runs the
    /// steps from the document's schema on, in order, and decodes.
    #[test]
    fn the_hook_runs_each_step_from_the_documents_schema() {
        fn to_2(mut v: Value) -> Result<Value, String> {
            let o = v.as_object_mut().unwrap();
            let t = o.remove("title").ok_or("no title")?;
            o.insert("name".into(), t);
            o.insert("legacy".into(), json!(true));
            Ok(v)
        }
        fn to_3(mut v: Value) -> Result<Value, String> {
            let o = v.as_object_mut().unwrap();
            let t = o.remove("name").ok_or("no name")?;
            o.insert(
                "title".into(),
                json!(format!("{} (v3)", t.as_str().unwrap())),
            );
            o.remove("legacy");
            Ok(v)
        }
        let steps: &[Step] = &[to_2, to_3];
        let d = migrate_with(v1_doc(), steps).unwrap();
        assert_eq!(d.title, "A (v3)", "both steps ran");
        assert_eq!(d.schema_version, 3);
        assert!(d.extra.is_empty(), "step 2→3 removed legacy");
        // A schema 2 document gets only the second step.
        let v2 = json!({"uid": "b", "name": "B", "schema_version": 2, "legacy": 1});
        assert_eq!(migrate_with(v2, steps).unwrap().title, "B (v3)");
        // A failing step names where it started.
        let e = migrate_with(json!({"uid": "c", "schema_version": 1}), steps).unwrap_err();
        assert_eq!(
            e,
            ModelError::Migration {
                from: 1,
                message: "no title".into()
            }
        );
    }

    #[test]
    fn newer_or_broken_documents_are_refused_with_the_field() {
        let mut doc = v1_doc();
        doc["schema_version"] = json!(9);
        let e = migrate(doc).unwrap_err();
        assert_eq!(e, ModelError::TooNew { found: 9, known: 1 });
        assert!(e.to_string().contains("newer livedash"), "{e}");
        assert_eq!(e.field(), "schema_version");
        let mut doc = v1_doc();
        doc["schema_version"] = json!("one");
        assert!(matches!(migrate(doc), Err(ModelError::BadSchemaVersion(_))));
        assert_eq!(migrate(json!([1])), Err(ModelError::NotAnObject));
        let mut doc = v1_doc();
        doc["widgets"][0]["grid"]["w"] = json!("wide");
        let e = migrate(doc).unwrap_err();
        assert_eq!(e.field(), "widgets[0].grid.w");
        assert!(
            e.to_string().starts_with("widgets[0].grid.w: invalid type"),
            "{e}"
        );
        let mut doc = v1_doc();
        doc.as_object_mut().unwrap().remove("title");
        let e = migrate(doc).unwrap_err();
        assert!(e.to_string().contains("missing field `title`"), "{e}");
    }
}
