//! The tasks that feed the hub: the orders ticker, the system sampler's
//! receiver, and the client-count coalescer — each run by a supervisor that
//! restarts it with backoff when it fails, and reports the failure in
//! `/healthz`, the feed and the `streams` frame.

use crate::aggregate::Aggregator;
use crate::events::notable_orders;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::sources::{Sources, Tick};
use crate::streams::Stream;
use livedash_shared::Level;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// First restart delay after a failure; doubles up to [`RESTART_MAX`].
const RESTART_FIRST: Duration = Duration::from_secs(1);
/// Longest restart delay.
const RESTART_MAX: Duration = Duration::from_secs(30);
/// Longest time a replica that took the producer lease over waits for its
/// sources' window fill before its first frame.
const FILL_WAIT: Duration = Duration::from_secs(5);

/// Spawn every producer under a supervisor; each stops when `stop` turns true.
pub fn spawn(hub: Arc<Hub>, stop: watch::Receiver<bool>) {
    let (h, s) = (hub.clone(), stop.clone());
    tokio::spawn(supervise(
        hub.clone(),
        Some(Stream::Orders),
        stop.clone(),
        move || orders(h.clone(), s.clone()),
    ));
    let (h, s) = (hub.clone(), stop.clone());
    tokio::spawn(supervise(
        hub.clone(),
        Some(Stream::System),
        stop.clone(),
        move || system(h.clone(), s.clone()),
    ));
    if let Some(feed) = hub.pg.clone() {
        let tailer =
            crate::sources::postgres::tailer::supervised(hub.clone(), feed.clone(), stop.clone());
        feed.set_task(tokio::spawn(tailer));
    }
    let (h, s) = (hub.clone(), stop.clone());
    tokio::spawn(supervise(hub, None, stop, move || {
        clients(h.clone(), s.clone())
    }));
}

/// The text of a panic payload.
fn panic_text(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into()),
        Err(e) => e.to_string(),
    }
}

