//! The webhook delivery queue in Redis (section 8), shared by every instance and kept across
//! restarts.
//!
//! Stored, under the prefix, with `<id>|<url>` naming one delivery:
//! - `webhook:deliveries`: a hash of `<id>|<url>` → the delivery as JSON (body in base64);
//! - `webhook:waiting`: a sorted set of the deliveries waiting, scored by due time (ms);
//! - `webhook:claimed`: a sorted set of the deliveries being sent, scored by claim time (ms);
//! - `webhook:dead`: a hash of `<id>|<url>` → the dead letter as JSON.
//!
//! A delivery is in exactly one of waiting, claimed or dead. Claiming is one Lua script, so two
//! instances never claim the same delivery; a delivery claimed by a process that died stays in
//! `webhook:claimed` until [`WebhookQueue::release_claimed`] (which the delivery worker calls
//! when it starts) or [`WebhookQueue::release_stale`] (which every running worker calls once
//! per claim lease, for claims older than the lease) puts it back: at least once, never lost. Since every starting worker
//! releases every claim, a delivery in flight in another instance at that moment may be sent
//! twice, with the same `webhook-id`, for receivers to drop the repeat. Deliveries due at the
//! same millisecond are claimed in the order of their `<id>|<url>`.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::RedisConnection;
use crate::clock::Timestamp;
use crate::store::StoreError;
use crate::webhook::{DeadLetter, Delivery, WebhookQueue};

/// Moves up to `ARGV[2]` deliveries due at `ARGV[1]` from waiting to claimed; returns
/// `json, due, json, due, …`. A member whose JSON is gone is dropped.
const CLAIM: &str = r"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
local out = {}
for i = 1, #due, 2 do
  local member = due[i]
  redis.call('ZREM', KEYS[1], member)
  local json = redis.call('HGET', KEYS[3], member)
  if json then
    redis.call('ZADD', KEYS[2], ARGV[1], member)
    out[#out + 1] = json
    out[#out + 1] = due[i + 1]
  end
end
return out
";

/// Moves every claimed delivery back to waiting, due at `ARGV[1]`; returns how many.
const RELEASE: &str = r"
local claimed = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, member in ipairs(claimed) do
  redis.call('ZADD', KEYS[2], ARGV[1], member)
end
redis.call('DEL', KEYS[1])
return #claimed
";

/// Moves every delivery claimed at or before `ARGV[1]` back to waiting, due at `ARGV[2]`;
/// returns how many.
const RELEASE_STALE: &str = r"
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, member in ipairs(stale) do
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZADD', KEYS[2], ARGV[2], member)
end
return #stale
";

/// Moves dead letter `ARGV[1]` back to waiting with the delivery `ARGV[2]`, due `ARGV[3]`;
/// 0 when there is no such dead letter (any more).
const REPLAY: &str = r"
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return 1
";

/// The webhook delivery queue in Redis: every instance's worker takes from one queue, and what
/// a stopped or crashed process held is delivered by the next one. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RedisWebhookQueue {
    connection: RedisConnection,
    keys: Arc<Keys>,
}

#[derive(Debug)]
struct Keys {
    deliveries: String,
    waiting: String,
    claimed: String,
    dead: String,
    claim: redis::Script,
    release: redis::Script,
    release_stale: redis::Script,
    replay: redis::Script,
}

impl RedisWebhookQueue {
    /// The queue under `connection`'s prefix.
    pub fn new(connection: RedisConnection) -> Self {
        let keys = Keys {
            deliveries: connection.key(&["webhook", "deliveries"]),
            waiting: connection.key(&["webhook", "waiting"]),
            claimed: connection.key(&["webhook", "claimed"]),
            dead: connection.key(&["webhook", "dead"]),
            claim: redis::Script::new(CLAIM),
            release: redis::Script::new(RELEASE),
            release_stale: redis::Script::new(RELEASE_STALE),
            replay: redis::Script::new(REPLAY),
        };
        RedisWebhookQueue {
            connection,
            keys: Arc::new(keys),
        }
    }

    /// The connection.
    pub fn connection(&self) -> &RedisConnection {
        &self.connection
    }

    /// Removes `member` from waiting and claimed, with the commands `then` adds, in one
    /// transaction.
    async fn settle(
        &self,
        member: &str,
        then: impl FnOnce(&mut redis::Pipeline),
    ) -> Result<(), StoreError> {
        let k = &self.keys;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .zrem(&k.claimed, member)
            .ignore()
            .zrem(&k.waiting, member)
            .ignore();
        then(&mut pipe);
        let mut connection = self.connection.manager();
        self.connection
            .timed(async move { pipe.query_async::<()>(&mut connection).await })
            .await
    }
}

/// A delivery's stored form.
#[derive(Serialize, Deserialize)]
struct StoredDelivery {
    id: String,
    url: String,
    event_type: String,
    /// Base64 (standard, padded).
    body: String,
    created_at: i64,
    attempts: u32,
    due_at: i64,
}

impl From<&Delivery> for StoredDelivery {
    fn from(d: &Delivery) -> Self {
        StoredDelivery {
            id: d.id.to_string(),
            url: d.url.to_string(),
            event_type: d.event_type.to_string(),
            body: STANDARD.encode(&d.body),
            created_at: d.created_at.unix_millis(),
            attempts: d.attempts,
            due_at: d.due_at.unix_millis(),
        }
    }
}

impl StoredDelivery {
    fn into_delivery(self) -> Result<Delivery, StoreError> {
        let body = STANDARD
            .decode(self.body)
            .map_err(|_| StoreError::new("redis: a queued webhook body is not base64"))?;
        Ok(Delivery {
            id: Arc::from(self.id),
            url: Arc::from(self.url),
            event_type: Arc::from(self.event_type),
            body: Bytes::from(body),
            created_at: Timestamp::from_unix_millis(self.created_at),
            attempts: self.attempts,
            due_at: Timestamp::from_unix_millis(self.due_at),
        })
    }
}

/// A dead letter's stored form.
#[derive(Serialize, Deserialize)]
struct StoredLetter {
    delivery: StoredDelivery,
    reason: String,
    at: i64,
}

fn member(id: &str, url: &str) -> String {
    format!("{id}|{url}")
}

fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|_| StoreError::new("webhook delivery not serializable"))
}

