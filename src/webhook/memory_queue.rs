use std::collections::{BTreeMap, HashMap};
use std::future::{Future, ready};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{DeadLetter, Delivery, WebhookQueue};
use crate::clock::Timestamp;
use crate::store::StoreError;

/// The delivery queue in process memory. Clones share one queue.
#[derive(Clone, Debug, Default)]
pub struct MemoryWebhookQueue {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Waiting deliveries by (due time, arrival order).
    waiting: BTreeMap<(Timestamp, u64), Delivery>,
    claimed: HashMap<(Arc<str>, Arc<str>), Delivery>,
    dead: Vec<DeadLetter>,
    arrivals: u64,
}

impl Inner {
    fn enqueue(&mut self, delivery: Delivery) {
        self.arrivals += 1;
        self.waiting
            .insert((delivery.due_at, self.arrivals), delivery);
    }
}

impl MemoryWebhookQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    fn locked(&self) -> MutexGuard<'_, Inner> {
        // Every operation leaves the maps consistent before it could panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn key(d: &Delivery) -> (Arc<str>, Arc<str>) {
    (d.id.clone(), d.target().clone())
}

impl WebhookQueue for MemoryWebhookQueue {
    fn push(&self, delivery: Delivery) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.locked().enqueue(delivery);
        ready(Ok(()))
    }

    fn claim_due(
        &self,
        now: Timestamp,
        max: usize,
    ) -> impl Future<Output = Result<Vec<Delivery>, StoreError>> + Send {
        let mut inner = self.locked();
        let mut claimed = Vec::new();
        while claimed.len() < max {
            let Some(entry) = inner.waiting.first_entry() else {
                break;
            };
            if entry.key().0 > now {
                break;
            }
            let delivery = entry.remove();
            inner.claimed.insert(key(&delivery), delivery.clone());
            claimed.push(delivery);
        }
        ready(Ok(claimed))
    }

    fn next_due(&self) -> impl Future<Output = Result<Option<Timestamp>, StoreError>> + Send {
        ready(Ok(self.locked().waiting.keys().next().map(|(due, _)| *due)))
    }

    fn finish(
        &self,
        id: &str,
        target: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.locked()
            .claimed
            .remove(&(Arc::from(id), Arc::from(target)));
        ready(Ok(()))
    }

    fn reschedule(
        &self,
        delivery: Delivery,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let mut inner = self.locked();
        inner.claimed.remove(&key(&delivery));
        inner.enqueue(delivery);
        ready(Ok(()))
    }

    fn dead_letter(
        &self,
        letter: DeadLetter,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let mut inner = self.locked();
        inner.claimed.remove(&key(&letter.delivery));
        inner.dead.push(letter);
        ready(Ok(()))
    }

    fn dead_letters(&self) -> impl Future<Output = Result<Vec<DeadLetter>, StoreError>> + Send {
        ready(Ok(self.locked().dead.clone()))
    }

    fn replay(
        &self,
        id: &str,
        target: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let mut inner = self.locked();
        let found = inner
            .dead
            .iter()
            .position(|l| &*l.delivery.id == id && &**l.delivery.target() == target);
        let replayed = found.map(|at| {
            let mut delivery = inner.dead.remove(at).delivery;
            delivery.attempts = 0;
            delivery.due_at = now;
            inner.enqueue(delivery);
        });
        ready(Ok(replayed.is_some()))
    }

    fn release_claimed(
        &self,
        now: Timestamp,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send {
        let mut inner = self.locked();
        let claimed: Vec<Delivery> = inner.claimed.drain().map(|(_, d)| d).collect();
        let count = claimed.len();
        for mut delivery in claimed {
            delivery.due_at = now;
            inner.enqueue(delivery);
        }
        ready(Ok(count))
    }

    fn pending(&self) -> impl Future<Output = Result<usize, StoreError>> + Send {
        let inner = self.locked();
        ready(Ok(inner.waiting.len() + inner.claimed.len()))
    }
}
