//! The delivery worker: puts published deliveries into the queue (holding them, offered again
//! with back-off, while it refuses them), claims due deliveries, sends them concurrently, and
//! decides what happens after each attempt.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::Service;

mod attempts;
mod offering;

use super::WebhookQueue;
use super::attempt::BoxError;
use super::backlog::{Backlog, OFFER_SLICE};
use super::settings::WebhookSettings;
use super::shared::{Command, Shared};
use attempts::Sent;

/// Owns the queue, the transport and the attempts in flight; [`WebhookWorker::run`] is the
/// worker's task.
///
/// Methods that wait take `&mut self` even when they only read: a transport need only be `Send`,
/// and a `&self` held across an `.await` would make the task need a `Sync` one.
pub(super) struct WebhookWorker<Q, T> {
    queue: Arc<Q>,
    transport: T,
    settings: WebhookSettings,
    shared: Arc<Shared>,
    commands: mpsc::Receiver<Command>,
    shutdown: watch::Receiver<Option<Instant>>,
    inflight: JoinSet<Sent>,
    backlog: Backlog,
    /// Whether the last claim failed, so that an outage is logged when it starts and ends.
    claims_failing: bool,
}

impl<Q, T> WebhookWorker<Q, T>
where
    Q: WebhookQueue,
    T: Service<http::Request<Bytes>, Response = http::Response<()>> + Clone + Send + 'static,
    T::Error: Into<BoxError>,
    T::Future: Send,
{
    /// A worker that takes deliveries from `commands` and stops when `shared` says so.
    pub(super) fn new(
        queue: Arc<Q>,
        transport: T,
        settings: WebhookSettings,
        shared: Arc<Shared>,
        commands: mpsc::Receiver<Command>,
    ) -> Self {
        WebhookWorker {
            queue,
            transport,
            settings,
            shutdown: shared.shutdown.subscribe(),
            shared,
            commands,
            inflight: JoinSet::new(),
            backlog: Backlog::new(),
            claims_failing: false,
        }
    }

    /// Delivers until shut down or until every handle is gone.
    pub(super) async fn run(mut self) {
        // Deliveries a previous worker claimed and never settled (it was dropped, or the process
        // died) are the queue's again: at least once, never lost.
        if let Err(error) = self.queue.release_claimed(self.settings.clock.now()).await {
            tracing::warn!(%error, "webhook queue unavailable at start");
        }
        let lease = self.claim_lease();
        let mut next_sweep = Instant::now() + lease;
        loop {
            if Instant::now() >= next_sweep {
                next_sweep = Instant::now() + lease;
                self.release_stale(lease).await;
            }
            let stop_at = *self.shutdown.borrow();
            if let Some(deadline) = stop_at {
                self.stop(deadline).await;
                return;
            }
            // Everything published so far goes into the queue before anything is sent: an
            // event is durable once it is there, and only then.
            self.take_published();
            if self.backlog.is_due(Instant::now()) {
                self.offer_backlog(Instant::now() + OFFER_SLICE).await;
            }
            self.deliver_due().await;
            // With every slot busy, a finished attempt wakes the loop; otherwise the next due time.
            let idle = if self.inflight.len() >= self.settings.concurrency {
                self.settings.poll_every
            } else {
                self.idle_for().await
            };
            let mut wake_at = Instant::now() + idle;
            if let Some(retry_at) = self.backlog.retry_at() {
                wake_at = wake_at.min(retry_at);
            }
            if self.backlog.is_due(Instant::now()) {
                // A pass that used up its slice left deliveries the queue would take now.
                wake_at = Instant::now();
            }
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Push(delivery)) => self.backlog.add(delivery),
                    None => {
                        // Every handle is gone: nobody can take back what the queue refuses.
                        let deadline = Instant::now() + self.settings.policy.request_timeout;
                        self.offer_until(deadline).await;
                        self.drain(deadline).await;
                        let lost = self.backlog.take_all().len();
                        if lost > 0 {
                            tracing::error!(
                                lost,
                                "webhook events lost: the queue refused them and every handle \
                                 of the dispatcher is gone"
                            );
                        }
                        self.stopped();
                        return;
                    }
                },
                Some(joined) = self.inflight.join_next(), if !self.inflight.is_empty() => {
                    if let Ok(sent) = joined {
                        self.settle(sent).await;
                    }
                }
                _ = tokio::time::sleep_until(wake_at) => {}
                _ = self.shared.overflowed.notified() => {}
                _ = self.shutdown.changed() => {}
            }
        }
    }

    fn stopped(&self) {
        announce_stop(&self.shared);
    }

    /// How old a claim must be before another worker takes it over: twice the longest an
    /// attempt may take, so a live worker settles every claim well before anyone else may
    /// release it.
    fn claim_lease(&self) -> Duration {
        self.settings.policy.request_timeout * 2
    }

    /// Returns the claims of workers that died (in another process that is not coming back) to
    /// the queue, so that this running worker delivers them.
    async fn release_stale(&mut self, lease: Duration) {
        let now = self.settings.clock.now();
        match self
            .queue
            .release_stale(now.saturating_sub(lease), now)
            .await
        {
            Ok(0) => {}
            Ok(released) => {
                tracing::warn!(released, "webhook claims older than the lease taken over");
            }
            Err(error) => tracing::warn!(%error, "stale webhook claims not checked"),
        }
    }

    /// How long to wait before looking for due deliveries again: until the next one is due, at
    /// most the poll interval (deliveries pushed by another process are found by polling).
    async fn idle_for(&mut self) -> Duration {
        let poll_every = self.settings.poll_every;
        let Ok(Some(due)) = self.queue.next_due().await else {
            return poll_every;
        };
        let wait_ms = due
            .unix_millis()
            .saturating_sub(self.settings.clock.now().unix_millis());
        // At least a millisecond: a delivery due now that another worker claimed first must not
        // turn this loop into a spin.
        Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0).max(1)).min(poll_every)
    }

    /// Claims as many due deliveries as there are free slots and starts an attempt for each.
    async fn deliver_due(&mut self) {
        let free = self
            .settings
            .concurrency
            .saturating_sub(self.inflight.len());
        if free == 0 {
            return;
        }
        match self.queue.claim_due(self.settings.clock.now(), free).await {
            Ok(due) => {
                if std::mem::take(&mut self.claims_failing) {
                    tracing::info!("webhook queue available again");
                }
                for delivery in due {
                    self.attempt(delivery).await;
                }
            }
            // Once per outage: the loop asks again at every poll.
            Err(error) if !self.claims_failing => {
                self.claims_failing = true;
                tracing::warn!(%error, "webhook queue unavailable");
            }
            Err(_) => {}
        }
    }

    /// Shutdown: no new attempts; in-flight ones get until `deadline`, the rest go back to the
    /// queue untouched.
    async fn drain(&mut self, deadline: Instant) {
        loop {
            tokio::select! {
                joined = self.inflight.join_next() => match joined {
                    Some(Ok(sent)) => self.settle(sent).await,
                    Some(Err(_)) => {}
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => {
                    self.inflight.abort_all();
                    break;
                }
            }
        }
        // Whatever was claimed and not settled is still the queue's.
        let _ = self.queue.release_claimed(self.settings.clock.now()).await;
    }
}

/// Tells the handle that the worker has stopped: what it left in the overflow is final.
fn announce_stop(shared: &Shared) {
    shared.stopped.store(true, Ordering::Release);
    shared.stopped_signal.notify_waiters();
}

impl<Q, T> Drop for WebhookWorker<Q, T> {
    /// Also when the task panics or its runtime is dropped, so a shutdown never waits for a
    /// worker that is gone.
    fn drop(&mut self) {
        announce_stop(&self.shared);
    }
}
