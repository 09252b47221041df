//! `livedash produce --postgres URL`: the tutorial's producer, in Rust.
//!
//! Every 0.5 s it writes a batch of new theLook users, their orders and
//! order items into PostgreSQL — schema `ecommerce`, the tutorial's tables
//! and column names ([`DDL`], created when missing; the static `products`
//! loaded once) — each batch in one transaction, until Ctrl-C or SIGTERM.
//! The rate is `--orders-per-sec` on average and a `--seed` reproduces the
//! rows. Unlike the tutorial, `created_at` is the real time (UTC).
//!
//! When the database goes away the producer logs why, reconnects with
//! backoff (0.5 s doubling to 30 s) and goes on: the batch that failed is
//! written after the reconnect unless its commit went through after all
//! (checked by its first user's id), and the time the database was away is
//! skipped, not caught up in a burst. Every `--report-secs` it logs the
//! rows written.

pub mod catalogue;
pub mod db;
pub mod rows;

pub use db::DDL;

use crate::config::Secret;
use rows::{Batch, Picker, Rows};
use std::future::Future;
use std::time::Duration;
use tokio::time::{timeout, MissedTickBehavior};
use tokio_postgres::{Client, NoTls};

/// Time between batches, as in the tutorial.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(500);
/// First reconnect delay; doubles up to [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
/// Longest reconnect delay.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Longest wait for a connection or a batch before giving it up as broken.
const DB_TIMEOUT: Duration = Duration::from_secs(10);

/// Flags of `livedash produce`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// PostgreSQL to write to: a URL (`postgresql://user:password@host:5432/shop`)
    /// or key=value settings (`host=/var/run/postgresql user=postgres dbname=shop`).
    #[arg(long, env = "LIVEDASH_POSTGRES", hide_env_values = true)]
    pub postgres: Secret,

    /// Mean orders written per second.
    #[arg(long, env = "LIVEDASH_ORDERS_PER_SEC", default_value_t = 2.0,
          value_parser = crate::config::parse_rate)]
    pub orders_per_sec: f64,

    /// Seed (default: random); the same seed writes the same rows.
    #[arg(long, env = "LIVEDASH_SEED")]
    pub seed: Option<u64>,

    /// Seconds between the summary lines (rows written).
    #[arg(long, env = "LIVEDASH_REPORT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub report_secs: u64,
}

/// Why the producer could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--postgres` is not a connection string.
    #[error("--postgres is not a PostgreSQL connection string: {0}")]
    Url(String),
}

/// Rows written (and how often the database went away).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// `ecommerce.users` rows.
    pub users: u64,
    /// `ecommerce.orders` rows.
    pub orders: u64,
    /// `ecommerce.order_items` rows.
    pub items: u64,
    /// Transactions committed.
    pub batches: u64,
    /// Connections made after a failure.
    pub reconnects: u64,
}

impl Totals {
    fn add(&mut self, b: &Batch) {
        self.users += b.users.id.len() as u64;
        self.orders += b.orders.order_id.len() as u64;
        self.items += b.items.id.len() as u64;
        self.batches += 1;
    }
}

/// A PostgreSQL error with its reason (tokio-postgres' `Display` alone
/// says only "db error").
pub fn why(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    }
    match std::error::Error::source(e) {
        Some(src) => format!("{e}: {src}"),
        None => e.to_string(),
    }
}

/// Where a config points, for logs (never the password).
fn describe(pg: &tokio_postgres::Config) -> String {
    let host = match pg.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let db = pg.get_dbname().or(pg.get_user()).unwrap_or("postgres");
    format!("PostgreSQL {host}/{db}")
}

/// Connect, create the schema, load the products.
async fn connect(pg: &tokio_postgres::Config) -> Result<(Client, Picker), String> {
    let (mut client, conn) = timeout(DB_TIMEOUT, pg.connect(NoTls))
        .await
        .map_err(|_| "connecting timed out".to_string())?
        .map_err(|e| why(&e))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("connection ended: {}", why(&e));
        }
    });
    let (picker, loaded) = timeout(DB_TIMEOUT, db::prepare(&mut client))
        .await
        .map_err(|_| "creating the schema timed out".to_string())?
        .map_err(|e| why(&e))?;
    if picker.is_empty() {
        return Err("ecommerce.products has no rows with an id".into());
    }
    if loaded > 0 {
        tracing::info!("loaded {loaded} products into ecommerce.products");
    }
    Ok((client, picker))
}

