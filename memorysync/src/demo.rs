//! The demo memory API that `memorysync serve` puts behind the pipeline (the server example
//! includes this file too): memories kept per project and environment, in this process.
//!
//! - `POST /v1/memories` `{"text"}` adds one; `POST /v1/memories/search` `{"query"}` finds
//!   them by case-insensitive substring; `GET /v1/memories` lists them;
//!   `DELETE /v1/memories/{id}` removes one and leaves a tombstone.
//! - Each handler reads the request's `Scope`, which the pipeline's scope stage puts there.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Extension, Json, Router};
use dashmap::DashMap;
use memorysync_pipeline::clock::{Clock, SystemClock};
use memorysync_pipeline::deployment::DeploymentTombstones;
use memorysync_pipeline::scope::Scope;
use memorysync_pipeline::tombstone::{TombstoneKind, TombstoneStore};

use serde::Deserialize;
use serde_json::json;

#[derive(Clone, Default)]
pub(crate) struct Memories {
    // Keyed by the whole scope, so a development key never sees production memories.
    by_scope: Arc<DashMap<Scope, Vec<Memory>>>,
}

#[derive(Clone)]
struct Memory {
    id: String,
    text: String,
}

#[derive(Deserialize)]
struct AddMemory {
    text: String,
}

#[derive(Deserialize)]
struct SearchMemories {
    query: String,
}

impl Memories {
    /// `{"results":[...]}` of the scope's memories that `keep` selects.
    fn answer_with(&self, scope: &Scope, keep: impl Fn(&Memory) -> bool) -> Response {
        let results: Vec<_> = self
            .by_scope
            .get(scope)
            .map(|list| {
                list.iter()
                    .filter(|m| keep(m))
                    .map(|m| json!({"id": m.id, "text": m.text}))
                    .collect()
            })
            .unwrap_or_default();
        Json(json!({ "results": results })).into_response()
    }
}

/// The API's routes, with an empty store of its own.
pub(crate) fn router() -> Router {
    let memories = Memories::default();
    Router::new()
        .route("/v1/memories", post(add).get(list))
        .route("/v1/memories/search", post(search))
        .route("/v1/memories/{id}", delete(remove))
        .with_state(memories)
}

fn new_memory_id() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("mem_{hex}")
}

fn bad_request(detail: &str) -> Response {
    let body = json!({
        "type": "urn:memorysync:problem:bad_request",
        "title": "Bad request",
        "status": 400,
        "detail": detail,
        "code": "bad_request",
    });
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

async fn add(
    State(memories): State<Memories>,
    Extension(scope): Extension<Scope>,
    body: Result<Json<AddMemory>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(AddMemory { text })) = body else {
        return bad_request("expected a JSON body {\"text\": \"...\"}");
    };
    if text.trim().is_empty() {
        return bad_request("text must not be empty");
    }
    let memory = Memory {
        id: new_memory_id(),
        text,
    };
    let answer = json!({"results": [{"id": memory.id, "event": "ADD", "text": memory.text}]});
    memories.by_scope.entry(scope).or_default().push(memory);
    Json(answer).into_response()
}

async fn search(
    State(memories): State<Memories>,
    Extension(scope): Extension<Scope>,
    body: Result<Json<SearchMemories>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(SearchMemories { query })) = body else {
        return bad_request("expected a JSON body {\"query\": \"...\"}");
    };
    let query = query.to_lowercase();
    memories.answer_with(&scope, |m| m.text.to_lowercase().contains(&query))
}

async fn list(State(memories): State<Memories>, Extension(scope): Extension<Scope>) -> Response {
    memories.answer_with(&scope, |_| true)
}

async fn remove(
    State(memories): State<Memories>,
    Extension(scope): Extension<Scope>,
    // Handed to handlers by the audit stage (`AuditRecordLayer::with_tombstones`).
    Extension(tombstones): Extension<DeploymentTombstones>,
    Path(id): Path<String>,
) -> Response {
    let removed = memories
        .by_scope
        .get_mut(&scope)
        .and_then(|mut list| {
            let at = list.iter().position(|m| m.id == id)?;
            Some(list.remove(at))
        })
        .is_some();
    if !removed {
        return (StatusCode::NOT_FOUND, Json(json!({"results": []}))).into_response();
    }
    // The tombstone keeps a backup restore from bringing the memory back.
    if let Err(error) = tombstones
        .leave(TombstoneKind::Memory, &id, SystemClock.now())
        .await
    {
        tracing::warn!(%error, "tombstone not written");
    }
    Json(json!({"results": [{"id": id, "event": "DELETE"}]})).into_response()
}
