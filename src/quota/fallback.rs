//! What the quota stage does while its shared store does not answer: the configured
//! [`StoreErrorPolicy`], through [`WithFallback`].
//!
//! - `local`: this instance counts on its own [`MemoryQuotaStore`] meanwhile, so each instance
//!   holds the plan on its own (together they may go past it by the instances' count) and an
//!   alert may fire again locally.
//! - `allow`: every request is served and nothing is counted; no alert fires.
//! - `deny`: 503 `store_unavailable`.
//!
//! A refund goes to the store in use when it is made: a unit reserved just before an outage
//! and refunded during it is given back locally (the shared counter keeps it), the safe side.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{AlertThresholds, MemoryQuotaStore, QuotaKey, QuotaStore, Reservation};
use crate::store::fallback::by_policy;
use crate::store::{StoreError, StoreErrorPolicy, WithFallback};

impl<S: QuotaStore> QuotaStore for WithFallback<S, MemoryQuotaStore> {
    type Reserve = Pin<Box<dyn Future<Output = Result<Reservation, StoreError>> + Send>>;

    fn reserve(&self, key: &QuotaKey, limit: u64, thresholds: AlertThresholds) -> Self::Reserve {
        let (shared, probe_key) = (Arc::clone(&self.primary), key.clone());
        let shard = self.primary.outage_shard(key);
        let primary = self.breaker.attempt(
            shard,
            self.policy,
            || self.primary.reserve(key, limit, thresholds),
            // The request was answered locally: the unit a probe took goes back.
            move |answer| {
                if let Ok(Reservation::Reserved { .. }) = answer {
                    shared.refund(&probe_key);
                }
            },
        );
        let (local, policy, breaker) = (
            Arc::clone(&self.local),
            self.policy,
            Arc::clone(&self.breaker),
        );
        let key = key.clone();
        Box::pin(async move {
            let answer = breaker.answer(shard, policy, primary).await;
            let local = || local.reserve(&key, limit, thresholds);
            // Served and not counted: no unit, no alert.
            let unchecked = || Reservation::Reserved {
                used: 0,
                alerts: AlertThresholds::NONE,
            };
            by_policy(answer, policy, local, unchecked).await
        })
    }

    fn refund(&self, key: &QuotaKey) {
        match (
            self.breaker.is_open_for(self.primary.outage_shard(key)),
            self.policy,
        ) {
            (false, _) => self.primary.refund(key),
            (true, StoreErrorPolicy::Local) => self.local.refund(key),
            // Nothing was counted under `allow`; nothing was reserved under `deny`.
            (true, _) => {}
        }
    }

    fn used(&self, key: &QuotaKey) -> impl Future<Output = Result<u64, StoreError>> + Send {
        // A read: asked directly unless an outage is known, never as a probe.
        let shard = self.primary.outage_shard(key);
        let primary = (!self.breaker.is_open_for(shard)).then(|| self.primary.used(key));
        let (local, policy, breaker) = (
            Arc::clone(&self.local),
            self.policy,
            Arc::clone(&self.breaker),
        );
        let key = key.clone();
        async move {
            match (breaker.answer(shard, policy, primary).await, policy) {
                (Err(_), StoreErrorPolicy::Local) => local.used(&key).await,
                (answer, _) => answer,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::{Ready, ready};
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::quota::{Month, Operation};

    /// A shared store that is down until `up` is set, then counts on a memory store.
    #[derive(Default)]
    struct Flaky {
        up: AtomicBool,
        counters: MemoryQuotaStore,
    }

    impl QuotaStore for Arc<Flaky> {
        type Reserve = Ready<Result<Reservation, StoreError>>;
        fn reserve(
            &self,
            key: &QuotaKey,
            limit: u64,
            thresholds: AlertThresholds,
        ) -> Self::Reserve {
            if !self.up.load(Ordering::Relaxed) {
                return ready(Err(StoreError::new("down")));
            }
            self.counters.reserve(key, limit, thresholds)
        }
        fn refund(&self, key: &QuotaKey) {
            self.counters.refund(key);
        }
        fn used(&self, key: &QuotaKey) -> impl Future<Output = Result<u64, StoreError>> + Send {
            let up = self.up.load(Ordering::Relaxed);
            let used = self.counters.used(key);
            async move {
                if up {
                    used.await
                } else {
                    Err(StoreError::new("down"))
                }
            }
        }
    }

    fn key() -> QuotaKey {
        QuotaKey {
            project: Arc::from("proj"),
            operation: Operation::Add,
            month: Month::new(2026, 11).unwrap(),
        }
    }

    async fn reserve_three(
        store: &WithFallback<Arc<Flaky>, MemoryQuotaStore>,
    ) -> Vec<Result<Reservation, StoreError>> {
        let mut answers = Vec::new();
        for _ in 0..3 {
            answers.push(store.reserve(&key(), 2, AlertThresholds::standard()).await);
        }
        answers
    }

    #[tokio::test(start_paused = true)]
    async fn local_counts_per_instance_during_the_outage_and_the_shared_store_takes_over_after() {
        let shared = Arc::new(Flaky::default());
        let store = WithFallback::new(Arc::clone(&shared), StoreErrorPolicy::Local);
        let answers = reserve_three(&store).await;
        assert!(matches!(
            answers[0],
            Ok(Reservation::Reserved { used: 1, .. })
        ));
        assert!(matches!(
            answers[1],
            Ok(Reservation::Reserved { used: 2, .. })
        ));
        assert_eq!(
            answers[2],
            Ok(Reservation::Exhausted),
            "the plan holds locally"
        );
        assert!(store.is_failing());
        assert_eq!(
            store.used(&key()).await,
            Ok(2),
            "used reads the local count meanwhile"
        );

        shared.up.store(true, Ordering::Relaxed);
        let skipped = store.reserve(&key(), 2, AlertThresholds::standard()).await;
        assert_eq!(
            skipped,
            Ok(Reservation::Exhausted),
            "not tried again before the probe time"
        );
        tokio::time::advance(crate::store::breaker::PROBE_EVERY).await;
        let probing = store.reserve(&key(), 2, AlertThresholds::standard()).await;
        assert_eq!(
            probing,
            Ok(Reservation::Exhausted),
            "answered locally, not waiting for the probe"
        );
        tokio::task::yield_now().await;
        assert!(
            !store.is_failing(),
            "the background probe found the store back"
        );
        assert_eq!(
            shared.counters.used(&key()).await,
            Ok(0),
            "the probe's unit was given back"
        );
        let after = store.reserve(&key(), 2, AlertThresholds::standard()).await;
        assert!(
            matches!(after, Ok(Reservation::Reserved { used: 1, .. })),
            "{after:?}"
        );
        assert!(!store.is_failing(), "recovered by itself");
        store.refund(&key());
        assert_eq!(
            shared.counters.used(&key()).await,
            Ok(0),
            "the refund went to the shared store"
        );
    }

    #[tokio::test]
    async fn allow_serves_without_counting_or_alerting_and_deny_refuses() {
        let allow = WithFallback::new(Arc::new(Flaky::default()), StoreErrorPolicy::Allow);
        for answer in reserve_three(&allow).await {
            assert_eq!(
                answer,
                Ok(Reservation::Reserved {
                    used: 0,
                    alerts: AlertThresholds::NONE
                })
            );
        }
        allow.refund(&key());
        assert!(
            allow.used(&key()).await.is_err(),
            "nothing local to report under allow"
        );

        let deny = WithFallback::new(Arc::new(Flaky::default()), StoreErrorPolicy::Deny);
        assert!(reserve_three(&deny).await.iter().all(Result::is_err));
    }
}
