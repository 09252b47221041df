//! The tailer task: connects (reconnecting with backoff 0.5 s → 10 s),
//! installs livedash's objects, fills the lookback window once, then polls
//! the outbox — woken by NOTIFY, at least every [`POLL_EVERY`] — and hands
//! new rows to the orders task through the [`Feed`]. It saves the cursor
//! the orders task has reached, prunes the outbox, and reports its health
//! in `/healthz`, the `streams` frame and `/metrics`.

use super::rows::{Cursor, Joiner, OutboxRow, Product, User};
use super::{sql, Batch, Feed};
use crate::hub::Hub;
use crate::metrics::Metrics;
use livedash_shared::{Level, SourceStatus};
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client, NoTls, Row, Statement};

/// Longest wait between two polls when no NOTIFY comes (a lost wake-up, or
/// rows of a long transaction that just ended).
pub const POLL_EVERY: Duration = Duration::from_millis(300);
/// Most rows read per query (and per batch handed on).
pub const BATCH_ROWS: i64 = 5_000;
/// How long a row waits for its user and product before it goes out
/// without them (counted in `livedash_source_incomplete_rows_total`).
pub const INCOMPLETE_GRACE: Duration = Duration::from_secs(5);
/// First reconnect delay; doubles up to [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
/// Longest reconnect delay.
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// A query that takes longer counts as a lost connection.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Connect timeout unless the URL sets one.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often old outbox rows are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(30);
/// Outbox rows are kept this long beyond the lookback (clock skew, slack).
const PRUNE_MARGIN_MS: i64 = 60_000;

/// The tailer's state across connections.
struct Tailer {
    /// Where status, metrics and the lookback come from.
    hub: Arc<Hub>,
    /// Where rows go.
    feed: Arc<Feed>,
    /// The parsed `--postgres`.
    cfg: tokio_postgres::Config,
    /// The password, to scrub it from any error text we show.
    password: Option<String>,
    /// The open connection and its driver task.
    conn: Option<(Arc<Client>, JoinHandle<String>)>,
    /// How far rows were read and handed on (ahead of the saved cursor);
    /// `None` until the saved cursor is loaded at the first connection.
    read: Option<Cursor>,
    /// The cursor as saved in `livedash.consumers`.
    saved: Option<Cursor>,
    /// The lookback fill: done, and how far it got (it resumes after a
    /// lost connection), up to the cursor saved at start.
    fill: (bool, Cursor, Cursor),
    /// The incomplete-row policy.
    joiner: Joiner,
    /// The joiner's monotonic clock.
    started: Instant,
    /// When the outbox was last pruned.
    pruned: Option<Instant>,
    /// Whether the current connection got as far as polling.
    up: bool,
}

/// The statements one connection prepares once.
struct Stmts {
    poll: Statement,
    fill: Statement,
    users: Statement,
    products: Statement,
}

/// [`run`] under a supervisor: if it panics, the source is reported
/// failed (`/healthz`, `streams`, the feed) and a new tailer starts after
/// a pause, going on from what the feed already holds.
///
/// With `--redis` only the producer lease holder tails (one replica polls
/// the database, saves the cursor and prunes): the others wait on standby,
/// and a replica that loses the lease stops its tailer (saving its cursor)
/// until it holds the lease again. The new holder goes on from the cursor
/// saved in `livedash.consumers`; rows read twice are dropped by the
/// window's item-id check (ARCHITECTURE.md, "Producer lease").
pub async fn supervised(hub: Arc<Hub>, feed: Arc<Feed>, mut stop: watch::Receiver<bool>) {
    loop {
        if !until_leading(&hub, &mut stop).await {
            return;
        }
        let (lease_stop, watcher) = while_leading(&hub, stop.clone());
        let r = tokio::spawn(run(hub.clone(), feed.clone(), lease_stop)).await;
        watcher.abort();
        if *stop.borrow() {
            return;
        }
        if r.is_ok() && !hub.broker.leads() {
            tracing::info!("postgres source: the producer lease moved; tailer on standby");
            feed.reset();
            continue;
        }
        let why = match r {
            Err(e) if e.is_panic() => "the PostgreSQL tailer panicked; restarting it",
            _ => "the PostgreSQL tailer ended; restarting it",
        };
        tracing::error!("{why}");
        set_status(&hub, false, Some(why.into()));
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(BACKOFF_MAX) => {}
        }
    }
}

