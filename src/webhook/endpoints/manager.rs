//! [`WebhookEndpoints`]: the endpoints of a deployment, read and changed through its store,
//! and the live set the delivery worker reads kept in step with the store.

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::live::{self, config_record};
use super::{EndpointError, EndpointRecord, EndpointStore, EndpointView, SecretKey};
use crate::clock::{Clock, SharedClock, system_clock};
use crate::environment::Environment;
use crate::store::{RecordOwner, StoreError};
use crate::webhook::{Endpoint, EndpointSet};

/// How often an instance on a shared store looks for changes made by others, by default.
pub const POLL_EVERY: Duration = Duration::from_millis(250);

/// How [`WebhookEndpoints::start`] runs: the file's endpoints, the key that seals secrets, the
/// deployment's rules for URLs, the clock, and how often a shared store is polled.
#[must_use]
pub struct EndpointsConfig {
    pub(super) file: Vec<Endpoint>,
    pub(super) key: Option<SecretKey>,
    pub(super) environment: Environment,
    pub(super) clock: SharedClock,
    pub(super) poll_every: Duration,
}

impl EndpointsConfig {
    /// No file endpoints, no key, the system clock, polled every [`POLL_EVERY`].
    pub fn new(environment: Environment) -> Self {
        EndpointsConfig {
            file: Vec::new(),
            key: None,
            environment,
            clock: system_clock(),
            poll_every: POLL_EVERY,
        }
    }

    /// The config file's endpoints (their ids from
    /// [`config_endpoint_id`](super::config_endpoint_id), their secrets from its variables).
    pub fn with_file_endpoints(mut self, endpoints: Vec<Endpoint>) -> Self {
        self.file = endpoints;
        self
    }

    /// The key that seals the secrets of endpoints created through the API.
    pub fn with_secret_key(mut self, key: Option<SecretKey>) -> Self {
        self.key = key;
        self
    }

    /// Reads time (creation, rotation ends) from `clock`.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How often a shared store's generation is read for changes made by other instances.
    pub fn with_poll_every(mut self, every: Duration) -> Self {
        self.poll_every = every.max(Duration::from_millis(1));
        self
    }
}

impl fmt::Debug for EndpointsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointsConfig")
            .field("file", &self.file.len())
            .field("key", &self.key.is_some())
            .field("environment", &self.environment)
            .field("poll_every", &self.poll_every)
            .finish_non_exhaustive()
    }
}

/// The webhook endpoints of a deployment: list, create, change, delete, enable and rotate, on
/// the deployment's store, in force on every instance sharing it. Cheap to clone.
pub struct WebhookEndpoints<S> {
    pub(super) inner: Arc<Inner<S>>,
}

pub(super) struct Inner<S> {
    pub(super) store: S,
    pub(super) set: EndpointSet,
    pub(super) config: EndpointsConfig,
    /// The generation the live set was built from; one reload at a time.
    pub(super) loaded: tokio::sync::Mutex<Option<u64>>,
}

impl<S> Clone for WebhookEndpoints<S> {
    fn clone(&self) -> Self {
        WebhookEndpoints {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S> fmt::Debug for WebhookEndpoints<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookEndpoints")
            .field("config", &self.inner.config)
            .field("set", &self.inner.set)
            .finish_non_exhaustive()
    }
}

impl<S: EndpointStore> WebhookEndpoints<S> {
    /// Stores the file's endpoints (keeping the state the store holds for each, and dropping
    /// the records of file endpoints this file no longer has), fills `set` from the store,
    /// keeps the 410s the worker meets in the store, and, on a shared store, starts a task
    /// that reloads `set` within one poll of a change made by another instance. The task ends
    /// when the last clone of the handle is dropped.
    ///
    /// A store that does not answer does not stop it: `set` holds the file's endpoints, and
    /// the records are read at the next change or poll that finds the store answering.
    pub async fn start(store: S, set: EndpointSet, config: EndpointsConfig) -> Self {
        let endpoints = WebhookEndpoints {
            inner: Arc::new(Inner {
                store,
                set,
                config,
                loaded: tokio::sync::Mutex::new(None),
            }),
        };
        let loaded = match endpoints.store_file_endpoints().await {
            Ok(()) => endpoints.reload().await.map_err(EndpointError::Store),
            Err(error) => Err(error),
        };
        if let Err(error) = loaded {
            tracing::warn!(%error, "webhook endpoints not read from the store: the file's only, for now");
            let config = &endpoints.inner.config;
            let file = live::endpoints(&[], &config.file, None, config.environment);
            endpoints.inner.set.replace(file);
        }
        let weak = Arc::downgrade(&endpoints.inner);
        endpoints.inner.set.on_gone(move |id: Arc<str>| {
            let weak = Weak::clone(&weak);
            async move {
                if let Some(inner) = weak.upgrade() {
                    WebhookEndpoints { inner }.mark_gone(&id).await;
                }
            }
        });
        if endpoints.inner.store.is_shared() {
            super::watch::spawn(&endpoints.inner);
        }
        endpoints
    }

