//! The queue's operations: each a transaction or one script, so a delivery is always in exactly
//! one of waiting, claimed or dead.

use super::RedisWebhookQueue;
use super::scripts::{CLAIM, RELEASE, RELEASE_STALE, REPLAY};
use super::stored::{StoredDelivery, StoredLetter, from_json, score_time, to_json};
use crate::clock::Timestamp;
use crate::redis_store::keyspace::delivery_member;
use crate::store::StoreError;
use crate::webhook::{DeadLetter, Delivery, WebhookQueue, letter_id};

impl WebhookQueue for RedisWebhookQueue {
    async fn push(&self, delivery: Delivery) -> Result<(), StoreError> {
        let member = delivery_member(&delivery.id, delivery.target());
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
        let mut invocation = CLAIM.prepare_invoke();
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

    async fn finish(&self, id: &str, target: &str) -> Result<(), StoreError> {
        let member = delivery_member(id, target);
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
        let member = delivery_member(&letter.delivery.id, letter.delivery.target());
        let letter_id = letter.id();
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
                .ignore()
                .hset(&k.dead_ids, &letter_id, &member)
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

    async fn replay(&self, id: &str, target: &str, now: Timestamp) -> Result<bool, StoreError> {
        let member = delivery_member(id, target);
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
        let mut invocation = REPLAY.prepare_invoke();
        invocation
            .key(&k.dead)
            .key(&k.deliveries)
            .key(&k.waiting)
            .key(&k.dead_ids)
            .arg(&member)
            .arg(delivery_json)
            .arg(now.unix_millis())
            .arg(letter_id(id, target));
        let mut connection = self.connection.manager();
        let moved: i64 = self
            .connection
            .timed(async move { invocation.invoke_async(&mut connection).await })
            .await?;
        Ok(moved == 1)
    }

    async fn dead_letter_count(&self) -> Result<usize, StoreError> {
        let cmd = redis::cmd("HLEN").arg(&self.keys.dead).to_owned();
        let mut connection = self.connection.manager();
        self.connection
            .timed(async move { cmd.query_async(&mut connection).await })
            .await
    }

    /// By the index of letter ids; a letter stored before the index existed is found by
    /// reading every dead letter.
    async fn replay_letter(&self, letter: &str, now: Timestamp) -> Result<bool, StoreError> {
        let k = &self.keys;
        let cmd = redis::cmd("HGET").arg(&k.dead_ids).arg(letter).to_owned();
        let mut connection = self.connection.manager();
        let member: Option<String> = self
            .connection
            .timed(async move { cmd.query_async(&mut connection).await })
            .await?;
        let found = match member {
            Some(member) => {
                let cmd = redis::cmd("HGET").arg(&k.dead).arg(member).to_owned();
                let mut connection = self.connection.manager();
                let json: Option<String> = self
                    .connection
                    .timed(async move { cmd.query_async(&mut connection).await })
                    .await?;
                json.map(|json| from_json::<StoredLetter>(&json))
                    .transpose()?
                    .map(|letter| letter.delivery.into_delivery())
                    .transpose()?
            }
            None => self
                .dead_letters()
                .await?
                .into_iter()
                .find(|l| l.id() == letter)
                .map(|l| l.delivery),
        };
        match found {
            Some(delivery) => self.replay(&delivery.id, delivery.target(), now).await,
            None => Ok(false),
        }
    }

    async fn release_claimed(&self, now: Timestamp) -> Result<usize, StoreError> {
        let k = &self.keys;
        let mut invocation = RELEASE.prepare_invoke();
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
        let mut invocation = RELEASE_STALE.prepare_invoke();
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
