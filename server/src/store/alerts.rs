//! Alert rules (`alert_rules`: one row per rule, its JSON) and the alert
//! log (`alert_log`: one row per announcement, the newest [`LOG_KEPT`]).
//! The migration seeds the v1 page's built-in host alerts as rules 1 and
//! 2, so a deleted default stays deleted.

use super::{Store, StoreError};
use livedash_shared::{Alert, AlertRule};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

/// Most rules the store keeps.
pub const MAX_RULES: usize = 2000;

/// Log entries kept (older ones are deleted as new ones come).
pub const LOG_KEPT: u64 = 10_000;

/// The migration that creates these tables and the default rules.
pub const SCHEMA: &str = r#"
    CREATE TABLE alert_rules (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        json       TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE alert_log (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        rule_id INTEGER NOT NULL,
        ts      INTEGER NOT NULL,
        json    TEXT NOT NULL
    ) STRICT;
    INSERT INTO alert_rules (json, updated_at) VALUES
      ('{"name":"CPU high","series":"system.cpu_percent","op":">","threshold":90.0,"clear_threshold":70.0,"for_s":3,"repeat_s":0,"level":"alert","enabled":true}', 0),
      ('{"name":"Memory high","series":"system.memory_percent","op":">","threshold":90.0,"clear_threshold":80.0,"for_s":0,"repeat_s":0,"level":"warn","enabled":true}', 0);"#;

/// Why a rule write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// No rule has that id.
    #[error("no alert rule has this id")]
    NotFound,
    /// [`MAX_RULES`] are stored.
    #[error("the store keeps at most {0} alert rules; delete one first")]
    Full(usize),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for RuleError {
    fn from(e: rusqlite::Error) -> Self {
        RuleError::Store(e.into())
    }
}

fn decode(id: i64, json: &str) -> Result<AlertRule, StoreError> {
    let mut r: AlertRule = serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        what: format!("alert rule {id}"),
        message: e.to_string(),
    })?;
    r.id = id as u64;
    Ok(r)
}

/// Every rule, by id.
pub fn list(conn: &Connection) -> Result<Vec<AlertRule>, StoreError> {
    let mut q = conn.prepare_cached("SELECT id, json FROM alert_rules ORDER BY id")?;
    let rows: Vec<(i64, String)> = q
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    rows.iter().map(|(id, j)| decode(*id, j)).collect()
}

/// One rule.
pub fn get(conn: &Connection, id: u64) -> Result<Option<AlertRule>, StoreError> {
    let j: Option<String> = conn
        .prepare_cached("SELECT json FROM alert_rules WHERE id = ?1")?
        .query_row([id as i64], |r| r.get(0))
        .optional()?;
    j.map(|j| decode(id as i64, &j)).transpose()
}

fn body(r: &AlertRule) -> String {
    let mut r = r.clone();
    r.id = 0; // the row's id is authoritative
    serde_json::to_string(&r).expect("a rule serializes")
}

/// Store a new rule; returns it with its id.
pub fn insert(conn: &Connection, r: &AlertRule, now: u64) -> Result<AlertRule, RuleError> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM alert_rules", [], |r| r.get(0))?;
    if n as usize >= MAX_RULES {
        return Err(RuleError::Full(MAX_RULES));
    }
    conn.execute(
        "INSERT INTO alert_rules (json, updated_at) VALUES (?1, ?2)",
        params![body(r), now as i64],
    )?;
    let mut r = r.clone();
    r.id = conn.last_insert_rowid() as u64;
    Ok(r)
}

/// Replace a rule.
pub fn update(conn: &Connection, id: u64, r: &AlertRule, now: u64) -> Result<AlertRule, RuleError> {
    let n = conn.execute(
        "UPDATE alert_rules SET json = ?1, updated_at = ?2 WHERE id = ?3",
        params![body(r), now as i64, id as i64],
    )?;
    if n == 0 {
        return Err(RuleError::NotFound);
    }
    let mut r = r.clone();
    r.id = id;
    Ok(r)
}

/// Delete a rule; whether it existed.
pub fn delete(conn: &Connection, id: u64) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM alert_rules WHERE id = ?1", [id as i64])? > 0)
}

/// One log entry: its id and the `alert` frame it was.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    /// Its id, for `?after=`.
    pub id: u64,
    /// The frame.
    #[serde(flatten)]
    pub alert: Alert,
}

/// Append announcements to the log, dropping the oldest past [`LOG_KEPT`].
pub fn append(conn: &mut Connection, alerts: &[Alert]) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    for a in alerts {
        let json = serde_json::to_string(a).expect("an alert serializes");
        tx.prepare_cached("INSERT INTO alert_log (rule_id, ts, json) VALUES (?1, ?2, ?3)")?
            .execute(params![a.rule_id as i64, a.ts as i64, json])?;
    }
    let last = tx.last_insert_rowid();
    tx.execute(
        "DELETE FROM alert_log WHERE id <= ?1",
        [last - LOG_KEPT as i64],
    )?;
    tx.commit()?;
    Ok(())
}

