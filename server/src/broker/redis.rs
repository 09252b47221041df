//! The Redis broker (`--redis URL`). Three tasks per replica:
//!
//! - the **publisher** takes the frames this replica produced (serialized
//!   with seq 0, never filed here) and runs one Lua script per frame that
//!   increments the topic's seq, appends the frame to the topic's stream
//!   with that seq as its entry id (`XADD ... MAXLEN ~ N <seq>-0`) and
//!   makes sure the epoch key exists: the seq is assigned in Redis only;
//! - the **tailer** reads every topic's stream (`XREAD BLOCK`) from where
//!   it stands and files each entry through [`Hub::apply_remote`] with
//!   the entry's seq (so the producing replica gets its own frames back
//!   the same way every other replica does). Before each read it checks
//!   the epoch key; a new epoch (Redis lost its data) resets the hub's
//!   seqs and sends every connection a snapshot;
//! - the **lease** keeps `livedash:lease:producers` (`SET NX PX`, renewed
//!   by a script that checks the owner): the holder runs the shared
//!   producers, the others take over within [`LEASE_MS`] of its death.
//!
//! While Redis is unreachable nothing is published (frames produced then
//! are dropped and counted: nothing gets a seq outside Redis), the
//! connections keep what they have, and the tasks reconnect with backoff.

use crate::config::Config;
use crate::hub::Hub;
use crate::metrics::Metrics;
use livedash_shared::{Seqs, Topic};
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamRangeReply, StreamReadReply};
use redis::{AsyncConnectionConfig, RedisResult, Script};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Prefix of every key livedash uses.
const PREFIX: &str = "livedash";
/// How long a producer lease lasts without renewal.
pub const LEASE_MS: u64 = 3000;
/// How often the lease is renewed (or tried for).
const LEASE_EVERY: Duration = Duration::from_millis(1000);
/// `XREAD BLOCK` time: also how often the tailer checks the epoch while
/// nothing is published.
const BLOCK_MS: usize = 1000;
/// Entries read back per topic when the tailer starts or the epoch
/// changes: history for snapshots and frames for resume.
const WARM_ENTRIES: usize = 300;
/// Frames waiting for the publisher; more are dropped (and counted).
const OUTBOX: usize = 4096;

/// The publish script: KEYS = seq, stream, epoch; ARGV = frame, maxlen,
/// an epoch to use if none exists, the window fill that goes with an
/// `orders` frame (`''`: none; field `w`, read by replicas, never sent to
/// clients). Returns `{seq, epoch}`.
const PUBLISH_LUA: &str = r"
local epoch = redis.call('GET', KEYS[3])
if not epoch then
  epoch = ARGV[3]
  redis.call('SET', KEYS[3], epoch)
end
local seq = redis.call('INCR', KEYS[1])
if ARGV[4] == '' then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'f', ARGV[1])
else
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'f', ARGV[1], 'w', ARGV[4])
end
return {seq, epoch}
";

/// The lease script: KEYS = lease; ARGV = replica id, ms. 1 when held.
const LEASE_LUA: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
return 0
";

/// Release the lease if still ours: KEYS = lease; ARGV = replica id.
const RELEASE_LUA: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// A key for `kind` (`seq`, `stream`) of one topic.
pub fn topic_key(kind: &str, topic: Topic) -> String {
    format!("{PREFIX}:{kind}:{}", topic.as_str())
}

/// The epoch key.
pub fn epoch_key() -> String {
    format!("{PREFIX}:epoch")
}

/// The producer lease key.
pub fn lease_key() -> String {
    format!("{PREFIX}:lease:producers")
}

/// Check a `--redis` URL at startup (a clear error instead of a replica
/// that never connects).
pub fn parse_url(url: &str) -> Result<String, String> {
    redis::Client::open(url)
        .map(|_| url.to_string())
        .map_err(|e| format!("not a Redis URL: {e}"))
}

