//! What the handle, `Webhooks`, and its worker share: the messages the handle sends, the
//! deliveries that found no room in the channel, the counters and the shutdown signal. Both
//! import this module; neither imports the other's.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::Delivery;

/// What the handle sends to the worker.
pub(super) enum Command {
    Push(Delivery),
}

pub(super) struct Shared {
    /// Deliveries the queue took.
    pub(super) published: AtomicU64,
    /// Deliveries created and not yet taken by the queue (in the channel, the overflow or the
    /// worker's backlog); handed back by a shutdown when the queue never took them.
    pub(super) unqueued: AtomicU64,
    /// Offers the queue refused.
    pub(super) refused: AtomicU64,
    /// Set by the worker when the queue refuses a delivery, cleared once it has taken the whole
    /// backlog: the health check is degraded meanwhile.
    pub(super) backlogged: AtomicBool,
    pub(super) attempts: AtomicU64,
    pub(super) delivered: AtomicU64,
    pub(super) failures: AtomicU64,
    pub(super) retries: AtomicU64,
    pub(super) dead_lettered: AtomicU64,
    /// Set by the handle: once a deadline is in, the worker stops sending and drains.
    pub(super) shutdown: watch::Sender<Option<Instant>>,
    pub(super) stopped: AtomicBool,
    /// Woken when the worker has stopped.
    pub(super) stopped_signal: Notify,
    /// Deliveries that found the channel full or the worker stopped, and those a stopping
    /// worker could not put into the queue: never dropped, never waited for by a publisher.
    overflow: Mutex<Vec<Delivery>>,
    /// Woken when a delivery goes into the overflow.
    pub(super) overflowed: Notify,
}

impl Shared {
    pub(super) fn new() -> Self {
        Shared {
            published: AtomicU64::new(0),
            unqueued: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            backlogged: AtomicBool::new(false),
            attempts: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            shutdown: watch::Sender::new(None),
            stopped: AtomicBool::new(false),
            stopped_signal: Notify::new(),
            overflow: Mutex::default(),
            overflowed: Notify::new(),
        }
    }

    /// Keeps deliveries the channel could not take, and wakes the worker to take them.
    pub(super) fn overflow(&self, deliveries: impl IntoIterator<Item = Delivery>) {
        self.overflow
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(deliveries);
        self.overflowed.notify_one();
    }

    /// Everything in the overflow, oldest first.
    pub(super) fn take_overflow(&self) -> Vec<Delivery> {
        std::mem::take(&mut *self.overflow.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Whether deliveries wait in the overflow.
    pub(super) fn has_overflow(&self) -> bool {
        !self
            .overflow
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    /// The queue took one delivery.
    pub(super) fn queued(&self) {
        self.published.fetch_add(1, Ordering::Relaxed);
        self.unqueued.fetch_sub(1, Ordering::Relaxed);
    }
}