/// Log entries with an id above `after`, oldest first, at most `limit`.
pub fn log_after(conn: &Connection, after: u64, limit: usize) -> Result<Vec<LogEntry>, StoreError> {
    let mut q =
        conn.prepare_cached("SELECT id, json FROM alert_log WHERE id > ?1 ORDER BY id LIMIT ?2")?;
    let rows: Vec<(i64, String)> = q
        .query_map(
            params![after.min(i64::MAX as u64) as i64, limit as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(id, j)| {
            let alert = serde_json::from_str(&j).map_err(|e| StoreError::Corrupt {
                what: format!("alert log entry {id}"),
                message: e.to_string(),
            })?;
            Ok(LogEntry {
                id: id as u64,
                alert,
            })
        })
        .collect()
}

impl Store {
    /// See [`list`].
    pub async fn alert_rules(&self) -> Result<Vec<AlertRule>, StoreError> {
        self.call(|c| list(c)).await
    }

    /// See [`get`].
    pub async fn alert_rule(&self, id: u64) -> Result<Option<AlertRule>, StoreError> {
        self.call(move |c| get(c, id)).await
    }

    /// See [`insert`].
    pub async fn create_alert_rule(&self, r: AlertRule) -> Result<AlertRule, RuleError> {
        self.call(move |c| Ok(insert(c, &r, livedash_shared::now_ms())))
            .await?
    }

    /// See [`update`].
    pub async fn update_alert_rule(&self, id: u64, r: AlertRule) -> Result<AlertRule, RuleError> {
        self.call(move |c| Ok(update(c, id, &r, livedash_shared::now_ms())))
            .await?
    }

    /// See [`delete`].
    pub async fn delete_alert_rule(&self, id: u64) -> Result<bool, StoreError> {
        self.call(move |c| delete(c, id)).await
    }

    /// See [`append`].
    pub async fn append_alert_log(&self, alerts: Vec<Alert>) -> Result<(), StoreError> {
        self.call(move |c| append(c, &alerts)).await
    }

    /// See [`log_after`].
    pub async fn alert_log(&self, after: u64, limit: usize) -> Result<Vec<LogEntry>, StoreError> {
        self.call(move |c| log_after(c, after, limit)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livedash_shared::{AlertState, Level, Op};

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::migrations::apply(&mut c, std::path::Path::new(":memory:")).unwrap();
        c
    }

    #[test]
    fn the_defaults_are_the_v1_host_alerts() {
        let c = db();
        let rules = list(&c).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(
            (rules[0].id, rules[0].series.as_str()),
            (1, "system.cpu_percent")
        );
        assert_eq!(
            (rules[0].op, rules[0].threshold, rules[0].clear_at()),
            (Op::Gt, 90.0, 70.0)
        );
        assert_eq!(rules[1].series, "system.memory_percent");
        assert_eq!(rules[1].level, Level::Warn);
    }

    #[test]
    fn rules_crud() {
        let c = db();
        let mut r = list(&c).unwrap()[0].clone();
        r.threshold = 95.0;
        let new = insert(&c, &r, 1).unwrap();
        assert_eq!(new.id, 3);
        assert_eq!(get(&c, 3).unwrap().unwrap().threshold, 95.0);
        r.name = "renamed".into();
        assert_eq!(update(&c, 3, &r, 2).unwrap().id, 3);
        assert!(matches!(update(&c, 99, &r, 2), Err(RuleError::NotFound)));
        assert!(delete(&c, 3).unwrap());
        assert!(!delete(&c, 3).unwrap());
        assert!(get(&c, 3).unwrap().is_none());
    }

    #[test]
    fn the_log_pages_by_id() {
        let mut c = db();
        let a = |i: u64| Alert {
            seq: i,
            ts: i,
            rule_id: 1,
            state: AlertState::Firing,
            value: 95.0,
            series: "system.cpu_percent".into(),
            level: Level::Alert,
            text: format!("#{i}"),
        };
        append(&mut c, &[a(1), a(2), a(3)]).unwrap();
        let all = log_after(&c, 0, 100).unwrap();
        assert_eq!(all.len(), 3);
        let later = log_after(&c, all[0].id, 1).unwrap();
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].alert.text, "#2");
        let v = serde_json::to_value(&later[0]).unwrap();
        assert_eq!(
            (v["id"].as_u64(), v["rule_id"].as_u64()),
            (Some(2), Some(1))
        );
    }
}