/// Wait until this replica runs the producers (at once without `--redis`);
/// meanwhile the source says it is on standby. False when stopped first.
async fn until_leading(hub: &Hub, stop: &mut watch::Receiver<bool>) -> bool {
    let mut said = false;
    while !hub.broker.leads() {
        if !said {
            said = true;
            // Healthy: another replica tails; this one takes over with the lease.
            hub.metrics.source_up.store(1, Relaxed);
            let standby = SourceStatus {
                kind: "postgres".into(),
                ok: true,
                error: None,
            };
            if hub.streams.set_source(standby) {
                hub.publish_streams();
            }
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return false,
            _ = tokio::time::sleep(LEASE_CHECK) => {}
        }
    }
    !*stop.borrow()
}

/// How often a standby tailer looks at the lease.
const LEASE_CHECK: Duration = Duration::from_millis(200);

/// A stop signal for one tailer run: `stop`, or this replica losing the
/// producer lease. The watcher task is aborted when the run ends.
fn while_leading(
    hub: &Arc<Hub>,
    mut stop: watch::Receiver<bool>,
) -> (watch::Receiver<bool>, JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let hub = hub.clone();
    let watcher = tokio::spawn(async move {
        loop {
            if *stop.borrow() || !hub.broker.leads() {
                let _ = tx.send(true);
                return;
            }
            tokio::select! {
                _ = stop.changed() => {}
                _ = tokio::time::sleep(LEASE_CHECK) => {}
            }
        }
    });
    (rx, watcher)
}

/// Run the tailer until `stop`; then take nothing more from the feed and
/// save the final cursor, so a restart neither repeats nor loses rows.
pub async fn run(hub: Arc<Hub>, feed: Arc<Feed>, mut stop: watch::Receiver<bool>) {
    let Some(url) = hub.config.postgres.clone() else {
        return;
    };
    let mut cfg: tokio_postgres::Config = match url.0.parse() {
        Ok(c) => c,
        Err(e) => {
            set_status(&hub, false, Some(format!("bad --postgres: {e}")));
            return;
        }
    };
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(CONNECT_TIMEOUT);
    }
    if cfg.get_application_name().is_none() {
        cfg.application_name("livedash");
    }
    let password = cfg
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let mut t = Tailer {
        hub: hub.clone(),
        feed: feed.clone(),
        cfg,
        password,
        conn: None,
        read: None,
        saved: None,
        fill: (false, Cursor::default(), Cursor::default()),
        joiner: Joiner::new(INCOMPLETE_GRACE.as_millis() as u64),
        started: Instant::now(),
        pruned: None,
        up: false,
    };
    let mut delay = BACKOFF_FIRST;
    loop {
        let why = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            why = t.session() => why,
        };
        let why = t.scrub(why);
        if let Some((_, driver)) = t.conn.take() {
            driver.abort();
        }
        if std::mem::take(&mut t.up) {
            delay = BACKOFF_FIRST;
        }
        tracing::warn!("postgres source: {why}; retrying in {delay:?}");
        t.down(why);
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(BACKOFF_MAX);
        Metrics::add(&hub.metrics.source_reconnects, 1);
    }
    feed.close();
    if let Some((client, driver)) = t.conn.take() {
        match tokio::time::timeout(Duration::from_secs(2), t.save(&client)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("postgres source: last cursor not saved: {}", t.scrub(e)),
            Err(_) => tracing::warn!("postgres source: last cursor not saved (timeout)"),
        }
        driver.abort();
    }
}

