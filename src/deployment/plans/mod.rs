//! The plans the admin API manages, kept in the deployment's store: [`Deployment::set_plan`]
//! and [`Deployment::create_project`].
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use memorysync_pipeline::config::Config;
//! use memorysync_pipeline::deployment::{Deployment, DeploymentOptions, PlanChange, PlanError};
//! use memorysync_pipeline::quota::Plan;
//! use memorysync_pipeline::store::RecordOwner;
//!
//! let config = Config::from_toml(
//!     "environment = \"development\"\n\
//!      [[projects]]\nid = \"proj_file\"\nadds_per_month = 10\nqueries_per_month = 10\n",
//! )
//! .unwrap();
//! let options = DeploymentOptions::new()
//!     .with_audit_sink(memorysync_pipeline::audit::MemoryAuditSink::new());
//! let deployment = Deployment::start(&config, options).await.unwrap();
//!
//! deployment.create_project("proj_api", Plan::new(100, 1_000)).await.unwrap();
//! let raised = deployment.set_plan("proj_api", Plan::new(200, 1_000)).await;
//! assert_eq!(raised.unwrap(), PlanChange::Changed);
//! assert_eq!(deployment.plans().owner("proj_api"), Some(RecordOwner::Api));
//! // The file's project is the file's to change.
//! let refused = deployment.set_plan("proj_file", Plan::new(1, 1)).await;
//! assert!(matches!(refused, Err(PlanError::OwnedBy { owner: RecordOwner::Config, .. })));
//! # });
//! ```
//!
//! # Decisions
//! - Where they live: beside the key records. `store.backend = "memory"` keeps them in the
//!   process; `embedded` commits each change to the database (table `api_plans`) before the
//!   call returns and reads them back at start; `redis` keeps a hash of project -> plan and a
//!   generation counter raised by every change (see
//!   [`RedisPlanStore`](crate::redis_store::RedisPlanStore)).
//! - In force at once here: the write answers with every plan the store holds, which go to the
//!   quota stage before the call returns. On Redis every other deployment reads the counter
//!   every [`PLAN_POLL_EVERY`] (one `GET`) and loads the hash when it moved, so a change is in
//!   force everywhere within a second. A Redis that does not answer leaves the last plans in
//!   force; the outage is logged once, and its end once.
//! - One change of the plans at a time in a process (a write, a poll, the plans of a
//!   reconciliation), each holding the book across its store call: the last read is always the
//!   newest, so a generation that moved backwards (a Redis emptied and reseeded) is followed
//!   like one that moved on.
//! - The file's `[[projects]]` stay in each process and need a reconciliation per instance
//!   (SIGHUP). A plan in force from the file is refused to the API ([`PlanError::OwnedBy`]),
//!   and a reconciliation reads the store's plans afresh and refuses a file project the API
//!   manages: the stored plan stays in force. Should the API take a project another
//!   instance's file names, the API's plan wins there too, with a warning.
//! - `create_project` refuses a project with any plan in force here or in the store
//!   ([`PlanError::Exists`]); `set_plan` adds or replaces. Plans are not deleted.

mod book;
mod poll;
mod store;

use std::fmt;
use std::sync::Arc;

pub(super) use book::PlanBook;
pub use poll::PLAN_POLL_EVERY;
pub(super) use poll::spawn_poller;
pub use store::DeploymentPlans;

use super::Deployment;
use crate::config::is_record_id;
pub use crate::quota::PlanChange;
use crate::quota::{Plan, PlanStore, PutMode};
use crate::store::{RecordOwner, StoreError};

/// Why a plan was not written.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanError {
    /// The project's plan in force has another owner, who alone may change it: the config
    /// file (`409 owned_by_config` in the admin API).
    OwnedBy {
        /// The project.
        project: Arc<str>,
        /// Who manages its plan.
        owner: RecordOwner,
    },
    /// [`Deployment::create_project`]: the project has a plan already.
    Exists {
        /// The project.
        project: Arc<str>,
        /// Who manages its plan.
        owner: RecordOwner,
    },
    /// The project id is not 1-64 characters of `[A-Za-z0-9._-]`.
    InvalidProject,
    /// The store did not answer: nothing is known to be written.
    Store(StoreError),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let by = |owner: &RecordOwner| match owner {
            RecordOwner::Config => "the config file",
            RecordOwner::Api => "the admin API",
        };
        match self {
            PlanError::OwnedBy { project, owner } => write!(
                f,
                "the plan of project `{project}` is managed by {}, which alone may change it",
                by(owner)
            ),
            PlanError::Exists { project, owner } => write!(
                f,
                "project `{project}` exists already (its plan is managed by {})",
                by(owner)
            ),
            // The id is not repeated: it may be anything a client sent.
            PlanError::InvalidProject => {
                f.write_str("a project id is 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-'")
            }
            PlanError::Store(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for PlanError {}

impl Deployment {
    /// Adds or replaces the plan of `project`, managed by the admin API, in the deployment's
    /// store. In force in this process when it returns (the next metered request reads it) and
    /// on every instance sharing the store within a second.
    ///
    /// # Errors
    /// [`PlanError::OwnedBy`] when the file manages the project's plan,
    /// [`PlanError::InvalidProject`] for an id outside the record-id rule, and
    /// [`PlanError::Store`] when the store did not answer.
    pub async fn set_plan(&self, project: &str, plan: Plan) -> Result<PlanChange, PlanError> {
        self.put_plan(project, plan, PutMode::Set).await
    }

    /// Adds `project` with `plan`, managed by the admin API; like [`Deployment::set_plan`] but
    /// refused when the project has a plan.
    ///
    /// # Errors
    /// [`PlanError::Exists`] when a plan of the file or the API is there, and the errors of
    /// [`Deployment::set_plan`].
    pub async fn create_project(&self, project: &str, plan: Plan) -> Result<(), PlanError> {
        self.put_plan(project, plan, PutMode::Create)
            .await
            .map(|_| ())
    }

    async fn put_plan(
        &self,
        project: &str,
        plan: Plan,
        mode: PutMode,
    ) -> Result<PlanChange, PlanError> {
        if !is_record_id(project) {
            return Err(PlanError::InvalidProject);
        }
        let book = &self.plan_book;
        let mut held = book.hold().await;
        let refusal = |owner| {
            let project = Arc::from(project);
            match mode {
                PutMode::Create => PlanError::Exists { project, owner },
                PutMode::Set => PlanError::OwnedBy { project, owner },
            }
        };
        match (book.owner(project), mode) {
            (Some(owner), PutMode::Create) => return Err(refusal(owner)),
            (Some(RecordOwner::Config), PutMode::Set) => return Err(refusal(RecordOwner::Config)),
            _ => {}
        }
        let put = book
            .store
            .put(project, plan, mode)
            .await
            .map_err(PlanError::Store)?;
        book.adopt(&mut held, put.plans);
        put.change.ok_or_else(|| refusal(RecordOwner::Api))
    }
}
