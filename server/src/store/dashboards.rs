//! The `dashboards` table: one row per dashboard, its JSON and its
//! optimistic-concurrency `version`. Callers validate a dashboard before
//! they hand it here; this module keeps versions honest: a write names the
//! version it replaces (or `*`), and every write bumps it by one inside an
//! immediate transaction, so two editors (or two processes on one data
//! dir) never overwrite each other silently.
//!
//! The `default` dashboard always exists: it is created with the v1 layout
//! on first open, and deleting it resets it to that layout (with a new
//! version) instead of removing it.

use super::{Store, StoreError};
use livedash_shared::dashboard::DEFAULT_UID;
use livedash_shared::{now_ms, Dashboard, DashboardSummary};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

/// Most dashboards one store keeps: a create beyond it is refused (with
/// writes open to anyone on a server without `--admin-token`, the disk
/// must not be fillable by a loop of `POST`s).
pub const MAX_DASHBOARDS: usize = 1000;

/// Which stored version a write replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Whatever is stored (`If-Match: *`).
    Any,
    /// Exactly this version (`If-Match: 3`).
    Version(u64),
}

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// No dashboard has that uid.
    #[error("no dashboard has this uid")]
    NotFound,
    /// A create named a uid that is taken.
    #[error("a dashboard with this uid exists (version {current})")]
    Exists {
        /// The stored version.
        current: u64,
    },
    /// A create would pass [`MAX_DASHBOARDS`].
    #[error("the store holds {0} dashboards already, the most it keeps; delete some first")]
    Full(usize),
    /// The stored version moved on since the writer read it.
    #[error("the stored version is {}", current.version)]
    Stale {
        /// What is stored now, for the writer to merge or reload.
        current: Box<Dashboard>,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for WriteError {
    fn from(e: rusqlite::Error) -> Self {
        WriteError::Store(e.into())
    }
}

/// What a delete did.
#[derive(Debug)]
pub enum Deleted {
    /// The dashboard is gone.
    Removed,
    /// It was `default`: reset to the v1 layout, with this new version.
    Reset(Box<Dashboard>),
}

/// Create the `default` dashboard if it is missing.
pub fn ensure_default(conn: &Connection, now: u64) -> Result<(), StoreError> {
    if version_of(conn, DEFAULT_UID)?.is_none() {
        let mut d = Dashboard::default_v1();
        d.version = 1;
        d.updated_at = Some(now);
        write(conn, &d)?;
    }
    Ok(())
}

/// Every dashboard: `default` first, then by title (case-insensitive).
pub fn list(conn: &Connection) -> Result<Vec<DashboardSummary>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT uid, title, version, updated_at, widgets FROM dashboards
         ORDER BY uid <> ?1, title COLLATE NOCASE, uid",
    )?;
    let rows = st.query_map([DEFAULT_UID], |r| {
        Ok(DashboardSummary {
            uid: r.get(0)?,
            title: r.get(1)?,
            version: r.get::<_, i64>(2)? as u64,
            updated_at: r.get::<_, i64>(3)? as u64,
            widgets: r.get::<_, i64>(4)? as usize,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One dashboard, migrated to the current schema.
pub fn get(conn: &Connection, uid: &str) -> Result<Option<Dashboard>, StoreError> {
    let row = conn
        .prepare_cached("SELECT version, json, updated_at FROM dashboards WHERE uid = ?1")?
        .query_row([uid], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .optional()?;
    let Some((version, json, updated_at)) = row else {
        return Ok(None);
    };
    let corrupt = |message: String| StoreError::Corrupt {
        what: format!("dashboard {uid:?}"),
        message,
    };
    let value = serde_json::from_str(&json).map_err(|e| corrupt(e.to_string()))?;
    let mut d = livedash_shared::dashboard::migrate(value).map_err(|e| corrupt(e.to_string()))?;
    d.uid = uid.to_string();
    d.version = version as u64;
    d.updated_at = Some(updated_at as u64);
    Ok(Some(d))
}

fn version_of(conn: &Connection, uid: &str) -> Result<Option<u64>, rusqlite::Error> {
    conn.prepare_cached("SELECT version FROM dashboards WHERE uid = ?1")?
        .query_row([uid], |r| r.get::<_, i64>(0))
        .optional()
        .map(|v| v.map(|v| v as u64))
}

/// Insert or replace the row of `d` (its uid, version and updated_at set).
fn write(conn: &Connection, d: &Dashboard) -> Result<(), StoreError> {
    let json = serde_json::to_string(d).map_err(|e| StoreError::Corrupt {
        what: format!("dashboard {:?}", d.uid),
        message: e.to_string(),
    })?;
    conn.prepare_cached(
        "INSERT INTO dashboards (uid, title, version, widgets, json, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (uid) DO UPDATE SET title = excluded.title,
             version = excluded.version, widgets = excluded.widgets,
             json = excluded.json, updated_at = excluded.updated_at",
    )?
    .execute(params![
        d.uid,
        d.title,
        d.version as i64,
        d.widgets.len() as i64,
        json,
        d.updated_at.unwrap_or(0) as i64
    ])?;
    Ok(())
}

/// Create `d` with version 1. A taken uid is [`WriteError::Exists`]
/// unless `overwrite`, which replaces it with the next version; a new one
/// beyond `max` dashboards is [`WriteError::Full`]. Returns the stored
/// dashboard and whether it is new.
pub fn insert(
    conn: &mut Connection,
    d: &Dashboard,
    overwrite: bool,
    now: u64,
    max: usize,
) -> Result<(Dashboard, bool), WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current = version_of(&tx, &d.uid)?;
    if let (Some(current), false) = (current, overwrite) {
        return Err(WriteError::Exists { current });
    }
    if current.is_none() {
        let n: i64 = tx.query_row("SELECT COUNT(*) FROM dashboards", [], |r| r.get(0))?;
        if n as usize >= max {
            return Err(WriteError::Full(n as usize));
        }
    }
    let mut new = d.clone();
    new.version = current.map_or(1, |v| v + 1);
    new.updated_at = Some(now);
    write(&tx, &new)?;
    tx.commit()?;
    Ok((new, current.is_none()))
}

/// Replace dashboard `d.uid` if its stored version is the expected one;
/// the stored copy gets the next version.
pub fn update(
    conn: &mut Connection,
    d: &Dashboard,
    expect: Expect,
    now: u64,
) -> Result<Dashboard, WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current = checked(&tx, &d.uid, Some(expect))?;
    let mut new = d.clone();
    new.version = current.version + 1;
    new.updated_at = Some(now);
    write(&tx, &new)?;
    tx.commit()?;
    Ok(new)
}

/// Delete a dashboard (if `expect` holds); `default` is reset instead.
pub fn delete(
    conn: &mut Connection,
    uid: &str,
    expect: Option<Expect>,
    now: u64,
) -> Result<Deleted, WriteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current = checked(&tx, uid, expect)?;
    let out = if uid == DEFAULT_UID {
        let mut d = Dashboard::default_v1();
        d.version = current.version + 1;
        d.updated_at = Some(now);
        write(&tx, &d)?;
        Deleted::Reset(Box::new(d))
    } else {
        tx.execute("DELETE FROM dashboards WHERE uid = ?1", [uid])?;
        Deleted::Removed
    };
    tx.commit()?;
    Ok(out)
}

/// The stored dashboard, if it exists and `expect` holds.
fn checked(conn: &Connection, uid: &str, expect: Option<Expect>) -> Result<Dashboard, WriteError> {
    let current = get(conn, uid)?.ok_or(WriteError::NotFound)?;
    match expect {
        Some(Expect::Version(v)) if v != current.version => Err(WriteError::Stale {
            current: Box::new(current),
        }),
        _ => Ok(current),
    }
}

impl Store {
    /// Every dashboard's summary, `default` first.
    pub async fn list_dashboards(&self) -> Result<Vec<DashboardSummary>, StoreError> {
        self.call(|c| list(c)).await
    }

    /// One dashboard.
    pub async fn get_dashboard(&self, uid: &str) -> Result<Option<Dashboard>, StoreError> {
        let uid = uid.to_string();
        self.call(move |c| get(c, &uid)).await
    }

    /// See [`insert`].
    pub async fn create_dashboard(
        &self,
        d: Dashboard,
        overwrite: bool,
    ) -> Result<(Dashboard, bool), WriteError> {
        self.call(move |c| Ok(insert(c, &d, overwrite, now_ms(), MAX_DASHBOARDS)))
            .await?
    }

    /// See [`update`].
    pub async fn update_dashboard(
        &self,
        d: Dashboard,
        expect: Expect,
    ) -> Result<Dashboard, WriteError> {
        self.call(move |c| Ok(update(c, &d, expect, now_ms())))
            .await?
    }

    /// See [`delete`].
    pub async fn delete_dashboard(
        &self,
        uid: &str,
        expect: Option<Expect>,
    ) -> Result<Deleted, WriteError> {
        let uid = uid.to_string();
        self.call(move |c| Ok(delete(c, &uid, expect, now_ms())))
            .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::migrations::apply(&mut c, Path::new(":memory:")).unwrap();
        ensure_default(&c, 1000).unwrap();
        c
    }

    fn named(uid: &str, title: &str) -> Dashboard {
        let mut d = Dashboard::default_v1();
        d.uid = uid.into();
        d.title = title.into();
        d.widgets.truncate(2);
        d
    }

    #[test]
    fn the_default_exists_once() {
        let c = db();
        ensure_default(&c, 2000).unwrap();
        let d = get(&c, "default").unwrap().unwrap();
        assert_eq!(d.version, 1);
        assert_eq!(d.updated_at, Some(1000));
        assert_eq!(
            Dashboard {
                updated_at: None,
                ..d
            },
            Dashboard::default_v1()
        );
    }

    #[test]
    fn create_list_get_and_conflicts() {
        let mut c = db();
        let (a, created) = insert(&mut c, &named("ops", "ops board"), false, 5, 100).unwrap();
        assert!(created);
        assert_eq!((a.version, a.updated_at), (1, Some(5)));
        insert(&mut c, &named("b", "Alpha"), false, 6, 100).unwrap();
        let e = insert(&mut c, &named("ops", "again"), false, 7, 100).unwrap_err();
        assert!(matches!(e, WriteError::Exists { current: 1 }), "{e}");
        let (o, created) = insert(&mut c, &named("ops", "Ops"), true, 8, 100).unwrap();
        assert!(!created);
        assert_eq!(o.version, 2);
        let l = list(&c).unwrap();
        let uids: Vec<_> = l.iter().map(|s| s.uid.as_str()).collect();
        assert_eq!(uids, ["default", "b", "ops"], "default, then by title");
        assert_eq!(l[2].title, "Ops");
        assert_eq!((l[2].version, l[2].updated_at, l[2].widgets), (2, 8, 2));
        assert_eq!(get(&c, "ops").unwrap().unwrap(), o);
        assert!(get(&c, "nope").unwrap().is_none());
    }

    #[test]
    fn the_number_of_dashboards_is_bounded() {
        let mut c = db();
        insert(&mut c, &named("a", "A"), false, 1, 3).unwrap();
        insert(&mut c, &named("b", "B"), false, 1, 3).unwrap();
        let e = insert(&mut c, &named("c", "C"), false, 1, 3).unwrap_err();
        assert!(matches!(e, WriteError::Full(3)), "{e}");
        // Replacing one is not adding one.
        insert(&mut c, &named("b", "B2"), true, 2, 3).unwrap();
        delete(&mut c, "a", None, 3).unwrap();
        insert(&mut c, &named("c", "C"), false, 4, 3).unwrap();
        assert_eq!(list(&c).unwrap().len(), 3);
    }

    #[test]
    fn updates_need_the_current_version() {
        let mut c = db();
        insert(&mut c, &named("x", "X"), false, 1, 100).unwrap();
        // Two editors read version 1; the first saves, the second is stale.
        let mut first = named("x", "first");
        let saved = update(&mut c, &first, Expect::Version(1), 2).unwrap();
        assert_eq!(saved.version, 2);
        first.title = "second".into();
        match update(&mut c, &first, Expect::Version(1), 3).unwrap_err() {
            WriteError::Stale { current } => {
                assert_eq!(current.version, 2);
                assert_eq!(current.title, "first");
            }
            e => panic!("{e}"),
        }
        assert_eq!(get(&c, "x").unwrap().unwrap().title, "first");
        let forced = update(&mut c, &first, Expect::Any, 4).unwrap();
        assert_eq!((forced.version, forced.title.as_str()), (3, "second"));
        let e = update(&mut c, &named("ghost", "G"), Expect::Any, 5).unwrap_err();
        assert!(matches!(e, WriteError::NotFound));
    }

    #[test]
    fn deleting_removes_but_resets_the_default() {
        let mut c = db();
        insert(&mut c, &named("x", "X"), false, 1, 100).unwrap();
        let e = delete(&mut c, "x", Some(Expect::Version(9)), 2).unwrap_err();
        assert!(matches!(e, WriteError::Stale { .. }));
        assert!(matches!(
            delete(&mut c, "x", None, 2).unwrap(),
            Deleted::Removed
        ));
        assert!(get(&c, "x").unwrap().is_none());
        assert!(matches!(
            delete(&mut c, "x", None, 3).unwrap_err(),
            WriteError::NotFound
        ));
        let mut d = get(&c, "default").unwrap().unwrap();
        d.widgets.clear();
        update(&mut c, &d, Expect::Version(1), 4).unwrap();
        match delete(&mut c, "default", None, 5).unwrap() {
            Deleted::Reset(d) => {
                assert_eq!(d.version, 3);
                assert_eq!(d.widgets, Dashboard::default_v1().widgets);
            }
            Deleted::Removed => panic!("default removed"),
        }
        assert_eq!(
            get(&c, "default").unwrap().unwrap().widgets.len(),
            Dashboard::default_v1().widgets.len()
        );
    }

    #[test]
    fn a_hand_edited_row_is_reported_not_served() {
        let c = db();
        c.execute("UPDATE dashboards SET json = '{\"title\": 5}'", [])
            .unwrap();
        let e = get(&c, "default").unwrap_err().to_string();
        assert!(e.contains("dashboard \"default\" is unreadable"), "{e}");
        assert!(e.contains("title"), "{e}");
    }
}
