//! One call from a [`Config`] to a running pipeline.
//!
//! [`Deployment::start`] reads every field of a checked config and returns the six stages as
//! one tower [`Layer`](tower_layer::Layer), with the backends `store.backend` names, and the
//! handles an application needs later: the key store, quota usage, the webhook dispatcher, the
//! audit log and the tombstones. Nothing the config says is left for the caller to remember:
//!
//! - the deployment environment goes to authentication;
//! - `[health] trusted_proxies` go to both the health limiter and the audit stage;
//! - the audit log's, the shared store's and the webhooks' health checks are on `/health`;
//! - quota alerts go to [`DeploymentOptions::with_alerts`] and out as webhook events;
//! - one tombstone set is shared by the key store, the audit log's expiry and the handlers
//!   (in the request extensions as [`DeploymentTombstones`]);
//! - webhook secrets are read from the variables `secret_env` names;
//! - `[[quota.routes]]` decide which requests spend quota;
//! - `[limits]` gives the rate-limit stage the windows of keys that set none (read at start;
//!   a reconciled file changes the keys' own windows, not these);
//! - the audit chain is this process's own (see [`DeploymentOptions::with_instance`]), locked
//!   against a second live writer;
//! - the config's keys and plans are reconciled with the stores ([`Deployment::reconcile`]):
//!   at start, and again whenever the application hands it a reloaded file;
//! - the plans the admin API manages ([`Deployment::set_plan`]) are kept in the store beside
//!   the keys, and followed from it on Redis (see [`PLAN_POLL_EVERY`]).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use memorysync_pipeline::config::Config;
//! use memorysync_pipeline::deployment::{Deployment, DeploymentOptions};
//!
//! let config = Config::load("memorysync.toml")?;
//! let deployment = Deployment::start(&config, DeploymentOptions::new()).await?;
//! let api: axum::Router = axum::Router::new(); // the application's routes
//! // The six stages around the finished API; the outer router only hands every request in.
//! let app: axum::Router = axum::Router::new().fallback_service(deployment.layer().around(api));
//! // serve `app` (with `into_make_service_with_connect_info::<SocketAddr>()`); on SIGTERM:
//! deployment.shutdown(config.server.shutdown_grace).await?;
//! # let _ = app; Ok(()) }
//! ```
//!
//! On Redis, a deployment trusts the data of the epoch it started on; when Redis loses it
//! (flushed, restarted empty, replaced), the stages follow `store.on_store_error` as in an
//! outage and `/health` reports `redis: data_lost` until [`reseed`] writes the config back (see
//! [`RedisConnection::watch_epoch`](crate::redis_store::RedisConnection::watch_epoch)).
//!
//! [`Deployment::stages`] gives the stages one by one, for a layer of the application's own
//! between two of them; [`PipelineBuilder`] still checks their order.
//!
//! Backends are chosen at run time without boxing the in-memory path: each store is an enum
//! over its backends ([`DeploymentKeys`], [`DeploymentLimits`], [`DeploymentQuotas`]) whose
//! request-path future is an enum too ([`BackendFuture`]).

mod assemble;
mod attempts;
mod audit;
mod audit_read;
mod backend;
mod embedded;
mod endpoints;
mod error;
mod options;
mod plans;
mod queue;
mod reconcile;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod reseed;
mod shutdown;
mod stores;
mod unqueued;
mod webhooks;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tower_layer::{Identity, Stack};

pub use attempts::DeploymentAttempts;
pub use backend::BackendFuture;
pub use endpoints::{DeploymentEndpointStore, DeploymentEndpoints};
pub use error::StartError;
pub use options::{DeploymentClassifier, DeploymentOptions, SecretSource};
pub use plans::{DeploymentPlans, PLAN_POLL_EVERY, PlanChange, PlanError};
pub use queue::{DeploymentQueue, DeploymentWebhooks};
pub use reconcile::{ReconcileError, ReconcileSummary, Refused};
#[cfg(feature = "redis")]
pub use reseed::{ReseedError, Reseeded, reseed};
pub use shutdown::{AuditLoss, ShutdownReport};
pub use stores::{
    DeploymentConfigVersions, DeploymentKeys, DeploymentLimits, DeploymentQuotas,
    DeploymentTombstones,
};

use crate::audit::{AuditLog, AuditRecordLayer};
use crate::auth::ApiKeyAuthLayer;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::environment::Environment;
use crate::health::HealthRouteLayer;
use crate::limit::SlidingWindowRateLimitLayer;
use crate::pipeline::{PipelineBuilder, PipelineLayer};
use crate::quota::{Month, Operation, QuotaDegradeLayer, QuotaPlans, QuotaUsage};
use crate::scope::ProjectScopeLayer;
use crate::store::StoreError;

