//! A real PostgreSQL for tests: a fresh cluster per test in a temp dir,
//! reached on a unix socket only (no TCP port), stopped and removed on
//! drop. Debian keeps `initdb` and `pg_ctl` under
//! `/usr/lib/postgresql/VERSION/bin`; `cargo xtask test` installs the
//! `postgresql` package when missing and passes that directory in
//! `LIVEDASH_PG_BIN`. initdb refuses root, so as root the cluster belongs
//! to the `postgres` user and its commands run through `runuser`.
//!
//! Plain std (no test crate dependency), so the e2e tests include this file
//! too (`#[path = "../../server/tests/common/pg.rs"]`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// One PostgreSQL cluster, running until dropped.
pub struct TestPg {
    /// `initdb`, `pg_ctl` live here.
    bin: PathBuf,
    /// The cluster's own folder: `data/` and the socket (short path: a unix
    /// socket path must stay under ~100 bytes).
    dir: PathBuf,
    /// Whether commands run as the `postgres` user (we are root).
    as_postgres: bool,
}

/// The version bin dir: `LIVEDASH_PG_BIN`, else the newest
/// `/usr/lib/postgresql/*/bin` that has `initdb`.
pub fn pg_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("LIVEDASH_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b).unwrap_or_else(|| {
        panic!(
            "PostgreSQL not found under /usr/lib/postgresql/*/bin: run `cargo xtask test` \
             (it installs Debian's postgresql) or `apt-get install postgresql`, or set LIVEDASH_PG_BIN"
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl TestPg {
    /// initdb + start a new cluster (well under a second here).
    pub fn start() -> TestPg {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = PathBuf::from(format!(
            "/tmp/lpg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the cluster dir");
        let pg = TestPg {
            bin: pg_bin(),
            dir,
            as_postgres: is_root(),
        };
        if pg.as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&pg.dir)
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(ok, "chown postgres {}", pg.dir.display());
        }
        let data = pg.dir.join("data");
        pg.run(
            "initdb",
            &[
                "-D",
                path(&data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        pg.up();
        pg
    }

    /// Run one of the cluster's programs (as `postgres` when we are root),
    /// panicking with its output when it fails.
    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Start the stopped cluster (also after [`TestPg::stop`]: a restart
    /// keeps the data).
    pub fn up(&self) {
        let opts = format!(
            "-k {} -c listen_addresses='' -c fsync=off -c max_connections=200",
            self.dir.display()
        );
        let data = self.dir.join("data");
        let log = self.dir.join("log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                path(&data),
                "-l",
                path(&log),
                "-w",
                "-o",
                &opts,
                "start",
            ],
        );
    }

    /// Stop at once, as a crash or a kill would (`-m immediate`): open
    /// connections break mid-transaction.
    pub fn stop(&self) {
        let data = self.dir.join("data");
        self.run(
            "pg_ctl",
            &["-D", path(&data), "-m", "immediate", "-w", "stop"],
        );
    }

    /// The connection string for `--postgres` and tokio-postgres
    /// (key=value form: the unix socket directory as `host`).
    pub fn url(&self) -> String {
        format!("host={} user=postgres dbname=postgres", self.dir.display())
    }

    /// Run SQL with `psql` (setup or inspection in a test), returning its
    /// unaligned, tuples-only output.
    pub fn psql(&self, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.dir)
            .args(["-U", "postgres", "-d", "postgres", "-c", sql])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The cluster's folder (its `log` file tells why a start failed).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

impl Drop for TestPg {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let exe = self.bin.join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let _ = cmd
            .args(["-D", path(&data), "-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
