//! The webhook endpoints of a deployment: records in the store `store.backend` names, the
//! file's `[[webhooks]]` among them, the key of `[admin]` that seals the secrets of endpoints
//! created through the admin API, and the live set the delivery worker reads.

use super::DeploymentAttempts;
use super::backend::on_backend;
use super::options::SecretSource;
use super::{Deployment, StartError};
use crate::clock::SharedClock;
use crate::config::Config;
#[cfg(feature = "embedded")]
use crate::embedded_store::EmbeddedEndpointStore;
#[cfg(feature = "redis")]
use crate::redis_store::RedisEndpointStore;
use crate::store::StoreError;
use crate::webhook::endpoints::{
    EndpointRecord, EndpointStore, EndpointsConfig, MemoryEndpointStore, WebhookEndpoints,
};
use crate::webhook::{Endpoint, EndpointSet};

/// The webhook endpoints of a deployment: list, create, change, delete, enable, rotate.
pub type DeploymentEndpoints = WebhookEndpoints<DeploymentEndpointStore>;

/// Where a deployment's webhook endpoint records live.
#[derive(Debug)]
#[non_exhaustive]
pub enum DeploymentEndpointStore {
    /// `store.backend = "memory"`.
    Memory(MemoryEndpointStore),
    /// `store.backend = "redis"`: shared by every instance, polled for changes.
    #[cfg(feature = "redis")]
    Redis(RedisEndpointStore),
    /// `store.backend = "embedded"`: every change on disk before the call returns.
    #[cfg(feature = "embedded")]
    Embedded(EmbeddedEndpointStore),
}

impl EndpointStore for DeploymentEndpointStore {
    async fn all(&self) -> Result<Vec<EndpointRecord>, StoreError> {
        on_backend!(self, store => store.all().await)
    }

    async fn get(&self, id: &str) -> Result<Option<EndpointRecord>, StoreError> {
        on_backend!(self, store => store.get(id).await)
    }

    async fn put(&self, record: &EndpointRecord, expected: u64) -> Result<bool, StoreError> {
        on_backend!(self, store => store.put(record, expected).await)
    }

    async fn remove(&self, id: &str, expected: u64) -> Result<bool, StoreError> {
        on_backend!(self, store => store.remove(id, expected).await)
    }

    async fn generation(&self) -> Result<u64, StoreError> {
        on_backend!(self, store => store.generation().await)
    }

    fn is_shared(&self) -> bool {
        on_backend!(self, store => store.is_shared())
    }
}

/// What the deployment keeps for managing its webhooks at run time.
#[derive(Debug)]
pub(super) struct WebhookParts {
    pub(super) endpoints: DeploymentEndpoints,
    pub(super) attempts: DeploymentAttempts,
}

impl Deployment {
    /// The webhook endpoints: the file's and those made through the admin API, changed at run
    /// time and in force on every instance sharing the store within a second.
    pub fn endpoints(&self) -> &DeploymentEndpoints {
        &self.webhook_parts.endpoints
    }
}

/// Reads the sealing key `[admin]` names (a key named and not readable stops the start: the
/// secrets sealed with it could not be opened), stores the file's endpoints and fills `set`.
pub(super) async fn start(
    config: &Config,
    store: DeploymentEndpointStore,
    set: EndpointSet,
    file: Vec<Endpoint>,
    secrets: &SecretSource,
    clock: &SharedClock,
) -> Result<DeploymentEndpoints, StartError> {
    let key = config
        .admin
        .secret_key
        .as_ref()
        .map(|source| source.read(|name| secrets(name)))
        .transpose()
        .map_err(|e| StartError::Webhooks(format!("[admin] secret key: {e}")))?;
    let settings = EndpointsConfig::new(config.environment)
        .with_file_endpoints(file)
        .with_secret_key(key)
        .with_clock(SharedClock::clone(clock));
    Ok(WebhookEndpoints::start(store, set, settings).await)
}
