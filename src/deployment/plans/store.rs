//! [`DeploymentPlans`]: the plan store of the backend `store.backend` names.

use crate::deployment::backend::on_backend;
#[cfg(feature = "embedded")]
use crate::embedded_store::EmbeddedPlanStore;
use crate::quota::{ApiPlans, MemoryPlanStore, Plan, PlanPut, PlanStore, PutMode};
#[cfg(feature = "redis")]
use crate::redis_store::RedisPlanStore;
use crate::store::StoreError;

/// Where a deployment keeps the plans the admin API manages: beside its key records, so that
/// they are as durable and as shared as they are.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum DeploymentPlans {
    /// `store.backend = "memory"`: this process's.
    Memory(MemoryPlanStore),
    /// `store.backend = "redis"`: every instance's, polled for changes.
    #[cfg(feature = "redis")]
    Redis(RedisPlanStore),
    /// `store.backend = "embedded"`: in the store's database.
    #[cfg(feature = "embedded")]
    Embedded(EmbeddedPlanStore),
}

impl DeploymentPlans {
    /// Whether other processes may change the plans, so that this one must poll.
    pub(super) fn is_shared(&self) -> bool {
        match self {
            #[cfg(feature = "redis")]
            Self::Redis(_) => true,
            _ => false,
        }
    }
}

impl PlanStore for DeploymentPlans {
    async fn load(&self) -> Result<ApiPlans, StoreError> {
        on_backend!(self, store => store.load().await)
    }

    async fn generation(&self) -> Result<u64, StoreError> {
        on_backend!(self, store => store.generation().await)
    }

    async fn put(&self, project: &str, plan: Plan, mode: PutMode) -> Result<PlanPut, StoreError> {
        on_backend!(self, store => store.put(project, plan, mode).await)
    }
}