/// The quota stage of a deployment.
pub type DeploymentQuotaLayer = QuotaDegradeLayer<DeploymentQuotas, DeploymentClassifier>;

/// The six stages of a deployment as one layer, outermost first: health, audit, auth, scope,
/// rate limit, quota.
pub type DeploymentLayer = PipelineLayer<
    Stack<
        DeploymentQuotaLayer,
        Stack<
            SlidingWindowRateLimitLayer<DeploymentLimits>,
            Stack<
                ProjectScopeLayer,
                Stack<
                    ApiKeyAuthLayer<DeploymentKeys>,
                    Stack<AuditRecordLayer, Stack<HealthRouteLayer, Identity>>,
                >,
            >,
        >,
    >,
>;

/// The stages of a deployment one by one, configured, for a [`PipelineBuilder`] of the
/// application's own (e.g. a `TraceLayer` between health and audit):
///
/// ```no_run
/// # async fn run(deployment: memorysync_pipeline::deployment::Deployment) {
/// use memorysync_pipeline::pipeline::PipelineBuilder;
/// let stages = deployment.stages();
/// let layer = PipelineBuilder::new()
///     .stage(stages.health)
///     .layer(tower::layer::util::Identity::new()) // e.g. tower_http's TraceLayer
///     .stage(stages.audit)
///     .stage(stages.auth)
///     .stage(stages.scope)
///     .stage(stages.limit)
///     .stage(stages.quota)
///     .into_layer();
/// # let _ = layer; }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DeploymentStages {
    /// 1: `/health`, with every check of the deployment.
    pub health: HealthRouteLayer,
    /// 2: the audit record of every call.
    pub audit: AuditRecordLayer,
    /// 3: API-key authentication.
    pub auth: ApiKeyAuthLayer<DeploymentKeys>,
    /// 4: project and environment scoping.
    pub scope: ProjectScopeLayer,
    /// 5: per-key sliding-window rate limits.
    pub limit: SlidingWindowRateLimitLayer<DeploymentLimits>,
    /// 6: monthly quotas that degrade silently.
    pub quota: DeploymentQuotaLayer,
}

impl DeploymentStages {
    /// All six, in the contract's order, as one layer.
    pub fn into_layer(self) -> DeploymentLayer {
        PipelineBuilder::new()
            .stage(self.health)
            .stage(self.audit)
            .stage(self.auth)
            .stage(self.scope)
            .stage(self.limit)
            .stage(self.quota)
            .into_layer()
    }
}

/// A running pipeline built from a config: its stages, its stores and its background work
/// (audit writer, webhook worker). Stop it with [`Deployment::shutdown`].
pub struct Deployment {
    stages: DeploymentStages,
    keys: Arc<DeploymentKeys>,
    tombstones: DeploymentTombstones,
    audit: AuditLog,
    webhooks: Option<DeploymentWebhooks>,
    /// The webhook endpoints and the attempt log.
    webhook_parts: endpoints::WebhookParts,
    instance: Arc<str>,
    fallback_dirs: Vec<PathBuf>,
    /// The config file last reconciled, and the lease of a reconciliation under way.
    versions: DeploymentConfigVersions,
    /// One reconciliation at a time in this process.
    reconciling: tokio::sync::Mutex<()>,
    /// The file's plans and the store's, and the quota stage they are put in force in.
    plan_book: Arc<plans::PlanBook>,
    clock: SharedClock,
    environment: Environment,
}

impl std::fmt::Debug for Deployment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployment")
            .field("stages", &self.stages)
            .field("keys", &self.keys)
            .field("tombstones", &self.tombstones)
            .field("audit", &self.audit)
            .field("webhooks", &self.webhooks)
            .field("instance", &self.instance)
            .field("versions", &self.versions)
            .field("plans", &self.plan_book.store)
            .finish_non_exhaustive()
    }
}

impl Deployment {
    /// Builds every stage and store the config describes and starts the audit writer and the
    /// webhook worker, on the current tokio runtime.
    ///
    /// # Errors
    /// [`StartError`]: what the operator has to fix, e.g. an unreachable Redis, an audit
    /// directory another process writes, a webhook secret variable that is not set.
    pub async fn start(config: &Config, options: DeploymentOptions) -> Result<Self, StartError> {
        assemble::start(config, options).await
    }

