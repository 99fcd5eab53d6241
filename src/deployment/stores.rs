//! The deployment's stores: each an enum over the backends `store.backend` chooses between.

use std::future::Future;
use std::sync::Arc;

use super::BackendFuture;
use super::backend::{BoxedStoreFuture, backend_future, on_backend};
use crate::clock::Timestamp;
#[cfg(feature = "embedded")]
use crate::embedded_store::{EmbeddedKeyStore, EmbeddedQuotaStore, EmbeddedTombstones};
use crate::key::{
    KeyEntry, KeyHash, KeyRecord, KeyStore, KeyStoreError, KeyUsage, MemoryKeyStore, Upserted,
};
use crate::limit::{Decision, Limits, RateLimitStore, SlidingWindowLimiter};
use crate::quota::{AlertThresholds, MemoryQuotaStore, QuotaKey, QuotaStore, Reservation};
use crate::store::{
    AppliedConfig, ConfigClaim, ConfigVersionStore, MemoryConfigVersions, RecordOwner, StoreError,
};
use crate::tombstone::{MemoryTombstones, TombstoneKind, TombstoneStore};
#[cfg(feature = "redis")]
use crate::{
    key::LastKnownKeys,
    redis_store::{
        RedisConfigVersions, RedisKeyStore, RedisQuotaStore, RedisRateLimitStore, RedisTombstones,
    },
    store::WithFallback,
};

/// The key store of a deployment: in memory, or shared in Redis behind the configured
/// `store.on_store_error` fallback.
#[derive(Debug)]
#[non_exhaustive]
pub enum DeploymentKeys {
    /// `store.backend = "memory"`.
    Memory(MemoryKeyStore),
    /// `store.backend = "redis"`.
    #[cfg(feature = "redis")]
    Redis(WithFallback<RedisKeyStore, LastKnownKeys>),
    /// `store.backend = "embedded"`: answered from memory, every change on disk first.
    #[cfg(feature = "embedded")]
    Embedded(EmbeddedKeyStore),
}

impl KeyStore for DeploymentKeys {
    type Lookup = BackendFuture<
        <MemoryKeyStore as KeyStore>::Lookup,
        BoxedStoreFuture<Option<Arc<KeyEntry>>>,
    >;

    fn find_by_hash(&self, hash: &KeyHash) -> Self::Lookup {
        backend_future!(self, store => store.find_by_hash(hash))
    }

    fn record_use(&self, entry: &KeyEntry, at: Timestamp) {
        on_backend!(self, store => store.record_use(entry, at))
    }

    async fn insert(&self, record: KeyRecord, now: Timestamp) -> Result<(), KeyStoreError> {
        on_backend!(self, store => store.insert(record, now).await)
    }

    async fn revoke(&self, id: &str, at: Timestamp) -> Result<(), KeyStoreError> {
        on_backend!(self, store => store.revoke(id, at).await)
    }

    async fn usage(&self, id: &str) -> Result<KeyUsage, KeyStoreError> {
        on_backend!(self, store => store.usage(id).await)
    }

    async fn record(&self, id: &str) -> Result<Option<KeyRecord>, KeyStoreError> {
        on_backend!(self, store => store.record(id).await)
    }

    async fn upsert(&self, record: KeyRecord, now: Timestamp) -> Result<Upserted, KeyStoreError> {
        on_backend!(self, store => store.upsert(record, now).await)
    }

    async fn owned_records(&self, owner: RecordOwner) -> Result<Vec<KeyRecord>, KeyStoreError> {
        on_backend!(self, store => store.owned_records(owner).await)
    }
}

/// The rate-limit windows of a deployment. The embedded backend keeps them in memory
/// (`Memory`): they are seconds long, and a restart costs a key at most one window.
#[derive(Debug)]
#[non_exhaustive]
pub enum DeploymentLimits {
    /// `store.backend = "memory"`: this process's windows.
    Memory(SlidingWindowLimiter),
    /// `store.backend = "redis"`: windows every instance shares.
    #[cfg(feature = "redis")]
    Redis(WithFallback<RedisRateLimitStore, SlidingWindowLimiter>),
}

impl RateLimitStore for DeploymentLimits {
    type Check =
        BackendFuture<<SlidingWindowLimiter as RateLimitStore>::Check, BoxedStoreFuture<Decision>>;

