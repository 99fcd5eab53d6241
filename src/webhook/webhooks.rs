//! The handle the application holds: publish events, read counters and dead letters, replay,
//! shut down.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use tokio::sync::mpsc;
use tower::Service;

use super::settings::WebhookSettings;
use super::shared::{Command, Shared};
use super::worker::WebhookWorker;
use super::{
    DeadLetter, Delivery, EndpointSet, MemoryWebhookQueue, TargetError, WebhookQueue, check_url,
};
use crate::health::{CheckStatus, HealthCheck};
use crate::quota::QuotaAlert;
use crate::store::StoreError;
use crate::telemetry;

/// Counters of the delivery worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WebhookStats {
    /// Deliveries the queue took (one per event and subscribed endpoint): from then on a
    /// delivery is the queue's, and survives what the queue survives.
    pub published: u64,
    /// Deliveries created and not yet taken by the queue: waiting in the process for it (a
    /// gauge). While the queue refuses them, `/health` reports this backlog.
    pub backlog: u64,
    /// Offers the queue refused; each refused delivery is offered again with back-off.
    pub refused: u64,
    /// Attempts sent.
    pub attempts: u64,
    /// Deliveries that arrived.
    pub delivered: u64,
    /// Attempts that failed.
    pub failures: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// Deliveries moved to the dead letters.
    pub dead_lettered: u64,
}

/// Signed webhooks with reliable delivery: the handle of a worker started by
/// [`Webhooks::start`]. Cheap to clone.
pub struct Webhooks<Q = MemoryWebhookQueue> {
    pub(super) queue: Arc<Q>,
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    pub(super) settings: WebhookSettings,
}

impl<Q> Clone for Webhooks<Q> {
    fn clone(&self) -> Self {
        Webhooks {
            queue: Arc::clone(&self.queue),
            commands: self.commands.clone(),
            shared: Arc::clone(&self.shared),
            settings: self.settings.clone(),
        }
    }
}

impl<Q> std::fmt::Debug for Webhooks<Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("endpoints", &self.settings.endpoints)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<Q> Webhooks<Q> {
    /// The counters.
    pub fn stats(&self) -> WebhookStats {
        let s = &self.shared;
        WebhookStats {
            published: s.published.load(Ordering::Relaxed),
            backlog: s.unqueued.load(Ordering::Relaxed),
            refused: s.refused.load(Ordering::Acquire),
            attempts: s.attempts.load(Ordering::Relaxed),
            delivered: s.delivered.load(Ordering::Relaxed),
            failures: s.failures.load(Ordering::Relaxed),
            retries: s.retries.load(Ordering::Relaxed),
            dead_lettered: s.dead_lettered.load(Ordering::Relaxed),
        }
    }
}

impl<Q: WebhookQueue> Webhooks<Q> {
    /// Checks every endpoint against the deployment's rules and starts the worker on the current
    /// tokio runtime. Deliveries already in `queue` (from before a restart) go out first.
    ///
    /// # Panics
    /// Outside a tokio runtime, like `tokio::spawn`.
    pub fn start<T>(queue: Q, transport: T, settings: WebhookSettings) -> Result<Self, TargetError>
    where
        T: Service<http::Request<Bytes>, Response = http::Response<()>> + Clone + Send + 'static,
        T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        T::Future: Send,
    {
        for endpoint in settings.endpoints.snapshot().iter() {
            check_url(&endpoint.url, settings.deployment)?;
        }
        let queue = Arc::new(queue);
        let (commands, receiver) = mpsc::channel(settings.channel_capacity);
        let shared = Arc::new(Shared::new());
        let worker = WebhookWorker::new(
            Arc::clone(&queue),
            transport,
            settings.clone(),
            Arc::clone(&shared),
            receiver,
        );
        tokio::spawn(worker.run());
        Ok(Webhooks {
            queue,
            commands,
            shared,
            settings,
        })
    }

    /// Publishes an event of no project: one delivery to each operator-wide endpoint subscribed
    /// to `event_type` (endpoints scoped to projects never get it). The body is
    /// `{"type": event_type, "timestamp": ..., "data": data}`. Returns the message id.
    pub fn publish(&self, event_type: &str, data: serde_json::Value) -> Arc<str> {
        self.publish_to(None, event_type, data)
    }

    /// Publishes an event of `project`: one delivery to each endpoint subscribed to
    /// `event_type` that serves the project (scoped to it, or operator-wide). A tenant's
    /// endpoint never receives another project's events.
    pub fn publish_for(
        &self,
        project: &str,
        event_type: &str,
        data: serde_json::Value,
    ) -> Arc<str> {
        self.publish_to(Some(project), event_type, data)
    }

    fn publish_to(
        &self,
        project: Option<&str>,
        event_type: &str,
        data: serde_json::Value,
    ) -> Arc<str> {
        let now = self.settings.clock.now();
        let id: Arc<str> = Arc::from(new_message_id());
        let body = json!({ "type": event_type, "timestamp": now.to_rfc3339(), "data": data });
        let body = Bytes::from(body.to_string());
        let event_type: Arc<str> = Arc::from(event_type);
        // Disabled endpoints too: their deliveries become dead letters, replayable once they
        // are enabled, so that nothing published vanishes.
        let endpoints = self.settings.endpoints.snapshot();
        for endpoint in endpoints
            .iter()
            .filter(|e| e.wants(&event_type) && e.serves(project))
        {
            let delivery = Delivery {
                id: id.clone(),
                endpoint: Some(endpoint.id.clone()),
                url: endpoint.url_text.clone(),
                event_type: event_type.clone(),
                body: body.clone(),
                created_at: now,
                attempts: 0,
                due_at: now,
            };
            self.hand_over(delivery);
        }
        id
    }

