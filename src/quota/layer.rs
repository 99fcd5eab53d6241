use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderName;
use tower_layer::Layer;

use super::degrade::DegradedAnswer;
use super::{
    AlertSink, Classify, DefaultClassifier, MemoryQuotaStore, Operation, QuotaAlert, QuotaDegrade,
    QuotaPlans, QuotaStore,
};
use crate::clock::{Clock, SharedClock, system_clock};

/// Applies [`QuotaDegrade`]. Cheap to clone; clones share the store.
#[must_use]
pub struct QuotaDegradeLayer<S = MemoryQuotaStore, C = DefaultClassifier> {
    pub(super) shared: Shared<S, C>,
}

/// What every service of one layer shares.
pub(super) struct Shared<S, C> {
    pub(super) store: Arc<S>,
    pub(super) classifier: Arc<C>,
    pub(super) plans: Arc<QuotaPlans>,
    pub(super) alerts: Option<AlertSink>,
    pub(super) answer: Arc<DegradedAnswer>,
    pub(super) clock: SharedClock,
}

impl QuotaDegradeLayer {
    /// Quotas of `plans`, counted in memory, with the default classifier.
    pub fn new(plans: QuotaPlans) -> Self {
        QuotaDegradeLayer::from_store(plans, MemoryQuotaStore::new())
    }
}

impl<S: QuotaStore> QuotaDegradeLayer<S> {
    /// Quotas of `plans`, counted in `store`.
    pub fn from_store(plans: QuotaPlans, store: S) -> Self {
        QuotaDegradeLayer {
            shared: Shared {
                store: Arc::new(store),
                classifier: Arc::new(DefaultClassifier),
                plans: Arc::new(plans),
                alerts: None,
                answer: Arc::new(DegradedAnswer::default()),
                clock: system_clock(),
            },
        }
    }
}

impl<S: QuotaStore, C: Classify> QuotaDegradeLayer<S, C> {
    /// Decides which requests are metered: any `Fn(&Method, &str) -> Option<Operation>`.
    pub fn with_classifier<C2: Classify>(self, classifier: C2) -> QuotaDegradeLayer<S, C2> {
        let Shared {
            store,
            plans,
            alerts,
            answer,
            clock,
            ..
        } = self.shared;
        QuotaDegradeLayer {
            shared: Shared {
                store,
                classifier: Arc::new(classifier),
                plans,
                alerts,
                answer,
                clock,
            },
        }
    }

    /// Calls `sink` with every usage alert, on the request that crossed the threshold. It must
    /// not block.
    pub fn with_alerts(mut self, sink: impl Fn(&QuotaAlert) + Send + Sync + 'static) -> Self {
        self.shared.alerts = Some(Arc::new(sink));
        self
    }

    /// The body of a degraded response to `operation` (default `{"results":[]}`), sent as
    /// `application/json`.
    pub fn with_empty_result(mut self, operation: Operation, body: impl Into<Bytes>) -> Self {
        let mut answer = (*self.shared.answer).clone();
        match operation {
            Operation::Add => answer.add_body = body.into(),
            Operation::Query => answer.query_body = body.into(),
        }
        self.shared.answer = Arc::new(answer);
        self
    }

    /// Tells clients they were degraded: the header `name` with the operation (`add` or
    /// `query`) as its value. Off by default: the design's degrade is silent.
    pub fn with_degraded_header(mut self, name: HeaderName) -> Self {
        let mut answer = (*self.shared.answer).clone();
        answer.header = Some(name);
        self.shared.answer = Arc::new(answer);
        self
    }

    /// Reads the month from `clock`.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.shared.clock = Arc::new(clock);
        self
    }

    /// The store, for reading usage.
    pub fn store(&self) -> &Arc<S> {
        &self.shared.store
    }

    /// The plans.
    pub fn plans(&self) -> &QuotaPlans {
        &self.shared.plans
    }
}

impl<S, C> Clone for Shared<S, C> {
    fn clone(&self) -> Self {
        Shared {
            store: Arc::clone(&self.store),
            classifier: Arc::clone(&self.classifier),
            plans: Arc::clone(&self.plans),
            alerts: self.alerts.clone(),
            answer: Arc::clone(&self.answer),
            clock: Arc::clone(&self.clock),
        }
    }
}

impl<S, C> Clone for QuotaDegradeLayer<S, C> {
    fn clone(&self) -> Self {
        QuotaDegradeLayer {
            shared: self.shared.clone(),
        }
    }
}

impl<S, C> fmt::Debug for QuotaDegradeLayer<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuotaDegradeLayer")
            .field("plans", &self.shared.plans)
            .field("alerts", &self.shared.alerts.is_some())
            .finish_non_exhaustive()
    }
}

impl<Inner, S, C> Layer<Inner> for QuotaDegradeLayer<S, C> {
    type Service = QuotaDegrade<Inner, S, C>;

    fn layer(&self, inner: Inner) -> Self::Service {
        QuotaDegrade {
            inner,
            shared: Arc::new(self.shared.clone()),
        }
    }
}
