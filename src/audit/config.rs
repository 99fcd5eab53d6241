//! How the audit log runs: queue size, batch size, retention and maintenance.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SharedClock, system_clock};
use crate::tombstone::MemoryTombstones;

/// How an [`AuditLog`](super::AuditLog) runs.
#[derive(Clone)]
#[must_use]
pub struct AuditLogConfig {
    pub(super) queue_capacity: usize,
    pub(super) batch_size: usize,
    pub(super) gather: Duration,
    pub(super) retention: Duration,
    pub(super) maintenance_every: Duration,
    pub(super) tombstones: Option<MemoryTombstones>,
    pub(super) clock: SharedClock,
}

impl AuditLogConfig {
    /// 90 days of retention, a queue of 65,536 events, batches of up to 1,024 gathered for up
    /// to 1 ms, maintenance (retention and tombstone expiry) every 10 minutes.
    pub fn new() -> Self {
        AuditLogConfig {
            queue_capacity: 65_536,
            batch_size: 1_024,
            gather: Duration::from_millis(1),
            retention: Duration::from_secs(90 * 86_400),
            maintenance_every: Duration::from_secs(600),
            tombstones: None,
            clock: system_clock(),
        }
    }

    /// Keeps events for `retention`; older ones are purged automatically.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// At most `capacity` events wait for the writer; past that, requests wait for room
    /// (back-pressure) rather than an event being dropped.
    pub fn with_queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity.max(1);
        self
    }

    /// How long a small batch waits for more events before it is written (default 1 ms; zero:
    /// never). Each batch is one hand-off to a blocking thread and one write: batches of tens
    /// of events instead of a few cost a fraction of the CPU per event, for at most this much
    /// more time before an event is on disk. A batch holding a flush is not held back (a flush
    /// that arrives during a wait waits out its rest), nor one of 64 events or more, nor one
    /// that fills half the queue (requests would wait for its room).
    pub fn with_gather(mut self, gather: Duration) -> Self {
        self.gather = gather.min(Duration::from_secs(1));
        self
    }

    /// How often retention and tombstone expiry run.
    pub fn with_maintenance_every(mut self, every: Duration) -> Self {
        self.maintenance_every = every.max(Duration::from_millis(1));
        self
    }

    /// Also removes expired tombstones from `tombstones` on every maintenance run.
    pub fn with_tombstones(mut self, tombstones: MemoryTombstones) -> Self {
        self.tombstones = Some(tombstones);
        self
    }

    /// Reads time (retention cut-offs, tombstone expiry) from `clock`.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }
}

impl Default for AuditLogConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for AuditLogConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLogConfig")
            .field("queue_capacity", &self.queue_capacity)
            .field("batch_size", &self.batch_size)
            .field("gather", &self.gather)
            .field("retention", &self.retention)
            .field("maintenance_every", &self.maintenance_every)
            .finish_non_exhaustive()
    }
}