/// Run the producer until `shutdown` completes; returns what it wrote.
pub async fn run(args: Args, shutdown: impl Future<Output = ()>) -> Result<Totals, Error> {
    let pg: tokio_postgres::Config = args.postgres.0.parse().map_err(|e| Error::Url(why(&e)))?;
    let target = describe(&pg);
    let seed = args.seed.unwrap_or_else(rand::random);
    let mut p = Producer {
        rows: Rows::new(seed, args.orders_per_sec, livedash_shared::now_ms()),
        pending: None,
        totals: Totals::default(),
        reported: Totals::default(),
        report_every: Duration::from_secs(args.report_secs),
    };
    tokio::pin!(shutdown);
    let mut backoff = BACKOFF_FIRST;
    let mut connected_before = false;
    loop {
        let conn = tokio::select! {
            _ = &mut shutdown => return Ok(p.totals),
            c = connect(&pg) => c,
        };
        let why = match conn {
            Ok((mut client, picker)) => {
                tracing::info!(
                    "writing to {target}: {} products, {} orders/s",
                    picker.len(),
                    args.orders_per_sec
                );
                backoff = BACKOFF_FIRST;
                if connected_before {
                    p.totals.reconnects += 1;
                }
                connected_before = true;
                match p.session(&mut client, &picker, &mut shutdown).await {
                    Ok(()) => return Ok(p.totals),
                    Err(e) => format!("lost {target}: {e}"),
                }
            }
            Err(e) => format!("cannot use {target}: {e}"),
        };
        tracing::error!("{why}; retrying in {:.1} s", backoff.as_secs_f64());
        tokio::select! {
            _ = &mut shutdown => return Ok(p.totals),
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// The producer's state across connections.
struct Producer {
    /// Makes the batches.
    rows: Rows,
    /// A batch whose transaction failed, written after the reconnect.
    pending: Option<Batch>,
    /// Rows written so far.
    totals: Totals,
    /// `totals` at the last summary line.
    reported: Totals,
    /// Time between summary lines.
    report_every: Duration,
}

impl Producer {
    /// Write batches on one connection until `shutdown` (`Ok`) or a
    /// database error (`Err`, with the batch kept in `pending`).
    async fn session(
        &mut self,
        client: &mut Client,
        picker: &Picker,
        shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> Result<(), String> {
        if let Some(b) = self.pending.take() {
            self.write(client, b, true).await?;
        }
        // The time without a database is skipped, not written in a burst.
        self.rows.skip_to(livedash_shared::now_ms());
        let mut tick = tokio::time::interval(BATCH_INTERVAL);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut report = tokio::time::interval(self.report_every);
        report.tick().await;
        loop {
            tokio::select! {
                _ = shutdown.as_mut() => return Ok(()),
                _ = report.tick() => self.report(),
                _ = tick.tick() => {
                    let b = self.rows.batch(livedash_shared::now_ms(), picker);
                    // Stopping does not wait for a slow batch: its
                    // transaction is rolled back when the connection drops.
                    tokio::select! {
                        _ = shutdown.as_mut() => return Ok(()),
                        r = self.write(client, b, false) => r?,
                    }
                }
            }
        }
    }

    /// Write one batch (after checking, for a retried one, that its first
    /// attempt did not commit after all).
    async fn write(&mut self, client: &mut Client, b: Batch, retry: bool) -> Result<(), String> {
        if b.is_empty() {
            return Ok(());
        }
        let attempt = async {
            if retry && db::committed(client, &b).await? {
                return Ok(true);
            }
            db::insert(client, &b).await.map(|()| false)
        };
        match timeout(DB_TIMEOUT, attempt).await {
            Ok(Ok(_)) => {
                self.totals.add(&b);
                Ok(())
            }
            Ok(Err(e)) => {
                self.pending = Some(b);
                Err(why(&e))
            }
            Err(_) => {
                self.pending = Some(b);
                Err("a batch took longer than 10 s".into())
            }
        }
    }

    /// The summary line: rows written since the previous one.
    fn report(&mut self) {
        let (t, r) = (self.totals, self.reported);
        tracing::info!(
            "wrote {} users, {} orders, {} order items in the last {} s \
             ({} users, {} orders, {} order items in all)",
            t.users - r.users,
            t.orders - r.orders,
            t.items - r.items,
            self.report_every.as_secs(),
            t.users,
            t.orders,
            t.items
        );
        self.reported = t;
    }
}
