//! `EmbeddedWebhookQueue`: the webhook queue and its dead letters in memory, every change
//! committed to disk before the call returns. Claims are not written: a message claimed when
//! the process died is still on disk, waiting, at the next start (delivered at least once).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, MutexGuard, PoisonError};

use super::EmbeddedStore;
use super::writer::Op;
use crate::clock::Timestamp;
use crate::store::StoreError;
use crate::webhook::{DeadLetter, Delivery, WebhookQueue};

/// The webhook queue of the embedded store. Clones share it.
#[derive(Clone, Debug)]
pub struct EmbeddedWebhookQueue {
    pub(super) store: EmbeddedStore,
}

/// The queue in memory; `seq` is each message's row on disk.
#[derive(Debug, Default)]
pub(super) struct QueueState {
    /// Waiting messages by (due time, row).
    pub(super) waiting: BTreeMap<(Timestamp, u64), Delivery>,
    /// Claimed messages by (id, target): their row and the message.
    claimed: HashMap<(Arc<str>, Arc<str>), (u64, Delivery)>,
    /// Dead letters by row.
    pub(super) dead: BTreeMap<u64, DeadLetter>,
    /// The next row number, of either table.
    pub(super) next_seq: u64,
}

impl QueueState {
    fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }
}

fn claim_key(delivery: &Delivery) -> (Arc<str>, Arc<str>) {
    (Arc::clone(&delivery.id), Arc::clone(delivery.target()))
}

impl EmbeddedWebhookQueue {
    fn locked(&self) -> MutexGuard<'_, QueueState> {
        // Every operation leaves the maps consistent before it could panic.
        self.store
            .shared
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Commits `ops`, written after the memory change they stand for: if the commit fails,
    /// the caller hears it, and the disk's older state is what the next start reads.
    async fn commit(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        self.store.shared.writer.commit(ops).await
    }
}

impl WebhookQueue for EmbeddedWebhookQueue {
    async fn push(&self, delivery: Delivery) -> Result<(), StoreError> {
        let seq = self.locked().seq();
        let op = Op::PutDelivery {
            seq,
            delivery: delivery.clone(),
        };
        // On disk before a worker can claim it.
        self.commit(vec![op]).await?;
        self.locked()
            .waiting
            .insert((delivery.due_at, seq), delivery);
        Ok(())
    }

    async fn claim_due(&self, now: Timestamp, max: usize) -> Result<Vec<Delivery>, StoreError> {
        let mut state = self.locked();
        let mut claimed = Vec::new();
        while claimed.len() < max {
            let Some(entry) = state.waiting.first_entry() else {
                break;
            };
            if entry.key().0 > now {
                break;
            }
            let seq = entry.key().1;
            let delivery = entry.remove();
            state
                .claimed
                .insert(claim_key(&delivery), (seq, delivery.clone()));
            claimed.push(delivery);
        }
        Ok(claimed)
    }

    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        Ok(self.locked().waiting.keys().next().map(|(due, _)| *due))
    }

    async fn finish(&self, id: &str, target: &str) -> Result<(), StoreError> {
        let removed = self
            .locked()
            .claimed
            .remove(&(Arc::from(id), Arc::from(target)));
        let ops = removed
            .map(|(seq, _)| Op::DeleteDelivery { seq })
            .into_iter()
            .collect();
        self.commit(ops).await
    }

    async fn reschedule(&self, delivery: Delivery) -> Result<(), StoreError> {
        let op = {
            let mut state = self.locked();
            let seq = match state.claimed.remove(&claim_key(&delivery)) {
                Some((seq, _)) => seq,
                None => state.seq(),
            };
            state
                .waiting
                .insert((delivery.due_at, seq), delivery.clone());
            Op::PutDelivery { seq, delivery }
        };
        self.commit(vec![op]).await
    }

    async fn dead_letter(&self, letter: DeadLetter) -> Result<(), StoreError> {
        let ops = {
            let mut state = self.locked();
            let mut ops = Vec::with_capacity(2);
            if let Some((seq, _)) = state.claimed.remove(&claim_key(&letter.delivery)) {
                ops.push(Op::DeleteDelivery { seq });
            }
            let seq = state.seq();
            state.dead.insert(seq, letter.clone());
            ops.push(Op::PutDeadLetter { seq, letter });
            ops
        };
        self.commit(ops).await
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        Ok(self.locked().dead.values().cloned().collect())
    }

    async fn replay(&self, id: &str, target: &str, now: Timestamp) -> Result<bool, StoreError> {
        let ops = {
            let mut state = self.locked();
            let found = state
                .dead
                .iter()
                .find(|(_, l)| &*l.delivery.id == id && &**l.delivery.target() == target)
                .map(|(seq, _)| *seq);
            let Some(dead_seq) = found else {
                return Ok(false);
            };
            let Some(letter) = state.dead.remove(&dead_seq) else {
                return Ok(false);
            };
            let mut delivery = letter.delivery;
            delivery.attempts = 0;
            delivery.due_at = now;
            let seq = state.seq();
            state.waiting.insert((now, seq), delivery.clone());
            vec![
                Op::DeleteDeadLetter { seq: dead_seq },
                Op::PutDelivery { seq, delivery },
            ]
        };
        self.commit(ops).await?;
        Ok(true)
    }

    async fn release_claimed(&self, now: Timestamp) -> Result<usize, StoreError> {
        let ops: Vec<Op> = {
            let mut state = self.locked();
            let claimed: Vec<(u64, Delivery)> = state.claimed.drain().map(|(_, c)| c).collect();
            claimed
                .into_iter()
                .map(|(seq, mut delivery)| {
                    delivery.due_at = now;
                    state.waiting.insert((now, seq), delivery.clone());
                    Op::PutDelivery { seq, delivery }
                })
                .collect()
        };
        let count = ops.len();
        self.commit(ops).await?;
        Ok(count)
    }

    async fn pending(&self) -> Result<usize, StoreError> {
        let state = self.locked();
        Ok(state.waiting.len() + state.claimed.len())
    }
}
