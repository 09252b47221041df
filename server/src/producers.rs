//! The tasks that feed the hub: the orders ticker, the system sampler's
//! receiver, and the client-count coalescer.

use crate::aggregate::Aggregator;
use crate::events::{notable_orders, Alerts};
use crate::generator::Generator;
use crate::hub::Hub;
use livedash_shared::Level;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;

/// Spawn every producer; each stops when `stop` turns true.
pub fn spawn(hub: Arc<Hub>, stop: watch::Receiver<bool>) {
    tokio::spawn(orders(hub.clone(), stop.clone()));
    tokio::spawn(system(hub.clone(), stop.clone()));
    tokio::spawn(clients(hub, stop));
}

async fn until_stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Every `--tick-ms`: generate, aggregate, publish `orders` and notable orders.
async fn orders(hub: Arc<Hub>, stop: watch::Receiver<bool>) {
    let seed = hub.config.seed.unwrap_or_else(rand::random);
    let mut generator = Generator::new(seed, hub.config.orders_per_sec);
    let mut agg = Aggregator::new(hub.config.lookback.as_millis() as u64);
    generator.generate(livedash_shared::now_ms());
    let mut tick = tokio::time::interval(hub.config.tick_period());
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    tick.tick().await;
    let stopped = until_stopped(stop);
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            _ = tick.tick() => {}
        }
        let now = livedash_shared::now_ms();
        let records = generator.generate(now);
        if !hub.orders_on.load(std::sync::atomic::Ordering::Relaxed) {
            continue; // stopped by an admin: no orders arrive, no frames
        }
        let notable = notable_orders(&records);
        hub.publish_orders(|seq| agg.tick(seq, now, records));
        for (level, text) in notable {
            hub.publish_event(level, text);
        }
    }
}

/// Forward sysinfo samples (from their own OS thread) and raise alerts.
async fn system(hub: Arc<Hub>, stop: watch::Receiver<bool>) {
    let (tx, mut rx) = mpsc::channel(4);
    let period = hub.config.system_period();
    let _thread = crate::system::spawn(period, tx);
    let mut alerts = Alerts::new();
    let stopped = until_stopped(stop);
    tokio::pin!(stopped);
    loop {
        let sample = tokio::select! {
            _ = &mut stopped => return, // dropping rx ends the thread
            s = rx.recv() => match s { Some(s) => s, None => return },
        };
        if !hub.system_on.load(std::sync::atomic::Ordering::Relaxed) {
            continue;
        }
        let raised = alerts.check(&sample);
        hub.publish_system(sample);
        for (level, text) in raised {
            hub.publish_event(level, text);
        }
    }
}

/// `clients` frames when the count changed, at most one a second, and one
/// feed entry summarising who came and went in that second.
async fn clients(hub: Arc<Hub>, stop: watch::Receiver<bool>) {
    let stopped = until_stopped(stop);
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            _ = hub.count_changed() => {}
        }
        hub.publish_clients_if_changed();
        let (joined, left) = hub.take_join_leave();
        if let Some(text) = join_leave_text(joined, left, hub.clients()) {
            hub.publish_event(Level::Info, text);
        }
        tokio::select! {
            _ = &mut stopped => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
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
