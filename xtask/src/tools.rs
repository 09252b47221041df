//! Detect and install the toolchain pieces; build the page bundle.

use crate::{cargo, root, step};
use std::path::PathBuf;
use std::process::Command;

/// trunk 0.22 needs a newer rustc than 1.95.
const TRUNK_VERSION: &str = "0.21";

/// `program args…` stdout, if it runs and succeeds.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .env("PATH", path())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// PATH with ~/.cargo/bin and node_modules/.bin first, so trunk finds
/// wasm-bindgen and npm's wasm-opt (it cannot be given their paths).
pub fn path() -> String {
    let mut parts = vec![root().join("node_modules/.bin")];
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        parts.push(PathBuf::from(home).join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        parts.push(PathBuf::from(home).join(".cargo/bin"));
    }
    let old = std::env::var_os("PATH").unwrap_or_default();
    parts.extend(std::env::split_paths(&old));
    std::env::join_paths(parts)
        .expect("paths join")
        .to_string_lossy()
        .into_owned()
}

/// The version of a package in Cargo.lock.
pub fn locked_version(package: &str) -> Result<String, String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|e| format!("read Cargo.lock: {e}"))?;
    let needle = format!("name = \"{package}\"\nversion = \"");
    let at = lock
        .find(&needle)
        .ok_or_else(|| format!("{package} is not in Cargo.lock"))?;
    let rest = &lock[at + needle.len()..];
    Ok(rest[..rest.find('"').unwrap_or(0)].to_string())
}

/// Debian packages, installed with apt-get (as root, or through sudo).
pub fn apt_install(packages: &[&str]) -> Result<(), String> {
    let root_user = output("id", &["-u"]).as_deref() == Some("0");
    let apt = |args: &[&str]| {
        let mut c = if root_user {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    let what = format!("apt-get install {}", packages.join(" "));
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend_from_slice(packages);
    if step(&what, &mut apt(&args)).is_ok() {
        return Ok(());
    }
    step("apt-get update", &mut apt(&["update"]))?;
    step(&what, &mut apt(&args))
}

/// wasm32 target, trunk, wasm-bindgen-cli, node/npm and the npm packages.
pub fn ensure_build_tools() -> Result<(), String> {
    let targets = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if targets
        .lines()
        .any(|t| t.trim() == "wasm32-unknown-unknown")
    {
        println!("ok  wasm32-unknown-unknown target");
    } else {
        step(
            "rustup target add wasm32-unknown-unknown",
            Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]),
        )?;
    }

    match output("trunk", &["--version"]) {
        Some(v) if v.starts_with(&format!("trunk {TRUNK_VERSION}.")) => println!("ok  {v}"),
        found => {
            println!("    trunk {TRUNK_VERSION}.x not found ({found:?}); installing (takes ~10 min once)");
            step(
                "cargo install trunk",
                cargo().args([
                    "install",
                    "trunk",
                    "--version",
                    &format!("~{TRUNK_VERSION}"),
                    "--locked",
                ]),
            )?;
        }
    }

    let wb = locked_version("wasm-bindgen")?;
    match output("wasm-bindgen", &["--version"]) {
        Some(v) if v == format!("wasm-bindgen {wb}") => println!("ok  {v}"),
        found => {
            println!("    wasm-bindgen {wb} not found ({found:?}); installing (takes ~3 min once)");
            // Not --locked: its lockfile wants a webpki-roots the registry lacks.
            step(
                "cargo install wasm-bindgen-cli",
                cargo().args(["install", "wasm-bindgen-cli", "--version", &wb, "--force"]),
            )?;
        }
    }

    if output("npm", &["--version"]).is_none() {
        apt_install(&["nodejs", "npm"])?;
    }
    let modules = root().join("node_modules");
    let lock = root().join("package-lock.json");
    let fresh = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let installed = modules.join("echarts/core.js").exists()
        && modules.join(".bin/esbuild").exists()
        && modules.join(".bin/terser").exists()
        && modules.join(".bin/wasm-opt").exists()
        && fresh(&modules.join(".package-lock.json")) >= fresh(&lock);
    if installed {
        println!("ok  npm packages (echarts, esbuild, terser, binaryen)");
    } else {
        step(
            "npm ci (echarts, esbuild, terser, binaryen's wasm-opt)",
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(root())
                .env("PATH", path()),
        )?;
    }
    Ok(())
}