    /// Gives a delivery to the worker without ever waiting: through the channel, or, when it is
    /// full or the worker has stopped, through the overflow.
    fn hand_over(&self, delivery: Delivery) {
        self.shared.unqueued.fetch_add(1, Ordering::Relaxed);
        match self.commands.try_send(Command::Push(delivery)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(Command::Push(delivery))) => {
                self.shared.overflow([delivery]);
            }
            Err(mpsc::error::TrySendError::Closed(Command::Push(delivery))) => {
                tracing::warn!(
                    "webhook event published after the worker stopped; kept for the shutdown \
                     to hand back"
                );
                self.shared.overflow([delivery]);
            }
        }
    }

    /// Sends a `webhook.test` event to every operator-wide endpoint subscribed to it.
    pub fn send_test(&self) -> Arc<str> {
        self.publish(
            "webhook.test",
            json!({ "message": "test event from memorysync" }),
        )
    }

    /// A quota alert sink that publishes `quota.threshold` / `quota.exhausted` to the endpoints
    /// serving the alert's project, for
    /// [`QuotaDegradeLayer::with_alerts`](crate::quota::QuotaDegradeLayer::with_alerts). It
    /// never blocks: the event goes to the worker's queue.
    pub fn quota_alert_sink(&self) -> impl Fn(&QuotaAlert) + Send + Sync + 'static {
        let webhooks = self.clone();
        move |alert: &QuotaAlert| {
            webhooks.publish_for(
                &alert.project,
                alert.event_type(),
                json!({
                    "project": &*alert.project,
                    "operation": alert.operation.as_str(),
                    "month": alert.month.to_string(),
                    "threshold": alert.threshold,
                    "used": alert.used,
                    "limit": alert.limit,
                }),
            );
        }
    }

    /// Whether the endpoint with this id or URL is disabled (by a 410, or by an operator).
    pub fn is_disabled(&self, id_or_url: &str) -> bool {
        self.settings.endpoints.is_disabled(id_or_url)
    }

    /// The endpoints deliveries go to: replace them, and the next publish and attempt see it.
    pub fn endpoints(&self) -> &EndpointSet {
        &self.settings.endpoints
    }

    /// The dead letters.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        self.queue.dead_letters().await
    }

    /// Sends a dead letter again, with a fresh set of attempts: the message `id` to `target`
    /// ([`Delivery::target`]: the endpoint's id, which is its URL unless named otherwise).
    pub async fn replay(&self, id: &str, target: &str) -> Result<bool, StoreError> {
        self.queue
            .replay(id, target, self.settings.clock.now())
            .await
    }

    /// Deliveries waiting or in flight.
    pub async fn pending(&self) -> Result<usize, StoreError> {
        self.queue.pending().await
    }

    /// Stops within `grace`: what was published goes into the queue (offered again with
    /// back-off while the queue refuses it), deliveries in flight get until `grace` to finish,
    /// the rest stay queued for the next start. Resolves when the worker has stopped, with the
    /// deliveries the queue did not take before the deadline, oldest first: they exist nowhere
    /// else, so the caller keeps them (the deployment writes them to a file).
    #[must_use = "deliveries the queue did not take exist only in the returned list"]
    pub async fn shutdown(&self, grace: Duration) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + grace;
        let _ = self.shared.shutdown.send(Some(deadline));
        loop {
            // Registered before the check, so a stop between the two is not missed.
            let mut stopped = std::pin::pin!(self.shared.stopped_signal.notified());
            stopped.as_mut().enable();
            if self.shared.stopped.load(Ordering::Acquire) {
                break;
            }
            stopped.await;
        }
        let left = self.shared.take_overflow();
        let unqueued = self
            .shared
            .unqueued
            .fetch_sub(left.len() as u64, Ordering::Relaxed);
        telemetry::webhook_backlog(unqueued.saturating_sub(left.len() as u64));
        left
    }

    /// A `/health` check named `webhooks`: degraded while the queue refuses events (with the
    /// backlog waiting in the process) and while any dead letter is waiting (with the count).
    pub fn health_check(&self) -> impl HealthCheck {
        WebhookHealth {
            queue: Arc::clone(&self.queue),
            shared: Arc::clone(&self.shared),
        }
    }
}

struct WebhookHealth<Q> {
    queue: Arc<Q>,
    shared: Arc<Shared>,
}

impl<Q: WebhookQueue> HealthCheck for WebhookHealth<Q> {
    fn name(&self) -> &str {
        "webhooks"
    }

    fn check(&self) -> Pin<Box<dyn Future<Output = CheckStatus> + Send + '_>> {
        Box::pin(async move {
            let mut problems = Vec::new();
            let shared = &self.shared;
            // A full channel with a queue that takes everything is a burst, reported too: the
            // events wait in the process until the worker has queued them.
            if shared.backlogged.load(Ordering::Acquire) || shared.has_overflow() {
                let backlog = shared.unqueued.load(Ordering::Relaxed);
                problems.push(format!("{backlog} events waiting for the queue"));
            }
            match self.queue.dead_letters().await {
                Ok(letters) if letters.is_empty() => {}
                Ok(letters) => problems.push(format!("{} dead letters", letters.len())),
                Err(_) => problems.push("queue unavailable".to_owned()),
            }
            if problems.is_empty() {
                CheckStatus::Ok
            } else {
                CheckStatus::Degraded(problems.join("; ").into())
            }
        })
    }
}

fn new_message_id() -> String {
    let mut bytes = [0u8; 12];
    // Without randomness the id is still unique enough in time; a collision only makes a
    // receiver drop a duplicate it should have kept.
    let _ = getrandom::fill(&mut bytes);
    let hex = base16ct::lower::encode_string(&bytes);
    format!("msg_{hex}")
}
