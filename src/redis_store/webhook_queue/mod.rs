//! The webhook delivery queue in Redis (section 8), shared by every instance and kept across
//! restarts.
//!
//! Stored, under the prefix, with `<id>|<target>` naming one delivery (its member: the message
//! id and the endpoint's id, or the URL of a delivery that names no endpoint; the id escaped
//! by the [keyspace](super::keyspace), so the first `|` ends it):
//! - `webhook:deliveries`: a hash of member → the delivery as JSON (body in base64);
//! - `webhook:waiting`: a sorted set of the deliveries waiting, scored by due time (ms);
//! - `webhook:claimed`: a sorted set of the deliveries being sent, scored by claim time (ms);
//! - `webhook:dead`: a hash of member → the dead letter as JSON.
//!
//! A delivery is in exactly one of waiting, claimed or dead. Claiming is one Lua script, so two
//! instances never claim the same delivery; a delivery claimed by a process that died stays in
//! `webhook:claimed` until [`WebhookQueue::release_claimed`] (which the delivery worker calls
//! when it starts) or [`WebhookQueue::release_stale`] (which every running worker calls once
//! per claim lease, for claims older than the lease) puts it back: at least once, never lost.
//! Since every starting worker releases every claim, a delivery in flight in another instance
//! at that moment may be sent twice, with the same `webhook-id`, for receivers to drop the
//! repeat. Deliveries due at the same millisecond are claimed in the order of their member.
//!
//! The [stored form](stored) is JSON, the [scripts](scripts) are `.lua` files beside this
//! module, and the [operations](operations) implement [`WebhookQueue`].

use std::sync::Arc;

use super::RedisConnection;
use super::keyspace::WebhookKeys;
use crate::store::StoreError;
#[cfg(doc)]
use crate::webhook::WebhookQueue;

mod operations;
mod scripts;
mod stored;

/// The webhook delivery queue in Redis: every instance's worker takes from one queue, and what
/// a stopped or crashed process held is delivered by the next one. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RedisWebhookQueue {
    connection: RedisConnection,
    keys: Arc<WebhookKeys>,
}

impl RedisWebhookQueue {
    /// The queue under `connection`'s prefix.
    pub fn new(connection: RedisConnection) -> Self {
        RedisWebhookQueue {
            keys: Arc::new(connection.keyspace().webhook_queue()),
            connection,
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