/// `trunk build --release` offline into dist/.
pub fn build_bundle() -> Result<(), String> {
    // Trunk runs cargo with --offline: fetch first.
    step("cargo fetch", cargo().arg("fetch"))?;
    step(
        "trunk build --release (the page bundle in dist/)",
        Command::new("trunk")
            .args(["build", "--release"])
            .current_dir(root())
            .env("PATH", path())
            .env("TRUNK_OFFLINE", "true")
            .env_remove("CARGO_TARGET_DIR"),
    )?;
    if !root().join("dist/index.html").exists() {
        return Err("trunk did not produce dist/index.html".into());
    }
    let (files, before, after) = precompress(&root().join("dist"))?;
    println!(
        "ok  precompressed {files} files: {:.0} KiB → {:.0} KiB brotli",
        before as f64 / 1024.0,
        after as f64 / 1024.0
    );
    Ok(())
}

/// Write `X.br` (brotli, quality 11) and `X.gz` (gzip, by Zopfli) beside every
/// text and wasm file of `dir`, when smaller than the file: the server
/// serves them to browsers that accept them, so nothing is compressed per
/// request. Returns (files, their bytes, their brotli bytes).
pub fn precompress(dir: &std::path::Path) -> Result<(usize, u64, u64), String> {
    const EXTS: [&str; 7] = ["js", "wasm", "css", "html", "json", "svg", "txt"];
    let (mut files, mut before, mut after) = (0, 0u64, 0u64);
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for e in entries.flatten() {
        let path = e.path();
        let ext = path.extension().and_then(|x| x.to_str()).unwrap_or("");
        if !path.is_file() || !EXTS.contains(&ext) {
            continue;
        }
        let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut br = Vec::new();
        {
            let params = brotli::enc::BrotliEncoderParams {
                quality: 11,
                lgwin: 22,
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &data[..], &mut br, &params)
                .map_err(|e| format!("brotli {}: {e}", path.display()))?;
        }
        let gz = gzip(&data).map_err(|e| format!("gzip {}: {e}", path.display()))?;
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        for (variant, bytes) in [("br", &br), ("gz", &gz)] {
            let out = dir.join(format!("{name}.{variant}"));
            if bytes.len() < data.len() {
                std::fs::write(&out, bytes).map_err(|e| format!("{}: {e}", out.display()))?;
            } else {
                let _ = std::fs::remove_file(&out);
            }
        }
        files += 1;
        before += data.len() as u64;
        after += br.len().min(data.len()) as u64;
    }
    Ok((files, before, after))
}

/// `data` as gzip, by Zopfli: the same format every browser and `gzip -d`
/// read, 4–8 % smaller than zlib's best level (it searches harder, once, at
/// build time; decoding costs the same).
fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    zopfli::compress(
        zopfli::Options::default(),
        zopfli::Format::Gzip,
        data,
        &mut out,
    )?;
    Ok(out)
}

/// Chromium and chromedriver from Debian's packages.
pub fn ensure_browser() -> Result<(PathBuf, PathBuf), String> {
    let chromium = PathBuf::from("/usr/bin/chromium");
    let driver = PathBuf::from("/usr/bin/chromedriver");
    if chromium.exists() && driver.exists() {
        println!("ok  chromium and chromedriver");
    } else {
        apt_install(&["chromium", "chromium-driver"])?;
    }
    Ok((chromium, driver))
}

/// Node and the `ws` package of the benchmark's Node peer
/// (`bench/node-peer`, installed from its package-lock.json).
pub fn ensure_node_peer() -> Result<(), String> {
    if output("npm", &["--version"]).is_none() {
        apt_install(&["nodejs", "npm"])?;
    }
    let dir = root().join("bench/node-peer");
    if dir.join("node_modules/ws/package.json").exists() {
        println!("ok  node ws peer (bench/node-peer)");
        return Ok(());
    }
    step(
        "npm ci (the Node ws peer of the benchmark)",
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .env("PATH", path()),
    )
}

