//! Publishing each topic's frames: what each topic's frame is built from
//! and what it files into the snapshot history, for frames produced here
//! and for frames read back from Redis with their seq ([`Hub::apply_remote`]).

use super::{lock, Hub, EVENTS_KEPT};
use crate::metrics::Metrics;
use crate::snapshot::SNAPSHOT_RECORDS;
use livedash_shared::KpiPoint;
use livedash_shared::{
    Clients, Event, Level, OrderRecord, Orders, Series, SeriesPoint, ServerMessage, System, Topic,
};
use std::sync::Arc;

/// Memory in use, percent of the total (0 when the total is unknown).
fn mem_percent(s: &System) -> f64 {
    match s.mem_total_bytes {
        0 => 0.0,
        total => s.mem_used_bytes as f64 * 100.0 / total as f64,
    }
}

impl Hub {
    /// Publish an `orders` frame (its seq is replaced by the hub's). The
    /// aggregate was computed by the producer, outside the hub.
    pub fn publish_orders(&self, orders: Orders) {
        self.orders_at(orders, None)
    }

    /// [`Hub::publish_orders`] for the tick that put `fill` into the window
    /// (records from before the source started, never sent to clients as
    /// new). With `--redis` they travel beside the frame in its stream entry
    /// (field `w`), so every replica's window, filter sets and compatibility
    /// feed hold them as the producer's do.
    pub fn publish_orders_filled(&self, mut orders: Orders, fill: &[OrderRecord]) {
        match &self.broker {
            crate::broker::Broker::Redis(r) if !fill.is_empty() => {
                let fill = serde_json::to_string(fill).expect("records serialize");
                orders.seq = 0;
                let json = || ServerMessage::Orders(orders).to_json();
                r.offer_with(Topic::Orders, json, Some(fill), &self.metrics);
                Metrics::add(&self.metrics.orders_ticks, 1);
            }
            _ => self.orders_at(orders, None),
        }
    }

    fn orders_at(&self, mut orders: Orders, given: Option<u64>) {
        let history = self.config.history as usize;
        let mut filed = None;
        let here = self.publish(
            Topic::Orders,
            given,
            |seq| {
                orders.seq = seq;
                // Copy everything but the records (which may be many).
                let records = std::mem::take(&mut orders.records);
                let latest = Arc::new(orders.clone());
                let skip = records.len().saturating_sub(SNAPSHOT_RECORDS);
                let newest: Vec<Arc<OrderRecord>> =
                    records[skip..].iter().cloned().map(Arc::new).collect();
                orders.records = records;
                filed = Some(latest.clone());
                (ServerMessage::Orders(orders), (latest, newest))
            },
            |h, seq, (latest, newest)| {
                h.records.extend(newest);
                crate::snapshot::keep_newest(&mut h.records, SNAPSHOT_RECORDS);
                h.kpis.push_back(KpiPoint {
                    seq,
                    ts: latest.ts,
                    num_orders: latest.num_orders,
                    num_order_items: latest.num_order_items,
                    total_sales: latest.total_sales,
                });
                while h.kpis.len() > history {
                    h.kpis.pop_front();
                }
                h.latest_orders = Some(latest);
            },
        );
        if let Some(o) = filed.filter(|_| here) {
            self.history.offer(crate::history::Sample::Orders(o));
        }
        Metrics::add(&self.metrics.orders_ticks, 1);
    }

    /// Publish a `system` frame (its seq is replaced by the hub's).
    pub fn publish_system(&self, sample: System) {
        if let crate::broker::Broker::Redis(r) = &self.broker {
            // The `system` topic is the lease holder's host; every replica
            // publishes its own host as series (`system.cpu_percent{host=H}`).
            for (field, value) in [
                ("cpu_percent", f64::from(sample.cpu_percent)),
                ("mem_used_percent", mem_percent(&sample)),
            ] {
                let name = format!("system.{field}{{host={}}}", r.host());
                let point = SeriesPoint {
                    ts: sample.ts,
                    value,
                };
                self.publish_series(Arc::from(name), vec![point]);
            }
        }
        self.system_at(sample, None)
    }

    fn system_at(&self, mut sample: System, given: Option<u64>) {
        let history = self.config.history as usize;
        let mut filed = None;
        let here = self.publish(
            Topic::System,
            given,
            |seq| {
                sample.seq = seq;
                let shared = Arc::new(sample.clone());
                filed = Some(shared.clone());
                (ServerMessage::System(sample), shared)
            },
            |h, _, shared| {
                h.system.push_back(shared);
                while h.system.len() > history {
                    h.system.pop_front();
                }
            },
        );
        if let Some(s) = filed.filter(|_| here) {
            self.history.offer(crate::history::Sample::System(s));
        }
        Metrics::add(&self.metrics.system_samples, 1);
    }

    /// Publish an `event` frame for the activity feed.
    pub fn publish_event(&self, level: Level, text: String) {
        self.event_at(level, text, livedash_shared::now_ms(), None)
    }

