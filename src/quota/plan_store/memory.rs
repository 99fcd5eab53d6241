//! `MemoryPlanStore`: the plans of one process, lost when it stops.

use std::future::{Future, ready};
use std::sync::{Arc, Mutex, PoisonError};

use super::{ApiPlans, PlanPut, PlanStore, PutMode};
use crate::quota::Plan;
use crate::store::StoreError;

/// API-owned plans in process memory (`store.backend = "memory"`). Clones share them.
#[derive(Clone, Debug, Default)]
pub struct MemoryPlanStore {
    plans: Arc<Mutex<ApiPlans>>,
}

impl MemoryPlanStore {
    /// No plans, at generation 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The plans are whole after every change: a panic elsewhere cannot leave them torn.
    fn held(&self) -> std::sync::MutexGuard<'_, ApiPlans> {
        self.plans.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn put_now(&self, project: &str, plan: Plan, mode: PutMode) -> PlanPut {
        let mut held = self.held();
        let change = held.decide(project, &plan, mode);
        if matches!(change, Some(c) if c != super::PlanChange::Unchanged) {
            held.apply(project, plan);
        }
        PlanPut {
            change,
            plans: held.clone(),
        }
    }
}

impl PlanStore for MemoryPlanStore {
    fn load(&self) -> impl Future<Output = Result<ApiPlans, StoreError>> + Send {
        ready(Ok(self.held().clone()))
    }

    fn generation(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        ready(Ok(self.held().generation))
    }

    fn put(
        &self,
        project: &str,
        plan: Plan,
        mode: PutMode,
    ) -> impl Future<Output = Result<PlanPut, StoreError>> + Send {
        ready(Ok(self.put_now(project, plan, mode)))
    }
}