/// The Redis side of the hub.
pub struct RedisBroker {
    /// The Redis client (opens connections).
    client: redis::Client,
    /// Frames produced here, waiting for the publisher.
    outbox: mpsc::Sender<Outgoing>,
    /// The publisher's end, taken when the tasks start.
    inbox: Mutex<Option<mpsc::Receiver<Outgoing>>>,
    /// Redis answered the last command (`/healthz`, ingest 503).
    ok: AtomicBool,
    /// This replica holds the producer lease.
    leader: AtomicBool,
    /// This replica's name in the lease (host, pid, random).
    replica: String,
    /// The host name as a series tag value (`system.cpu_percent{host=H}`):
    /// letters, digits, `.`, `-`, `_` only.
    host: String,
    /// `--redis-stream-len`.
    stream_len: u64,
    /// A shared connection for reads on behalf of clients (resume by
    /// `XRANGE`); made on first use, dropped after an error.
    reader: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    /// Viewers on every replica together (`livedash:viewers`, refreshed
    /// each lease tick); `None` until first read.
    viewers: std::sync::atomic::AtomicI64,
    /// `orders` frames read from the stream while this replica does not
    /// hold the lease, waiting for its orders task to follow them (so its
    /// aggregate is the stream's when it takes the lease over). Bounded by
    /// [`FOLLOWED_MAX`].
    followed: Mutex<std::collections::VecDeque<Followed>>,
}

/// A frame produced here on its way to Redis: its topic, its JSON (seq 0)
/// and, for an `orders` frame, the window fill that goes with it.
type Outgoing = (Topic, String, Option<String>);

/// An `orders` frame another replica produced, and the window fill its
/// producer took in on that tick (records not in the frame).
pub type Followed = (livedash_shared::Orders, Vec<livedash_shared::OrderRecord>);

/// `orders` frames kept for the orders task to follow at most (it takes
/// them every tick; more means it is stuck, and the oldest go).
const FOLLOWED_MAX: usize = 4096;

/// A replica's viewer count older than this is not counted (it died).
const VIEWERS_FRESH_MS: u64 = 5000;

/// Most frames one resume may read back from Redis (beyond it: snapshot).
pub const MAX_RANGE: u64 = 20_000;

impl RedisBroker {
    /// A broker for `url` (checked by the flag's parser).
    pub fn new(url: &str, config: &Config) -> RedisBroker {
        let client = redis::Client::open(url).expect("--redis was checked when parsed");
        let (outbox, inbox) = mpsc::channel(OUTBOX);
        let host = sysinfo::System::host_name().unwrap_or_else(|_| "host".into());
        RedisBroker {
            client,
            outbox,
            inbox: Mutex::new(Some(inbox)),
            ok: AtomicBool::new(false),
            leader: AtomicBool::new(false),
            replica: format!("{host}:{}:{:x}", std::process::id(), rand::random::<u32>()),
            host: host
                .chars()
                .map(|c| match c {
                    'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' => c,
                    _ => '_',
                })
                .collect(),
            stream_len: config.redis_stream_len,
            reader: Default::default(),
            viewers: std::sync::atomic::AtomicI64::new(-1),
            followed: Default::default(),
        }
    }

    /// Whether Redis answered the last command.
    pub fn ok(&self) -> bool {
        self.ok.load(Relaxed)
    }

    /// Whether this replica holds the producer lease.
    pub fn leads(&self) -> bool {
        self.leader.load(Relaxed)
    }

    /// Keep an `orders` frame read from the stream for the orders task to
    /// follow, unless this replica produced it (it holds the lease).
    pub fn follow(&self, frame: &livedash_shared::Orders, fill: Vec<livedash_shared::OrderRecord>) {
        if self.leads() {
            return;
        }
        let mut q = crate::hub::lock(&self.followed);
        if q.len() >= FOLLOWED_MAX {
            q.pop_front();
        }
        q.push_back((frame.clone(), fill));
    }

    /// The `orders` frames read from the stream since the last call
    /// (oldest first) that this replica did not produce.
    pub fn take_followed(&self) -> Vec<Followed> {
        crate::hub::lock(&self.followed).drain(..).collect()
    }

    /// This replica's lease name.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Viewers on every replica together, once known.
    pub fn viewers(&self) -> Option<u64> {
        u64::try_from(self.viewers.load(Relaxed)).ok()
    }