fn from_json<'a, T: Deserialize<'a>>(json: &'a str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|_| StoreError::new("redis: unreadable webhook record"))
}

/// A sorted-set score (milliseconds) as a timestamp.
fn score_time(score: &str) -> Result<Timestamp, StoreError> {
    let millis: f64 = score
        .parse()
        .map_err(|_| StoreError::new("redis: unreadable webhook due time"))?;
    // Scores are whole milliseconds, exact in an f64 for any date this crate handles.
    Ok(Timestamp::from_unix_millis(millis as i64))
}

impl WebhookQueue for RedisWebhookQueue {
    async fn push(&self, delivery: Delivery) -> Result<(), StoreError> {
        let member = member(&delivery.id, &delivery.url);
        let json = to_json(&StoredDelivery::from(&delivery))?;
        let k = &self.keys;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset(&k.deliveries, &member, json)
            .ignore()
            .zrem(&k.claimed, &member)
            .ignore()
            .zadd(&k.waiting, &member, delivery.due_at.unix_millis())
            .ignore();
        let mut connection = self.connection.manager();
        self.connection
            .timed(async move { pipe.query_async::<()>(&mut connection).await })
            .await
    }

    async fn claim_due(&self, now: Timestamp, max: usize) -> Result<Vec<Delivery>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let k = &self.keys;
        let mut invocation = k.claim.prepare_invoke();
        invocation
            .key(&k.waiting)
            .key(&k.claimed)
            .key(&k.deliveries)
            .arg(now.unix_millis())
            .arg(max);
        let mut connection = self.connection.manager();
        let flat: Vec<String> = self
            .connection
            .timed(async move { invocation.invoke_async(&mut connection).await })
            .await?;
        flat.chunks_exact(2)
            .map(|pair| {
                let mut delivery = from_json::<StoredDelivery>(&pair[0])?.into_delivery()?;
                delivery.due_at = score_time(&pair[1])?;
                Ok(delivery)
            })
            .collect()
    }

    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let mut connection = self.connection.manager();
        let cmd = redis::cmd("ZRANGE")
            .arg(&self.keys.waiting)
            .arg(0)
            .arg(0)
            .arg("WITHSCORES")
            .to_owned();
        let first: Vec<(String, String)> = self
            .connection
            .timed(async move { cmd.query_async(&mut connection).await })
            .await?;
        first
            .first()
            .map(|(_, score)| score_time(score))
            .transpose()
    }

    async fn finish(&self, id: &str, url: &str) -> Result<(), StoreError> {
        let member = member(id, url);
        let deliveries = &self.keys.deliveries;
        self.settle(&member, |pipe| {
            pipe.hdel(deliveries, &member).ignore();
        })
        .await
    }

    async fn reschedule(&self, delivery: Delivery) -> Result<(), StoreError> {
        // The claim is dropped, then the delivery waits again: push does both in one go.
        self.push(delivery).await
    }

    async fn dead_letter(&self, letter: DeadLetter) -> Result<(), StoreError> {
        let member = member(&letter.delivery.id, &letter.delivery.url);
        let json = to_json(&StoredLetter {
            delivery: StoredDelivery::from(&letter.delivery),
            reason: letter.reason,
            at: letter.at.unix_millis(),
        })?;
        let k = &self.keys;
        self.settle(&member, |pipe| {
            pipe.hdel(&k.deliveries, &member)
                .ignore()
                .hset(&k.dead, &member, json)
                .ignore();
        })
        .await
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        let mut connection = self.connection.manager();
        let cmd = redis::cmd("HVALS").arg(&self.keys.dead).to_owned();
        let stored: Vec<String> = self
            .connection
            .timed(async move { cmd.query_async(&mut connection).await })
            .await?;
        let mut letters = stored
            .iter()
            .map(|json| {
                let letter: StoredLetter = from_json(json)?;
                Ok(DeadLetter {
                    delivery: letter.delivery.into_delivery()?,
                    reason: letter.reason,
                    at: Timestamp::from_unix_millis(letter.at),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // A hash has no order: oldest dead letter first, like the in-memory queue.
        letters.sort_by(|a, b| {
            (a.at, &a.delivery.id, &a.delivery.url).cmp(&(b.at, &b.delivery.id, &b.delivery.url))
        });
        Ok(letters)
    }

    async fn replay(&self, id: &str, url: &str, now: Timestamp) -> Result<bool, StoreError> {
        let member = member(id, url);
        let k = &self.keys;
        let mut connection = self.connection.manager();
        let cmd = redis::cmd("HGET").arg(&k.dead).arg(&member).to_owned();
        let found: Option<String> = self
            .connection
            .timed(async move { cmd.query_async(&mut connection).await })
            .await?;
        let Some(json) = found else {
            return Ok(false);
        };
        let mut delivery: StoredDelivery = from_json::<StoredLetter>(&json)?.delivery;
        delivery.attempts = 0;
        delivery.due_at = now.unix_millis();
        let delivery_json = to_json(&delivery)?;
        let mut invocation = k.replay.prepare_invoke();
        invocation
            .key(&k.dead)
            .key(&k.deliveries)
            .key(&k.waiting)
            .arg(&member)
            .arg(delivery_json)
            .arg(now.unix_millis());
        let mut connection = self.connection.manager();
        let moved: i64 = self
            .connection
            .timed(async move { invocation.invoke_async(&mut connection).await })
            .await?;
        Ok(moved == 1)
    }

    async fn release_claimed(&self, now: Timestamp) -> Result<usize, StoreError> {
        let k = &self.keys;
        let mut invocation = k.release.prepare_invoke();
        invocation
            .key(&k.claimed)
            .key(&k.waiting)
            .arg(now.unix_millis());
        let mut connection = self.connection.manager();
        self.connection
            .timed(async move { invocation.invoke_async(&mut connection).await })
            .await
    }

    async fn release_stale(
        &self,
        claimed_by: Timestamp,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        let k = &self.keys;
        let mut invocation = k.release_stale.prepare_invoke();
        invocation
            .key(&k.claimed)
            .key(&k.waiting)
            .arg(claimed_by.unix_millis())
            .arg(now.unix_millis());
        let mut connection = self.connection.manager();
        self.connection
            .timed(async move { invocation.invoke_async(&mut connection).await })
            .await
    }

    async fn pending(&self) -> Result<usize, StoreError> {
        let k = &self.keys;
        let mut pipe = redis::pipe();
        pipe.zcard(&k.waiting).zcard(&k.claimed);
        let mut connection = self.connection.manager();
        let (waiting, claimed): (usize, usize) = self
            .connection
            .timed(async move { pipe.query_async(&mut connection).await })
            .await?;
        Ok(waiting + claimed)
    }
}
