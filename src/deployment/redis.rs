//! `store.backend = "redis"`: keys and their usage, rate-limit windows, quota counters,
//! tombstones, the admin API's plans, the audit stream and the webhook queue, shared by every instance through one
//! connection, each store behind the configured `store.on_store_error` fallback.

use std::time::Duration;

use tokio::time::Instant;

use super::StartError;
use crate::config::{Config, RedisTarget};
use crate::key::LastKnownKeys;
use crate::limit::SlidingWindowLimiter;
use crate::quota::MemoryQuotaStore;
use crate::redis_store::{
    AUDIT_LEASE, EpochStart, RedisAuditSink, RedisConfigVersions, RedisConnection, RedisKeyStore,
    RedisOptions, RedisPlanStore, RedisQuotaStore, RedisRateLimitStore, RedisTombstones,
    RedisWebhookQueue,
};
use crate::store::WithFallback;

/// How often a held audit lease is asked for again while waiting at startup.
const LEASE_RETRY: Duration = Duration::from_millis(500);

/// The connection every shared store of this process uses.
pub(super) struct SharedStores {
    connection: RedisConnection,
    url: RedisTarget,
    tombstones: RedisTombstones,
}

impl SharedStores {
    pub(super) async fn connect(config: &Config) -> Result<SharedStores, StartError> {
        let url = config.store.redis_url.clone().ok_or_else(|| {
            StartError::Unsupported("store.backend = \"redis\" needs store.redis_url".into())
        })?;
        let connection = RedisConnection::connect_to(&url, RedisOptions::default())
            .await
            .map_err(StartError::Store)?;
        let epoch = connection.watch_epoch().await.map_err(StartError::Store)?;
        log_epoch(&epoch);
        let tombstones = RedisTombstones::new(connection.clone(), config.audit.tombstone_period);
        Ok(SharedStores {
            connection,
            url,
            tombstones,
        })
    }

    /// Whether Redis had lost its data when this process started: then nothing may be written
    /// to it before a reseed, not even the config's keys.
    pub(super) fn data_lost(&self) -> bool {
        self.connection.data_lost()
    }

    pub(super) fn connection(&self) -> &RedisConnection {
        &self.connection
    }

    pub(super) fn tombstones(&self) -> RedisTombstones {
        self.tombstones.clone()
    }

    pub(super) fn keys(&self, config: &Config) -> WithFallback<RedisKeyStore, LastKnownKeys> {
        let store = RedisKeyStore::with_tombstones(self.connection.clone(), self.tombstones());
        WithFallback::new(store, config.store.on_store_error)
    }

    pub(super) fn limits(
        &self,
        config: &Config,
    ) -> WithFallback<RedisRateLimitStore, SlidingWindowLimiter> {
        let store = RedisRateLimitStore::new(self.connection.clone());
        WithFallback::new(store, config.store.on_store_error)
    }

    pub(super) fn quotas(
        &self,
        config: &Config,
    ) -> WithFallback<RedisQuotaStore, MemoryQuotaStore> {
        let mut store = RedisQuotaStore::new(self.connection.clone());
        if let Some(wait) = config.store.quota_replica_wait {
            store = store.with_replica_wait(wait);
        }
        WithFallback::new(store, config.store.on_store_error)
    }

    pub(super) fn config_versions(&self) -> RedisConfigVersions {
        RedisConfigVersions::new(self.connection.clone())
    }

    pub(super) fn plans(&self) -> RedisPlanStore {
        RedisPlanStore::new(self.connection.clone())
    }

    pub(super) fn webhook_queue(&self) -> RedisWebhookQueue {
        RedisWebhookQueue::new(self.connection.clone())
    }

    /// The audit stream of this instance, `audit:<instance>` under the store's prefix: one hash
    /// chain per writer, so instances never interleave in one chain, and a restart under the
    /// same name continues its chain. The stream's lease refuses a second live writer; a lease
    /// held at startup is waited for up to one lease time, since after a crash it is the dead
    /// process's and expires within that.
    pub(super) async fn audit_sink(&self, instance: &str) -> Result<RedisAuditSink, StartError> {
        let options = self.connection.options();
        let stream = format!("audit:{instance}");
        let deadline = Instant::now() + AUDIT_LEASE + Duration::from_secs(1);
        loop {
            let sink = RedisAuditSink::open_target(&self.url, &options.prefix, options.timeout)
                .map_err(StartError::Audit)?;
            match sink.with_stream(&stream).take_lease() {
                Ok(sink) => return Ok(sink),
                Err(error)
                    if error.kind() == std::io::ErrorKind::WouldBlock
                        && Instant::now() < deadline =>
                {
                    tracing::warn!(%error, "waiting for the audit stream's lease");
                    tokio::time::sleep(LEASE_RETRY).await;
                }
                Err(error) => return Err(StartError::Audit(error)),
            }
        }
    }
}

/// One line on what this process found in Redis: the epoch it joined, the one it seeded, or
/// a loss it must not seed over.
fn log_epoch(start: &EpochStart) {
    match start {
        EpochStart::Joined(epoch) => {
            tracing::debug!(epoch = epoch.id(), "joined the epoch of redis")
        }
        EpochStart::Seeded(epoch) => tracing::info!(
            epoch = epoch.id(),
            "redis held no epoch marker: seeded it (a first start)"
        ),
        EpochStart::Lost => tracing::warn!(
            "redis lost its data (an instance reported it): not seeding over the loss; \
             applying store.on_store_error until `memorysync store reseed`"
        ),
    }
}

/// Writes what the shared stores still hold in this process (key usage counted since the last
/// tick, quota refunds in flight) before `deadline`.
pub(super) async fn settle(
    keys: &WithFallback<RedisKeyStore, LastKnownKeys>,
    quotas: &WithFallback<RedisQuotaStore, MemoryQuotaStore>,
    deadline: Instant,
) {
    let settled = async {
        if let Err(error) = keys.get_ref().flush_usage().await {
            tracing::warn!(%error, "key usage not written at shutdown");
        }
        quotas.get_ref().settle_refunds().await;
    };
    if tokio::time::timeout_at(deadline, settled).await.is_err() {
        tracing::warn!("the shared stores did not settle before the shutdown deadline");
    }
}
