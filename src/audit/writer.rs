//! The background writer: chains queued events, writes them in batches, retries a failing sink
//! without losing anything, and runs retention and tombstone expiry.
//!
//! The handle, `AuditLog`, sends [`Message`]s and reads the counters in [`Shared`]; both are
//! defined here so that the arrow points one way, handle to writer.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};

use super::chain::Chain;
use super::{AuditEvent, AuditLogConfig, AuditSink, AuditSource, ChainHead, ChainedLine};
use crate::clock::Timestamp;
use crate::telemetry;
use crate::tombstone::TombstoneStore;

/// The longest pause between retries of a failing sink.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A batch smaller than this gathers for the configured moment before it is written; a larger
/// one is already worth its write.
const GATHER_BELOW: usize = 64;

/// What the handle sends to the writer.
pub(super) enum Message {
    Event(Box<AuditEvent>),
    /// Answered once every message before it is written.
    Flush(oneshot::Sender<()>),
}

/// Counters and state the writer updates and the handle reads.
#[derive(Default)]
pub(super) struct Shared {
    pub(super) queued: AtomicU64,
    pub(super) written: AtomicU64,
    pub(super) waited: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) sink_failures: AtomicU64,
    pub(super) purged: AtomicU64,
    /// What the sink says it evicted to stay within its bound (`AuditSink::evicted`).
    pub(super) evicted: AtomicU64,
    pub(super) sink_failing: AtomicBool,
    /// The end of the chain the sink has accepted.
    pub(super) head: Mutex<ChainHead>,
    /// Wakes the writer to stop and hand back what it holds through `hand_back_to`.
    pub(super) stop: Notify,
    pub(super) hand_back_to: Mutex<Option<oneshot::Sender<Vec<ChainedLine>>>>,
    /// Where the sink's log is read back from.
    pub(super) source: AuditSource,
}

impl Shared {
    /// Starts the counters from a sink whose chain ends at `head` and is read back from
    /// `source`.
    pub(super) fn new(head: ChainHead, source: AuditSource) -> Self {
        Shared {
            head: Mutex::new(head),
            source,
            ..Shared::default()
        }
    }

    pub(super) fn head(&self) -> ChainHead {
        *self.head.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts `count` events that will never reach the sink.
    pub(super) fn count_dropped(&self, count: u64) {
        self.dropped.fetch_add(count, Ordering::Relaxed);
        telemetry::audit_dropped(count);
    }
}

/// The writer was told to stop; these lines were not written.
pub(super) struct Stopped(Vec<ChainedLine>);

/// Owns the sink and the receiving end of the queue; [`AuditWriter::run`] is the writer's task.
pub(super) struct AuditWriter<S> {
    sink: Arc<S>,
    receiver: mpsc::Receiver<Message>,
    shared: Arc<Shared>,
    /// The end of the chain including events not yet written.
    chain: Chain,
    config: AuditLogConfig,
}

impl<S: AuditSink> AuditWriter<S> {
    /// A writer that goes on with the chain from `shared`'s head, filing no line before
    /// `filed_from`.
    pub(super) fn new(
        sink: S,
        receiver: mpsc::Receiver<Message>,
        shared: Arc<Shared>,
        config: AuditLogConfig,
        filed_from: Timestamp,
    ) -> Self {
        AuditWriter {
            sink: Arc::new(sink),
            receiver,
            chain: Chain::resume(shared.head(), filed_from),
            shared,
            config,
        }
    }

    /// Writes until every handle is gone, with maintenance on its interval in between.
    pub(super) async fn run(mut self) {
        let mut maintenance = tokio::time::interval(self.config.maintenance_every);
        let mut messages = Vec::with_capacity(self.config.batch_size);
        loop {
            // A stop first: taken after a batch was received, it would end that batch's write
            // at once and leave its lines neither written nor handed back.
            tokio::select! {
                biased;
                () = self.shared.stop.notified() => return self.hand_back(Vec::new()),
                received = self.receiver.recv_many(&mut messages, self.config.batch_size) => {
                    if received == 0 {
                        return; // every handle is gone: nothing more can arrive
                    }
                    if self.gather(&mut messages).await.is_break() {
                        let held = self.chain_events(&mut messages);
                        return self.hand_back(held);
                    }
                    if let Err(Stopped(held)) = self.write_batch(&mut messages).await {
                        return self.hand_back(held);
                    }
                }
                _ = maintenance.tick() => self.purge_expired().await,
            }
        }
    }

    /// Lets a small batch wait a moment for more events: under load each write then carries
    /// tens of events instead of a few, and the writer wakes that much less often. A batch with
    /// a flush goes at once, and so does every batch of a queue too small to gather in (requests
    /// would wait for its room). Breaks when a stop comes during the wait: the batch is then
    /// handed back, not written.
    async fn gather(&mut self, messages: &mut Vec<Message>) -> ControlFlow<()> {
        let flushing = messages.iter().any(|m| matches!(m, Message::Flush(_)));
        let gather_below = GATHER_BELOW.min(self.config.queue_capacity / 2);
        if self.config.gather.is_zero() || flushing || messages.len() >= gather_below {
            return ControlFlow::Continue(());
        }
        tokio::select! {
            biased;
            () = self.shared.stop.notified() => return ControlFlow::Break(()),
            () = tokio::time::sleep(self.config.gather) => {}
        }
        while messages.len() < self.config.batch_size {
            match self.receiver.try_recv() {
                Ok(message) => messages.push(message),
                Err(_) => break,
            }
        }
        ControlFlow::Continue(())
    }

