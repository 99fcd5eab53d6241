//! The background writer: chains queued events, writes them in batches, retries a failing sink
//! without losing anything, and runs retention and tombstone expiry.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::log::{AuditLogConfig, Message, Shared};
use super::{AuditSink, ChainHead, ChainedLine};
use crate::telemetry;
use crate::tombstone::TombstoneStore;

/// The longest pause between retries of a failing sink.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub(super) async fn run<S: AuditSink>(
    mut receiver: mpsc::Receiver<Message>,
    sink: Arc<S>,
    shared: Arc<Shared>,
    mut head: ChainHead,
    config: AuditLogConfig,
) {
    let mut maintenance = tokio::time::interval(config.maintenance_every);
    let mut messages = Vec::with_capacity(config.batch_size);
    loop {
        tokio::select! {
            received = receiver.recv_many(&mut messages, config.batch_size) => {
                if received == 0 {
                    return; // every handle is gone: nothing more can arrive
                }
                let mut lines = Vec::with_capacity(received);
                let mut acks: Vec<oneshot::Sender<()>> = Vec::new();
                for message in messages.drain(..) {
                    match message {
                        Message::Event(event) => lines.push(head.append(&event)),
                        Message::Flush(ack) => acks.push(ack),
                    }
                }
                telemetry::audit_queue_depth(|| receiver.len());
                write_until_done(&sink, &shared, lines, head).await;
                for ack in acks {
                    let _ = ack.send(());
                }
            }
            _ = maintenance.tick() => maintain(&sink, &shared, &config).await,
        }
    }
}

/// Writes `lines`, retrying with back-off until the sink takes them: the queue behind holds
/// further events (and, when it fills, requests wait), so nothing is dropped.
async fn write_until_done<S: AuditSink>(
    sink: &Arc<S>,
    shared: &Arc<Shared>,
    mut lines: Vec<ChainedLine>,
    head: ChainHead,
) {
    if lines.is_empty() {
        return;
    }
    let mut backoff = Duration::from_millis(50);
    let count = lines.len() as u64;
    loop {
        let writing = Arc::clone(sink);
        let (returned, result) = match tokio::task::spawn_blocking(move || {
            let result = writing.write(&lines);
            (lines, result)
        })
        .await
        {
            Ok(done) => done,
            Err(join_error) => {
                // The sink panicked; the lines went with the task. Count them as lost.
                tracing::error!(%join_error, "audit sink panicked; its batch is lost");
                shared.dropped.fetch_add(count, Ordering::Relaxed);
                telemetry::audit_dropped(count);
                return;
            }
        };
        lines = returned;
        match result {
            Ok(()) => {
                shared.sink_failing.store(false, Ordering::Relaxed);
                shared.written.fetch_add(count, Ordering::Relaxed);
                telemetry::audit_written(count);
                *shared
                    .head
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = head;
                return;
            }
            Err(error) => {
                if !shared.sink_failing.swap(true, Ordering::Relaxed) {
                    tracing::error!(%error, "audit sink failing; retrying");
                }
                shared.sink_failures.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn maintain<S: AuditSink>(sink: &Arc<S>, shared: &Arc<Shared>, config: &AuditLogConfig) {
    let now = config.clock.now();
    let cutoff = now.saturating_sub(config.retention);
    let purging = Arc::clone(sink);
    match tokio::task::spawn_blocking(move || purging.purge_before(cutoff)).await {
        Ok(Ok(purged)) => {
            shared.purged.fetch_add(purged as u64, Ordering::Relaxed);
        }
        Ok(Err(error)) => tracing::warn!(%error, "audit retention failed; retrying next run"),
        Err(error) => tracing::error!(%error, "audit retention panicked"),
    }
    if let Some(tombstones) = &config.tombstones {
        let _ = tombstones.purge_expired(now).await;
    }
}
