//! A shared store with a policy for its outages, whatever the store holds.

use std::sync::Arc;

use super::breaker::Breaker;
use super::{StoreError, StoreErrorPolicy};

/// A shared store `S` with the configured [`StoreErrorPolicy`] for the time it does not answer:
/// `local` answers from `L`, a per-instance in-memory store, meanwhile (the default); `allow`
/// admits unchecked; `deny` refuses (503 `store_unavailable`).
///
/// It recovers by itself: during an outage no request waits for the shared store; every 250 ms
/// one call is sent to it in the background, and the first answer ends the outage. Under
/// `deny` the request that sends that call waits for it, so the first request after the store
/// is back is served. Stores on one [`RedisConnection`](crate::redis_store::RedisConnection)
/// to one Redis share what they know: the first call to time out makes the others fail at
/// once, so a hung Redis costs a request one call timeout, not one per stage. On a Redis
/// Cluster each hash slot has its own state (the store's `outage_shard`), so a master that is
/// down sends only the requests of its slots to the policy. (A quota
/// unit such a probe takes is given back; a rate-limit probe stays counted in the shared
/// window, one request more for that key, which errs on the strict side.) What was counted locally meanwhile is not copied back: each instance
/// enforced its own limits for that time, which is what `local` promises.
///
/// It implements [`RateLimitStore`](crate::limit::RateLimitStore) over a
/// [`SlidingWindowLimiter`](crate::limit::SlidingWindowLimiter),
/// [`QuotaStore`](crate::quota::QuotaStore) over a
/// [`MemoryQuotaStore`](crate::quota::MemoryQuotaStore) and
/// [`KeyStore`](crate::key::KeyStore) over [`LastKnownKeys`](crate::key::LastKnownKeys) (a key
/// is checked against the record last seen, never admitted unseen). Its futures are boxed: it only ever
/// stands in front of a network store, whose round trip dwarfs the allocation.
#[derive(Debug)]
pub struct WithFallback<S, L> {
    pub(crate) primary: Arc<S>,
    pub(crate) local: Arc<L>,
    pub(crate) policy: StoreErrorPolicy,
    pub(crate) breaker: Arc<Breaker>,
}

impl<S, L> Clone for WithFallback<S, L> {
    fn clone(&self) -> Self {
        WithFallback {
            primary: Arc::clone(&self.primary),
            local: Arc::clone(&self.local),
            policy: self.policy,
            breaker: Arc::clone(&self.breaker),
        }
    }
}

impl<S, L: Default> WithFallback<S, L> {
    /// `primary` with `policy`, and a fresh local store.
    pub fn new(primary: S, policy: StoreErrorPolicy) -> Self {
        Self::with_local(primary, L::default(), policy)
    }
}

impl<S, L> WithFallback<S, L> {
    /// `primary` with `policy`, answering from `local` under [`StoreErrorPolicy::Local`].
    pub fn with_local(primary: S, local: L, policy: StoreErrorPolicy) -> Self {
        WithFallback {
            primary: Arc::new(primary),
            local: Arc::new(local),
            policy,
            breaker: Arc::new(Breaker::new(std::any::type_name::<S>())),
        }
    }

    /// The shared store.
    pub fn get_ref(&self) -> &S {
        &self.primary
    }

    /// Whether the last call found the shared store unavailable.
    pub fn is_failing(&self) -> bool {
        self.breaker.is_open()
    }

    /// The policy applied during outages.
    pub fn policy(&self) -> StoreErrorPolicy {
        self.policy
    }
}

/// A call's answer under `policy`: the shared store's `answer` when it has one; otherwise
/// `local()` under `local`, `allowed()` under `allow`, and the store's error under `deny`.
pub(crate) async fn by_policy<T, F>(
    answer: Result<T, StoreError>,
    policy: StoreErrorPolicy,
    local: impl FnOnce() -> F,
    allowed: impl FnOnce() -> T,
) -> Result<T, StoreError>
where
    F: Future<Output = Result<T, StoreError>>,
{
    match (answer, policy) {
        (Ok(value), _) => Ok(value),
        (Err(_), StoreErrorPolicy::Local) => local().await,
        (Err(_), StoreErrorPolicy::Allow) => Ok(allowed()),
        (Err(error), StoreErrorPolicy::Deny) => Err(error),
    }
}
