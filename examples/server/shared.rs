//! `store.backend = "redis"`: keys, rate-limit windows and quotas shared by every instance
//! through Redis (feature `redis`).

use axum::Router;
use memorysync_pipeline::clock::Clock;
use memorysync_pipeline::quota::{QuotaAlert, QuotaPlans};

use crate::app::Stages;

#[cfg(feature = "redis")]
pub(crate) async fn protect<C, A>(
    mut stages: Stages<'_, C, A>,
    api: Router,
    plans: QuotaPlans,
) -> Result<Router, String>
where
    C: Clock + Clone,
    A: Fn(&QuotaAlert) + Send + Sync + 'static,
{
    use memorysync_pipeline::key::{KeyStore, KeyStoreError};
    use memorysync_pipeline::limit::{SlidingWindowRateLimitLayer, WithFallback};
    use memorysync_pipeline::quota::QuotaDegradeLayer;
    use memorysync_pipeline::redis_store::{
        RedisConnection, RedisKeyStore, RedisOptions, RedisQuotaStore, RedisRateLimitStore,
        RedisTombstones,
    };

    let config = stages.config;
    let url = config
        .store
        .redis_url
        .as_deref()
        .ok_or("store.backend = \"redis\" needs store.redis_url")?;
    let connection = RedisConnection::connect(url, RedisOptions::default())
        .await
        .map_err(|e| format!("redis: {e}"))?;
    let tombstones = RedisTombstones::new(connection.clone(), config.audit.tombstone_period);
    let keys = RedisKeyStore::with_tombstones(connection.clone(), tombstones);
    let now = stages.clock.now();
    for record in &config.keys {
        match keys.insert(record.clone(), now).await {
            Ok(()) => {}
            // Loaded by an earlier start or another instance; a revocation added to the file
            // since still applies.
            Err(KeyStoreError::DuplicateId(id)) => {
                if let Some(at) = record.revoked_at {
                    keys.revoke(&id, at).await.map_err(|e| e.to_string())?;
                }
            }
            Err(KeyStoreError::Tombstoned(id)) => {
                tracing::warn!(
                    key = &*id,
                    "config key was revoked before; its tombstone keeps it out"
                );
            }
            Err(error) => return Err(error.to_string()),
        }
    }
    let limiter = WithFallback::new(
        RedisRateLimitStore::new(connection.clone()),
        config.store.on_store_error,
    );
    stages.health = stages.health.with_check(connection.health_check());
    Ok(stages.protect(
        api,
        keys,
        SlidingWindowRateLimitLayer::from_store(limiter),
        QuotaDegradeLayer::from_store(plans, RedisQuotaStore::new(connection)),
    ))
}

#[cfg(not(feature = "redis"))]
pub(crate) async fn protect<C, A>(
    _stages: Stages<'_, C, A>,
    _api: Router,
    _plans: QuotaPlans,
) -> Result<Router, String>
where
    C: Clock + Clone,
    A: Fn(&QuotaAlert) + Send + Sync + 'static,
{
    Err("store.backend = \"redis\": run with `--features redis`".into())
}
