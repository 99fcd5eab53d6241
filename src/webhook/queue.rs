//! The delivery queue: every message stays in it until delivered or dead-lettered.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;

use crate::clock::Timestamp;
use crate::store::StoreError;

/// One message on its way to one endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// `webhook-id`: the same on every attempt, so the receiver can drop duplicates.
    pub id: Arc<str>,
    /// The endpoint's id; `None` in a delivery queued before deliveries named their endpoint,
    /// which goes to the endpoint at [`Delivery::url`].
    pub endpoint: Option<Arc<str>>,
    /// The endpoint's URL when the delivery was made.
    pub url: Arc<str>,
    /// The event type, e.g. `quota.threshold`.
    pub event_type: Arc<str>,
    /// The JSON body.
    pub body: Bytes,
    /// When the message was created (its `webhook-timestamp` is the time of each attempt).
    pub created_at: Timestamp,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due.
    pub due_at: Timestamp,
}

impl Delivery {
    /// What the delivery goes to: the endpoint's id, or its URL for a delivery that names no
    /// endpoint. With the message id, it names the delivery in the queue.
    pub fn target(&self) -> &Arc<str> {
        self.endpoint.as_ref().unwrap_or(&self.url)
    }
}

/// A message that used up its attempts, or whose endpoint is gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The message.
    pub delivery: Delivery,
    /// Why: the last failure.
    pub reason: String,
    /// When it was dead-lettered.
    pub at: Timestamp,
}

impl DeadLetter {
    /// Its id: `dl_` and 32 hex digits derived from the message id and its target, so the same
    /// on every backend, every instance and across restarts (a message dead-lettered again
    /// after a replay keeps it).
    pub fn id(&self) -> String {
        letter_id(&self.delivery.id, self.delivery.target())
    }
}

/// The id of the dead letter of message `id` to `target`.
pub(crate) fn letter_id(id: &str, target: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(id.as_bytes());
    // A separator no id holds, so that ("ab", "c") and ("a", "bc") differ.
    hash.update([0]);
    hash.update(target.as_bytes());
    let digest = hash.finalize();
    let hex = base16ct::lower::encode_string(&digest[..16]);
    format!("dl_{hex}")
}

/// Where deliveries wait. A claimed delivery stays held until it is finished, rescheduled or
/// dead-lettered, and [`WebhookQueue::release_claimed`] returns claimed ones to the queue
/// (on shutdown), so a message is never lost between the queue and the wire.
pub trait WebhookQueue: Send + Sync + 'static {
    /// Adds a delivery.
    fn push(&self, delivery: Delivery) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Claims up to `max` deliveries due at `now`, oldest due first.
    fn claim_due(
        &self,
        now: Timestamp,
        max: usize,
    ) -> impl Future<Output = Result<Vec<Delivery>, StoreError>> + Send;

    /// The earliest due time of an unclaimed delivery, if any.
    fn next_due(&self) -> impl Future<Output = Result<Option<Timestamp>, StoreError>> + Send;

    /// A claimed delivery arrived: forget it. `target` is [`Delivery::target`].
    fn finish(&self, id: &str, target: &str)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A claimed delivery goes back to wait for its next attempt.
    fn reschedule(&self, delivery: Delivery)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A claimed delivery moves to the dead letters.
    fn dead_letter(
        &self,
        letter: DeadLetter,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The dead letters.
    fn dead_letters(&self) -> impl Future<Output = Result<Vec<DeadLetter>, StoreError>> + Send;

    /// Moves a dead letter back to the queue, due `now` with a fresh set of attempts.
    /// `false` when there is no such dead letter. `target` is [`Delivery::target`].
    fn replay(
        &self,
        id: &str,
        target: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// How many dead letters there are.
    fn dead_letter_count(&self) -> impl Future<Output = Result<usize, StoreError>> + Send {
        async { self.dead_letters().await.map(|letters| letters.len()) }
    }

    /// Replays the dead letter with this id ([`DeadLetter::id`]), due `now` with a fresh set of
    /// attempts. `false` when there is no such dead letter.
    fn replay_letter(
        &self,
        letter: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        async move {
            let found = self
                .dead_letters()
                .await?
                .into_iter()
                .find(|l| l.id() == letter);
            match found {
                Some(l) => self.replay(&l.delivery.id, l.delivery.target(), now).await,
                None => Ok(false),
            }
        }
    }

    /// Replays every dead letter dead-lettered at or after `since`; how many were.
    fn replay_since(
        &self,
        since: Timestamp,
        now: Timestamp,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send {
        async move {
            let mut replayed = 0;
            for letter in self.dead_letters().await? {
                if letter.at >= since
                    && self
                        .replay(&letter.delivery.id, letter.delivery.target(), now)
                        .await?
                {
                    replayed += 1;
                }
            }
            Ok(replayed)
        }
    }

    /// Returns every claimed delivery to the queue, due now (shutdown).
    fn release_claimed(
        &self,
        now: Timestamp,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Returns to the queue, due `now`, every delivery claimed at or before `claimed_by`: claims
    /// so old that the worker holding them must have died. The delivery worker calls it
    /// periodically, so that another running instance takes over a dead one's deliveries
    /// without waiting for a restart. The default does nothing, which is right for a queue only
    /// one process sees (its claims die with it).
    fn release_stale(
        &self,
        claimed_by: Timestamp,
        now: Timestamp,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send {
        let _ = (claimed_by, now);
        std::future::ready(Ok(0))
    }

    /// Deliveries waiting or claimed.
    fn pending(&self) -> impl Future<Output = Result<usize, StoreError>> + Send;
}
