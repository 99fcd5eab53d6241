//! The audit log handle: a bounded queue in front of a background writer that chains events and
//! hands them to the sink in batches.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::recovery::recovery_event;
use super::writer::{AuditWriter, Message, Shared};
use super::{AuditEvent, AuditLogConfig, AuditSink, AuditSource, ChainHead};
use crate::health::{CheckStatus, HealthCheck};
use crate::telemetry;

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
    /// Events a bounded sink evicted to make room ([`AuditSink::evicted`]). Any is a loss:
    /// `/health` says so.
    pub evicted: u64,
}

/// What [`AuditLog::close`] could not write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unwritten {
    /// Chained JSON lines the sink did not take, in order: keep them elsewhere.
    pub lines: Vec<String>,
    /// Events neither written nor handed back (a sink write that did not return in time).
    pub lost: u64,
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
    /// from the sink's last whole line ([`AuditSink::resume`]); when the sink repaired something
    /// to get there (a torn last line moved aside, a log that ends before its checkpoint), the
    /// first event of the resumed chain is a [`RECOVERY`](super::RECOVERY_METHOD) event saying
    /// what, and a warning is logged.
    ///
    /// # Errors
    /// When the sink cannot say where its chain ends, or when called outside a tokio runtime
    /// (there would be nowhere to run the writer).
    pub fn start<S: AuditSink>(sink: S, config: AuditLogConfig) -> io::Result<AuditLog> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            io::Error::other("AuditLog::start needs a tokio runtime to run its writer")
        })?;
        let resumed = sink.resume()?;
        let shared = Arc::new(Shared::new(resumed.head, sink.source()));
        let (sender, receiver) = mpsc::channel(config.queue_capacity);
        let log = AuditLog { sender, shared };
        if let Some(detail) = resumed.recovery {
            tracing::warn!(%detail, "audit log: recovered at start; recorded as a RECOVERY event");
            // The queue is new and empty, so there is room: the event is the resumed chain's
            // first. Were it not, the loss is counted and said, like any event's.
            let event = recovery_event(detail, config.clock.now());
            if log.try_submit(Box::new(event)).is_err() {
                log.shared.count_dropped(1);
                tracing::error!("audit log: the RECOVERY event could not be queued; it is lost");
            }
        }
        let writer = AuditWriter::new(
            sink,
            receiver,
            Arc::clone(&log.shared),
            config,
            resumed.filed_from,
        );
        runtime.spawn(writer.run());
        Ok(log)
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
                self.shared.count_dropped(1);
                tracing::error!("audit writer stopped; an audit event was lost");
                Ok(())
            }
        }
    }

    /// Records an event that is not an API call, such as an operator's reconciliation of the
    /// config file: chained and written like every other, waiting for room in the queue when
    /// it is full.
    pub async fn record(&self, event: AuditEvent) {
        // Not `submit_waiting`: its counters count requests held up by a full queue, and an
        // operator's event is none.
        if self
            .sender
            .send(Message::Event(Box::new(event)))
            .await
            .is_ok()
        {
            self.shared.queued.fetch_add(1, Ordering::Relaxed);
        } else {
            self.shared.count_dropped(1);
            tracing::error!("audit writer stopped; an audit event was lost");
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
                shared.count_dropped(1);
                tracing::error!("audit writer stopped; an audit event was lost");
            }
        })
    }

    /// Counts an event that could not be queued at all.
    pub(super) fn count_dropped(&self) {
        self.shared.count_dropped(1);
        tracing::error!("an audit event was lost: no runtime to queue it from");
    }

    /// Waits until every event queued before this call is written to the sink: for
    /// [`JsonLinesSink`](super::JsonLinesSink), synced to disk with [`Fsync::Batch`](super::Fsync::Batch)
    /// (the default) or only handed to the operating system with [`Fsync::Off`](super::Fsync::Off);
    /// for the Redis stream, acknowledged by Redis, as durable as its `appendfsync`. While the
    /// sink fails, it waits for the retries to succeed: bound it with a timeout, or use
    /// [`close`](Self::close).
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }

    /// Flushes for at most `within`, then stops the writer and hands back what the sink did not
    /// take: a bounded shutdown that loses nothing silently. The lines continue the chain after
    /// [`head`](Self::head), so appended to the log later they verify. Events submitted after
    /// this call are counted as dropped.
    pub async fn close(&self, within: Duration) -> Unwritten {
        let started = tokio::time::Instant::now();
        // Most of the time for writing; the rest for the writer to answer the stop.
        let _ = tokio::time::timeout(within.mul_f64(0.9), self.flush()).await;
        let (reply, handed_back) = oneshot::channel();
        *self
            .shared
            .hand_back_to
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(reply);
        self.shared.stop.notify_one();
        let left = within.saturating_sub(started.elapsed());
        let lines: Vec<String> = match tokio::time::timeout(left, handed_back).await {
            Ok(Ok(lines)) => lines.into_iter().map(|l| l.line).collect(),
            _ => Vec::new(),
        };
        let stats = self.stats();
        let lost = stats
            .queued
            .saturating_sub(stats.written + stats.dropped + lines.len() as u64);
        Unwritten { lines, lost }
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
            evicted: s.evicted.load(Ordering::Relaxed),
        }
    }

    /// Where the log is read back from: queries and verification of what the sink holds.
    pub fn source(&self) -> AuditSource {
        self.shared.source.clone()
    }

    /// The end of the chain written so far, for [`verify`](super::verify).
    pub fn head(&self) -> ChainHead {
        self.shared.head()
    }

    /// A `/health` check named `audit`: degraded while the sink fails, or if any event was lost
    /// or evicted by a bounded sink.
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
        } else if let evicted @ 1.. = self.shared.evicted.load(Ordering::Relaxed) {
            CheckStatus::Degraded(
                format!("{evicted} oldest events evicted from a full in-memory audit log").into(),
            )
        } else {
            CheckStatus::Ok
        };
        Box::pin(std::future::ready(status))
    }
}
