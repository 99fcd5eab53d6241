//! The webhook queue of a deployment.

use super::backend::on_backend;
use crate::clock::Timestamp;
#[cfg(feature = "embedded")]
use crate::embedded_store::EmbeddedWebhookQueue;
#[cfg(feature = "redis")]
use crate::redis_store::RedisWebhookQueue;
use crate::store::StoreError;
use crate::webhook::{DeadLetter, Delivery, MemoryWebhookQueue, WebhookQueue, Webhooks};

/// The webhook dispatcher of a deployment: publish events, read dead letters, replay them.
pub type DeploymentWebhooks = Webhooks<DeploymentQueue>;

/// Where a deployment's webhook deliveries wait: in memory, or in Redis, where an event queued
/// by one instance is delivered by another if the first one dies.
#[derive(Debug)]
#[non_exhaustive]
pub enum DeploymentQueue {
    /// `store.backend = "memory"`.
    Memory(MemoryWebhookQueue),
    /// `store.backend = "redis"`.
    #[cfg(feature = "redis")]
    Redis(RedisWebhookQueue),
    /// `store.backend = "embedded"`: every change on disk before the call returns.
    #[cfg(feature = "embedded")]
    Embedded(EmbeddedWebhookQueue),
}

impl WebhookQueue for DeploymentQueue {
    async fn push(&self, delivery: Delivery) -> Result<(), StoreError> {
        on_backend!(self, queue => queue.push(delivery).await)
    }

    async fn claim_due(&self, now: Timestamp, max: usize) -> Result<Vec<Delivery>, StoreError> {
        on_backend!(self, queue => queue.claim_due(now, max).await)
    }

    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        on_backend!(self, queue => queue.next_due().await)
    }

    async fn finish(&self, id: &str, target: &str) -> Result<(), StoreError> {
        on_backend!(self, queue => queue.finish(id, target).await)
    }

    async fn reschedule(&self, delivery: Delivery) -> Result<(), StoreError> {
        on_backend!(self, queue => queue.reschedule(delivery).await)
    }

    async fn dead_letter(&self, letter: DeadLetter) -> Result<(), StoreError> {
        on_backend!(self, queue => queue.dead_letter(letter).await)
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        on_backend!(self, queue => queue.dead_letters().await)
    }

    async fn replay(&self, id: &str, target: &str, now: Timestamp) -> Result<bool, StoreError> {
        on_backend!(self, queue => queue.replay(id, target, now).await)
    }

    async fn dead_letter_count(&self) -> Result<usize, StoreError> {
        on_backend!(self, queue => queue.dead_letter_count().await)
    }

    async fn replay_letter(&self, letter: &str, now: Timestamp) -> Result<bool, StoreError> {
        on_backend!(self, queue => queue.replay_letter(letter, now).await)
    }

    async fn replay_since(&self, since: Timestamp, now: Timestamp) -> Result<usize, StoreError> {
        on_backend!(self, queue => queue.replay_since(since, now).await)
    }

    async fn release_claimed(&self, now: Timestamp) -> Result<usize, StoreError> {
        on_backend!(self, queue => queue.release_claimed(now).await)
    }

    async fn release_stale(
        &self,
        claimed_by: Timestamp,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        on_backend!(self, queue => queue.release_stale(claimed_by, now).await)
    }

    async fn pending(&self) -> Result<usize, StoreError> {
        on_backend!(self, queue => queue.pending().await)
    }
}
