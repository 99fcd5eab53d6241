//! Where the plans the admin API manages live, so that every instance sharing a store puts the
//! same plans in force and a restart keeps them: [`PlanStore`], over the deployment's backend
//! ([`MemoryPlanStore`] here; the embedded store's and Redis's in their modules).
//!
//! The config file's `[[projects]]` are not in a plan store: each process reads its own file
//! (and reconciles it on SIGHUP). A store holds only [`RecordOwner::Api`](crate::store::RecordOwner)
//! plans.
//!
//! Every change raises the store's generation by one, and a [`PlanStore::load`] reads the plans
//! and the generation in one step: a process that saw generation `g` has seen every change up
//! to `g`, so comparing generations tells whether a reload is needed and which of two reads is
//! newer.

mod codec;
mod memory;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

pub(crate) use codec::{decode_plan, encode_plan};
pub use memory::MemoryPlanStore;

use super::Plan;
use crate::store::StoreError;

/// The plans a store holds, as of one generation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiPlans {
    /// How many changes the store had seen when these were read.
    pub generation: u64,
    /// Each project's plan.
    pub plans: HashMap<Arc<str>, Plan>,
}

impl ApiPlans {
    /// What [`PlanStore::put`] would do with `plan` for `project`; `None` when `mode` refuses
    /// because a plan is there. Stores decide with this and then call [`ApiPlans::apply`].
    pub(crate) fn decide(&self, project: &str, plan: &Plan, mode: PutMode) -> Option<PlanChange> {
        match (self.plans.get(project), mode) {
            (Some(_), PutMode::Create) => None,
            (Some(stored), PutMode::Set) if stored == plan => Some(PlanChange::Unchanged),
            (Some(_), PutMode::Set) => Some(PlanChange::Changed),
            (None, _) => Some(PlanChange::Added),
        }
    }

    /// Puts `plan` in for `project` as one change: the generation moves on.
    pub(crate) fn apply(&mut self, project: &str, plan: Plan) {
        self.plans.insert(Arc::from(project), plan);
        self.generation += 1;
    }
}

/// What a write does when the project has a plan already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutMode {
    /// Refused: the project is new or nothing is written (`POST /projects`).
    Create,
    /// Replaced (`PUT /projects/{id}/plan`).
    Set,
}

/// What a write changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanChange {
    /// The project had no plan.
    Added,
    /// The project's plan was replaced.
    Changed,
    /// The project had this very plan: nothing was written.
    Unchanged,
}

/// What [`PlanStore::put`] did, and the plans the store held after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanPut {
    /// `None` when [`PutMode::Create`] found a plan there and wrote nothing.
    pub change: Option<PlanChange>,
    /// Every plan the store held right after the write (or the refusal).
    pub plans: ApiPlans,
}

/// Where the plans the admin API manages live.
///
/// Off the request path: the quota stage reads the plans in force from memory, and a
/// deployment copies a store's plans there when they change.
pub trait PlanStore: Send + Sync + 'static {
    /// Every plan, with the generation they are at, read in one step.
    fn load(&self) -> impl Future<Output = Result<ApiPlans, StoreError>> + Send;

    /// The generation now: one cheap read that tells a poller whether to load.
    fn generation(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Writes `plan` for `project` (durably, on a durable store, before it returns). A write
    /// that changes nothing leaves the generation as it was.
    fn put(
        &self,
        project: &str,
        plan: Plan,
        mode: PutMode,
    ) -> impl Future<Output = Result<PlanPut, StoreError>> + Send;
}