    fn event_at(&self, level: Level, text: String, ts: u64, given: Option<u64>) {
        self.publish(
            Topic::Events,
            given,
            |seq| {
                let e = Event {
                    seq,
                    ts,
                    level,
                    text,
                };
                let shared = Arc::new(e.clone());
                (ServerMessage::Event(e), shared)
            },
            |h, _, e| {
                h.events.push_back(e);
                while h.events.len() > EVENTS_KEPT {
                    h.events.pop_front();
                }
            },
        );
        Metrics::add(&self.metrics.events, 1);
    }

    /// Publish a `series` frame: the points of one named series written
    /// since its previous frame.
    pub fn publish_series(&self, name: Arc<str>, points: Vec<SeriesPoint>) {
        self.series_at(name, points, livedash_shared::now_ms(), None)
    }

    fn series_at(&self, name: Arc<str>, points: Vec<SeriesPoint>, ts: u64, given: Option<u64>) {
        let keep = self.config.series_points as usize;
        let mut offered = None;
        self.publish(
            Topic::Series,
            given,
            |seq| {
                let msg = Series {
                    seq,
                    ts,
                    name: name.to_string(),
                    points,
                };
                let filed = (name, msg.points.clone());
                (ServerMessage::Series(msg), filed)
            },
            |h, _, (name, points)| {
                h.series.record(&name, &points, keep);
                offered = Some((name, points));
            },
        );
        if let Some((name, points)) = offered {
            self.history
                .offer(crate::history::Sample::Series(name, points));
        }
    }

    /// Publish an `alert` frame (its seq is replaced by the hub's); returns
    /// it as sent (with `--redis`, seq 0: Redis assigns it later).
    pub fn publish_alert(&self, alert: livedash_shared::Alert) -> livedash_shared::Alert {
        self.alert_at(alert, None)
    }

    fn alert_at(
        &self,
        mut alert: livedash_shared::Alert,
        given: Option<u64>,
    ) -> livedash_shared::Alert {
        let mut sent = None;
        self.publish(
            Topic::Alerts,
            given,
            |seq| {
                alert.seq = seq;
                sent = Some(alert.clone());
                (ServerMessage::Alert(alert), ())
            },
            |_, _, ()| {},
        );
        sent.expect("publish calls make")
    }

    /// Publish a `clients` frame if the count differs from the last one
    /// published. Returns whether it published.
    pub fn publish_clients_if_changed(&self) -> bool {
        // With --redis: the viewers of every replica together.
        let count = match &self.broker {
            crate::broker::Broker::Redis(r) => r.viewers().unwrap_or_else(|| self.presence.count()),
            crate::broker::Broker::InProcess => self.presence.count(),
        };
        {
            let st = lock(&self.state);
            if st.history.clients == count && st.seq.clients > 0 {
                return false;
            }
        }
        self.clients_at(count, livedash_shared::now_ms(), None);
        true
    }

    fn clients_at(&self, count: u64, ts: u64, given: Option<u64>) {
        self.publish(
            Topic::Clients,
            given,
            |seq| {
                let c = Clients { seq, ts, count };
                (ServerMessage::Clients(c), ())
            },
            |h, _, ()| h.clients = count,
        );
    }

    /// File a frame read from the Redis stream of `topic` with the `seq`
    /// Redis gave it: decoded, then published here exactly as a local
    /// frame is (serialized once, history, recent, ring). Frames of one
    /// topic arrive in seq order from one tailer task.
    /// `fill`: the window fill that came with an `orders` frame (field `w`).
    pub fn apply_remote(
        &self,
        topic: Topic,
        seq: u64,
        json: &str,
        fill: Option<&str>,
    ) -> Result<(), String> {
        let msg: ServerMessage = serde_json::from_str(json).map_err(|e| e.to_string())?;
        if msg.topic_seq().map(|(t, _)| t) != Some(topic) {
            return Err(format!("not a {} frame", topic.as_str()));
        }
        match msg {
            ServerMessage::Orders(o) => {
                if let crate::broker::Broker::Redis(r) = &self.broker {
                    let fill: Vec<OrderRecord> = match fill {
                        Some(w) => serde_json::from_str(w).map_err(|e| format!("fill: {e}"))?,
                        None => Vec::new(),
                    };
                    r.follow(&o, fill);
                }
                self.orders_at(o, Some(seq))
            }
            ServerMessage::System(s) => self.system_at(s, Some(seq)),
            ServerMessage::Event(e) => self.event_at(e.level, e.text, e.ts, Some(seq)),
            ServerMessage::Series(s) => self.series_at(s.name.into(), s.points, s.ts, Some(seq)),
            ServerMessage::Clients(c) => self.clients_at(c.count, c.ts, Some(seq)),
            ServerMessage::Alert(a) => {
                self.alert_at(a, Some(seq));
            }
            _ => unreachable!("topic frames only"),
        }
        Ok(())
    }
}
