//! On a store shared by several instances: the task that reads the generation every poll (one
//! small read) and reloads the endpoints when it moved, so that a change made on another
//! instance is in force here within one poll and one reload.

use std::sync::{Arc, Weak};

use super::manager::Inner;
use super::{EndpointStore, WebhookEndpoints};

/// Starts the task on the current runtime; it ends when the last handle is dropped.
pub(super) fn spawn<S: EndpointStore>(inner: &Arc<Inner<S>>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("no tokio runtime: webhook endpoints changed elsewhere are not reloaded");
        return;
    };
    let every = inner.config.poll_every;
    let weak: Weak<Inner<S>> = Arc::downgrade(inner);
    runtime.spawn(async move {
        // Whether the last look failed, so that an outage is logged when it starts.
        let mut failing = false;
        loop {
            tokio::time::sleep(every).await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            let endpoints = WebhookEndpoints { inner };
            match endpoints.changed().await {
                Ok(false) => failing = false,
                Ok(true) => match endpoints.reload().await {
                    Ok(()) => failing = false,
                    Err(error) => {
                        if !std::mem::replace(&mut failing, true) {
                            tracing::warn!(%error, "webhook endpoints not reloaded");
                        }
                    }
                },
                Err(error) => {
                    if !std::mem::replace(&mut failing, true) {
                        tracing::warn!(%error, "webhook endpoints' generation not read");
                    }
                }
            }
        }
    });
}

impl<S: EndpointStore> WebhookEndpoints<S> {
    /// Whether the store's generation moved since the live set was built.
    async fn changed(&self) -> Result<bool, crate::store::StoreError> {
        let generation = self.inner.store.generation().await?;
        Ok(*self.inner.loaded.lock().await != Some(generation))
    }
}