/// Publish the source's status (and a feed entry when it goes down or up).
fn set_status(hub: &Hub, ok: bool, error: Option<String>) {
    let was_ok = hub.streams.source().ok;
    let status = SourceStatus {
        kind: "postgres".into(),
        ok,
        error: error.clone(),
    };
    hub.metrics.source_up.store(ok as u64, Relaxed);
    if !hub.streams.set_source(status) {
        return;
    }
    hub.publish_streams();
    if was_ok && !ok {
        let why = error.unwrap_or_default();
        hub.publish_event(Level::Alert, format!("PostgreSQL source offline: {why}"));
    } else if ok && !was_ok {
        hub.publish_event(Level::Info, "PostgreSQL source online".into());
    }
}

/// An error's text with its causes (tokio-postgres's own text is terse).
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// Run a query with [`QUERY_TIMEOUT`].
async fn q<T>(
    f: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(QUERY_TIMEOUT, f).await {
        Ok(r) => r.map_err(|e| describe(&e)),
        Err(_) => Err(format!("no answer within {QUERY_TIMEOUT:?}")),
    }
}

/// Drive a connection: forward NOTIFYs as wake-ups; return why it ended.
async fn drive<S, T>(mut conn: tokio_postgres::Connection<S, T>, wake: Arc<Notify>) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match std::future::poll_fn(|cx| conn.poll_message(cx)).await {
            Some(Ok(AsyncMessage::Notification(_))) => wake.notify_one(),
            Some(Ok(_)) => {}
            Some(Err(e)) => return describe(&e),
            None => return "the connection closed".into(),
        }
    }
}

/// An outbox row from a poll or fill query.
fn outbox_row(r: &Row) -> Result<OutboxRow, String> {
    let e = |e: tokio_postgres::Error| describe(&e);
    Ok(OutboxRow {
        cursor: Cursor {
            xid: r.try_get(0).map_err(e)?,
            n: r.try_get(1).map_err(e)?,
        },
        seen_ms: r.try_get(2).map_err(e)?,
        item_id: r.try_get(3).map_err(e)?,
        order_id: r.try_get(4).map_err(e)?,
        user_id: r.try_get(5).map_err(e)?,
        product_id: r.try_get(6).map_err(e)?,
        status: r.try_get(7).map_err(e)?,
        sale_price: r.try_get(8).map_err(e)?,
    })
}

impl Tailer {
    /// Remove the password from a text shown in /healthz or logs.
    fn scrub(&self, s: String) -> String {
        match &self.password {
            Some(p) if !p.is_empty() => s.replace(p.as_str(), "***"),
            _ => s,
        }
    }

    fn down(&self, why: String) {
        set_status(&self.hub, false, Some(why));
    }

    /// One connection's life; returns why it ended.
    async fn session(&mut self) -> String {
        let (client, conn) = match self.cfg.connect(NoTls).await {
            Ok(c) => c,
            Err(e) => return describe(&e),
        };
        let wake = Arc::new(Notify::new());
        let driver = tokio::spawn(drive(conn, wake.clone()));
        let client = Arc::new(client);
        self.conn = Some((client.clone(), driver));
        match self.serve(&client, &wake).await {
            Err(why) => why,
            Ok(()) => "the connection closed".into(),
        }
    }

