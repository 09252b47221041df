//! Where topic `seq`s come from. In process (the default): the hub numbers
//! each topic's frames itself. Redis (`--redis`): a Lua script in Redis
//! numbers them and appends them to the topic's stream; every replica
//! tails the streams and publishes what it reads, so every replica serves
//! identical frames with identical seqs, and nothing gets a seq outside
//! Redis. The hub asks the broker only two things on its publish path:
//! which one it is, and (for Redis) to take a frame.

pub mod ingest;
pub mod redis;

use crate::config::Config;
use std::sync::Arc;

/// The configured broker.
pub enum Broker {
    /// Seqs assigned in this process; frames go straight to the ring.
    InProcess,
    /// Seqs assigned by Redis; frames go to Redis and come back by the tail.
    Redis(Arc<redis::RedisBroker>),
}

impl Broker {
    /// The broker `--redis` asks for (its tasks start with [`Broker::spawn`]).
    pub fn new(config: &Config) -> Broker {
        match &config.redis {
            None => Broker::InProcess,
            Some(url) => Broker::Redis(Arc::new(redis::RedisBroker::new(url, config))),
        }
    }

    /// `inproc` or `redis`, for `/healthz`.
    pub fn kind(&self) -> &'static str {
        match self {
            Broker::InProcess => "inproc",
            Broker::Redis(_) => "redis",
        }
    }

    /// Whether frames can be published now (Redis reachable).
    pub fn ok(&self) -> bool {
        match self {
            Broker::InProcess => true,
            Broker::Redis(r) => r.ok(),
        }
    }

    /// Whether this replica runs the shared producers (orders, system,
    /// clients, alerts): always in process; with Redis, while it holds
    /// the producer lease.
    pub fn leads(&self) -> bool {
        match self {
            Broker::InProcess => true,
            Broker::Redis(r) => r.leads(),
        }
    }

    /// The `/healthz` object.
    pub fn health(&self) -> serde_json::Value {
        match self {
            Broker::InProcess => serde_json::json!({"kind": "inproc", "ok": true}),
            Broker::Redis(r) => serde_json::json!({
                "kind": "redis",
                "ok": r.ok(),
                "leader": r.leads(),
                "replica": r.replica(),
            }),
        }
    }

    /// Start the Redis tasks (publisher, tailer, lease); nothing in process.
    pub fn spawn(
        hub: &Arc<crate::hub::Hub>,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        match &hub.broker {
            Broker::InProcess => Vec::new(),
            Broker::Redis(r) => r.clone().spawn(hub.clone(), stop),
        }
    }
}