    /// Write this replica's viewer count (`count ts`) and sum the fresh
    /// ones of every replica; stale entries are removed.
    async fn count_viewers(&self, c: &mut MultiplexedConnection, mine: u64) -> RedisResult<()> {
        let key = format!("{PREFIX}:viewers");
        let now = livedash_shared::now_ms();
        let all: std::collections::HashMap<String, String> = redis::pipe()
            .cmd("HSET")
            .arg(&key)
            .arg(&self.replica)
            .arg(format!("{mine} {now}"))
            .ignore()
            .cmd("HGETALL")
            .arg(&key)
            .query_async::<(std::collections::HashMap<String, String>,)>(c)
            .await?
            .0;
        let mut total = 0;
        for (replica, v) in all {
            let mut it = v.split(' ').map(|n| n.parse::<u64>().unwrap_or(0));
            let (n, ts) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
            if now.saturating_sub(ts) <= VIEWERS_FRESH_MS {
                total += n;
            } else {
                let _: RedisResult<()> = redis::cmd("HDEL")
                    .arg(&key)
                    .arg(replica)
                    .query_async(c)
                    .await;
            }
        }
        self.viewers.store(total as i64, Relaxed);
        Ok(())
    }

    /// This replica's host, as a series tag value.
    pub fn host(&self) -> &str {
        &self.host
    }

    fn set_ok(&self, ok: bool) {
        if self.ok.swap(ok, Relaxed) != ok {
            match ok {
                true => tracing::info!("redis: connected"),
                false => {
                    tracing::warn!("redis: unreachable; nothing is published until it is back")
                }
            }
        }
    }

    /// Take a frame produced here. Frames of the shared producers' topics
    /// are published only by the lease holder; nothing is queued while
    /// Redis is down. `json` is called only when the frame goes out.
    pub fn offer(&self, topic: Topic, json: impl FnOnce() -> String, metrics: &Metrics) {
        self.offer_with(topic, json, None, metrics)
    }

    /// [`RedisBroker::offer`] with the window fill of an `orders` frame.
    pub fn offer_with(
        &self,
        topic: Topic,
        json: impl FnOnce() -> String,
        fill: Option<String>,
        metrics: &Metrics,
    ) {
        let shared = matches!(
            topic,
            Topic::Orders | Topic::System | Topic::Clients | Topic::Alerts
        );
        if shared && !self.leads() {
            return;
        }
        if !self.ok() || self.outbox.try_send((topic, json(), fill)).is_err() {
            Metrics::add(&metrics.broker_dropped, 1);
        }
    }

    /// The frames after `since` up to `now` (per topic), read from the
    /// streams for a client this replica's recent buffer cannot serve;
    /// `None` when some were trimmed, too many are missing, or Redis fails.
    pub async fn frames_between(&self, since: &Seqs, now: &Seqs) -> Option<Vec<crate::hub::Frame>> {
        let missing: u64 = Topic::ALL
            .iter()
            .map(|&t| now.get(t).saturating_sub(since.get(t)))
            .sum();
        if missing > MAX_RANGE {
            return None;
        }
        let mut conn = self.shared().await?;
        let mut frames = Vec::new();
        for t in Topic::ALL {
            let (from, to) = (since.get(t) + 1, now.get(t));
            if from > to {
                continue;
            }
            let r: RedisResult<StreamRangeReply> = redis::cmd("XRANGE")
                .arg(topic_key("stream", t))
                .arg(format!("{from}-0"))
                .arg(format!("{to}-0"))
                .query_async(&mut conn)
                .await;
            let Ok(r) = r else {
                self.drop_shared().await;
                return None;
            };
            // Every seq from `from` to `to`, none trimmed.
            if r.ids.len() as u64 != to - from + 1
                || r.ids.first().and_then(|e| entry_seq(&e.id)) != Some(from)
            {
                return None;
            }
            for e in r.ids {
                let json: String = e.get("f")?;
                frames.push(crate::hub::frame_from_entry(t, entry_seq(&e.id)?, &json)?);
            }
        }
        Some(frames)
    }

    /// The shared connection (made on first use).
    pub(super) async fn shared(&self) -> Option<MultiplexedConnection> {
        let mut slot = self.reader.lock().await;
        if slot.is_none() {
            *slot = self.connect().await.ok();
        }
        slot.clone()
    }

    /// Forget the shared connection after an error.
    pub(super) async fn drop_shared(&self) {
        *self.reader.lock().await = None;
    }

