use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::HeaderName;
use tower_layer::Layer;

use super::degrade::DegradedAnswer;
use super::unplanned::Unplanned;
use super::{
    AlertSink, Classify, DefaultClassifier, MemoryQuotaStore, Month, Operation, QuotaAlert,
    QuotaDegrade, QuotaKey, QuotaPlans, QuotaStore,
};
use crate::clock::{Clock, SharedClock, system_clock};
use crate::store::StoreError;

/// How much of a month's quota is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotaUsage {
    /// Units used.
    pub used: u64,
    /// The plan's limit.
    pub limit: u64,
}

/// Applies [`QuotaDegrade`]. Cheap to clone; clones share the store.
#[must_use]
pub struct QuotaDegradeLayer<Q = MemoryQuotaStore, C = DefaultClassifier> {
    pub(super) shared: Shared<Q, C>,
}

/// What every service of one layer shares.
pub(super) struct Shared<Q, C> {
    pub(super) store: Arc<Q>,
    pub(super) classifier: Arc<C>,
    /// Replaced whole at run time ([`QuotaDegradeLayer::set_plans`]); a request reads the
    /// current plans without a lock and without touching a reference count.
    pub(super) plans: Arc<ArcSwap<QuotaPlans>>,
    pub(super) alerts: Option<AlertSink>,
    pub(super) answer: Arc<DegradedAnswer>,
    pub(super) clock: SharedClock,
    pub(super) unplanned: Arc<Unplanned>,
}

impl QuotaDegradeLayer {
    /// Quotas of `plans`, counted in memory, with the default classifier.
    pub fn new(plans: QuotaPlans) -> Self {
        QuotaDegradeLayer::from_store(plans, MemoryQuotaStore::new())
    }
}

impl<Q: QuotaStore> QuotaDegradeLayer<Q> {
    /// Quotas of `plans`, counted in `store`.
    pub fn from_store(plans: QuotaPlans, store: Q) -> Self {
        QuotaDegradeLayer {
            shared: Shared {
                store: Arc::new(store),
                classifier: Arc::new(DefaultClassifier),
                plans: Arc::new(ArcSwap::from_pointee(plans)),
                alerts: None,
                answer: Arc::new(DegradedAnswer::default()),
                clock: system_clock(),
                unplanned: Arc::default(),
            },
        }
    }
}

impl<Q: QuotaStore, C: Classify> QuotaDegradeLayer<Q, C> {
    /// Decides which requests are metered: any `Fn(&Method, &str) -> Option<Operation>`.
    pub fn with_classifier<C2: Classify>(self, classifier: C2) -> QuotaDegradeLayer<Q, C2> {
        let Shared {
            store,
            plans,
            alerts,
            answer,
            clock,
            unplanned,
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
                unplanned,
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

    /// The store.
    pub fn store(&self) -> &Arc<Q> {
        &self.shared.store
    }

    /// A project's use of `operation` in `month` against its plan's limit, for a billing
    /// dashboard. `None` when the project has no plan.
    pub async fn usage(
        &self,
        project: &str,
        operation: Operation,
        month: Month,
    ) -> Result<Option<QuotaUsage>, StoreError> {
        let Some(limit) = self
            .shared
            .plans
            .load()
            .get(project)
            .map(|p| p.limit(operation))
        else {
            return Ok(None);
        };
        let key = QuotaKey {
            project: Arc::from(project),
            operation,
            month,
        };
        let used = self.shared.store.used(&key).await?;
        Ok(Some(QuotaUsage { used, limit }))
    }

    /// The plans in force now.
    pub fn plans(&self) -> Arc<QuotaPlans> {
        self.shared.plans.load_full()
    }

    /// Puts `plans` in force at once, for every service this layer and its clones made: the
    /// next request reads them. A request already past the plan look-up keeps the limit it read.
    pub fn set_plans(&self, plans: QuotaPlans) {
        self.shared.plans.store(Arc::new(plans));
    }
}

impl<Q, C> Clone for Shared<Q, C> {
    fn clone(&self) -> Self {
        Shared {
            store: Arc::clone(&self.store),
            classifier: Arc::clone(&self.classifier),
            plans: Arc::clone(&self.plans),
            alerts: self.alerts.clone(),
            answer: Arc::clone(&self.answer),
            clock: Arc::clone(&self.clock),
            unplanned: Arc::clone(&self.unplanned),
        }
    }
}

impl<Q, C> Clone for QuotaDegradeLayer<Q, C> {
    fn clone(&self) -> Self {
        QuotaDegradeLayer {
            shared: self.shared.clone(),
        }
    }
}

impl<Q, C> fmt::Debug for QuotaDegradeLayer<Q, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuotaDegradeLayer")
            .field("plans", &self.shared.plans)
            .field("alerts", &self.shared.alerts.is_some())
            .finish_non_exhaustive()
    }
}

impl<S, Q, C> Layer<S> for QuotaDegradeLayer<Q, C> {
    type Service = QuotaDegrade<S, Q, C>;

    fn layer(&self, inner: S) -> Self::Service {
        QuotaDegrade::new(inner, self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::{AlertThresholds, Plan};

    #[tokio::test]
    async fn usage_reads_used_against_the_plan() {
        let layer = QuotaDegradeLayer::new(QuotaPlans::new().with_plan("p", Plan::new(5, 9)));
        let month = Month::new(2027, 3).unwrap();
        let key = QuotaKey {
            project: "p".into(),
            operation: Operation::Add,
            month,
        };
        for _ in 0..2 {
            let _ = layer.store().reserve(&key, 5, AlertThresholds::NONE).await;
        }
        for (operation, used, limit) in [(Operation::Add, 2, 5), (Operation::Query, 0, 9)] {
            let usage = layer.usage("p", operation, month).await.unwrap().unwrap();
            assert_eq!((usage.used, usage.limit), (used, limit), "{operation}");
        }
        assert_eq!(
            layer.usage("nobody", Operation::Add, month).await.unwrap(),
            None
        );
    }
}
