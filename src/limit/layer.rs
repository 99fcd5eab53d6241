use std::fmt;
use std::sync::Arc;

use http::Request;
use tower_layer::Layer;

use super::key::{ByApiKey, ByFn};
use super::{Limits, RateLimitStore, SlidingWindowLimiter, SlidingWindowRateLimit, Windows};
use crate::clock::{Clock, SharedClock, system_clock};

/// Applies [`SlidingWindowRateLimit`]. Cheap to clone: the store sits behind an `Arc`, and clones
/// share its windows.
///
/// `L` is the store of the windows; `K` chooses the windows a request counts against
/// ([`ByApiKey`] unless [`with_key`](Self::with_key) says otherwise).
#[must_use]
pub struct SlidingWindowRateLimitLayer<L = SlidingWindowLimiter, K = ByApiKey> {
    pub(super) store: Arc<L>,
    pub(super) clock: SharedClock,
    pub(super) key: Arc<K>,
    pub(super) limits: Limits,
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

impl<L: RateLimitStore> SlidingWindowRateLimitLayer<L> {
    /// Per-key limits kept in `store`.
    pub fn from_store(store: L) -> Self {
        Self::from_shared_store(Arc::new(store))
    }

    /// Like [`SlidingWindowRateLimitLayer::from_store`], for a store the application also holds.
    pub fn from_shared_store(store: Arc<L>) -> Self {
        SlidingWindowRateLimitLayer {
            store,
            clock: system_clock(),
            key: Arc::new(ByApiKey),
            limits: Limits::default(),
        }
    }
}

impl<L: RateLimitStore, K> SlidingWindowRateLimitLayer<L, K> {
    /// Counts each request against the windows of the key `key` returns for it, under the limits
    /// of [`with_limits`](Self::with_limits), instead of its API key's: e.g. the client address
    /// on a public route, as `tower_governor` does. No `ApiKeyAuth` is needed. A request for
    /// which `key` returns `None` is not limited by this layer.
    ///
    /// Keys share the store's namespace: give a layer keyed this way a store of its own (or, on
    /// Redis, a prefix of its own), so that its keys never meet API key ids.
    pub fn with_key<B, F>(self, key: F) -> SlidingWindowRateLimitLayer<L, ByFn<F>>
    where
        F: Fn(&Request<B>) -> Option<String>,
    {
        SlidingWindowRateLimitLayer {
            store: self.store,
            clock: self.clock,
            key: Arc::new(ByFn(key)),
            limits: self.limits,
        }
    }

    /// The limits of keys from [`with_key`](Self::with_key): `rps` requests per second and `rpm`
    /// per minute. Without it such keys are unlimited, like a key record with neither limit.
    /// API keys keep their records' limits.
    pub fn with_limits(mut self, rps: u32, rpm: u32) -> Self {
        self.limits = Limits::new(Some(rps), Some(rpm)).with_windows(self.limits.windows);
        self
    }

    /// The windows' lengths for keys whose record sets none (the config's `[limits]`), and for
    /// keys from [`with_key`](Self::with_key). Without it: 1 s and 60 s.
    pub fn with_windows(mut self, windows: Windows) -> Self {
        self.limits.windows = windows;
        self
    }

    /// Reads time from `clock`.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<L> {
        &self.store
    }
}

impl<L, K> Clone for SlidingWindowRateLimitLayer<L, K> {
    fn clone(&self) -> Self {
        SlidingWindowRateLimitLayer {
            store: Arc::clone(&self.store),
            clock: Arc::clone(&self.clock),
            key: Arc::clone(&self.key),
            limits: self.limits,
        }
    }
}

impl<L, K> fmt::Debug for SlidingWindowRateLimitLayer<L, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlidingWindowRateLimitLayer")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl<S, L, K> Layer<S> for SlidingWindowRateLimitLayer<L, K> {
    type Service = SlidingWindowRateLimit<S, L, K>;

    fn layer(&self, inner: S) -> Self::Service {
        SlidingWindowRateLimit {
            inner,
            layer: Arc::new(self.clone()),
        }
    }
}
