use std::future::{Future, Ready, ready};

use super::SlidingWindowLimiter;
use super::limits::{Decision, Limits};
use crate::clock::Timestamp;
use crate::store::StoreError;

/// Where the windows of every key live. One call decides and records, atomically per key.
///
/// The decision future is an associated type so that the in-memory limiter answers with
/// [`Ready`] and the stage holds it inline: no allocation, no boxing.
pub trait RateLimitStore: Send + Sync + 'static {
    /// The future of [`RateLimitStore::check`].
    type Check: Future<Output = Result<Decision, StoreError>> + Send + 'static;

    /// Admits or refuses one request of the key `key_id` at `now` under `limits`, and records it
    /// when admitted.
    fn check(&self, key_id: &str, limits: Limits, now: Timestamp) -> Self::Check;

    /// Which part of the store `key_id`'s windows live in, for a store spread over several
    /// servers that fail apart (a Redis Cluster: the hash slot). While one part does not
    /// answer, [`WithFallback`](crate::store::WithFallback) applies the outage policy to the
    /// keys of that part only. One server: 0, the default.
    fn outage_shard(&self, key_id: &str) -> usize {
        let _ = key_id;
        0
    }
}

impl RateLimitStore for SlidingWindowLimiter {
    type Check = Ready<Result<Decision, StoreError>>;

    fn check(&self, key_id: &str, limits: Limits, now: Timestamp) -> Self::Check {
        ready(Ok(SlidingWindowLimiter::check(self, key_id, limits, now)))
    }
}