/// Run the producer `start` makes until `stop`; when it panics (or returns
/// early), mark its stream failed, say so in the feed, wait (1 s doubling
/// up to 30 s, back to 1 s after a minute of health) and start a new one.
pub async fn supervise<F, Fut>(
    hub: Arc<Hub>,
    stream: Option<Stream>,
    mut stop: watch::Receiver<bool>,
    start: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let name = stream.map_or("clients", Stream::name);
    let mut delay = RESTART_FIRST;
    loop {
        let started = Instant::now();
        let result = tokio::spawn(start()).await;
        if *stop.borrow() {
            return;
        }
        let why = match result {
            Ok(()) => "its task ended".to_string(),
            Err(e) => format!("panicked: {}", panic_text(e)),
        };
        tracing::error!(
            stream = name,
            "producer failed ({why}); restarting in {delay:?}"
        );
        if let Some(s) = stream {
            hub.streams.failed(s, why.clone());
            hub.publish_streams();
        }
        hub.publish_event(
            Level::Alert,
            format!(
                "The {name} stream failed ({why}); restarting in {} s",
                delay.as_secs()
            ),
        );
        if started.elapsed() > Duration::from_secs(60) {
            delay = RESTART_FIRST;
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(RESTART_MAX);
        Metrics::add(&hub.metrics.producer_restarts, 1);
        if let Some(s) = stream {
            hub.streams.restarted(s);
            hub.publish_streams();
        }
        hub.publish_event(Level::Info, format!("The {name} stream was restarted"));
    }
}

async fn until_stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Every `--tick-ms`: take the sources' records (generator, pushed
/// records), aggregate (here, not in the hub), publish `orders` and notable
/// orders.
async fn orders(hub: Arc<Hub>, stop: watch::Receiver<bool>) {
    let mut sources = Sources::for_hub(&hub, livedash_shared::now_ms());
    let lookback_ms = hub.config.lookback.as_millis() as u64;
    let mut agg = Aggregator::new(lookback_ms);
    hub.compat.orders_restarted();
    let mut duplicates_seen = 0;
    // On wall-clock multiples of the tick, like the system samples and
    // the client count: one write per client for all of them.
    let mut tick = crate::pace::interval(hub.config.tick_period());
    let stopped = until_stopped(stop);
    tokio::pin!(stopped);
    // With --redis: whether this replica produced on the last tick, and
    // since when it waits for its sources' window fill after taking over.
    let mut producing = false;
    let mut filling: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            _ = tick.tick() => {}
        }
        let now = livedash_shared::now_ms();
        if let crate::broker::Broker::Redis(r) = &hub.broker {
            follow(&hub, r, &mut agg);
            duplicates_seen = agg.duplicates_ignored();
            let leads = r.leads();
            if leads && !producing {
                // Taking the lease over: the sources start now (the
                // generator's clock; pushed records wait in their queues).
                sources = Sources::for_hub(&hub, now);
                let (order, item) = agg.max_ids();
                sources.continue_after(order, item);
                filling = Some(Instant::now());
            }
            producing = leads;
            if !leads {
                continue; // exactly one replica produces
            }
            // The followed frames never carried the old holder's window
            // fill (PostgreSQL rows from before its start): no frame until
            // this replica's own fill is in, or FILL_WAIT passed (a source
            // that is down does not hold the stream up for longer).
            if let Some(since) = filling {
                if !sources.ready() && since.elapsed() < FILL_WAIT {
                    continue;
                }
                filling = None;
            }
        }
        if !hub.streams.is_on(Stream::Orders) {
            sources.idle(now);
            continue; // stopped by an admin: no orders arrive, no frames
        }
        let fill = sources.fill(now.saturating_sub(lookback_ms));
        let mut filled = Vec::new();
        if !fill.is_empty() {
            // History from the source: into the window, not into a frame.
            filled = agg.tick(0, now, fill).records;
        }
        let Tick { records, expired } = sources.poll(now, now.saturating_sub(lookback_ms));
        Metrics::add(&hub.metrics.ingest_expired, expired);
        let notable = notable_orders(&records);
        let t0 = Instant::now();
        let frame = agg.tick(0, now, records);
        Metrics::add(&hub.metrics.tick_nanos, t0.elapsed().as_nanos() as u64);
        hub.compat.orders_tick(now, &frame.records);
        let dups = agg.duplicates_ignored();
        Metrics::add(&hub.metrics.duplicate_items, dups - duplicates_seen);
        duplicates_seen = dups;
        // The filter sets see exactly the records the window accepted;
        // they aggregate after the unfiltered frame is out.
        let pending = hub.filters.remember(now, &filled, &frame.records);
        hub.publish_orders_filled(frame, &filled);
        let t1 = Instant::now();
        if pending.run() > 0 {
            Metrics::add(
                &hub.metrics.filter_tick_nanos,
                t1.elapsed().as_nanos() as u64,
            );
        }
        for (level, text) in notable {
            hub.publish_event(level, text);
        }
    }
}

/// A replica without the producer lease follows the `orders` frames the
/// holder published (read from the stream): its window, filter sets and
/// compatibility feed stay the stream's, so when it takes the lease over
/// its KPIs go on from the last frame instead of from its own records.
fn follow(hub: &Hub, r: &crate::broker::redis::RedisBroker, agg: &mut Aggregator) {
    for (f, fill) in r.take_followed() {
        // The producer's fill entered its window on this tick, before the
        // frame's records: the same here.
        let filled = match fill.is_empty() {
            true => fill,
            false => agg.tick(0, f.ts, fill).records,
        };
        agg.follow(&f);
        hub.compat.orders_tick(f.ts, &f.records);
        hub.filters.remember(f.ts, &filled, &f.records).run();
    }
}

/// Forward sysinfo samples (from their own OS thread). Host alerts are
/// alert rules (`system.cpu_percent`, `system.memory_percent`), evaluated
/// by the history task.
async fn system(hub: Arc<Hub>, stop: watch::Receiver<bool>) {
    let (tx, mut rx) = mpsc::channel(4);
    let period = hub.config.system_period();
    let _thread = crate::system::spawn(period, tx);
    let stopped = until_stopped(stop);
    tokio::pin!(stopped);
    loop {
        let sample = tokio::select! {
            _ = &mut stopped => return, // dropping rx ends the thread
            s = rx.recv() => match s { Some(s) => s, None => return },
        };
        if !hub.streams.is_on(Stream::System) {
            continue;
        }
        hub.compat.system_sample(&sample);
        hub.publish_system(sample);
    }
}