/// Node and npm's Lighthouse of the benchmark's browser audit
/// (`bench/lighthouse`, installed from its package-lock.json).
pub fn ensure_lighthouse() -> Result<(), String> {
    if output("npm", &["--version"]).is_none() {
        apt_install(&["nodejs", "npm"])?;
    }
    let dir = root().join("bench/lighthouse");
    if dir.join("node_modules/lighthouse/package.json").exists() {
        println!("ok  lighthouse (bench/lighthouse)");
        return Ok(());
    }
    step(
        "npm ci (Lighthouse, the benchmark's browser audit)",
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .env("PATH", path()),
    )
}

/// The newest `/usr/lib/postgresql/VERSION/bin` holding `initdb`.
fn postgres_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b)
}

/// PostgreSQL's server programs (Debian's `postgresql`) for the tests that
/// start a real cluster; their directory goes to the tests in
/// `LIVEDASH_PG_BIN` (Debian keeps them off PATH).
pub fn ensure_postgres() -> Result<PathBuf, String> {
    if let Some(bin) = postgres_bin() {
        println!("ok  postgresql ({})", bin.display());
        return Ok(bin);
    }
    apt_install(&["postgresql"])?;
    postgres_bin()
        .ok_or_else(|| "postgresql installed but no initdb under /usr/lib/postgresql".into())
}

/// `redis-server` on PATH or in /usr/bin (Debian's `redis-server`).
fn redis_bin() -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join("redis-server"))
        .find(|b| b.exists())
}

/// Debian's `redis-server` (the `--redis` tests start one per test and
/// `cargo xtask cluster` one for the replicas), installed when missing;
/// its path goes to the tests as `LIVEDASH_REDIS_BIN`.
pub fn ensure_redis() -> Result<PathBuf, String> {
    if let Some(bin) = redis_bin() {
        println!("ok  redis-server ({})", bin.display());
        return Ok(bin);
    }
    apt_install(&["redis-server"])?;
    redis_bin().ok_or_else(|| "redis-server installed but not found in /usr/bin".into())
}

/// Debian's HAProxy (the load balancer of `cargo xtask cluster` and of the
/// browser test behind a balancer), installed when missing.
pub fn ensure_haproxy() -> Result<PathBuf, String> {
    let bin = PathBuf::from("/usr/sbin/haproxy");
    if bin.exists() {
        println!("ok  haproxy ({})", bin.display());
        return Ok(bin);
    }
    apt_install(&["haproxy"])?;
    bin.exists()
        .then_some(bin)
        .ok_or_else(|| "haproxy installed but not found at /usr/sbin/haproxy".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precompressed_variants_decode_to_the_file() {
        use std::io::Read;
        let dir = std::env::temp_dir().join(format!("xtask-pre-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let js = "console.log('livedash');\n".repeat(200);
        std::fs::write(dir.join("app.js"), &js).unwrap();
        std::fs::write(dir.join("tiny.css"), "a{}").unwrap();
        std::fs::write(dir.join("image.png"), [0u8; 64]).unwrap();
        let (files, before, after) = precompress(&dir).unwrap();
        assert_eq!((files, before), (2, js.len() as u64 + 3));
        assert!(after < before / 10, "{after} of {before}");
        let mut out = Vec::new();
        brotli::BrotliDecompress(
            &mut &std::fs::read(dir.join("app.js.br")).unwrap()[..],
            &mut out,
        )
        .unwrap();
        assert_eq!(out, js.as_bytes());
        let mut s = String::new();
        flate2::read::GzDecoder::new(&std::fs::read(dir.join("app.js.gz")).unwrap()[..])
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, js);
        assert!(
            !dir.join("tiny.css.br").exists(),
            "not smaller: not written"
        );
        assert!(!dir.join("image.png.gz").exists(), "not a text file");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_the_locked_wasm_bindgen_version() {
        let v = locked_version("wasm-bindgen").unwrap();
        assert!(v.starts_with("0.2."), "{v}");
        assert!(locked_version("no-such-crate-here").is_err());
    }
}
