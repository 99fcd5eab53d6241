//! The audit log handle: a bounded queue in front of a background writer that chains events and
//! hands them to the sink in batches.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::writer;
use super::{AuditEvent, AuditSink, ChainHead};
use crate::clock::{Clock, SharedClock, system_clock};
use crate::health::{CheckStatus, HealthCheck};
use crate::telemetry;
use crate::tombstone::MemoryTombstones;

/// How an [`AuditLog`] runs.
#[derive(Clone)]
#[must_use]
pub struct AuditLogConfig {
    pub(super) queue_capacity: usize,
    pub(super) batch_size: usize,
    pub(super) retention: Duration,
    pub(super) maintenance_every: Duration,
    pub(super) tombstones: Option<MemoryTombstones>,
    pub(super) clock: SharedClock,
}

impl AuditLogConfig {
    /// 90 days of retention, a queue of 65,536 events, batches of up to 1,024, maintenance
    /// (retention and tombstone expiry) every 10 minutes.
    pub fn new() -> Self {
        AuditLogConfig {
            queue_capacity: 65_536,
            batch_size: 1_024,
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
            .field("retention", &self.retention)
            .field("maintenance_every", &self.maintenance_every)
            .finish_non_exhaustive()
    }
}

pub(super) enum Message {
    Event(Box<AuditEvent>),
    Flush(oneshot::Sender<()>),
}

/// Counters of the audit log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuditStats {
    /// Events accepted into the queue.
    pub queued: u64,
    /// Events the sink has written.
    pub written: u64,
    /// Events that found the queue full and waited for room.
    pub waited_for_room: u64,
    /// Events lost because the writer had stopped. Any is a fault: `/health` says so.
    pub dropped: u64,
    /// Sink writes that failed (and were retried).
    pub sink_failures: u64,
    /// Events removed by retention.
    pub purged: u64,
}

#[derive(Default)]
pub(super) struct Shared {
    pub(super) queued: AtomicU64,
    pub(super) written: AtomicU64,
    pub(super) waited: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) sink_failures: AtomicU64,
    pub(super) purged: AtomicU64,
    pub(super) sink_failing: AtomicBool,
    pub(super) head: Mutex<ChainHead>,
}

/// The audit log: where the [`AuditRecord`](super::AuditRecord) stage sends its events.
///
/// Cheap to clone. Writing happens off the request path, in a task started by
/// [`AuditLog::start`]; [`AuditLog::flush`] waits until everything queued so far is written
/// (call it on shutdown).
#[derive(Clone)]
pub struct AuditLog {
    sender: mpsc::Sender<Message>,
    shared: Arc<Shared>,
}

impl AuditLog {
    /// Starts the writer on the current tokio runtime and returns the handle. The chain goes on
    /// from the sink's last line.
    ///
    /// # Errors
    /// When the sink cannot say where its chain ends, or when called outside a tokio runtime
    /// (there would be nowhere to run the writer).
    pub fn start<S: AuditSink>(sink: S, config: AuditLogConfig) -> io::Result<AuditLog> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            io::Error::other("AuditLog::start needs a tokio runtime to run its writer")
        })?;
        let head = sink.head()?;
        let (sender, receiver) = mpsc::channel(config.queue_capacity);
        let shared = Arc::new(Shared {
            head: Mutex::new(head),
            ..Shared::default()
        });
        runtime.spawn(writer::run(
            receiver,
            Arc::new(sink),
            Arc::clone(&shared),
            head,
            config,
        ));
        Ok(AuditLog { sender, shared })
    }

    /// Queues `event` without waiting; gives it back when the queue is full.
    pub(super) fn try_submit(&self, event: Box<AuditEvent>) -> Result<(), Box<AuditEvent>> {
        match self.sender.try_send(Message::Event(event)) {
            Ok(()) => {
                self.shared.queued.fetch_add(1, Ordering::Relaxed);
                let sender = &self.sender;
                telemetry::audit_queue_depth(|| sender.max_capacity() - sender.capacity());
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(Message::Event(event))) => Err(event),
            Err(_) => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                telemetry::audit_dropped(1);
                tracing::error!("audit writer stopped; an audit event was lost");
                Ok(())
            }
        }
    }

    /// Queues `event`, waiting for room. Only used when the queue was full.
    pub(super) fn submit_waiting(
        &self,
        event: Box<AuditEvent>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.shared.waited.fetch_add(1, Ordering::Relaxed);
        telemetry::audit_waited();
        let (sender, shared) = (self.sender.clone(), Arc::clone(&self.shared));
        Box::pin(async move {
            if sender.send(Message::Event(event)).await.is_ok() {
                shared.queued.fetch_add(1, Ordering::Relaxed);
            } else {
                shared.dropped.fetch_add(1, Ordering::Relaxed);
                telemetry::audit_dropped(1);
                tracing::error!("audit writer stopped; an audit event was lost");
            }
        })
    }

    /// Counts an event that could not be queued at all.
    pub(super) fn count_dropped(&self) {
        self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        telemetry::audit_dropped(1);
        tracing::error!("an audit event was lost: no runtime to queue it from");
    }

    /// Waits until every event queued before this call is written to the sink.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }

    /// The counters.
    pub fn stats(&self) -> AuditStats {
        let s = &self.shared;
        AuditStats {
            queued: s.queued.load(Ordering::Relaxed),
            written: s.written.load(Ordering::Relaxed),
            waited_for_room: s.waited.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            sink_failures: s.sink_failures.load(Ordering::Relaxed),
            purged: s.purged.load(Ordering::Relaxed),
        }
    }

    /// The end of the chain written so far, for [`verify`](super::verify).
    pub fn head(&self) -> ChainHead {
        *self
            .shared
            .head
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A `/health` check named `audit`: degraded while the sink fails or if any event was lost.
    pub fn health_check(&self) -> impl HealthCheck {
        AuditHealth {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("stats", &self.stats())
            .finish()
    }
}

struct AuditHealth {
    shared: Arc<Shared>,
}

impl HealthCheck for AuditHealth {
    fn name(&self) -> &str {
        "audit"
    }

    fn check(&self) -> Pin<Box<dyn Future<Output = CheckStatus> + Send + '_>> {
        let status = if self.shared.sink_failing.load(Ordering::Relaxed) {
            CheckStatus::Degraded("sink failing; events are queued and retried".into())
        } else if self.shared.dropped.load(Ordering::Relaxed) > 0 {
            CheckStatus::Degraded("events were lost after the writer stopped".into())
        } else {
            CheckStatus::Ok
        };
        Box::pin(std::future::ready(status))
    }
}
