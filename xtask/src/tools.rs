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
fn apt_install(packages: &[&str]) -> Result<(), String> {
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
    let installed = modules.join("echarts/dist/echarts.min.js").exists()
        && modules.join(".bin/wasm-opt").exists()
        && fresh(&modules.join(".package-lock.json")) >= fresh(&lock);
    if installed {
        println!("ok  npm packages (echarts, binaryen)");
    } else {
        step(
            "npm ci (echarts, binaryen's wasm-opt)",
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
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_locked_wasm_bindgen_version() {
        let v = locked_version("wasm-bindgen").unwrap();
        assert!(v.starts_with("0.2."), "{v}");
        assert!(locked_version("no-such-crate-here").is_err());
    }
}