    /// Install, load the cursor, fill, then poll until something fails.
    async fn serve(&mut self, client: &Client, wake: &Notify) -> Result<(), String> {
        for table in ["order_items", "users", "products"] {
            let row =
                q(client.query_one(sql::TABLE_EXISTS, &[&format!("ecommerce.{table}")])).await?;
            if !row.try_get::<_, bool>(0).map_err(|e| describe(&e))? {
                return Err(format!(
                    "table ecommerce.{table} does not exist yet (create the tutorial's tables, \
                     e.g. run `livedash produce --postgres URL`)"
                ));
            }
        }
        q(client.batch_execute(sql::INSTALL)).await?;
        q(client.batch_execute(&format!("LISTEN {}", sql::CHANNEL))).await?;
        let stmts = Stmts {
            poll: q(client.prepare(&sql::poll_query())).await?,
            fill: q(client.prepare(&sql::fill_query())).await?,
            users: q(client.prepare(sql::USERS)).await?,
            products: q(client.prepare(sql::PRODUCTS)).await?,
        };
        if self.read.is_none() {
            // A tailer restarted after a panic goes on after what it had
            // already queued; its fill is not repeated.
            let (pushed, filled) = self.feed.pushed();
            q(client.execute(sql::CONSUMER_CREATE, &[&sql::CONSUMER])).await?;
            let row = q(client.query_one(sql::CONSUMER_LOAD, &[&sql::CONSUMER])).await?;
            let c = Cursor {
                xid: row.try_get(0).map_err(|e| describe(&e))?,
                n: row.try_get(1).map_err(|e| describe(&e))?,
            };
            self.read = Some(pushed.map_or(c, |p| p.max(c)));
            self.saved = Some(c);
            self.fill = (filled, Cursor::default(), c);
        }
        if !self.fill.0 {
            self.fill_window(client, &stmts).await?;
        }
        self.up = true;
        set_status(&self.hub, true, None);
        loop {
            self.save(client).await?;
            self.prune(client).await?;
            if self.poll(client, &stmts).await? {
                continue; // a full batch: more may be waiting
            }
            let driver = &mut self.conn.as_mut().expect("connected").1;
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(POLL_EVERY) => {}
                why = driver => return Err(why.unwrap_or_else(|e| e.to_string())),
            }
        }
    }

    /// The users and products of `rows`, by id.
    async fn lookup(
        &self,
        client: &Client,
        stmts: &Stmts,
        rows: &[OutboxRow],
    ) -> Result<(HashMap<String, User>, HashMap<String, Product>), String> {
        let ids = |f: fn(&OutboxRow) -> &Option<String>| {
            let mut v: Vec<String> = rows.iter().filter_map(|r| f(r).clone()).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let (uids, pids) = (ids(|r| &r.user_id), ids(|r| &r.product_id));
        let e = |e: tokio_postgres::Error| describe(&e);
        let mut users = HashMap::new();
        for r in q(client.query(&stmts.users, &[&uids])).await? {
            let id: Option<String> = r.try_get(0).map_err(e)?;
            let u = User {
                age: r.try_get(1).map_err(e)?,
                gender: r.try_get(2).map_err(e)?,
                country: r.try_get(3).map_err(e)?,
                traffic_source: r.try_get(4).map_err(e)?,
            };
            // No keys in the tutorial's tables: the first of duplicates wins.
            users.entry(id.unwrap_or_default()).or_insert(u);
        }
        let mut products = HashMap::new();
        for r in q(client.query(&stmts.products, &[&pids])).await? {
            let id: Option<String> = r.try_get(0).map_err(e)?;
            let p = Product {
                category: r.try_get(1).map_err(e)?,
                cost: r.try_get(2).map_err(e)?,
            };
            products.entry(id.unwrap_or_default()).or_insert(p);
        }
        Ok((users, products))
    }

    /// The lookback fill: rows up to the saved cursor captured within the
    /// lookback, handed on as [`Batch::Fill`].
    async fn fill_window(&mut self, client: &Client, stmts: &Stmts) -> Result<(), String> {
        let lookback_ms = self.hub.config.lookback.as_millis() as i64;
        let (_, mut from, upto) = self.fill;
        loop {
            let rows = q(client.query(
                &stmts.fill,
                &[
                    &from.xid.to_string(),
                    &from.n,
                    &upto.xid.to_string(),
                    &upto.n,
                    &lookback_ms,
                    &BATCH_ROWS,
                ],
            ))
            .await?;
            let full = rows.len() as i64 == BATCH_ROWS;
            let rows: Vec<OutboxRow> = rows.iter().map(outbox_row).collect::<Result<_, _>>()?;
            let Some(last) = rows.last().map(|r| r.cursor) else {
                break;
            };
            let (users, products) = self.lookup(client, stmts, &rows).await?;
            let j = self.joiner.join(&rows, &users, &products, 0, false);
            let n = j.records.len() as u64;
            Metrics::add(&self.hub.metrics.source_incomplete, j.incomplete);
            self.feed
                .push(Batch::Fill(j.records))
                .await
                .map_err(|()| "the orders feed is closed".to_string())?;
            Metrics::add(&self.hub.metrics.source_fill_rows, n);
            from = last;
            self.fill.1 = last;
            if !full {
                break;
            }
        }
        self.fill.0 = true;
        self.feed.filled();
        Ok(())
    }

    /// Read and hand on new rows once; true when the batch was full.
    async fn poll(&mut self, client: &Client, stmts: &Stmts) -> Result<bool, String> {
        let read = self.read.expect("cursor loaded");
        let rows =
            q(client.query(&stmts.poll, &[&read.xid.to_string(), &read.n, &BATCH_ROWS])).await?;
        Metrics::add(&self.hub.metrics.source_polls, 1);
        let full = rows.len() as i64 == BATCH_ROWS;
        let Some(db_now) = rows.first().map(|r| r.try_get::<_, i64>(9)) else {
            return Ok(false);
        };
        let db_now = db_now.map_err(|e| describe(&e))?;
        let rows: Vec<OutboxRow> = rows.iter().map(outbox_row).collect::<Result<_, _>>()?;
        let (users, products) = self.lookup(client, stmts, &rows).await?;
        let now = self.started.elapsed().as_millis() as u64;
        let j = self.joiner.join(&rows, &users, &products, now, true);
        let (Some(last), Some(newest)) = (j.last, j.records.last()) else {
            return Ok(false); // the head row waits for its user or product
        };
        let lag_ms = (db_now - newest.created_at as i64).max(0) as u64;
        let n = j.records.len() as u64;
        self.feed
            .push(Batch::Live(j.records, last))
            .await
            .map_err(|()| "the orders feed is closed".to_string())?;
        self.read = Some(last);
        let m = &self.hub.metrics;
        Metrics::add(&m.source_rows, n);
        Metrics::add(&m.source_incomplete, j.incomplete);
        m.source_lag_ms.store(lag_ms, Relaxed);
        Ok(full && !j.waiting)
    }

    /// Save the cursor the orders task has reached, when it moved.
    async fn save(&mut self, client: &Client) -> Result<(), String> {
        let Some(d) = self.feed.delivered() else {
            return Ok(());
        };
        if Some(d) == self.saved {
            return Ok(());
        }
        q(client.execute(
            sql::CONSUMER_SAVE,
            &[&sql::CONSUMER, &d.xid.to_string(), &d.n],
        ))
        .await?;
        self.saved = Some(d);
        Ok(())
    }

    /// Every [`PRUNE_EVERY`]: delete rows behind the saved cursor that are
    /// older than the lookback (plus a margin).
    async fn prune(&mut self, client: &Client) -> Result<(), String> {
        if self.pruned.is_some_and(|t| t.elapsed() < PRUNE_EVERY) {
            return Ok(());
        }
        let Some(saved) = self.saved else {
            return Ok(());
        };
        let keep_ms = self.hub.config.lookback.as_millis() as i64 + PRUNE_MARGIN_MS;
        let n =
            q(client.execute(sql::PRUNE, &[&saved.xid.to_string(), &saved.n, &keep_ms])).await?;
        Metrics::add(&self.hub.metrics.source_pruned, n);
        self.pruned = Some(Instant::now());
        Ok(())
    }
}
