//! The worker's attempts: sending one (or dead-lettering it at once when its endpoint cannot
//! take it), and what its outcome does to the queue, the counters and the attempt log.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use tower::Service;

use super::WebhookWorker;
use crate::clock::Timestamp;
use crate::store::StoreError;
use crate::telemetry;
use crate::webhook::attempt::{Attempt, BoxError, signed_request};
use crate::webhook::attempt_log::AttemptRecord;
use crate::webhook::endpoints::EndpointState;
use crate::webhook::{DeadLetter, Delivery, WebhookQueue};

/// An attempt that came back: the delivery, what came of it, when it was sent and how long the
/// receiver took.
pub(super) struct Sent {
    delivery: Delivery,
    attempt: Attempt,
    at: Timestamp,
    latency: Duration,
}

impl<Q, T> WebhookWorker<Q, T>
where
    Q: WebhookQueue,
    T: Service<http::Request<Bytes>, Response = http::Response<()>> + Clone + Send + 'static,
    T::Error: Into<BoxError>,
    T::Future: Send,
{
    /// Sends one attempt in the background, or dead-letters it at once when its endpoint is
    /// disabled, removed, or has no secret that signs.
    pub(super) async fn attempt(&mut self, delivery: Delivery) {
        let now = self.settings.clock.now();
        let reason = match self.settings.endpoints.find(&delivery) {
            None => "endpoint no longer configured",
            Some(endpoint) if endpoint.state == EndpointState::DisabledGone => {
                "endpoint disabled: it answered 410 Gone"
            }
            Some(endpoint) if !endpoint.state.is_enabled() => "endpoint disabled by an operator",
            Some(endpoint) => {
                let secrets = endpoint.signing_secrets(now);
                if secrets.is_empty() {
                    "endpoint has no usable secret (is [admin] secret_key the one it was sealed with?)"
                } else {
                    let request = signed_request(&endpoint, &secrets, &delivery, now);
                    let transport = self.transport.clone();
                    let timeout = self.settings.policy.request_timeout;
                    self.shared.attempts.fetch_add(1, Ordering::Relaxed);
                    self.inflight.spawn(async move {
                        let started = tokio::time::Instant::now();
                        let attempt = Attempt::send(transport, request, timeout).await;
                        Sent {
                            delivery,
                            attempt,
                            at: now,
                            latency: started.elapsed(),
                        }
                    });
                    return;
                }
            }
        };
        if let Err(error) = self.dead_letter(delivery, reason.into(), now).await {
            // The claim stays with the queue: the delivery comes back when it goes stale.
            tracing::error!(%error, "a webhook delivery could not be dead-lettered");
        }
    }

    /// The queue's side of an attempt's outcome, and its line in the attempt log.
    pub(super) async fn settle(&mut self, sent: Sent) {
        self.log(&sent);
        let Sent {
            mut delivery,
            attempt,
            ..
        } = sent;
        let now = self.settings.clock.now();
        let shared = &self.shared;
        delivery.attempts += 1;
        let result = match attempt {
            Attempt::Delivered { .. } => {
                shared.delivered.fetch_add(1, Ordering::Relaxed);
                telemetry::webhook_attempt("delivered");
                self.queue.finish(&delivery.id, delivery.target()).await
            }
            Attempt::Gone => {
                let endpoint = &**delivery.target();
                tracing::warn!(endpoint, "webhook endpoint answered 410 Gone; disabled");
                telemetry::webhook_attempt("gone");
                let target = Arc::clone(delivery.target());
                self.settings.endpoints.gone(&target).await;
                let reason = "410 Gone: endpoint disabled".into();
                self.dead_letter(delivery, reason, now).await
            }
            Attempt::Failed {
                reason,
                retry_after,
                ..
            } => {
                shared.failures.fetch_add(1, Ordering::Relaxed);
                telemetry::webhook_attempt("failed");
                match self
                    .settings
                    .policy
                    .next_delay(delivery.attempts, retry_after)
                {
                    Some(delay) => {
                        shared.retries.fetch_add(1, Ordering::Relaxed);
                        telemetry::webhook_retry();
                        delivery.due_at = now.saturating_add(delay);
                        self.queue.reschedule(delivery).await
                    }
                    None => {
                        let endpoint = &**delivery.target();
                        tracing::warn!(endpoint, %reason, "webhook attempts used up; dead-lettered");
                        self.dead_letter(delivery, reason, now).await
                    }
                }
            }
        };
        if let Err(error) = result {
            tracing::error!(%error, "webhook queue unavailable while settling a delivery");
        }
    }

    /// Hands the attempt to the attempt log, in a task of its own: a slow or absent log never
    /// holds up the deliveries.
    fn log(&self, sent: &Sent) {
        let Some(log) = &self.settings.attempts else {
            return;
        };
        let record = AttemptRecord::new(
            sent.at,
            Arc::clone(sent.delivery.target()),
            Arc::clone(&sent.delivery.id),
            Arc::clone(&sent.delivery.event_type),
            sent.attempt.status(),
            u64::try_from(sent.latency.as_millis()).unwrap_or(u64::MAX),
            sent.attempt.error(),
        );
        tokio::spawn(log(record));
    }

    /// Moves a claimed delivery to the dead letters, counted.
    pub(super) async fn dead_letter(
        &mut self,
        delivery: Delivery,
        reason: String,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.shared.dead_lettered.fetch_add(1, Ordering::Relaxed);
        telemetry::webhook_dead_letter();
        let letter = DeadLetter {
            delivery,
            reason,
            at,
        };
        self.queue.dead_letter(letter).await
    }
}