    /// Start the publisher, the tailer, the lease and the ingest pump.
    pub fn spawn(
        self: Arc<Self>,
        hub: Arc<Hub>,
        stop: watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let inbox = crate::hub::lock(&self.inbox).take();
        let mut tasks = vec![
            tokio::spawn(self.clone().tailer(hub.clone(), stop.clone())),
            tokio::spawn(self.clone().lease(hub.clone(), stop.clone())),
            tokio::spawn(self.clone().ingest_pump(hub.clone(), stop.clone())),
        ];
        if let Some(rx) = inbox {
            tasks.push(tokio::spawn(self.publisher(hub.clone(), rx, stop.clone())));
        }
        tasks
    }

    /// A connection with timeouts (a dead Redis is noticed in seconds).
    async fn connect(&self) -> RedisResult<MultiplexedConnection> {
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_millis(BLOCK_MS as u64 + 4000));
        self.client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await
    }

    /// Run the publish script for each frame produced here.
    async fn publisher(
        self: Arc<Self>,
        hub: Arc<Hub>,
        mut rx: mpsc::Receiver<Outgoing>,
        mut stop: watch::Receiver<bool>,
    ) {
        let script = Script::new(PUBLISH_LUA);
        let mut conn: Option<MultiplexedConnection> = None;
        loop {
            let (topic, json, fill) = tokio::select! {
                _ = stop.changed() => return,
                m = rx.recv() => match m { Some(m) => m, None => return },
            };
            // A connection Redis closed (it restarted) fails once: one
            // more try on a fresh one, so no frame is lost once it is back.
            let mut published = false;
            for _ in 0..2 {
                if conn.is_none() {
                    conn = self.connect().await.ok();
                }
                let Some(c) = conn.as_mut() else {
                    break;
                };
                let r: RedisResult<(u64, String)> = script
                    .key(topic_key("seq", topic))
                    .key(topic_key("stream", topic))
                    .key(epoch_key())
                    .arg(&json)
                    .arg(self.stream_len)
                    .arg(&*crate::hub::new_epoch())
                    .arg(fill.as_deref().unwrap_or(""))
                    .invoke_async(c)
                    .await;
                match r {
                    Ok(_) => {
                        published = true;
                        break;
                    }
                    Err(e) => {
                        tracing::warn!("redis: publish failed: {e}");
                        conn = None;
                    }
                }
            }
            if !published {
                self.set_ok(false);
                Metrics::add(&hub.metrics.broker_dropped, 1);
            }
        }
    }

    /// Tail every topic's stream into the hub, reconnecting with backoff.
    async fn tailer(self: Arc<Self>, hub: Arc<Hub>, mut stop: watch::Receiver<bool>) {
        let mut at = Tail::default();
        let mut backoff = Duration::from_millis(100);
        while !*stop.borrow() {
            match self.connect().await {
                Ok(mut c) => {
                    backoff = Duration::from_millis(100);
                    match self.tail(&hub, &mut c, &mut at, &stop).await {
                        Ok(()) => return,
                        Err(e) => tracing::warn!("redis: tail interrupted: {e}"),
                    }
                }
                Err(e) => tracing::debug!("redis: connect failed: {e}"),
            }
            self.set_ok(false);
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// One connection's tailing: until stopped (`Ok`) or an error.
    async fn tail(
        &self,
        hub: &Hub,
        c: &mut MultiplexedConnection,
        at: &mut Tail,
        stop: &watch::Receiver<bool>,
    ) -> RedisResult<()> {
        let keys: Vec<String> = Topic::ALL.iter().map(|&t| topic_key("stream", t)).collect();
        while !*stop.borrow() {
            let (_, epoch): ((), String) = redis::pipe()
                .cmd("SET")
                .arg(epoch_key())
                .arg(&*crate::hub::new_epoch())
                .arg("NX")
                .ignore()
                .cmd("GET")
                .arg(epoch_key())
                .query_async(c)
                .await
                .map(|e: (String,)| ((), e.0))?;
            if at.epoch.as_deref() != Some(epoch.as_str()) {
                // The first read, or Redis lost its data: start from what
                // the streams hold now.
                tracing::info!(%epoch, "redis: epoch");
                at.seqs = warm(hub, c, &epoch).await?;
                at.epoch = Some(epoch);
            }
            self.set_ok(true);
            let ids: Vec<String> = Topic::ALL
                .iter()
                .map(|&t| format!("{}-0", at.seqs.get(t)))
                .collect();
            let reply: StreamReadReply = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(1000)
                .arg("BLOCK")
                .arg(BLOCK_MS)
                .arg("STREAMS")
                .arg(&keys)
                .arg(&ids)
                .query_async(c)
                .await?;
            for stream in reply.keys {
                let Some(topic) = Topic::ALL
                    .into_iter()
                    .find(|&t| topic_key("stream", t) == stream.key)
                else {
                    continue;
                };
                for entry in stream.ids {
                    apply(hub, topic, &entry, &mut at.seqs);
                }
            }
        }
        Ok(())
    }

    /// Hold the producer lease while alive; release it at shutdown.
    async fn lease(self: Arc<Self>, hub: Arc<Hub>, mut stop: watch::Receiver<bool>) {
        let script = Script::new(LEASE_LUA);
        let mut conn: Option<MultiplexedConnection> = None;
        let mut tick = tokio::time::interval(LEASE_EVERY);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = tick.tick() => {}
            }
            if conn.is_none() {
                conn = self.connect().await.ok();
            }
            let held = match conn.as_mut() {
                Some(c) => {
                    let r: RedisResult<i64> = script
                        .key(lease_key())
                        .arg(&self.replica)
                        .arg(LEASE_MS)
                        .invoke_async(c)
                        .await;
                    let held = r.is_ok_and(|n| n == 1);
                    if self.count_viewers(c, hub.presence.count()).await.is_err() {
                        conn = None;
                    }
                    held
                }
                None => false,
            };
            if self.leader.swap(held, Relaxed) != held {
                tracing::info!(replica = %self.replica, held, "redis: producer lease");
            }
        }
        self.leader.store(false, Relaxed);
        if let Some(c) = conn.as_mut() {
            let r: RedisResult<i64> = Script::new(RELEASE_LUA)
                .key(lease_key())
                .arg(&self.replica)
                .invoke_async(c)
                .await;
            let _ = r;
        }
    }
}

