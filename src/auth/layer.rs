use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::ApiKeyAuth;
use crate::clock::{Clock, SharedClock, system_clock};
use crate::environment::Environment;
use crate::key::KeyStore;

/// Applies [`ApiKeyAuth`] to a service. Cheap to clone: the store sits behind an `Arc`.
#[must_use]
pub struct ApiKeyAuthLayer<K> {
    pub(super) store: Arc<K>,
    pub(super) clock: SharedClock,
    pub(super) deployment: Environment,
}

impl<K: KeyStore> ApiKeyAuthLayer<K> {
    /// Authenticates against `store` in the `deployment` environment, on the system clock.
    ///
    /// The deployment has no default: a production deployment refuses development
    /// (`msk_test_`) keys before any look-up, so development credentials never reach production
    /// data, and a pipeline cannot be built without saying which one it serves.
    pub fn new(store: K, deployment: Environment) -> Self {
        Self::from_shared_store(Arc::new(store), deployment)
    }

    /// Like [`ApiKeyAuthLayer::new`], for a store the application also holds.
    pub fn from_shared_store(store: Arc<K>, deployment: Environment) -> Self {
        ApiKeyAuthLayer {
            store,
            clock: system_clock(),
            deployment,
        }
    }

    /// Reads expiry and revocation times from `clock`.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The environment of this deployment, as given to [`ApiKeyAuthLayer::new`].
    pub fn deployment(&self) -> Environment {
        self.deployment
    }

    /// The key store.
    pub fn store(&self) -> &Arc<K> {
        &self.store
    }
}

impl<K> Clone for ApiKeyAuthLayer<K> {
    fn clone(&self) -> Self {
        ApiKeyAuthLayer {
            store: Arc::clone(&self.store),
            clock: Arc::clone(&self.clock),
            deployment: self.deployment,
        }
    }
}

impl<K> fmt::Debug for ApiKeyAuthLayer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyAuthLayer")
            .field("deployment", &self.deployment)
            .finish_non_exhaustive()
    }
}

impl<S, K> Layer<S> for ApiKeyAuthLayer<K> {
    type Service = ApiKeyAuth<S, K>;

    fn layer(&self, inner: S) -> Self::Service {
        ApiKeyAuth {
            inner,
            layer: Arc::new(self.clone()),
        }
    }
}
