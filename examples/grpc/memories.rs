//! The `Memories` gRPC service: memories kept per project and environment, read from the
//! `Scope` that the pipeline put into the request's extensions (tonic hands them over).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use memorysync_pipeline::scope::Scope;
use tonic::{Request, Response, Status};

use crate::proto::memories_server::Memories;
use crate::proto::{AddRequest, AddResponse, Memory, SearchRequest, SearchResponse};

/// The service's state. Clones share it, so a test keeps one to count calls.
#[derive(Clone, Debug, Default)]
pub(crate) struct MemoryService {
    // Keyed by the whole scope, so a development key never sees production memories.
    by_scope: Arc<Mutex<HashMap<Scope, Vec<Memory>>>>,
    next_id: Arc<AtomicU64>,
    calls: Arc<AtomicUsize>,
}

impl MemoryService {
    /// How many calls reached the service: a rejection or a degraded call never does.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, HashMap<Scope, Vec<Memory>>> {
        // A panic while holding the lock leaves whole entries only; the data is still good.
        self.by_scope.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The scope the pipeline admitted the call for.
fn scope_of<T>(request: &Request<T>) -> Result<Scope, Status> {
    // Served without the pipeline there is no project to read or write; guessing one would
    // mix data.
    request
        .extensions()
        .get::<Scope>()
        .cloned()
        .ok_or_else(|| Status::permission_denied("no scope: serve behind the pipeline"))
}

#[tonic::async_trait]
impl Memories for MemoryService {
    async fn add(&self, request: Request<AddRequest>) -> Result<Response<AddResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let scope = scope_of(&request)?;
        let text = request.into_inner().text;
        if text.is_empty() {
            return Err(Status::invalid_argument("text is empty"));
        }
        let id = format!("mem_{}", self.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        let memory = Memory { id, text };
        self.locked().entry(scope).or_default().push(memory.clone());
        Ok(Response::new(AddResponse {
            results: vec![memory],
        }))
    }

    async fn search(
        &self,
        request: Request<SearchRequest>,
    ) -> Result<Response<SearchResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let scope = scope_of(&request)?;
        let query = request.into_inner().query.to_lowercase();
        let results = self
            .locked()
            .get(&scope)
            .into_iter()
            .flatten()
            .filter(|memory| memory.text.to_lowercase().contains(&query))
            .cloned()
            .collect();
        Ok(Response::new(SearchResponse { results }))
    }
}
