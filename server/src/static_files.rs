//! The page bundle, compressed once at build time: `cargo xtask` writes
//! `X.br` (brotli) and `X.gz` (gzip) beside each text or wasm file of
//! `dist/`; the server loads those variants into memory at start and answers
//! a browser that accepts one with it (`Content-Encoding`, `Vary:
//! Accept-Encoding`), never compressing per request. Files without a
//! variant, partial and conditional answers, and clients that accept
//! neither get the file as it is (warp's file server, which also keeps
//! paths inside `dist/`).

use bytes::Bytes;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use warp::http::header::{self, HeaderValue};
use warp::http::StatusCode;
use warp::reply::Response;

/// The compressed variants of one file.
#[derive(Default, Clone)]
struct Variants {
    /// Brotli bytes, when present and smaller than the file.
    br: Option<Bytes>,
    /// Gzip bytes, likewise.
    gz: Option<Bytes>,
}

/// Every file of the bundle that has a compressed variant, by its path.
#[derive(Default, Clone)]
pub struct Precompressed {
    /// Keyed by the original file's path as warp's file server resolves it
    /// (`dist` joined with the request path).
    files: HashMap<PathBuf, Variants>,
}

impl Precompressed {
    /// Load the variants under `dist` (recursively). A variant older than
    /// its original (the bundle was rebuilt without them) is ignored, so a
    /// stale compressed copy is never served.
    pub fn load(dist: &Path) -> Precompressed {
        let mut files = HashMap::new();
        let mut dirs = vec![dist.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let (original, br) = match path.extension().and_then(|x| x.to_str()) {
                    Some("br") => (path.with_extension(""), true),
                    Some("gz") => (path.with_extension(""), false),
                    _ => continue,
                };
                let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
                match (modified(&original), modified(&path)) {
                    (Some(o), Some(v)) if v >= o => {}
                    _ => continue,
                }
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                let v: &mut Variants = files.entry(original).or_default();
                if br {
                    v.br = Some(Bytes::from(bytes));
                } else {
                    v.gz = Some(Bytes::from(bytes));
                }
            }
        }
        Precompressed { files }
    }

    /// Files with at least one variant.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file has a variant.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The variant to send for `path` given the request's
    /// `Accept-Encoding`: brotli before gzip, each only when accepted.
    pub fn pick(&self, path: &Path, accept: Option<&str>) -> Option<(&'static str, Bytes)> {
        let v = self.files.get(path)?;
        let accept = accept?;
        if let Some(b) = v.br.as_ref().filter(|_| accepts(accept, "br")) {
            return Some(("br", b.clone()));
        }
        if let Some(g) = v.gz.as_ref().filter(|_| accepts(accept, "gzip")) {
            return Some(("gzip", g.clone()));
        }
        None
    }

    /// Turn warp's answer for a file into the compressed one when a variant
    /// fits. Always marks the answer `Vary: Accept-Encoding` for files that
    /// have variants (caches must key on it).
    pub fn respond(&self, path: &Path, accept: Option<&str>, file: Response) -> Response {
        let Some(_) = self.files.get(path) else {
            return file;
        };
        let mut r = match self.pick(path, accept) {
            Some((coding, bytes)) if file.status() == StatusCode::OK => {
                let (mut parts, _) = file.into_parts();
                parts.headers.remove(header::CONTENT_RANGE);
                parts.headers.remove(header::ACCEPT_RANGES);
                parts
                    .headers
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
                parts
                    .headers
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
                Response::from_parts(parts, bytes.into())
            }
            _ => file,
        };
        r.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        r
    }
}

/// Whether an `Accept-Encoding` value accepts `coding` (by name or `*`,
/// with a q-value above zero).
pub fn accepts(accept: &str, coding: &str) -> bool {
    let mut star = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case(coding) {
            return q > 0.0;
        }
        if name == "*" {
            star = Some(q > 0.0);
        }
    }
    star.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_is_read_with_q_values() {
        assert!(accepts("gzip, deflate, br, zstd", "br"));
        assert!(accepts("gzip, deflate, br", "gzip"));
        assert!(!accepts("gzip", "br"));
        assert!(!accepts("br;q=0, gzip", "br"));
        assert!(accepts("br;q=0.5", "br"));
        assert!(accepts("*", "br"));
        assert!(!accepts("*;q=0", "gzip"));
        assert!(!accepts("identity", "gzip"));
        assert!(accepts("GZIP", "gzip"));
    }

    #[test]
    fn variants_are_picked_by_preference_and_stale_ones_ignored() {
        let dir = std::env::temp_dir().join(format!("ld-static-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("app.js"), "x".repeat(100)).unwrap();
        std::fs::write(dir.join("app.js.gz"), "gz-bytes").unwrap();
        std::fs::write(dir.join("app.js.br"), "br-bytes").unwrap();
        std::fs::write(dir.join("old.css.gz"), "old").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.join("old.css"), "rebuilt after its variant").unwrap();
        let p = Precompressed::load(&dir);
        assert_eq!(p.len(), 1, "the stale old.css.gz is ignored");
        let js = dir.join("app.js");
        let pick = |a| p.pick(&js, a).map(|(c, b)| (c, b.to_vec()));
        assert_eq!(pick(Some("gzip, br")), Some(("br", b"br-bytes".to_vec())));
        assert_eq!(pick(Some("gzip")), Some(("gzip", b"gz-bytes".to_vec())));
        assert_eq!(pick(Some("identity")), None);
        assert_eq!(pick(None), None);
        assert_eq!(p.pick(&dir.join("old.css"), Some("gzip")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
