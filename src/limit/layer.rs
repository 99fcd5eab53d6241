use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::{RateLimitStore, SlidingWindowLimiter, SlidingWindowRateLimit};
use crate::clock::{Clock, SharedClock, system_clock};

/// Applies [`SlidingWindowRateLimit`]. Cheap to clone: the store sits behind an `Arc`, and clones
/// share its windows.
#[must_use]
pub struct SlidingWindowRateLimitLayer<S = SlidingWindowLimiter> {
    pub(super) store: Arc<S>,
    pub(super) clock: SharedClock,
}

impl SlidingWindowRateLimitLayer {
    /// Per-key limits on an in-memory limiter tracking up to
    /// [`SlidingWindowLimiter::DEFAULT_MAX_KEYS`] keys.
    pub fn new() -> Self {
        Self::from_store(SlidingWindowLimiter::default())
    }
}

impl Default for SlidingWindowRateLimitLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: RateLimitStore> SlidingWindowRateLimitLayer<S> {
    /// Per-key limits kept in `store`.
    pub fn from_store(store: S) -> Self {
        Self::from_shared_store(Arc::new(store))
    }

    /// Like [`SlidingWindowRateLimitLayer::from_store`], for a store the application also holds.
    pub fn from_shared_store(store: Arc<S>) -> Self {
        SlidingWindowRateLimitLayer {
            store,
            clock: system_clock(),
        }
    }

    /// Reads time from `clock`.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }
}

impl<S> Clone for SlidingWindowRateLimitLayer<S> {
    fn clone(&self) -> Self {
        SlidingWindowRateLimitLayer {
            store: Arc::clone(&self.store),
            clock: Arc::clone(&self.clock),
        }
    }
}

impl<S> fmt::Debug for SlidingWindowRateLimitLayer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlidingWindowRateLimitLayer")
            .finish_non_exhaustive()
    }
}

impl<Inner, S> Layer<Inner> for SlidingWindowRateLimitLayer<S> {
    type Service = SlidingWindowRateLimit<Inner, S>;

    fn layer(&self, inner: Inner) -> Self::Service {
        SlidingWindowRateLimit {
            inner,
            layer: self.clone(),
        }
    }
}
