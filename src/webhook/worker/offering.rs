//! The worker's side of the backlog: taking what was published, offering it to the queue with
//! back-off, and what a shutdown does with it.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use tokio::time::Instant;
use tower::Service;

use super::WebhookWorker;
use crate::telemetry;
use crate::webhook::WebhookQueue;
use crate::webhook::attempt::BoxError;
use crate::webhook::shared::Command;

impl<Q, T> WebhookWorker<Q, T>
where
    Q: WebhookQueue,
    T: Service<http::Request<Bytes>, Response = http::Response<()>> + Clone + Send + 'static,
    T::Error: Into<BoxError>,
    T::Future: Send,
{
    /// Shutdown: what was published goes into the queue, offered again with back-off until
    /// `deadline` while the queue refuses; attempts in flight get until `deadline`; what the
    /// queue never took is handed to [`Webhooks::shutdown`](crate::webhook::Webhooks::shutdown) through
    /// the overflow.
    pub(super) async fn stop(&mut self, deadline: Instant) {
        self.take_published();
        self.offer_until(deadline).await;
        self.drain(deadline).await;

        // From here a publish finds the channel closed and goes to the overflow, which the
        // handle reads once the worker has stopped: nothing is left in a dropped channel.
        self.commands.close();
        self.take_published();
        if !self.backlog.is_refused() {
            self.offer_backlog(deadline).await;
        }
        let left = self.backlog.take_all();
        if !left.is_empty() {
            tracing::warn!(
                events = left.len(),
                "the webhook queue did not take these events before the shutdown deadline"
            );
        }
        self.shared.overflow(left);
        self.stopped();
    }

    /// Moves every delivery published so far (in the channel or, when it was full, in the
    /// overflow) into the backlog, without waiting for more.
    pub(super) fn take_published(&mut self) {
        while let Ok(Command::Push(delivery)) = self.commands.try_recv() {
            self.backlog.add(delivery);
        }
        self.backlog.extend(self.shared.take_overflow());
    }

    /// Offers the backlog to the queue, oldest first, until it is empty, the queue refuses one
    /// or `until` has passed (after one offer at least); a refusal schedules the next offer
    /// (back-off) and shows on `/health`.
    pub(super) async fn offer_backlog(&mut self, until: Instant) {
        let mut offered = false;
        while let Some(delivery) = self.backlog.front() {
            if offered && Instant::now() >= until {
                return;
            }
            offered = true;
            let delivery = delivery.clone();
            match self.queue.push(delivery).await {
                Ok(()) => {
                    self.backlog.taken();
                    self.shared.queued();
                    if self.backlog.is_refused() {
                        tracing::info!(
                            backlog = self.backlog.len(),
                            "the webhook queue takes events again"
                        );
                        self.backlog.accepted();
                    }
                }
                Err(error) => {
                    // `/health` reports the backlog before the refusal is counted: whoever sees
                    // the count sees the health it goes with.
                    self.shared.backlogged.store(true, Ordering::Release);
                    self.shared.refused.fetch_add(1, Ordering::Release);
                    telemetry::webhook_refused();
                    telemetry::webhook_backlog(self.shared.unqueued.load(Ordering::Relaxed));
                    if !self.backlog.is_refused() {
                        tracing::warn!(
                            %error,
                            backlog = self.backlog.len(),
                            "the webhook queue refused an event; events wait in the process \
                             and are offered again"
                        );
                    }
                    self.backlog.refused(Instant::now());
                    return;
                }
            }
        }
        telemetry::webhook_backlog(self.shared.unqueued.load(Ordering::Relaxed));
        self.shared.backlogged.store(false, Ordering::Release);
    }

    /// Offers the backlog, and again at each back-off step that falls before `deadline`.
    pub(super) async fn offer_until(&mut self, deadline: Instant) {
        loop {
            self.offer_backlog(deadline).await;
            match self.backlog.retry_at() {
                Some(at) if at < deadline => tokio::time::sleep_until(at).await,
                _ => return,
            }
        }
    }
}
