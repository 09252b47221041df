//! The history: every figure the page can chart is a named series, kept
//! at full resolution in memory ([`registry`], [`ring`]) and as 1-minute
//! rows in the store ([`minute`], `store::history`); `/api/history` reads
//! both ([`query`], [`api`]).
//!
//! **Never in the producers' way.** The hub hands each published value
//! (`Arc`s it built anyway) to [`History::offer`], a `try_send` on a
//! bounded channel — no lock, no wait; when the channel is full the sample
//! is dropped and counted (`livedash_history_dropped_total`). The history
//! task turns samples into points ([`names`]), records them, evaluates the
//! alert rules on each point (once per sample, never per connection), and
//! once a minute writes the finished minute rows to the store. At
//! shutdown it writes the open minutes too; at start nothing needs loading
//! (queries read the minute tier from the store), only the stored names
//! for `/api/series`.

pub mod api;
pub mod export;
pub mod minute;
pub mod names;
pub mod query;
pub mod registry;
pub mod ring;

use crate::hub::{lock, Hub};
use crate::store::Store;
use livedash_shared::{Orders, SeriesPoint, System};
use registry::{Bounds, Registry};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Samples waiting for the history task, at most.
pub const QUEUE: usize = 4096;

/// How often finished minutes are written to the store.
pub const FLUSH_EVERY: Duration = Duration::from_secs(60);

/// One published value, as the hub hands it over.
#[derive(Debug)]
pub enum Sample {
    /// An `orders` aggregate (without records).
    Orders(Arc<Orders>),
    /// A host sample.
    System(Arc<System>),
    /// Points of one ingested series.
    Series(Arc<str>, Vec<SeriesPoint>),
}

/// The history, shared by the hub (recording), the history task and the
/// routes (queries, rules).
pub struct History {
    /// Where samples go; never waited on.
    tx: mpsc::Sender<Sample>,
    /// The task's end of the channel, until the task takes it.
    rx: Mutex<Option<mpsc::Receiver<Sample>>>,
    /// The series in memory.
    pub registry: Mutex<Registry>,
    /// Names with minute rows in the store (loaded at start, grown by
    /// each flush), for `/api/series` and unknown-series answers.
    pub stored: Mutex<BTreeSet<String>>,
    /// The alert rules in force and their states.
    pub alerts: Mutex<crate::alerts::engine::Engine>,
    /// Samples dropped because the channel was full.
    pub dropped: AtomicU64,
    /// Days the minute tier is kept.
    pub days: u64,
}

impl History {
    /// An empty history with these bounds.
    pub fn new(config: &crate::Config) -> History {
        let (tx, rx) = mpsc::channel(QUEUE);
        let bounds = Bounds {
            retention_ms: config.history_retention.as_millis() as u64,
            max_points: config.history_max_points as usize,
            // Every ingested series, plus the built-in ones and breakdowns.
            max_series: config.max_series as usize + 1000,
        };
        History {
            tx,
            rx: Mutex::new(Some(rx)),
            registry: Mutex::new(Registry::new(bounds)),
            stored: Mutex::default(),
            alerts: Mutex::default(),
            dropped: AtomicU64::new(0),
            days: config.history_days,
        }
    }

    /// Hand over a sample without waiting: dropped (and counted) when the
    /// history task is that far behind.
    pub fn offer(&self, s: Sample) {
        if self.tx.try_send(s).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Every series name kept, in memory or in the store, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut all = lock(&self.stored).clone();
        all.extend(lock(&self.registry).names().map(|n| n.to_string()));
        all.into_iter().collect()
    }

    /// Whether a series is kept anywhere.
    pub fn knows(&self, name: &str) -> bool {
        lock(&self.registry).contains(name) || lock(&self.stored).contains(name)
    }
}

/// Load what the store keeps for the history and the alerts: the names
/// with minute rows (for `/api/series`) and the alert rules. Called before
/// the server answers requests, so a rule created at once is not lost.
pub async fn load(hub: &Hub, store: &Store) {
    let h = &hub.history;
    match store.minute_series().await {
        Ok(names) => lock(&h.stored).extend(names),
        Err(e) => tracing::warn!("history: cannot list the stored series: {e}"),
    }
    match store.alert_rules().await {
        Ok(rules) => *lock(&h.alerts) = crate::alerts::engine::Engine::new(rules),
        Err(e) => tracing::error!("alerts: cannot load the rules: {e}"),
    }
}

/// The history task: record samples until `stop`, write finished minutes
/// once a minute, and the open ones before returning.
pub async fn run(hub: Arc<Hub>, store: Store, stop: watch::Receiver<bool>) {
    let h = &hub.history;
    let Some(mut rx) = lock(&h.rx).take() else {
        return;
    };
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    flush.tick().await;
    let mut flushes = 0u64;
    let mut stop = stop;
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            s = rx.recv() => match s {
                Some(s) => record(&hub, &store, s),
                None => break,
            },
            _ = flush.tick() => {
                flushes += 1;
                // Prune the store once an hour (and at the first flush).
                let prune = flushes % 60 == 1;
                save(&hub, &store, false, prune).await;
            }
            _ = &mut stopped => break,
        }
    }
    while let Ok(s) = rx.try_recv() {
        record(&hub, &store, s);
    }
    save(&hub, &store, true, false).await;
}

/// Record one sample's points and evaluate the rules on each.
fn record(hub: &Arc<Hub>, store: &Store, s: Sample) {
    let now = livedash_shared::now_ms();
    let points = names::points(&s);
    {
        let mut reg = lock(&hub.history.registry);
        for (name, ts, v) in &points {
            reg.record(name, *ts, *v, now);
        }
    }
    let mut changed = Vec::new();
    {
        let mut engine = lock(&hub.history.alerts);
        if engine.is_empty() {
            return;
        }
        for (name, ts, v) in &points {
            engine.eval(name, *ts, *v, &mut changed);
        }
    }
    if !changed.is_empty() {
        crate::alerts::announce(hub, store, changed);
    }
}

/// Write finished minutes (every open one too when `all`) to the store,
/// then forget what it confirmed; `prune` also deletes rows past the
/// retention.
pub async fn save(hub: &Hub, store: &Store, all: bool, prune: bool) {
    let h = &hub.history;
    let now = livedash_shared::now_ms();
    let rows = {
        let mut reg = lock(&h.registry);
        if all {
            reg.close_all_minutes();
        }
        reg.tidy(now);
        reg.unflushed()
    };
    if !rows.is_empty() {
        let upto: Vec<(Arc<str>, u64)> = rows
            .iter()
            .map(|(n, r)| (n.clone(), r.last().map_or(0, |r| r.minute)))
            .collect();
        let named: Vec<(String, Vec<minute::MinuteRow>)> =
            rows.into_iter().map(|(n, r)| (n.to_string(), r)).collect();
        let names: Vec<String> = named.iter().map(|(n, _)| n.clone()).collect();
        match store.save_minutes(named).await {
            Ok(_) => {
                lock(&h.registry).confirm(&upto);
                lock(&h.stored).extend(names);
            }
            Err(e) => {
                tracing::warn!("history: minute rows not stored (kept for the next try): {e}")
            }
        }
    }
    if prune {
        let before = now.saturating_sub(h.days * 86_400_000);
        match store.prune_minutes(before).await {
            Ok(n) if n > 0 => tracing::info!(rows = n, "history: pruned old minute rows"),
            Ok(_) => {}
            Err(e) => tracing::warn!("history: pruning failed: {e}"),
        }
    }
}
