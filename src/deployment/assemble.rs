//! [`Deployment::start`]: the stores `store.backend` names, the audit log, the webhooks, the
//! stages over them, then the config reconciled with the stores.

use std::sync::Arc;

use super::endpoints::DeploymentEndpointStore;
use super::options::{AuditStarter, DeploymentOptions};
use super::{
    Deployment, DeploymentClassifier, DeploymentConfigVersions, DeploymentKeys, DeploymentLimits,
    DeploymentPlans, DeploymentQueue, DeploymentQuotas, DeploymentStages, DeploymentTombstones,
    ReconcileError, StartError, audit, endpoints, plans, shutdown, webhooks,
};
use crate::TrustedProxies;
use crate::audit::{AuditLog, AuditRecordLayer};
use crate::auth::ApiKeyAuthLayer;
use crate::clock::SharedClock;
use crate::config::{Config, StoreBackend};
use crate::health::HealthRouteLayer;
use crate::key::MemoryKeyStore;
use crate::limit::{SlidingWindowLimiter, SlidingWindowRateLimitLayer};
use crate::quota::{MemoryPlanStore, MemoryQuotaStore, QuotaAlert, QuotaDegradeLayer, QuotaPlans};
use crate::scope::ProjectScopeLayer;
use crate::store::MemoryConfigVersions;
use crate::tombstone::MemoryTombstones;
use crate::webhook::MemoryWebhookQueue;

/// The stores of one backend, before the stages are built over them.
pub(super) struct Stores {
    pub(super) keys: DeploymentKeys,
    pub(super) limits: DeploymentLimits,
    pub(super) quotas: DeploymentQuotas,
    pub(super) tombstones: DeploymentTombstones,
    pub(super) queue: DeploymentQueue,
    pub(super) endpoints: DeploymentEndpointStore,
    pub(super) attempts: super::DeploymentAttempts,
    pub(super) versions: DeploymentConfigVersions,
    pub(super) plans: DeploymentPlans,
    pub(super) audit: AuditLog,
    /// The shared store's own check on `/health`.
    pub(super) health: HealthRouteLayer,
    /// Redis lost its data before this start: the config waits for a reseed.
    pub(super) data_lost: bool,
}

pub(super) async fn start(
    config: &Config,
    options: DeploymentOptions,
) -> Result<Deployment, StartError> {
    let instance = audit::instance_name(config, options.instance.as_deref())?;
    let clock = options.clock.clone();
    let health = config.health_layer().with_clock(SharedClock::clone(&clock));
    let sink = options.audit_sink;
    let stores = match config.store.backend {
        StoreBackend::Memory => memory_stores(config, &clock, health, sink)?,
        StoreBackend::Embedded => super::embedded::stores(config, &clock, health, sink)?,
        StoreBackend::Redis => shared_stores(config, &clock, health, &instance, sink).await?,
    };
    let data_lost = stores.data_lost;
    let file = webhooks::file_endpoints(config, &options.secrets)?;
    let set = crate::webhook::EndpointSet::new(Vec::new());
    let endpoints = endpoints::start(
        config,
        stores.endpoints,
        set.clone(),
        file,
        &options.secrets,
        &clock,
    )
    .await?;
    let webhooks = webhooks::start(config, stores.queue, set, stores.attempts.clone(), &clock)?;
    let mut health = stores.health.with_check(stores.audit.health_check());
    if let Some(webhooks) = &webhooks {
        health = health.with_check(webhooks.health_check());
    }
    for add in options.health_checks {
        health = add(health);
    }
    let alerts = alert_sink(options.alerts, webhooks.as_ref());
    let classifier = options.classifier.map_or_else(
        || DeploymentClassifier::Config(config.quota_classifier()),
        DeploymentClassifier::Custom,
    );
    let keys = Arc::new(stores.keys);
    let proxies = TrustedProxies::new(config.health.trusted_proxies.iter().copied());
    let mut quota = QuotaDegradeLayer::from_store(QuotaPlans::from_config(config), stores.quotas)
        .with_classifier(classifier)
        .with_clock(SharedClock::clone(&clock));
    if let Some(alerts) = alerts {
        quota = quota.with_alerts(move |alert: &QuotaAlert| alerts(alert));
    }
    let stages = DeploymentStages {
        health,
        audit: AuditRecordLayer::new(stores.audit.clone())
            .with_clock(SharedClock::clone(&clock))
            .with_trusted_proxies(proxies)
            .with_tombstones(stores.tombstones.clone()),
        auth: ApiKeyAuthLayer::from_shared_store(Arc::clone(&keys), config.environment)
            .with_clock(SharedClock::clone(&clock)),
        scope: ProjectScopeLayer::new(),
        // Read once: a reload that changes `[limits]` takes effect at the next start.
        limit: SlidingWindowRateLimitLayer::from_store(stores.limits)
            .with_windows(config.limits.windows)
            .with_clock(SharedClock::clone(&clock)),
        quota,
    };
    let plan_book = Arc::new(plans::PlanBook::new(stores.plans, stages.quota.clone()));
    let deployment = Deployment {
        stages,
        keys,
        tombstones: stores.tombstones,
        audit: stores.audit,
        webhooks,
        webhook_parts: endpoints::WebhookParts {
            endpoints,
            attempts: stores.attempts,
        },
        instance: Arc::from(instance),
        fallback_dirs: shutdown::fallback_dirs(config),
        versions: stores.versions,
        reconciling: tokio::sync::Mutex::new(()),
        plan_book,
        clock,
        environment: config.environment,
    };
    // The API's plans before the first request, whatever becomes of the reconciliation.
    match deployment.plan_book.refresh().await {
        Ok(()) => {}
        // Nothing can be read from a Redis that lost its data: the poller picks the plans up
        // once it is reseeded.
        Err(error) if data_lost => {
            tracing::warn!(%error, "starting without the admin API's plans");
        }
        Err(error) => return Err(StartError::Store(error)),
    }
    plans::spawn_poller(&deployment.plan_book);
    if data_lost {
        // Nothing is written into a Redis that lost its data: `memorysync store reseed` writes
        // the file back. The plans are this process's own, in force already.
        tracing::warn!("the config is not reconciled with a redis that lost its data");
        return Ok(deployment);
    }
    match deployment.reconcile(config).await {
        Ok(_) => {}
        // Logged and audited already. The process still serves: the store holds the newer
        // file's keys, and its plans here are the ones it was given until a newer file comes.
        Err(error @ (ReconcileError::Older { .. } | ReconcileError::Conflicting { .. })) => {
            tracing::warn!(%error, "starting with a config file the store refused");
        }
        Err(ReconcileError::Busy) => {
            tracing::warn!("starting while another reconciliation holds the store");
        }
        Err(ReconcileError::Store(error)) => return Err(StartError::Store(error)),
    }
    Ok(deployment)
}

