//! What the handle, `Webhooks`, and its worker share: the messages the handle sends, the
//! counters, the endpoints disabled by a 410 and the shutdown signal. Both import this module;
//! neither imports the other's.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::Delivery;

/// What the handle sends to the worker.
pub(super) enum Command {
    Push(Delivery),
}

pub(super) struct Shared {
    pub(super) published: AtomicU64,
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
    disabled: Mutex<HashSet<Arc<str>>>,
}

impl Shared {
    pub(super) fn new() -> Self {
        Shared {
            published: AtomicU64::new(0),
            attempts: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            shutdown: watch::Sender::new(None),
            stopped: AtomicBool::new(false),
            stopped_signal: Notify::new(),
            disabled: Mutex::default(),
        }
    }

    pub(super) fn is_disabled(&self, url: &str) -> bool {
        self.disabled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(url)
    }

    pub(super) fn disable(&self, url: Arc<str>) {
        self.disabled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(url);
    }
}
