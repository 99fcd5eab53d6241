//! [`PlanBook`]: the plans this process puts in force, from the file's and the store's.

use std::sync::Arc;

use super::DeploymentPlans;
use crate::deployment::DeploymentQuotaLayer;
use crate::quota::{ApiPlans, PlanStore, QuotaPlans};
use crate::store::{RecordOwner, StoreError};

/// The two sources of the plans in force and the quota stage they go to.
#[derive(Debug)]
pub(in crate::deployment) struct PlanBook {
    pub(in crate::deployment) store: DeploymentPlans,
    quota: DeploymentQuotaLayer,
    /// One change of the plans at a time in this process (a write, a poll, a reconciliation),
    /// held across its store call: a poll's read can never land after a newer write's, so
    /// the latest read is always the one to put in force.
    held: tokio::sync::Mutex<Held>,
}

#[derive(Debug)]
pub(super) struct Held {
    /// The file's `[[projects]]` as last reconciled, all owned by the file.
    file: QuotaPlans,
    /// The store's plans as last read.
    pub(super) api: ApiPlans,
    /// Whether the last poll failed: an outage is logged once, not once per poll.
    pub(super) poll_failing: bool,
}

impl PlanBook {
    /// The book of a deployment whose quota stage has the file's plans in force already.
    pub(in crate::deployment) fn new(store: DeploymentPlans, quota: DeploymentQuotaLayer) -> Self {
        let file = (*quota.plans()).clone();
        PlanBook {
            store,
            quota,
            held: tokio::sync::Mutex::new(Held {
                file,
                api: ApiPlans::default(),
                poll_failing: false,
            }),
        }
    }

    /// Reads the store's plans and puts them in force.
    pub(in crate::deployment) async fn refresh(&self) -> Result<(), StoreError> {
        let mut held = self.held.lock().await;
        let api = self.store.load().await?;
        self.adopt(&mut held, api);
        Ok(())
    }

    /// The book, held for one change.
    pub(super) async fn hold(&self) -> tokio::sync::MutexGuard<'_, Held> {
        self.held.lock().await
    }

    /// Puts `api` in force beside the file's plans.
    pub(super) fn adopt(&self, held: &mut Held, api: ApiPlans) {
        for project in api.plans.keys() {
            let shadowed =
                held.file.get(project).is_some() && !held.api.plans.contains_key(project);
            if shadowed {
                tracing::warn!(
                    project = &**project,
                    "the admin API manages this project's plan now; the file's plan for it is not in force"
                );
            }
        }
        held.api = api;
        self.quota.set_plans(in_force(&held.api, &held.file));
    }

    /// Replaces the file's plans with `file`, beside the store's plans read now. Returns the
    /// plans in force before and after, and the file's projects the API manages.
    pub(in crate::deployment) async fn reconcile_file(
        &self,
        file: QuotaPlans,
    ) -> Result<(Arc<QuotaPlans>, Arc<QuotaPlans>, Vec<Arc<str>>), StoreError> {
        let mut held = self.held.lock().await;
        // Read now, not as last polled: a reconciliation must never put back a file plan for a
        // project the API took a moment ago, nor drop an API plan it has not seen yet.
        let api = self.store.load().await?;
        let before = self.quota.plans();
        let refused = file
            .iter()
            .filter(|(project, _, _)| api.plans.contains_key(*project))
            .map(|(project, _, _)| Arc::from(project))
            .collect();
        held.file = file;
        held.api = api;
        self.quota.set_plans(in_force(&held.api, &held.file));
        Ok((before, self.quota.plans(), refused))
    }

    /// Who manages the plan in force for `project`, if one is.
    pub(super) fn owner(&self, project: &str) -> Option<RecordOwner> {
        self.quota.plans().owner(project)
    }
}

/// The plans in force: the API's, and the file's for every project the API does not manage (a
/// file that names an API-owned project is refused for that project).
pub(super) fn in_force(api: &ApiPlans, file: &QuotaPlans) -> QuotaPlans {
    let mut plans = QuotaPlans::new();
    for (project, plan, _) in file.iter() {
        if !api.plans.contains_key(project) {
            plans = plans.with_owned_plan(project, plan.clone(), RecordOwner::Config);
        }
    }
    for (project, plan) in &api.plans {
        plans = plans.with_owned_plan(Arc::clone(project), plan.clone(), RecordOwner::Api);
    }
    plans
}
