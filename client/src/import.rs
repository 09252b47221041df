//! Importing a dashboard file (an export of this or another livedash, or
//! hand-written JSON): the text is parsed, upgraded by the schema hook
//! ([`livedash_shared::dashboard::migrate`]) and validated before anything
//! is sent, so a bad file is refused with the reason and nothing is
//! written. Pure; `components/import_button.rs` reads the file and posts.

use livedash_shared::dashboard::migrate;
use livedash_shared::Dashboard;

/// Largest file the page reads: the server's limit on a dashboard body
/// (`MAX_BODY` in `server/src/dashboards.rs`, 256 KiB; a dashboard of 100
/// widgets is a few tens of KiB), so a file too big is refused here, with
/// its size, before anything is sent.
pub const MAX_FILE_BYTES: usize = 256 * 1024;

/// The dashboard in a file's text, ready to `POST`: upgraded to the
/// current schema and valid. The stored `version` and `updated_at` are
/// dropped (the server sets them). `Err` says what is wrong, with the
/// line and column or the field's path.
pub fn parse(text: &str) -> Result<Dashboard, String> {
    if text.len() > MAX_FILE_BYTES {
        return Err(format!(
            "the file is {} KiB; a dashboard file is at most {} KiB",
            text.len() / 1024,
            MAX_FILE_BYTES / 1024
        ));
    }
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let mut d = migrate(doc).map_err(|e| format!("not a dashboard: {e}"))?;
    d.version = 0;
    d.updated_at = None;
    // A file without a uid is valid: the server assigns one.
    let mut check = d.clone();
    if check.uid.is_empty() {
        check.uid = "import".into();
    }
    check
        .validate()
        .map_err(|e| format!("not a valid dashboard: {e}"))?;
    Ok(d)
}

/// The file's dashboard as a new one beside the stored one of the same
/// uid: no uid (the server assigns one), the title marked.
pub fn as_copy(d: &Dashboard) -> Dashboard {
    let mut c = crate::edit::duplicate(d, &d.title);
    let title = format!("{} (imported)", d.title);
    if title.chars().count() <= livedash_shared::dashboard::MAX_TITLE_CHARS {
        c.title = title;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_imports_as_it_was_without_its_version() {
        let mut d = Dashboard::default_v1();
        d.version = 7;
        d.updated_at = Some(1);
        let text = serde_json::to_string_pretty(&d).unwrap();
        let back = parse(&text).unwrap();
        assert_eq!(back.widgets, d.widgets);
        assert_eq!((back.uid.as_str(), back.version), ("default", 0));
        assert_eq!(back.updated_at, None);
        let c = as_copy(&back);
        assert!(c.uid.is_empty());
        assert_eq!(c.widgets, d.widgets);
        assert!(c.title.ends_with("(imported)"), "{}", c.title);
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let e = parse("{\"title\": ").unwrap_err();
        assert!(e.starts_with("not JSON") && e.contains("line 1"), "{e}");
        let e = parse("[1, 2]").unwrap_err();
        assert!(e.contains("JSON object"), "{e}");
        let e = parse(r#"{"title": "T", "schema_version": 99}"#).unwrap_err();
        assert!(e.contains("newer livedash"), "{e}");
        let e = parse(r#"{"title": "T", "widgets": [{"id": "a", "kind": "kpi"}]}"#).unwrap_err();
        assert!(e.contains("widgets[0]"), "{e}");
        let overlapping = r#"{"title": "T", "widgets": [
            {"id": "a", "kind": "kpi", "query": {"source": "kpi", "names": ["num_orders"]}, "grid": {"x": 0, "y": 0, "w": 4, "h": 3}},
            {"id": "b", "kind": "kpi", "query": {"source": "kpi", "names": ["num_orders"]}, "grid": {"x": 2, "y": 1, "w": 4, "h": 3}}]}"#;
        let e = parse(overlapping).unwrap_err();
        assert!(e.contains("overlap"), "{e}");
        assert!(parse(&" ".repeat(MAX_FILE_BYTES + 1)).is_err());
        // Hand-written, no uid, no schema_version: fine.
        let ok = parse(r#"{"title": "Mine"}"#).unwrap();
        assert_eq!((ok.uid.as_str(), ok.title.as_str()), ("", "Mine"));
    }
}
