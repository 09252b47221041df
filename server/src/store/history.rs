//! The minute tier of the history: `history_series` (one id per series
//! name, so a row does not repeat the name) and `history_minutes` (one row
//! per series and minute: min, max, sum, count; a `WITHOUT ROWID` table
//! keyed by (series, minute)). Writing a row for a minute that is stored
//! already merges the two (after a restart the same minute may be written
//! twice). Rows older than the retention are pruned per series.

use super::{Store, StoreError};
use crate::history::minute::MinuteRow;
use rusqlite::{params, Connection, OptionalExtension};

/// The migration that creates these tables (see `migrations.rs`).
pub const SCHEMA: &str = "
    CREATE TABLE history_series (
        id   INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    ) STRICT;
    CREATE TABLE history_minutes (
        series INTEGER NOT NULL REFERENCES history_series (id) ON DELETE CASCADE,
        minute INTEGER NOT NULL,
        min    REAL NOT NULL,
        max    REAL NOT NULL,
        sum    REAL NOT NULL,
        count  INTEGER NOT NULL,
        PRIMARY KEY (series, minute)
    ) STRICT, WITHOUT ROWID;";

/// The id of a series name, created when missing.
fn series_id(conn: &Connection, name: &str) -> Result<i64, rusqlite::Error> {
    conn.prepare_cached("INSERT OR IGNORE INTO history_series (name) VALUES (?1)")?
        .execute([name])?;
    conn.prepare_cached("SELECT id FROM history_series WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
}

/// Store rows (merged into rows of the same minute), in one transaction.
pub fn save(conn: &mut Connection, rows: &[(String, Vec<MinuteRow>)]) -> Result<usize, StoreError> {
    let tx = conn.transaction()?;
    let mut n = 0;
    for (name, rows) in rows {
        let id = series_id(&tx, name)?;
        let mut put = tx.prepare_cached(
            "INSERT INTO history_minutes (series, minute, min, max, sum, count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (series, minute) DO UPDATE SET
                 min = MIN(min, excluded.min), max = MAX(max, excluded.max),
                 sum = sum + excluded.sum, count = count + excluded.count",
        )?;
        for r in rows {
            put.execute(params![
                id,
                r.minute as i64,
                r.min,
                r.max,
                r.sum,
                r.count as i64
            ])?;
            n += 1;
        }
    }
    tx.commit()?;
    Ok(n)
}

/// The rows of one series with `from <= minute <= to`, oldest first.
pub fn load(
    conn: &Connection,
    name: &str,
    from: u64,
    to: u64,
) -> Result<Vec<MinuteRow>, StoreError> {
    let id: Option<i64> = conn
        .prepare_cached("SELECT id FROM history_series WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?;
    let Some(id) = id else {
        return Ok(Vec::new());
    };
    let clamp = |t: u64| t.min(i64::MAX as u64) as i64;
    let mut q = conn.prepare_cached(
        "SELECT minute, min, max, sum, count FROM history_minutes
         WHERE series = ?1 AND minute BETWEEN ?2 AND ?3 ORDER BY minute",
    )?;
    let rows = q
        .query_map(params![id, clamp(from), clamp(to)], |r| {
            Ok(MinuteRow {
                minute: r.get::<_, i64>(0)? as u64,
                min: r.get(1)?,
                max: r.get(2)?,
                sum: r.get(3)?,
                count: r.get::<_, i64>(4)? as u64,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Every series name with rows.
pub fn names(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut q = conn.prepare_cached("SELECT name FROM history_series ORDER BY name")?;
    let names = q.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(names)
}

/// Delete rows older than `before` (per series, through the key), then
/// the series left without rows. Returns the rows deleted.
pub fn prune(conn: &mut Connection, before: u64) -> Result<usize, StoreError> {
    let tx = conn.transaction()?;
    let ids: Vec<i64> = tx
        .prepare("SELECT id FROM history_series")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut n = 0;
    for id in ids {
        n += tx.execute(
            "DELETE FROM history_minutes WHERE series = ?1 AND minute < ?2",
            params![id, before.min(i64::MAX as u64) as i64],
        )?;
    }
    tx.execute(
        "DELETE FROM history_series WHERE NOT EXISTS
             (SELECT 1 FROM history_minutes m WHERE m.series = history_series.id)",
        [],
    )?;
    tx.commit()?;
    Ok(n)
}

impl Store {
    /// See [`save`].
    pub async fn save_minutes(
        &self,
        rows: Vec<(String, Vec<MinuteRow>)>,
    ) -> Result<usize, StoreError> {
        self.call(move |c| save(c, &rows)).await
    }

    /// See [`load`].
    pub async fn load_minutes(
        &self,
        name: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<MinuteRow>, StoreError> {
        let name = name.to_string();
        self.call(move |c| load(c, &name, from, to)).await
    }

    /// See [`names`].
    pub async fn minute_series(&self) -> Result<Vec<String>, StoreError> {
        self.call(|c| names(c)).await
    }

    /// See [`prune`].
    pub async fn prune_minutes(&self, before: u64) -> Result<usize, StoreError> {
        self.call(move |c| prune(c, before)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::migrations::apply(&mut c, std::path::Path::new(":memory:")).unwrap();
        c
    }

    fn row(minute: u64, v: f64) -> MinuteRow {
        MinuteRow::new(minute, v)
    }

    #[test]
    fn rows_are_saved_merged_loaded_and_pruned() {
        let mut c = db();
        let a = "system.cpu_percent".to_string();
        save(&mut c, &[(a.clone(), vec![row(0, 1.0), row(60_000, 2.0)])]).unwrap();
        save(
            &mut c,
            &[
                (a.clone(), vec![row(60_000, 8.0)]),
                ("b".into(), vec![row(0, 5.0)]),
            ],
        )
        .unwrap();
        let got = load(&c, &a, 0, u64::MAX).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[1].min, got[1].max, got[1].count, got[1].avg()),
            (2.0, 8.0, 2, 5.0)
        );
        assert_eq!(load(&c, &a, 60_000, 60_000).unwrap().len(), 1);
        assert!(load(&c, "nope", 0, u64::MAX).unwrap().is_empty());
        assert_eq!(names(&c).unwrap(), ["b", "system.cpu_percent"]);
        assert_eq!(prune(&mut c, 60_000).unwrap(), 2);
        assert_eq!(names(&c).unwrap(), [a.as_str()], "b had nothing left");
    }

    /// Bytes on disk per minute row, printed (`--ignored --nocapture`).
    #[test]
    #[ignore]
    fn bytes_per_minute_row_on_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("h.sqlite3");
        let mut c = Connection::open(&path).unwrap();
        super::super::migrations::apply(&mut c, &path).unwrap();
        let names: Vec<String> = (0..30)
            .map(|i| format!("orders.revenue.country.C{i}"))
            .collect();
        let minutes = 30 * 1440u64;
        for day in 0..30u64 {
            let batch: Vec<(String, Vec<MinuteRow>)> = names
                .iter()
                .map(|n| {
                    let rows = (day * 1440..(day + 1) * 1440)
                        .map(|m| row(m * 60_000, (m % 97) as f64 * 1.37))
                        .collect();
                    (n.clone(), rows)
                })
                .collect();
            save(&mut c, &batch).unwrap();
        }
        c.execute_batch("VACUUM").unwrap();
        let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
        let size: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        let rows = minutes * names.len() as u64;
        println!(
            "{rows} minute rows (30 series × 30 days): {} bytes, {:.1} bytes per row",
            pages * size,
            (pages * size) as f64 / rows as f64
        );
    }
}