    fn check(&self, key_id: &str, limits: Limits, now: Timestamp) -> Self::Check {
        // By hand: there is no embedded variant for `backend_future!` to name.
        match self {
            Self::Memory(store) => BackendFuture::Memory {
                future: RateLimitStore::check(store, key_id, limits, now),
            },
            #[cfg(feature = "redis")]
            Self::Redis(store) => BackendFuture::Shared {
                future: RateLimitStore::check(store, key_id, limits, now),
            },
        }
    }
}

/// The quota counters of a deployment.
#[derive(Debug)]
#[non_exhaustive]
pub enum DeploymentQuotas {
    /// `store.backend = "memory"`.
    Memory(MemoryQuotaStore),
    /// `store.backend = "redis"`: counters every instance shares.
    #[cfg(feature = "redis")]
    Redis(WithFallback<RedisQuotaStore, MemoryQuotaStore>),
    /// `store.backend = "embedded"`: counted in memory, units reserved on disk in blocks.
    #[cfg(feature = "embedded")]
    Embedded(EmbeddedQuotaStore),
}

impl QuotaStore for DeploymentQuotas {
    type Reserve =
        BackendFuture<<MemoryQuotaStore as QuotaStore>::Reserve, BoxedStoreFuture<Reservation>>;

    fn reserve(&self, key: &QuotaKey, limit: u64, thresholds: AlertThresholds) -> Self::Reserve {
        backend_future!(self, store => store.reserve(key, limit, thresholds))
    }

    fn refund(&self, key: &QuotaKey) {
        on_backend!(self, store => store.refund(key))
    }

    fn used(&self, key: &QuotaKey) -> impl Future<Output = Result<u64, StoreError>> + Send {
        // Not `async fn`: the returned future must not borrow `key` past the call.
        let key = key.clone();
        async move { on_backend!(self, store => store.used(&key).await) }
    }
}

/// The tombstones of a deployment: one set shared by the key store, the audit log's expiry and
/// the handlers (which find it in the request extensions).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum DeploymentTombstones {
    /// `store.backend = "memory"`: purged by the audit log's expiry.
    Memory(MemoryTombstones),
    /// `store.backend = "redis"`: expired by Redis itself.
    #[cfg(feature = "redis")]
    Redis(RedisTombstones),
    /// `store.backend = "embedded"`: each committed to disk before `leave` returns.
    #[cfg(feature = "embedded")]
    Embedded(EmbeddedTombstones),
}

impl TombstoneStore for DeploymentTombstones {
    async fn leave(&self, kind: TombstoneKind, id: &str, at: Timestamp) -> Result<(), StoreError> {
        on_backend!(self, store => store.leave(kind, id, at).await)
    }

    async fn contains(
        &self,
        kind: TombstoneKind,
        id: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        on_backend!(self, store => store.contains(kind, id, now).await)
    }

    async fn purge_expired(&self, now: Timestamp) -> Result<usize, StoreError> {
        on_backend!(self, store => store.purge_expired(now).await)
    }
}

/// Where a deployment keeps the config file it last reconciled, and the reconciliation lease:
/// beside the key records, so that both are as durable and as shared as they are.
#[derive(Debug)]
#[non_exhaustive]
pub enum DeploymentConfigVersions {
    /// `store.backend = "memory"`: kept by the deployment.
    Memory(MemoryConfigVersions),
    /// `store.backend = "redis"`: shared by every instance.
    #[cfg(feature = "redis")]
    Redis(RedisConfigVersions),
    /// `store.backend = "embedded"`: in the store's database.
    #[cfg(feature = "embedded")]
    Embedded(crate::embedded_store::EmbeddedConfigVersions),
}

impl ConfigVersionStore for DeploymentConfigVersions {
    async fn claim(
        &self,
        file: AppliedConfig,
        holder: &str,
        lease: std::time::Duration,
    ) -> Result<ConfigClaim, StoreError> {
        on_backend!(self, store => store.claim(file, holder, lease).await)
    }

    async fn release(&self, holder: &str) -> Result<(), StoreError> {
        on_backend!(self, store => store.release(holder).await)
    }

    async fn applied(&self) -> Result<Option<AppliedConfig>, StoreError> {
        on_backend!(self, store => store.applied().await)
    }
}
