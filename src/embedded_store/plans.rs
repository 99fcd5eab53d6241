//! `EmbeddedPlanStore`: the plans the admin API manages, in the store's database (table
//! `api_plans`), answered from memory; a change is committed to disk before the call that made
//! it returns, and everything is read back when the store opens.
//!
//! One process holds the store (its directory lock), so no other writer can move the plans:
//! the generation is counted in memory from the open, and nothing needs to poll.

use std::future::Future;

use super::EmbeddedStore;
use super::writer::Op;
use crate::quota::{ApiPlans, Plan, PlanChange, PlanPut, PlanStore, PutMode, encode_plan};
use crate::store::StoreError;

/// The API-owned plans of the embedded store. Clones share them.
#[derive(Clone, Debug)]
pub struct EmbeddedPlanStore {
    pub(super) store: EmbeddedStore,
}

impl EmbeddedPlanStore {
    /// Decides in memory, commits, then changes memory: a failed commit changes nothing, and
    /// the lock held across the commit keeps a second change from deciding on stale plans.
    async fn put_now(
        &self,
        project: &str,
        plan: Plan,
        mode: PutMode,
    ) -> Result<PlanPut, StoreError> {
        let shared = &self.store.shared;
        let mut held = shared.plans.lock().await;
        let change = held.decide(project, &plan, mode);
        if matches!(change, Some(PlanChange::Added | PlanChange::Changed)) {
            let op = Op::PutPlan {
                project: Box::from(project),
                plan: encode_plan(&plan),
            };
            shared.writer.commit(vec![op]).await?;
            held.apply(project, plan);
        }
        Ok(PlanPut {
            change,
            plans: held.clone(),
        })
    }
}

impl PlanStore for EmbeddedPlanStore {
    async fn load(&self) -> Result<ApiPlans, StoreError> {
        Ok(self.store.shared.plans.lock().await.clone())
    }

    async fn generation(&self) -> Result<u64, StoreError> {
        Ok(self.store.shared.plans.lock().await.generation)
    }

    fn put(
        &self,
        project: &str,
        plan: Plan,
        mode: PutMode,
    ) -> impl Future<Output = Result<PlanPut, StoreError>> + Send {
        self.put_now(project, plan, mode)
    }
}
