//! Who is watching: the number of viewers (authenticated WebSocket
//! connections), the arrivals and departures for the activity feed, and the
//! wake-up of the `clients` coalescer. Sockets that have not authenticated
//! are not viewers: they count against the connection limit
//! ([`crate::limits`]) but are never announced.

use crate::metrics::Metrics;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tokio::sync::Notify;

/// Viewer bookkeeping; every method is lock-free.
#[derive(Default)]
pub struct Presence {
    /// Viewers now (the live value; `clients` frames are coalesced).
    count: AtomicU64,
    /// Arrivals since the last feed entry about them.
    joined: AtomicU64,
    /// Departures since the last feed entry about them.
    left: AtomicU64,
    /// Wakes the client-count coalescer when the count changes.
    changed: Notify,
    /// Last connection id handed out (ids start at 1).
    last_id: AtomicU64,
}

impl Presence {
    /// Viewers now.
    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    /// A new connection id (also for sockets that are not viewers yet).
    pub fn next_id(&self) -> u64 {
        self.last_id.fetch_add(1, Relaxed) + 1
    }

    /// A viewer arrived. Pair with [`Presence::leave`] (see [`Viewer`]).
    pub fn join(&self) {
        self.count.fetch_add(1, Relaxed);
        self.joined.fetch_add(1, Relaxed);
        self.changed.notify_one();
    }

    /// A viewer left.
    pub fn leave(&self) {
        self.count.fetch_sub(1, Relaxed);
        self.left.fetch_add(1, Relaxed);
        self.changed.notify_one();
    }

    /// Viewers that come and go without a socket of their own: the tabs a
    /// shared socket relays to, from `old` to `new` of them.
    pub fn shift(&self, old: u64, new: u64) {
        if new > old {
            self.count.fetch_add(new - old, Relaxed);
            self.joined.fetch_add(new - old, Relaxed);
        } else if old > new {
            self.count.fetch_sub(old - new, Relaxed);
            self.left.fetch_add(old - new, Relaxed);
        } else {
            return;
        }
        self.changed.notify_one();
    }

    /// Wait until the count may have changed.
    pub async fn changed(&self) {
        self.changed.notified().await
    }

    /// Arrivals and departures since the previous call, for the feed.
    pub fn take_join_leave(&self) -> (u64, u64) {
        (self.joined.swap(0, Relaxed), self.left.swap(0, Relaxed))
    }
}

/// A viewer for as long as it lives: joined on creation, left on drop
/// (also when the connection task panics or is cancelled).
pub struct Viewer<'a> {
    presence: &'a Presence,
    metrics: &'a Metrics,
    /// Tabs beyond the first that this socket serves (a `tabs` frame sets
    /// it through [`Viewer::tabs`]); they leave with the socket.
    extra: Arc<AtomicU64>,
}

impl<'a> Viewer<'a> {
    /// Count a viewer in.
    pub fn new(presence: &'a Presence, metrics: &'a Metrics) -> Self {
        presence.join();
        Metrics::add(&metrics.connections, 1);
        Metrics::add(&metrics.connections_total, 1);
        Viewer {
            presence,
            metrics,
            extra: Arc::default(),
        }
    }

    /// The handle the connection sets its tab count through.
    pub fn tabs(&self) -> Tabs {
        Tabs(self.extra.clone())
    }
}

/// How many tabs a socket serves, shared by its connection (which sets
/// it) and its [`Viewer`] (which takes them out when it goes).
#[derive(Default, Clone)]
pub struct Tabs(Arc<AtomicU64>);

impl Tabs {
    /// The socket now serves `count` tabs (clamped to
    /// 1..=[`livedash_shared::MAX_TABS_PER_SOCKET`]).
    pub fn set(&self, presence: &Presence, count: u32) {
        let extra = count.clamp(1, livedash_shared::MAX_TABS_PER_SOCKET) as u64 - 1;
        let old = self.0.swap(extra, Relaxed);
        presence.shift(old, extra);
    }
}

impl Drop for Viewer<'_> {
    fn drop(&mut self) {
        let extra = self.extra.swap(0, Relaxed);
        self.presence.shift(extra, 0);
        self.presence.leave();
        self.metrics.connections.fetch_sub(1, Relaxed);
    }
}
