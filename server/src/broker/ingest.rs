//! Pushed records with `--redis`: `POST /api/ingest/orders` works on every
//! replica. The replica that takes the request queues the batch in Redis
//! (`livedash:ingest:orders`, a list bounded by `--ingest-queue` records
//! through a counter kept by the same scripts); the producer lease holder
//! moves batches from there into its own inbox as fast as its orders task
//! takes them, so the records come out in the holder's next `orders`
//! frames, which every replica serves. The queue outlives the holder: a
//! batch waits in Redis while the lease moves and the new holder takes it.
//!
//! Only a batch the holder already moved into its memory and had not yet
//! published when it died is lost (as it would be with one process).

use super::redis::RedisBroker;
use crate::hub::Hub;
use livedash_shared::OrderRecord;
use redis::{RedisResult, Script};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The list of queued batches (`"<records> <JSON array>"` each).
pub fn queue_key() -> String {
    "livedash:ingest:orders".into()
}

/// Records in the list, kept by the scripts (no batch is parsed in Lua).
pub fn count_key() -> String {
    "livedash:ingest:orders:records".into()
}

/// Queue a batch unless the queue would go over its bound (a batch is
/// always taken when nothing waits). KEYS = list, count; ARGV = element,
/// records, bound. 1 when queued.
const PUSH_LUA: &str = r"
local waiting = tonumber(redis.call('GET', KEYS[2]) or '0')
local n = tonumber(ARGV[2])
if waiting > 0 and waiting + n > tonumber(ARGV[3]) then
  return 0
end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('INCRBY', KEYS[2], n)
return 1
";

/// Take whole batches from the head while they fit in the budget (the
/// first always when `ARGV[2]` is 1: the taker's inbox is empty).
/// KEYS = list, count; ARGV = budget in records, first-always flag.
const TAKE_LUA: &str = r"
local out = {}
local taken = 0
local budget = tonumber(ARGV[1])
while true do
  local v = redis.call('LINDEX', KEYS[1], 0)
  if not v then break end
  local n = tonumber(string.match(v, '^(%d+) ')) or 0
  local first_ok = (#out == 0 and ARGV[2] == '1')
  if taken + n > budget and not first_ok then break end
  redis.call('LPOP', KEYS[1])
  redis.call('DECRBY', KEYS[2], n)
  taken = taken + n
  out[#out + 1] = v
  if taken >= budget then break end
end
return out
";

/// How often the holder looks at the queue when it found nothing.
const TAKE_EVERY: Duration = Duration::from_millis(50);

/// Why a batch was not queued.
#[derive(Debug, PartialEq)]
pub enum Refused {
    /// The queue holds its bound already (429).
    Full,
    /// Redis did not answer (503).
    Down(String),
}

/// A queued element: the record count, a space, the JSON array.
pub fn element(records: &[OrderRecord]) -> String {
    let json = serde_json::to_string(records).expect("records serialize");
    format!("{} {json}", records.len())
}

/// The records of a queued element.
pub fn parse_element(e: &str) -> Result<Vec<OrderRecord>, String> {
    let (_, json) = e.split_once(' ').ok_or("no record count")?;
    serde_json::from_str(json).map_err(|e| e.to_string())
}

impl RedisBroker {
    /// Queue pushed records in Redis for the lease holder's orders task.
    pub async fn push_ingest(&self, records: &[OrderRecord], bound: u64) -> Result<(), Refused> {
        if records.is_empty() {
            return Ok(());
        }
        let e = element(records);
        // The shared connection may be one Redis closed (it restarted):
        // one more try on a fresh one.
        let mut last = String::new();
        for _ in 0..2 {
            let Some(mut c) = self.shared().await else {
                break;
            };
            let r: RedisResult<i64> = Script::new(PUSH_LUA)
                .key(queue_key())
                .key(count_key())
                .arg(&e)
                .arg(records.len())
                .arg(bound)
                .invoke_async(&mut c)
                .await;
            match r {
                Ok(1) => return Ok(()),
                Ok(_) => return Err(Refused::Full),
                Err(err) => {
                    self.drop_shared().await;
                    last = format!(": {err}");
                }
            }
        }
        Err(Refused::Down(format!(
            "the broker (Redis) is unreachable{last}: nothing can be published"
        )))
    }

    /// While this replica holds the lease: move queued batches into the
    /// inbox, as many records as it has room for.
    pub(super) async fn ingest_pump(
        self: Arc<Self>,
        hub: Arc<Hub>,
        mut stop: watch::Receiver<bool>,
    ) {
        let Some(inbox) = hub.inbox.clone() else {
            return;
        };
        let script = Script::new(TAKE_LUA);
        let bound = hub.config.ingest_queue;
        loop {
            let mut took = false;
            if self.leads() && self.ok() && !inbox.is_closed() {
                let pending = inbox.pending();
                let budget = bound.saturating_sub(pending);
                if budget > 0 || pending == 0 {
                    took = self.take_into(&script, &inbox, budget, pending == 0).await;
                }
            }
            let pause = if took { Duration::ZERO } else { TAKE_EVERY };
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One take: whether any batch was moved.
    async fn take_into(
        &self,
        script: &Script,
        inbox: &crate::sources::Inbox,
        budget: u64,
        first_always: bool,
    ) -> bool {
        let Some(mut c) = self.shared().await else {
            return false;
        };
        let r: RedisResult<Vec<String>> = script
            .key(queue_key())
            .key(count_key())
            .arg(budget)
            .arg(if first_always { "1" } else { "0" })
            .invoke_async(&mut c)
            .await;
        let elements = match r {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!("redis: taking pushed records failed: {e}");
                self.drop_shared().await;
                return false;
            }
        };
        let mut records = Vec::new();
        for e in &elements {
            match parse_element(e) {
                Ok(rs) => records.extend(rs),
                Err(why) => tracing::warn!("redis: a queued ingest batch is unreadable: {why}"),
            }
        }
        if inbox.try_push(records).is_err() {
            // Only at shutdown (the budget kept it within the bound).
            tracing::warn!("redis: pushed records taken at shutdown were dropped");
        }
        !elements.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_element_carries_its_count_and_reads_back() {
        let r = OrderRecord {
            user_id: 1,
            age: 30,
            gender: "F".into(),
            country: "Brasil".into(),
            traffic_source: "Search".into(),
            order_id: 7,
            item_id: 70,
            category: "Jeans".into(),
            cost: 1.5,
            item_status: "Shipped".into(),
            sale_price: 3.25,
            created_at: 1_700_000_000_000,
        };
        let e = element(&[r.clone(), r.clone()]);
        assert!(e.starts_with("2 ["), "{e}");
        assert_eq!(parse_element(&e).unwrap(), vec![r.clone(), r]);
        assert!(parse_element("[]").is_err());
    }
}