    /// The six stages as one layer; wrap the finished application with
    /// [`PipelineLayer::around`].
    pub fn layer(&self) -> DeploymentLayer {
        self.stages.clone().into_layer()
    }

    /// The stages one by one, for custom placement.
    pub fn stages(&self) -> DeploymentStages {
        self.stages.clone()
    }

    /// The key store the auth stage reads: add, revoke, read usage.
    pub fn keys(&self) -> &Arc<DeploymentKeys> {
        &self.keys
    }

    /// A project's use of `operation` in `month` against its plan; `None` when it has no plan.
    ///
    /// # Errors
    /// The quota store did not answer.
    pub async fn quota_usage(
        &self,
        project: &str,
        operation: Operation,
        month: Month,
    ) -> Result<Option<QuotaUsage>, StoreError> {
        self.stages.quota.usage(project, operation, month).await
    }

    /// The plans in force, each with its owner: the API's as last read from the store
    /// ([`Deployment::set_plan`]), and the config's `[[projects]]` as last reconciled for every
    /// other project.
    pub fn plans(&self) -> Arc<QuotaPlans> {
        self.stages.quota.plans()
    }

    /// The webhook dispatcher: always there with the `webhook-client` feature (endpoints may
    /// be added at run time, see [`Deployment::endpoints`]); `None` without it.
    pub fn webhooks(&self) -> Option<&DeploymentWebhooks> {
        self.webhooks.as_ref()
    }

    /// The audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// The tombstones: a handler that deletes a record leaves one here (it also finds them in
    /// its request's extensions).
    pub fn tombstones(&self) -> &DeploymentTombstones {
        &self.tombstones
    }

    /// The embedded store, on `store.backend = "embedded"`: for an online backup
    /// ([`EmbeddedStore::backup`](crate::embedded_store::EmbeddedStore::backup)).
    #[cfg(feature = "embedded")]
    pub fn embedded_store(&self) -> Option<&crate::embedded_store::EmbeddedStore> {
        match &*self.keys {
            DeploymentKeys::Embedded(keys) => Some(keys.store()),
            _ => None,
        }
    }

    /// This process's audit chain name.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The clock every stage reads.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The deployment's environment: the keys its authentication accepts.
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// Stops within `grace`: webhook events still in the process go into the queue and
    /// deliveries in flight finish, within half of it (at most 10 s; the rest stay queued), and
    /// events the queue did not take by then are written to a fallback file
    /// (`webhooks-unqueued-<millis>-<pid>.jsonl` beside the audit directory, else in the
    /// temporary directory; its path is logged and in the report). Then what the shared stores
    /// still hold is written (the embedded store writes its exact quota counts and the last
    /// usage, and closes), then the audit log is flushed and closed with what is left. Call it
    /// once requests have stopped.
    ///
    /// # Errors
    /// [`AuditLoss`] when audit events could be kept neither in the log nor in a fallback file.
    pub async fn shutdown(&self, grace: Duration) -> Result<ShutdownReport, AuditLoss> {
        let deadline = Instant::now() + grace;
        let (webhooks, (unqueued_webhooks, lost_webhooks)) = match &self.webhooks {
            Some(webhooks) => {
                let left = deadline.saturating_duration_since(Instant::now());
                let unqueued = webhooks
                    .shutdown((left / 2).min(shutdown::WEBHOOK_GRACE))
                    .await;
                let kept = unqueued::keep_unqueued(&unqueued, &self.fallback_dirs);
                (Some(webhooks.stats()), kept)
            }
            None => (None, (None, 0)),
        };
        #[cfg(feature = "redis")]
        if let (DeploymentKeys::Redis(keys), DeploymentQuotas::Redis(quotas)) =
            (&*self.keys, &**self.stages.quota.store())
        {
            redis::settle(keys, quotas, deadline).await;
        }
        #[cfg(feature = "embedded")]
        if let Some(store) = self.embedded_store() {
            // The exact quota counts and the last usage, so a clean stop forfeits nothing.
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, store.close()).await.is_err() {
                tracing::warn!("the embedded store did not close before the shutdown deadline");
            }
        }
        let unwritten = self
            .audit
            .close(deadline.saturating_duration_since(Instant::now()))
            .await;
        let report = ShutdownReport {
            webhooks,
            audit: self.audit.stats(),
            unwritten: None,
            unqueued_webhooks,
            lost_webhooks,
        };
        shutdown::keep_unwritten(&unwritten, &self.fallback_dirs, report)
    }
}
