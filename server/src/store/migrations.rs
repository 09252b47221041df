//! The database schema, by version. Adding a table is appending a [`Migration`] with the next
//! version; never edit one that has shipped. Each runs in its own
//! transaction together with its row in `schema_migrations`, so a crash
//! mid-way leaves the previous version intact.

use super::StoreError;
use rusqlite::Connection;
use std::path::Path;

/// One schema step.
#[derive(Debug)]
pub struct Migration {
    /// The schema version it creates: 1, 2, 3, ... in order.
    pub version: u32,
    /// A short name, recorded in `schema_migrations`.
    pub name: &'static str,
    /// The statements.
    pub sql: &'static str,
}

/// Every migration, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "dashboards",
        // `version` and `updated_at` are authoritative over the copies inside
        // `json`; `title` and `widgets` serve the list without parsing `json`.
        sql: "CREATE TABLE dashboards (
              uid        TEXT PRIMARY KEY,
              title      TEXT NOT NULL,
              version    INTEGER NOT NULL CHECK (version >= 1),
              widgets    INTEGER NOT NULL,
              json       TEXT NOT NULL,
              updated_at INTEGER NOT NULL
          ) STRICT;",
    },
    Migration {
        version: 2,
        name: "history_minutes",
        sql: super::history::SCHEMA,
    },
    Migration {
        version: 3,
        name: "alerts",
        sql: super::alerts::SCHEMA,
    },
];

/// The newest schema version this build knows.
pub fn latest() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The database's schema version (0 for a new database).
pub fn current(conn: &Connection) -> Result<u32, rusqlite::Error> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at INTEGER NOT NULL
         ) STRICT;",
    )?;
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )
}

/// Bring the schema up to date; refuse a database from a newer build.
/// Returns the version it is at.
pub fn apply(conn: &mut Connection, path: &Path) -> Result<u32, StoreError> {
    apply_these(conn, path, MIGRATIONS)
}

fn apply_these(
    conn: &mut Connection,
    path: &Path,
    migrations: &[Migration],
) -> Result<u32, StoreError> {
    let known = migrations.last().map_or(0, |m| m.version);
    let from = current(conn)?;
    if from > known {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: from,
            known,
        });
    }
    let mut at = from;
    for m in migrations.iter().filter(|m| m.version > from) {
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.version, m.name, livedash_shared::now_ms() as i64],
        )?;
        tx.commit()?;
        tracing::info!(version = m.version, name = m.name, "store schema migrated");
        at = m.version;
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.name);
        }
    }

    #[test]
    fn migrations_run_once_in_order() {
        let mut conn = Connection::open_in_memory().unwrap();
        let p = Path::new(":memory:");
        assert_eq!(apply(&mut conn, p).unwrap(), latest());
        assert_eq!(apply(&mut conn, p).unwrap(), latest(), "idempotent");
        // A later build adds a table: only the new step runs.
        let mut more: Vec<Migration> = MIGRATIONS
            .iter()
            .map(|m| Migration {
                version: m.version,
                name: m.name,
                sql: "SELECT no_such_function()",
            })
            .collect();
        let next = latest() + 1;
        more.push(Migration {
            version: next,
            name: "later",
            sql: "CREATE TABLE later_table (id INTEGER PRIMARY KEY, json TEXT NOT NULL);",
        });
        assert_eq!(apply_these(&mut conn, p, &more).unwrap(), next);
        conn.execute("INSERT INTO later_table (json) VALUES ('{}')", [])
            .unwrap();
        let names: Vec<String> = conn
            .prepare("SELECT name FROM schema_migrations ORDER BY version")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(names.last().map(String::as_str), Some("later"));
        assert_eq!(names[0], "dashboards");
        // This build does not know the later schema: it refuses the database.
        let e = apply(&mut conn, p).unwrap_err();
        assert!(
            matches!(e, StoreError::TooNew { found, known, .. } if found == next && known == latest()),
            "{e}"
        );
        assert!(e.to_string().contains("newer than this livedash"), "{e}");
    }

    #[test]
    fn a_failing_step_leaves_the_previous_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        let p = Path::new(":memory:");
        apply(&mut conn, p).unwrap();
        let mut broken: Vec<Migration> = MIGRATIONS
            .iter()
            .map(|m| Migration {
                version: m.version,
                name: m.name,
                sql: "",
            })
            .collect();
        broken.push(Migration {
            version: latest() + 1,
            name: "broken",
            sql: "CREATE TABLE half (x INTEGER); CREATE TABLE oops (",
        });
        assert!(apply_these(&mut conn, p, &broken).is_err());
        assert_eq!(current(&conn).unwrap(), latest());
        let half: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(half, 0, "the step's transaction rolled back");
    }
}
