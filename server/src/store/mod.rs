//! The embedded store: the only module that touches SQLite.
//!
//! One file, `DATA_DIR/livedash.sqlite3` (`--data-dir`, default
//! `./livedash-data`, created when missing), in WAL mode with
//! `synchronous = FULL` (a write the API acknowledged survives a crash or a
//! power cut). Its schema is versioned by [`migrations`]; adding a table is
//! appending one entry there. Each table has its own submodule with plain
//! functions over a `&Connection` (unit-tested on an in-memory database)
//! and the async methods on [`Store`] that the rest of the server calls.
//!
//! **Threading.** Every SQLite call runs on one dedicated OS thread that
//! owns the only connection; async callers send it a job over a bounded
//! channel and await the answer. Not `spawn_blocking`: SQLite has one
//! writer anyway, so a pool of blocking threads would only queue on a lock
//! (and could tie up tokio's blocking pool, which file serving shares),
//! while one thread keeps jobs in arrival order, keeps the connection's
//! prepared-statement cache warm and bounds what waits (the channel holds
//! [`QUEUE`] jobs; further callers wait for room, without memory growth).
//! A job that does not finish within [`CALL_TIMEOUT`] (a stalled disk)
//! answers [`StoreError::Busy`] (HTTP 503) instead of hanging the request;
//! a job whose caller has gone (timed out, or the client hung up) before
//! the thread reaches it is skipped, so a 503 for a queued write means it
//! was not applied.

pub mod alerts;
pub mod dashboards;
pub mod history;
pub mod migrations;

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// The database file's name inside `--data-dir`.
pub const DB_FILE: &str = "livedash.sqlite3";

/// Jobs waiting for the store thread, at most.
pub const QUEUE: usize = 256;

/// Longest wait for one job (queueing included).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How long SQLite waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory or database could not be opened (at start).
    #[error("cannot use the data directory {path}: {message} (set --data-dir / LIVEDASH_DATA_DIR to a writable directory)")]
    Open {
        /// The directory or file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The database's schema is newer than this build knows.
    #[error("the database {path} has schema version {found}, newer than this livedash knows ({known}); use a newer livedash or another --data-dir")]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: u32,
        /// The newest this build knows.
        known: u32,
    },
    /// A stored row could not be read back (edited by hand, or a bug).
    #[error("stored {what} is unreadable: {message}")]
    Corrupt {
        /// Which row.
        what: String,
        /// Why.
        message: String,
    },
    /// The store thread did not answer in time, or is gone.
    #[error("the store is busy or unavailable: {0}")]
    Busy(String),
    /// SQLite refused a statement.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// A job for the store thread.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A handle to the store; cheap to clone. The store thread ends (and the
/// database closes) when the last handle is dropped.
#[derive(Clone, Debug)]
pub struct Store {
    /// Where jobs go.
    tx: mpsc::Sender<Job>,
    /// The database file, for messages.
    path: PathBuf,
}

impl Store {
    /// Open (creating the directory and the database when missing), bring
    /// the schema up to date, make sure the `default` dashboard exists, and
    /// start the store thread. Blocking: call it from a blocking context.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let open_err = |path: &Path, message: String| StoreError::Open {
            path: path.to_path_buf(),
            message,
        };
        std::fs::create_dir_all(dir).map_err(|e| open_err(dir, e.to_string()))?;
        if !dir.is_dir() {
            return Err(open_err(dir, "not a directory".into()));
        }
        let path = dir.join(DB_FILE);
        let mut conn = connect(&path).map_err(|e| open_err(&path, e.to_string()))?;
        migrations::apply(&mut conn, &path)?;
        dashboards::ensure_default(&conn, livedash_shared::now_ms())?;
        let (tx, rx) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("livedash-store".into())
            .spawn(move || serve(conn, rx))
            .map_err(|e| open_err(&path, format!("cannot start the store thread: {e}")))?;
        tracing::info!(path = %path.display(), "store open");
        Ok(Store { tx, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `f` on the store thread and return its result.
    async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        self.call_within(CALL_TIMEOUT, f).await
    }

    /// [`Store::call`] with another deadline.
    async fn call_within<R, F>(&self, deadline: Duration, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (done, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            // Nobody waits for it any more: do not apply it late.
            if !done.is_closed() {
                let _ = done.send(f(conn));
            }
        });
        let asked = async {
            self.tx
                .send(job)
                .await
                .map_err(|_| StoreError::Busy("the store thread has stopped".into()))?;
            answer
                .await
                .map_err(|_| StoreError::Busy("the store thread dropped the job".into()))?
        };
        tokio::time::timeout(deadline, asked)
            .await
            .map_err(|_| StoreError::Busy(format!("no answer within {deadline:?}")))?
    }
}

/// A connection with livedash's settings: WAL, full sync, foreign keys,
/// a busy timeout for other processes on the same file.
fn connect(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(%mode, "SQLite did not switch to WAL mode");
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// The store thread: run jobs in order until every handle is gone.
fn serve(mut conn: Connection, mut rx: mpsc::Receiver<Job>) {
    while let Some(job) = rx.blocking_recv() {
        // A panicking job must not take the store down for everyone.
        let run = std::panic::AssertUnwindSafe(|| job(&mut conn));
        if std::panic::catch_unwind(run).is_err() {
            tracing::error!("a store job panicked");
        }
    }
    if let Err((_, e)) = conn.close() {
        tracing::warn!("closing the store: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opens_creates_and_reopens() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("nested").join("data");
        let store = tokio::task::spawn_blocking({
            let dir = dir.clone();
            move || Store::open(&dir)
        })
        .await
        .unwrap()
        .unwrap();
        assert!(dir.join(DB_FILE).is_file());
        let mode: String = store
            .call(|c| Ok(c.pragma_query_value(None, "journal_mode", |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let n = store.list_dashboards().await.unwrap().len();
        assert_eq!(n, 1, "the default dashboard");
        drop(store);
        let again = Store::open(&dir).unwrap();
        assert_eq!(again.list_dashboards().await.unwrap().len(), 1);
    }

    #[test]
    fn an_unusable_directory_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let e = Store::open(&file).unwrap_err().to_string();
        assert!(e.contains("a-file"), "{e}");
        assert!(e.contains("--data-dir"), "{e}");
        let e = Store::open(&file.join("below")).unwrap_err().to_string();
        assert!(e.contains("cannot use the data directory"), "{e}");
    }

    #[tokio::test]
    async fn a_job_whose_caller_gave_up_is_not_run() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let slow = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .call(|_| {
                        std::thread::sleep(Duration::from_millis(300));
                        Ok(())
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let ran = Arc::new(AtomicUsize::new(0));
        let r = {
            let ran = ran.clone();
            store
                .call_within(Duration::from_millis(50), move |_| {
                    ran.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                })
                .await
        };
        assert!(matches!(r, Err(StoreError::Busy(_))));
        slow.await.unwrap().unwrap();
        // The thread has passed the abandoned job by now.
        store.list_dashboards().await.unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 0, "applied after a 503");
    }

    #[tokio::test]
    async fn a_panicking_job_does_not_stop_the_store() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let r = store.call::<(), _>(|_| panic!("boom")).await.unwrap_err();
        assert!(matches!(r, StoreError::Busy(_)), "{r}");
        assert_eq!(store.list_dashboards().await.unwrap().len(), 1);
    }
}