/// `clients` frames when the count changed, at most one a second (at the
/// next whole second, with that second's `orders` and `system` frames), and
/// one feed entry summarising who came and went in that second.
async fn clients(hub: Arc<Hub>, stop: watch::Receiver<bool>) {
    let stopped = until_stopped(stop);
    tokio::pin!(stopped);
    // With --redis the count is every replica's: it changes without a
    // local join or leave, so look every second.
    let cluster = matches!(hub.broker, crate::broker::Broker::Redis(_));
    loop {
        if !cluster {
            tokio::select! {
                _ = &mut stopped => return,
                _ = hub.presence.changed() => {}
            }
        }
        tokio::select! {
            _ = &mut stopped => return,
            _ = tokio::time::sleep(crate::pace::until_next(Duration::from_secs(1))) => {}
        }
        hub.publish_clients_if_changed();
        let (joined, left) = hub.presence.take_join_leave();
        if let Some(text) = join_leave_text(joined, left, hub.presence.count()) {
            hub.publish_event(Level::Info, text);
        }
    }
}

/// "A client connected (3 online)", "12 clients connected, 1 left (40 online)".
pub fn join_leave_text(joined: u64, left: u64, online: u64) -> Option<String> {
    let plural = |n: u64| if n == 1 { "client" } else { "clients" };
    let s = match (joined, left) {
        (0, 0) => return None,
        (1, 0) => "A client connected".to_string(),
        (0, 1) => "A client left".to_string(),
        (j, 0) => format!("{j} {} connected", plural(j)),
        (0, l) => format!("{l} {} left", plural(l)),
        (j, l) => format!("{j} {} connected, {l} left", plural(j)),
    };
    Some(format!("{s} ({online} online)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use livedash_shared::StreamState;

    #[tokio::test(start_paused = true)]
    async fn a_panicking_producer_is_reported_and_restarted() {
        let hub = Hub::new(crate::Config::default());
        let (stop_tx, stop) = watch::channel(false);
        let runs = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let r = runs.clone();
        let sup = tokio::spawn(supervise(
            hub.clone(),
            Some(Stream::Orders),
            stop,
            move || {
                let n = r.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move {
                    if n == 0 {
                        panic!("boom");
                    }
                    std::future::pending::<()>().await
                }
            },
        ));
        // The panic is seen at once: failed, with the reason, in the status
        // the page and /healthz show.
        tokio::time::sleep(Duration::from_millis(10)).await;
        let st = hub.streams.status();
        assert_eq!(st.orders.state, StreamState::Failed);
        assert_eq!(st.orders.error.as_deref(), Some("panicked: boom"));
        assert_eq!(crate::routes::health(&hub)["status"], "degraded");
        let snap = hub.fresh_snapshot(crate::snapshot::HistoryCap::ALL).await;
        assert!(snap.text.as_str().contains("\"state\":\"failed\""));
        // Restarted after the first delay, and healthy again.
        tokio::time::sleep(RESTART_FIRST + Duration::from_millis(10)).await;
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);
        let st = hub.streams.status();
        assert_eq!(st.orders.state, StreamState::Running);
        assert_eq!(st.orders.restarts, 1);
        assert_eq!(crate::routes::health(&hub)["status"], "ok");
        stop_tx.send(true).unwrap();
        sup.abort();
    }

    #[test]
    fn join_leave_texts() {
        assert_eq!(join_leave_text(0, 0, 3), None);
        assert_eq!(
            join_leave_text(1, 0, 3).unwrap(),
            "A client connected (3 online)"
        );
        assert_eq!(
            join_leave_text(0, 1, 2).unwrap(),
            "A client left (2 online)"
        );
        assert_eq!(
            join_leave_text(12, 1, 40).unwrap(),
            "12 clients connected, 1 left (40 online)"
        );
    }
}