    /// The live set the delivery worker reads.
    pub fn set(&self) -> &EndpointSet {
        &self.inner.set
    }

    /// Whether endpoints can be created and secrets rotated: the config names a key.
    pub fn has_secret_key(&self) -> bool {
        self.inner.config.key.is_some()
    }

    /// Reads the store again and rebuilds the live set from it.
    ///
    /// # Errors
    /// The store did not answer; the live set stays as it was.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let mut loaded = self.inner.loaded.lock().await;
        // Read before the records: a change in between is seen again at the next poll.
        let generation = self.inner.store.generation().await?;
        let records = self.inner.store.all().await?;
        let config = &self.inner.config;
        self.inner.set.replace(live::endpoints(
            &records,
            &config.file,
            config.key.as_ref(),
            config.environment,
        ));
        *loaded = Some(generation);
        Ok(())
    }

    /// Every endpoint, or those of `project` (scoped to it; operator-wide ones are listed
    /// without a filter), oldest first.
    ///
    /// # Errors
    /// The store did not answer.
    pub async fn list(&self, project: Option<&str>) -> Result<Vec<EndpointView>, EndpointError> {
        let mut records = self.visible(self.inner.store.all().await?);
        if let Some(project) = project {
            records.retain(|r| r.projects.iter().any(|p| p == project));
        }
        records.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(records.iter().map(|r| self.view(r)).collect())
    }

    /// One endpoint.
    ///
    /// # Errors
    /// [`EndpointError::NotFound`], or the store did not answer.
    pub async fn get(&self, id: &str) -> Result<EndpointView, EndpointError> {
        self.current(id).await.map(|record| self.view(&record))
    }

    /// The records an operator sees: every API endpoint, and this file's endpoints (from the
    /// store, or as the file says when the store has no record of one).
    fn visible(&self, records: Vec<EndpointRecord>) -> Vec<EndpointRecord> {
        let file = &self.inner.config.file;
        let now = self.inner.config.clock.now();
        let mut out: Vec<EndpointRecord> = records
            .into_iter()
            .filter(|r| r.owner == RecordOwner::Api || file.iter().any(|e| *e.id == *r.id))
            .collect();
        for endpoint in file {
            if !out.iter().any(|r| *r.id == *endpoint.id) {
                out.push(config_record(endpoint, now));
            }
        }
        out
    }

    /// The record of `id` as an operator sees it; a file endpoint the store has no record of
    /// comes with revision 0, so that a write creates its record.
    pub(super) async fn current(&self, id: &str) -> Result<EndpointRecord, EndpointError> {
        let stored = self.inner.store.get(id).await?;
        let file = self.inner.config.file.iter().find(|e| &*e.id == id);
        match (stored, file) {
            (Some(record), _) if record.owner == RecordOwner::Api => Ok(record),
            (Some(record), Some(_)) => Ok(record),
            (None, Some(endpoint)) => Ok(config_record(endpoint, self.inner.config.clock.now())),
            _ => Err(EndpointError::NotFound(id.to_owned())),
        }
    }

    /// The view, without a rotation that has ended.
    pub(super) fn view(&self, record: &EndpointRecord) -> EndpointView {
        let mut view = record.view();
        let now = self.inner.config.clock.now();
        view.secret_rotation_ends_at = view.secret_rotation_ends_at.filter(|ends| now < *ends);
        view
    }
}
