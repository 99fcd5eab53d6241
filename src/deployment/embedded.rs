//! `store.backend = "embedded"`: keys, tombstones, usage, quota counters and alert marks, the
//! admin API's plans and the webhook queue in the durable embedded store under `store.path`;
//! rate-limit windows in this process's memory (they are seconds long). The audit log goes to `audit.dir` when set,
//! else to memory, as on the memory backend; the audit chain's instance name is kept in
//! `store.path` when there is no audit directory.

use super::StartError;
use super::assemble::Stores;
use super::options::AuditStarter;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::health::HealthRouteLayer;

/// Opens the store under `store.path` and hands out its stores.
#[cfg(feature = "embedded")]
pub(super) fn stores(
    config: &Config,
    clock: &SharedClock,
    health: HealthRouteLayer,
    sink: Option<AuditStarter>,
) -> Result<Stores, StartError> {
    use super::{
        DeploymentConfigVersions, DeploymentKeys, DeploymentLimits, DeploymentPlans,
        DeploymentQueue, DeploymentQuotas, DeploymentTombstones, audit,
    };
    use crate::embedded_store::{EmbeddedOptions, EmbeddedStore};
    use crate::limit::SlidingWindowLimiter;

    let dir = config.store.path.as_ref().ok_or_else(|| {
        StartError::Unsupported("store.backend = \"embedded\" needs store.path".into())
    })?;
    let options = EmbeddedOptions::new()
        .with_tombstone_period(config.audit.tombstone_period)
        .with_clock(SharedClock::clone(clock));
    let store = EmbeddedStore::open(dir, options).map_err(StartError::Embedded)?;
    let tombstones = store.tombstones();
    // The audit log's expiry purges the in-memory set; the database drops expired ones when
    // the store opens.
    let settings = audit::settings(config, clock, Some(tombstones.in_memory().clone()));
    let audit = match sink {
        Some(start) => start(settings).map_err(StartError::Audit)?,
        None => audit::start_local(config, settings)
            .unwrap_or_else(|| Err(StartError::Unsupported("no local audit sink".into())))?,
    };
    Ok(Stores {
        keys: DeploymentKeys::Embedded(store.keys()),
        limits: DeploymentLimits::Memory(SlidingWindowLimiter::default()),
        quotas: DeploymentQuotas::Embedded(store.quotas()),
        tombstones: DeploymentTombstones::Embedded(tombstones),
        queue: DeploymentQueue::Embedded(store.webhook_queue()),
        endpoints: super::endpoints::DeploymentEndpointStore::Embedded(store.webhook_endpoints()),
        attempts: super::DeploymentAttempts::Embedded(
            store.webhook_attempts(config.audit.retention),
        ),
        versions: DeploymentConfigVersions::Embedded(store.config_versions()),
        plans: DeploymentPlans::Embedded(store.plans()),
        audit,
        health,
        // Only a Redis is watched for a loss of its data.
        data_lost: false,
    })
}

/// Without the feature, the backend is refused rather than replaced by memory.
#[cfg(not(feature = "embedded"))]
pub(super) fn stores(
    _config: &Config,
    _clock: &SharedClock,
    _health: HealthRouteLayer,
    _sink: Option<AuditStarter>,
) -> Result<Stores, StartError> {
    Err(StartError::Unsupported(
        "store.backend = \"embedded\": build with the `embedded` feature".into(),
    ))
}
