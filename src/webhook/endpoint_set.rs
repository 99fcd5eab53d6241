//! The endpoints deliveries go to, replaceable while the worker runs: the publisher and the
//! worker read one snapshot each time, the endpoint manager swaps in a new one when a record
//! changes (here or, on a shared store, on another instance).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};

use arc_swap::ArcSwap;

use super::endpoints::EndpointState;
use super::{Delivery, Endpoint};

/// What a 410 does beyond this process: persisting the endpoint's disabled state.
type GoneHook = Arc<dyn Fn(Arc<str>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The endpoints of a delivery worker, shared by the publisher, the worker and whoever manages
/// them. Clones share one set.
#[derive(Clone)]
pub struct EndpointSet {
    inner: Arc<Inner>,
}

struct Inner {
    current: ArcSwap<Vec<Endpoint>>,
    on_gone: RwLock<Option<GoneHook>>,
}

impl EndpointSet {
    /// A set holding `endpoints`.
    pub fn new(endpoints: Vec<Endpoint>) -> Self {
        EndpointSet {
            inner: Arc::new(Inner {
                current: ArcSwap::from_pointee(endpoints),
                on_gone: RwLock::new(None),
            }),
        }
    }

    /// The endpoints now.
    pub fn snapshot(&self) -> Arc<Vec<Endpoint>> {
        self.inner.current.load_full()
    }

    /// Replaces every endpoint: the next publish and the next attempt see the new set.
    pub fn replace(&self, endpoints: Vec<Endpoint>) {
        self.inner.current.store(Arc::new(endpoints));
    }

    /// Runs `hook` with the endpoint's id when a receiver answers 410 Gone, after the endpoint
    /// is disabled in this set: to keep the state somewhere every instance reads.
    pub fn on_gone<F>(&self, hook: impl Fn(Arc<str>) -> F + Send + Sync + 'static)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let hook: GoneHook = Arc::new(move |id| Box::pin(hook(id)));
        *self
            .inner
            .on_gone
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(hook);
    }

    /// The endpoint a delivery goes to: by the id it names, or, for a delivery queued before
    /// deliveries named their endpoint, by its URL.
    pub(super) fn find(&self, delivery: &Delivery) -> Option<Endpoint> {
        let endpoints = self.inner.current.load();
        match &delivery.endpoint {
            Some(id) => endpoints.iter().find(|e| e.id == *id).cloned(),
            None => endpoints
                .iter()
                .find(|e| e.url_text == delivery.url)
                .cloned(),
        }
    }

    /// Whether the endpoint with this id or URL is known and disabled.
    pub(super) fn is_disabled(&self, id_or_url: &str) -> bool {
        self.inner
            .current
            .load()
            .iter()
            .any(|e| (&*e.id == id_or_url || &*e.url_text == id_or_url) && !e.state.is_enabled())
    }

    /// A 410: disables the endpoint here at once, then runs the hook.
    pub(super) async fn gone(&self, id: &Arc<str>) {
        self.inner.current.rcu(|current| {
            let mut next = Vec::clone(current);
            for endpoint in next.iter_mut().filter(|e| e.id == *id) {
                endpoint.state = EndpointState::DisabledGone;
            }
            next
        });
        let hook = self
            .inner
            .on_gone
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(hook) = hook {
            hook(Arc::clone(id)).await;
        }
    }
}

impl fmt::Debug for EndpointSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Endpoints hold secrets: only their ids are shown.
        let ids: Vec<String> = self.snapshot().iter().map(|e| e.id.to_string()).collect();
        f.debug_struct("EndpointSet")
            .field("endpoints", &ids)
            .finish_non_exhaustive()
    }
}
