//! Partial updates of BENCHMARKS.md: a part of `cargo xtask bench` run
//! alone (`--scenario page`, `--scenario lighthouse`) replaces its own
//! section (between its markers) and its own rows of the targets table,
//! and leaves everything else as the last full run wrote it.

use crate::root;

/// One row of the targets table from (target, judged case, value, reached).
pub fn target_row(t: &(String, String, String, bool)) -> String {
    let verdict = if t.3 { "reached" } else { "**NOT reached**" };
    format!("| {} | {} | {} | {verdict} |", t.0, t.1, t.2)
}

/// `doc` with `section` (which starts with `begin` and ends with `end`) in
/// place of the old one (appended when absent), and `targets`' rows in
/// place of the old rows of the same targets (matched by the target's
/// text up to its first `≤`/`≥`/`:`), else after the table's last row.
pub fn put(
    doc: &str,
    section: &str,
    begin: &str,
    end: &str,
    targets: &[(String, String, String, bool)],
) -> String {
    let doc = match (doc.find(begin), doc.find(end), unmarked(doc, section)) {
        (Some(s), Some(e), _) if s < e => {
            format!("{}{section}{}", &doc[..s], &doc[e + end.len()..])
        }
        (_, _, Some((s, e))) => {
            format!("{}{}\n\n{}", &doc[..s], section.trim_end(), &doc[e..])
        }
        _ => format!("{}\n\n{section}\n", doc.trim_end()),
    };
    let key = |t: &str| {
        let cut = t.find(['≤', '≥', ':']).unwrap_or(t.len());
        format!("| {}", &t[..cut])
    };
    let keys: Vec<String> = targets.iter().map(|t| key(&t.0)).collect();
    let kept: Vec<&str> = doc
        .lines()
        .filter(|l| !keys.iter().any(|k| l.starts_with(k.as_str())))
        .collect();
    let Some(table) = kept
        .iter()
        .position(|l| l.starts_with("| target | worst scenario"))
    else {
        return doc;
    };
    let at = table
        + kept[table..]
            .iter()
            .take_while(|l| l.starts_with('|'))
            .count();
    let mut out: Vec<String> = kept.iter().map(|l| l.to_string()).collect();
    out.splice(at..at, targets.iter().map(target_row));
    out.join("\n") + "\n"
}

/// Where `doc` holds the same section written before it had markers: from
/// its `## ` heading to the next heading or marker.
fn unmarked(doc: &str, section: &str) -> Option<(usize, usize)> {
    let heading = section.lines().find(|l| l.starts_with("## "))?;
    let s = doc.find(&format!("\n{heading}\n"))? + 1;
    let rest = &doc[s + heading.len()..];
    let e = [rest.find("\n## "), rest.find("\n<!--")]
        .into_iter()
        .flatten()
        .min()
        .map_or(doc.len(), |i| s + heading.len() + i + 1);
    Some((s, e))
}

/// Apply [`put`] to BENCHMARKS.md.
pub fn update(
    section: &str,
    begin: &str,
    end: &str,
    targets: &[(String, String, String, bool)],
) -> Result<(), String> {
    let path = root().join("BENCHMARKS.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".into());
    std::fs::write(&path, put(&doc, section, begin, end, targets))
        .map_err(|e| format!("write BENCHMARKS.md: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_targets_rows_are_replaced() {
        let doc = "# B\n\n| target | worst scenario | its value | |\n|---|---|---|---|\n\
                   | bundle ≤ 400 KB gzip | x | 651 KB | **NOT reached** |\n\
                   | other ≤ 1 | y | 2 | reached |\n\nA\n<!-- b -->\nold\n<!-- e -->\nZ\n";
        let t = vec![(
            "bundle ≤ 400 KB gzip".to_string(),
            "x".to_string(),
            "390 KB".to_string(),
            true,
        )];
        let out = put(
            doc,
            "<!-- b -->\nnew\n<!-- e -->",
            "<!-- b -->",
            "<!-- e -->",
            &t,
        );
        assert!(out.contains("| other ≤ 1 | y | 2 | reached |\n| bundle ≤ 400 KB gzip | x | 390 KB | reached |\n\nA"), "{out}");
        assert!(!out.contains("651") && !out.contains("old"), "{out}");
        assert!(out.contains("<!-- b -->\nnew\n<!-- e -->\nZ\n"), "{out}");
    }

    #[test]
    fn a_section_written_before_markers_existed_is_replaced_in_place() {
        let doc = "# B\n\n## One\n\nold text\n\n## Two\n\nkept\n";
        let section = "<!-- b -->\n## One\n\nnew text\n<!-- e -->";
        let out = put(doc, section, "<!-- b -->", "<!-- e -->", &[]);
        assert_eq!(
            out,
            "# B\n\n<!-- b -->\n## One\n\nnew text\n<!-- e -->\n\n## Two\n\nkept\n"
        );
        // Then found by its markers.
        assert_eq!(put(&out, section, "<!-- b -->", "<!-- e -->", &[]), out);
    }
}