/// Where the tailer stands: the epoch it read in and, per topic, the seq
/// of the last entry filed.
#[derive(Default)]
struct Tail {
    /// The epoch of `seqs` (`None` before the first read).
    epoch: Option<String>,
    /// Last seq filed per topic.
    seqs: Seqs,
}

/// Adopt `epoch` and file the newest [`WARM_ENTRIES`] of each stream
/// (history for snapshots, frames to resume from); where each topic stands.
async fn warm(hub: &Hub, c: &mut MultiplexedConnection, epoch: &str) -> RedisResult<Seqs> {
    let mut entries = Vec::new();
    let mut before = Seqs::default();
    for t in Topic::ALL {
        let r: StreamRangeReply = redis::cmd("XREVRANGE")
            .arg(topic_key("stream", t))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(WARM_ENTRIES)
            .query_async(c)
            .await?;
        if let Some(oldest) = r.ids.last() {
            *before.get_mut(t) = entry_seq(&oldest.id).unwrap_or(1).saturating_sub(1);
        }
        entries.extend(r.ids.into_iter().rev().map(|e| (t, e)));
    }
    hub.adopt_epoch(epoch, before);
    let mut at = before;
    for (t, e) in &entries {
        apply(hub, *t, e, &mut at);
    }
    Ok(at)
}

/// The seq of a stream entry id (`<seq>-0`).
fn entry_seq(id: &str) -> Option<u64> {
    id.split_once('-')?.0.parse().ok()
}

/// File one stream entry (skipping what is already filed).
fn apply(hub: &Hub, topic: Topic, entry: &redis::streams::StreamId, at: &mut Seqs) {
    let Some(seq) = entry_seq(&entry.id) else {
        return;
    };
    if seq <= at.get(topic) {
        return;
    }
    let json: Option<String> = entry.get("f");
    let fill: Option<String> = entry.get("w");
    let r = match json {
        Some(j) => hub.apply_remote(topic, seq, &j, fill.as_deref()),
        None => Err("no `f` field".into()),
    };
    if let Err(e) = r {
        tracing::warn!("redis: entry {} of {}: {e}", entry.id, topic.as_str());
    }
    *at.get_mut(topic) = seq;
}