/// Every store in this process's memory; one tombstone set for the key store, the audit log's
/// expiry and the handlers.
fn memory_stores(
    config: &Config,
    clock: &SharedClock,
    health: HealthRouteLayer,
    sink: Option<AuditStarter>,
) -> Result<Stores, StartError> {
    let tombstones = MemoryTombstones::new(config.audit.tombstone_period);
    let settings = audit::settings(config, clock, Some(tombstones.clone()));
    let audit = match sink {
        Some(start) => start(settings).map_err(StartError::Audit)?,
        None => audit::start_local(config, settings)
            .unwrap_or_else(|| Err(StartError::Unsupported("no local audit sink".into())))?,
    };
    Ok(Stores {
        keys: DeploymentKeys::Memory(MemoryKeyStore::with_tombstones(tombstones.clone())),
        limits: DeploymentLimits::Memory(SlidingWindowLimiter::default()),
        quotas: DeploymentQuotas::Memory(MemoryQuotaStore::new()),
        tombstones: DeploymentTombstones::Memory(tombstones),
        queue: DeploymentQueue::Memory(MemoryWebhookQueue::new()),
        endpoints: DeploymentEndpointStore::Memory(Default::default()),
        attempts: super::attempts::memory(config),
        versions: DeploymentConfigVersions::Memory(MemoryConfigVersions::new()),
        plans: DeploymentPlans::Memory(MemoryPlanStore::new()),
        audit,
        health,
        data_lost: false,
    })
}

/// Every store in Redis, each behind `store.on_store_error`; the audit log on this instance's
/// stream unless `audit.dir` keeps it locally.
#[cfg(feature = "redis")]
async fn shared_stores(
    config: &Config,
    clock: &SharedClock,
    health: HealthRouteLayer,
    instance: &str,
    sink: Option<AuditStarter>,
) -> Result<Stores, StartError> {
    let shared = super::redis::SharedStores::connect(config).await?;
    // Redis keeps tombstones by TTL, so the audit log's expiry purges none.
    let settings = audit::settings(config, clock, None);
    let audit = match sink {
        Some(start) => start(settings).map_err(StartError::Audit)?,
        None => match audit::start_local(config, settings.clone()) {
            Some(started) => started?,
            None => AuditLog::start(shared.audit_sink(instance).await?, settings)
                .map_err(StartError::Audit)?,
        },
    };
    Ok(Stores {
        keys: DeploymentKeys::Redis(shared.keys(config)),
        limits: DeploymentLimits::Redis(shared.limits(config)),
        quotas: DeploymentQuotas::Redis(shared.quotas(config)),
        tombstones: DeploymentTombstones::Redis(shared.tombstones()),
        queue: DeploymentQueue::Redis(shared.webhook_queue()),
        endpoints: DeploymentEndpointStore::Redis(crate::redis_store::RedisEndpointStore::new(
            shared.connection().clone(),
        )),
        attempts: super::DeploymentAttempts::Redis(crate::redis_store::RedisAttemptLog::new(
            shared.connection().clone(),
            config.audit.retention,
        )),
        versions: DeploymentConfigVersions::Redis(shared.config_versions()),
        plans: DeploymentPlans::Redis(shared.plans()),
        audit,
        health: health.with_check(shared.connection().health_check()),
        data_lost: shared.data_lost(),
    })
}

#[cfg(not(feature = "redis"))]
async fn shared_stores(
    _config: &Config,
    _clock: &SharedClock,
    _health: HealthRouteLayer,
    _instance: &str,
    _sink: Option<AuditStarter>,
) -> Result<Stores, StartError> {
    Err(StartError::Unsupported(
        "store.backend = \"redis\": build with the `redis` feature".into(),
    ))
}

/// The caller's alert sink and the webhooks' together; `None` when neither is there.
fn alert_sink(
    caller: Option<crate::quota::AlertSink>,
    webhooks: Option<&super::DeploymentWebhooks>,
) -> Option<crate::quota::AlertSink> {
    let publish = webhooks.map(|hooks| hooks.quota_alert_sink());
    match (caller, publish) {
        (None, None) => None,
        (caller, publish) => Some(Arc::new(move |alert: &QuotaAlert| {
            if let Some(caller) = &caller {
                caller(alert);
            }
            if let Some(publish) = &publish {
                publish(alert);
            }
        })),
    }
}
