//! How the delivery worker runs: endpoints, deployment rules, retry schedule, concurrency, clock.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::attempt_log::{AttemptLog, AttemptRecord};
use super::{Endpoint, EndpointSet, RetryPolicy};
use crate::clock::{Clock, SharedClock, system_clock};
use crate::environment::Environment;

/// How the delivery worker runs.
#[derive(Clone)]
#[must_use]
pub struct WebhookSettings {
    pub(super) endpoints: EndpointSet,
    pub(super) deployment: Environment,
    pub(super) policy: RetryPolicy,
    pub(super) concurrency: usize,
    pub(super) poll_every: Duration,
    pub(super) channel_capacity: usize,
    pub(super) clock: SharedClock,
    /// Where each attempt is written, if anywhere.
    pub(super) attempts: Option<AttemptSink>,
}

/// Writes one attempt to the log; a failure is logged, not returned.
pub(super) type AttemptSink =
    Arc<dyn Fn(AttemptRecord) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

impl WebhookSettings {
    /// Delivers to `endpoints` from a `deployment`: in production, only `https://` to globally
    /// routable addresses. 32 deliveries at a time, the default retry schedule, room for 1,024
    /// deliveries between the publishers and the worker.
    pub fn new(endpoints: Vec<Endpoint>, deployment: Environment) -> Self {
        Self::live(EndpointSet::new(endpoints), deployment)
    }

    /// Delivers to the endpoints `endpoints` holds at each moment: replaced while the worker
    /// runs, they are in force for the next publish and the next attempt.
    pub fn live(endpoints: EndpointSet, deployment: Environment) -> Self {
        WebhookSettings {
            endpoints,
            deployment,
            policy: RetryPolicy::default(),
            concurrency: 32,
            poll_every: Duration::from_millis(250),
            channel_capacity: 1024,
            clock: system_clock(),
            attempts: None,
        }
    }

    /// Another retry schedule.
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// At most `n` deliveries in flight.
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Room for `n` deliveries in the channel between the publishers and the worker. A
    /// delivery that finds it full is not dropped and its publisher does not wait: it is kept
    /// aside for the worker, and `/health` reports the backlog until the queue has it.
    pub fn with_channel_capacity(mut self, n: usize) -> Self {
        self.channel_capacity = n.max(1);
        self
    }

    /// Writes every attempt (time, endpoint, message, event, status, latency, error) to `log`.
    pub fn with_attempt_log(mut self, log: impl AttemptLog) -> Self {
        let log = Arc::new(log);
        self.attempts = Some(Arc::new(move |record| {
            let log = Arc::clone(&log);
            Box::pin(async move {
                if let Err(error) = log.record(record).await {
                    tracing::warn!(%error, "a webhook attempt was not written to the attempt log");
                }
            })
        }));
        self
    }

    /// Reads time (due times, `webhook-timestamp`) from `clock`.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("endpoints", &self.endpoints)
            .field("deployment", &self.deployment)
            .field("policy", &self.policy)
            .field("concurrency", &self.concurrency)
            .field("channel_capacity", &self.channel_capacity)
            .field("attempt_log", &self.attempts.is_some())
            .finish_non_exhaustive()
    }
}