    /// The events among `messages` chained; their flushes dropped unanswered (they did not
    /// happen).
    fn chain_events(&mut self, messages: &mut Vec<Message>) -> Vec<ChainedLine> {
        messages
            .drain(..)
            .filter_map(|message| match message {
                Message::Event(event) => Some(self.chain.append(&event)),
                Message::Flush(_) => None,
            })
            .collect()
    }

    /// Stops: chains what is still queued after `held` and hands it all to the closing handle.
    fn hand_back(mut self, mut held: Vec<ChainedLine>) {
        self.receiver.close();
        while let Ok(message) = self.receiver.try_recv() {
            if let Message::Event(event) = message {
                held.push(self.chain.append(&event));
            }
        }
        let reply = self
            .shared
            .hand_back_to
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(reply) = reply {
            let _ = reply.send(held);
        }
    }

    /// Chains the events among `messages`, writes them, then answers the flushes among them.
    async fn write_batch(&mut self, messages: &mut Vec<Message>) -> Result<(), Stopped> {
        let mut lines = Vec::with_capacity(messages.len());
        let mut acks = Vec::new();
        for message in messages.drain(..) {
            match message {
                Message::Event(event) => lines.push(self.chain.append(&event)),
                Message::Flush(ack) => acks.push(ack),
            }
        }
        let receiver = &self.receiver;
        telemetry::audit_queue_depth(|| receiver.len());
        let result = self.write_until_done(lines).await;
        // After a stop with lines held the acks are dropped unanswered: their flush did not
        // happen.
        let written = match &result {
            Ok(()) => true,
            Err(Stopped(held)) => held.is_empty(),
        };
        if written {
            for ack in acks {
                let _ = ack.send(());
            }
        }
        result
    }

    /// Writes `lines`, retrying with back-off until the sink takes them: the queue behind holds
    /// further events (and, when it fills, requests wait), so nothing is dropped. A stop ends
    /// the retries and keeps the lines for the closing handle. A write in progress is waited
    /// for, then the stop answered: `Stopped` with nothing held when the write landed.
    async fn write_until_done(&self, mut lines: Vec<ChainedLine>) -> Result<(), Stopped> {
        if lines.is_empty() {
            return Ok(());
        }
        let shared = &self.shared;
        let mut backoff = Duration::from_millis(50);
        let count = lines.len() as u64;
        loop {
            let writing = Arc::clone(&self.sink);
            let mut writing = tokio::task::spawn_blocking(move || {
                let result = writing.write(&lines);
                (lines, result)
            });
            // A stop during a write waits for it: a write lands in moments as a rule, and the
            // closing handle bounds its own wait. Its lines are then written or handed back,
            // not left to land unaccounted for.
            let mut stopping = false;
            let written = tokio::select! {
                written = &mut writing => written,
                () = shared.stop.notified() => {
                    stopping = true;
                    writing.await
                }
            };
            let stopped_or_done = |held: Vec<ChainedLine>| {
                if stopping { Err(Stopped(held)) } else { Ok(()) }
            };
            let (returned, result) = match written {
                Ok(done) => done,
                Err(join_error) => {
                    // The sink panicked; the lines went with the task. Count them as lost.
                    tracing::error!(%join_error, "audit sink panicked; its batch is lost");
                    shared.count_dropped(count);
                    return stopped_or_done(Vec::new());
                }
            };
            lines = returned;
            match result {
                Ok(()) => {
                    shared.sink_failing.store(false, Ordering::Relaxed);
                    shared.written.fetch_add(count, Ordering::Relaxed);
                    shared.evicted.store(self.sink.evicted(), Ordering::Relaxed);
                    telemetry::audit_written(count);
                    *shared.head.lock().unwrap_or_else(PoisonError::into_inner) = self.chain.head;
                    return stopped_or_done(Vec::new());
                }
                Err(error) => {
                    if !shared.sink_failing.swap(true, Ordering::Relaxed) {
                        tracing::error!(%error, "audit sink failing; retrying");
                    }
                    shared.sink_failures.fetch_add(1, Ordering::Relaxed);
                    if stopping {
                        return Err(Stopped(lines));
                    }
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = shared.stop.notified() => return Err(Stopped(lines)),
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Retention: removes events older than the configured period, and expired tombstones.
    async fn purge_expired(&self) {
        let now = self.config.clock.now();
        let cutoff = now.saturating_sub(self.config.retention);
        let purging = Arc::clone(&self.sink);
        match tokio::task::spawn_blocking(move || purging.purge_before(cutoff)).await {
            Ok(Ok(purged)) => {
                self.shared
                    .purged
                    .fetch_add(purged as u64, Ordering::Relaxed);
            }
            Ok(Err(error)) => tracing::warn!(%error, "audit retention failed; retrying next run"),
            Err(error) => tracing::error!(%error, "audit retention panicked"),
        }
        if let Some(tombstones) = &self.config.tombstones {
            let _ = tombstones.purge_expired(now).await;
        }
    }
}
