//! `store.backend = "redis"` (feature `redis`): keys and their usage, rate-limit windows,
//! quotas, tombstones, the audit stream and the webhook queue shared by every instance through
//! one Redis. Only the example's memories themselves stay per instance.

use axum::Router;
use memorysync_pipeline::clock::Clock;
use memorysync_pipeline::config::Config;
use memorysync_pipeline::quota::{QuotaAlert, QuotaPlans};

use crate::app::Stages;
use crate::tombstones::Tombstones;
use crate::webhooks::Queue;

#[cfg(feature = "redis")]
pub(crate) use with_redis::Redis;
#[cfg(not(feature = "redis"))]
pub(crate) use without_redis::Redis;

#[cfg(feature = "redis")]
mod with_redis {
    use memorysync_pipeline::key::{KeyStore, KeyStoreError, LastKnownKeys};
    use memorysync_pipeline::limit::{SlidingWindowRateLimitLayer, WithFallback};
    use memorysync_pipeline::quota::QuotaDegradeLayer;
    use memorysync_pipeline::redis_store::{
        RedisAuditSink, RedisConnection, RedisKeyStore, RedisOptions, RedisQuotaStore,
        RedisRateLimitStore, RedisTombstones, RedisWebhookQueue,
    };

    use super::*;
    use memorysync_pipeline::audit::AuditSink;

    /// The connection every shared store of this instance uses.
    pub(crate) struct Redis {
        connection: RedisConnection,
        url: String,
        tombstones: RedisTombstones,
    }

    impl Redis {
        pub(crate) async fn connect(config: &Config) -> Result<Redis, String> {
            let url = config
                .store
                .redis_url
                .clone()
                .ok_or("store.backend = \"redis\" needs store.redis_url")?;
            let connection = RedisConnection::connect(&url, RedisOptions::default())
                .await
                .map_err(|e| format!("redis: {e}"))?;
            let tombstones =
                RedisTombstones::new(connection.clone(), config.audit.tombstone_period);
            Ok(Redis {
                connection,
                url,
                tombstones,
            })
        }

        pub(crate) fn tombstones(&self) -> Tombstones {
            Tombstones::Redis(self.tombstones.clone())
        }

        pub(crate) fn webhook_queue(&self) -> Queue {
            Queue::Redis(RedisWebhookQueue::new(self.connection.clone()))
        }

        /// The audit stream of this instance, `memorysync:audit:<instance>`: one hash chain per
        /// writer, so instances never interleave in one chain, and a restart under the same
        /// name continues its chain. The stream's lease refuses a second live writer; a lease
        /// held at startup is waited for up to one lease time, since after a crash it is the
        /// dead process's and expires within that.
        pub(crate) async fn audit_sink(&self, instance: &str) -> Result<impl AuditSink, String> {
            use memorysync_pipeline::redis_store::AUDIT_LEASE;
            use std::time::Duration;
            let options = self.connection.options();
            let stream = format!("audit:{instance}");
            let deadline = tokio::time::Instant::now() + AUDIT_LEASE + Duration::from_secs(1);
            loop {
                let sink = RedisAuditSink::open(&self.url, &options.prefix, options.timeout)
                    .map_err(|e| format!("audit stream: {e}"))?;
                match sink.with_stream(&stream).take_lease() {
                    Ok(sink) => return Ok(sink),
                    Err(e)
                        if e.kind() == std::io::ErrorKind::WouldBlock
                            && tokio::time::Instant::now() < deadline =>
                    {
                        tracing::warn!(error = %e, "waiting for the audit stream's lease");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    Err(e) => return Err(format!("audit stream: {e}")),
                }
            }
        }

        /// `api` behind the stages on the Redis stores, each following `store.on_store_error`.
        pub(crate) async fn protect<C, A>(
            &self,
            mut stages: Stages<'_, C, A>,
            api: Router,
            plans: QuotaPlans,
        ) -> Result<Router, String>
        where
            C: Clock + Clone,
            A: Fn(&QuotaAlert) + Send + Sync + 'static,
        {
            let config = stages.config;
            let policy = config.store.on_store_error;
            let keys: WithFallback<_, LastKnownKeys> = WithFallback::new(
                RedisKeyStore::with_tombstones(self.connection.clone(), self.tombstones.clone()),
                policy,
            );
            load_keys(&keys, config, stages.clock.now()).await?;
            let limiter =
                WithFallback::new(RedisRateLimitStore::new(self.connection.clone()), policy);
            let quotas = WithFallback::new(RedisQuotaStore::new(self.connection.clone()), policy);
            stages.health = stages.health.with_check(self.connection.health_check());
            Ok(stages.protect(
                api,
                keys,
                SlidingWindowRateLimitLayer::from_store(limiter),
                QuotaDegradeLayer::from_store(plans, quotas),
            ))
        }
    }

    /// Puts the config's keys into Redis. A key loaded by an earlier start or another instance
    /// is left as it is, but a revocation added to the file since still applies.
    async fn load_keys(
        keys: &impl KeyStore,
        config: &Config,
        now: memorysync_pipeline::clock::Timestamp,
    ) -> Result<(), String> {
        for record in &config.keys {
            match keys.insert(record.clone(), now).await {
                Ok(()) => {}
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
        Ok(())
    }
}

#[cfg(not(feature = "redis"))]
mod without_redis {
    use super::*;

    /// Never built: connecting says which feature is missing.
    pub(crate) enum Redis {}

    impl Redis {
        pub(crate) async fn connect(_config: &Config) -> Result<Redis, String> {
            Err("store.backend = \"redis\": run with `--features redis`".into())
        }

        pub(crate) fn tombstones(&self) -> Tombstones {
            match *self {}
        }

        pub(crate) fn webhook_queue(&self) -> Queue {
            match *self {}
        }

        pub(crate) async fn audit_sink(
            &self,
            _instance: &str,
        ) -> Result<memorysync_pipeline::audit::MemoryAuditSink, String> {
            match *self {}
        }

        pub(crate) async fn protect<C, A>(
            &self,
            _stages: Stages<'_, C, A>,
            _api: Router,
            _plans: QuotaPlans,
        ) -> Result<Router, String>
        where
            C: Clock + Clone,
            A: Fn(&QuotaAlert) + Send + Sync + 'static,
        {
            match *self {}
        }
    }
}
