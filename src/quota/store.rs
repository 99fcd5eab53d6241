use std::future::Future;
use std::sync::Arc;

use super::{AlertThresholds, Month, Operation};
use crate::store::StoreError;

/// Which counter: a project's use of one operation in one month.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QuotaKey {
    /// The project.
    pub project: Arc<str>,
    /// The operation.
    pub operation: Operation,
    /// The month.
    pub month: Month,
}

/// The answer to a reservation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// One unit reserved; `used` counts it. `alerts` are the thresholds this unit crossed whose
    /// alerts had not fired yet this month: the store marked them, so no other request gets them.
    Reserved {
        /// Units used this month, this one included.
        used: u64,
        /// Thresholds to alert on now.
        alerts: AlertThresholds,
    },
    /// The month's units are all used; the counter was not changed.
    Exhausted,
}

/// Where quota counters and alert-once marks live.
///
/// Reserving is one call that checks, counts and marks alerts together, so a shared store can
/// do it in one round trip and two requests racing for the last unit never both get it.
pub trait QuotaStore: Send + Sync + 'static {
    /// The future of [`QuotaStore::reserve`]. `Unpin`, so that a reservation whose request was
    /// dropped can be finished in the background and its unit given back.
    type Reserve: Future<Output = Result<Reservation, StoreError>> + Send + Unpin + 'static;

    /// Takes one unit of `key` if fewer than `limit` are used, and marks the `thresholds` the
    /// unit crosses that were not marked yet.
    fn reserve(&self, key: &QuotaKey, limit: u64, thresholds: AlertThresholds) -> Self::Reserve;

    /// Gives back a unit taken by [`QuotaStore::reserve`] (the inner service failed). Must not
    /// wait: a store that needs I/O does it in the background.
    fn refund(&self, key: &QuotaKey);

    /// Units used of `key`.
    fn used(&self, key: &QuotaKey) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Which part of the store `key`'s counter lives in, for a store spread over several
    /// servers that fail apart (a Redis Cluster: the hash slot). While one part does not
    /// answer, [`WithFallback`](crate::store::WithFallback) applies the outage policy to the
    /// counters of that part only. One server: 0, the default.
    fn outage_shard(&self, key: &QuotaKey) -> usize {
        let _ = key;
        0
    }
}
