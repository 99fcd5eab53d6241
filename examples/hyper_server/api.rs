//! The memory API, written against hyper alone: `POST /v1/memories`, `POST /v1/memories/search`
//! and `GET /v1/memories`, answering as the server example does.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use memorysync_pipeline::scope::Scope;
use serde_json::{Value, json};

/// A body larger than this is refused before it is read whole.
const MAX_BODY: usize = 64 * 1024;

/// Memories kept per project and environment. Clones share them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Memories {
    // Keyed by the whole scope, so a development key never sees production memories.
    by_scope: Arc<Mutex<HashMap<Scope, Vec<Memory>>>>,
    next_id: Arc<AtomicU64>,
}

#[derive(Debug)]
struct Memory {
    id: String,
    text: String,
}

impl Memories {
    /// Answers one request that the pipeline admitted.
    pub(crate) async fn handle(
        self,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        // The pipeline's scope stage puts it there; without one (the API served with no
        // pipeline) there is no project to read or write, and guessing one would mix data.
        let Some(scope) = request.extensions().get::<Scope>().cloned() else {
            return Ok(reply(StatusCode::FORBIDDEN, json!({"error": "no scope"})));
        };
        let route = (request.method().clone(), request.uri().path().to_owned());
        let answer = match (route.0, route.1.as_str()) {
            (Method::POST, "/v1/memories") => match field(request, "text").await {
                Ok(text) => self.add(scope, text),
                Err(problem) => problem,
            },
            (Method::POST, "/v1/memories/search") => match field(request, "query").await {
                Ok(query) => self.find(&scope, &query.to_lowercase()),
                Err(problem) => problem,
            },
            (Method::GET, "/v1/memories") => self.find(&scope, ""),
            _ => reply(StatusCode::NOT_FOUND, json!({"error": "no such route"})),
        };
        Ok(answer)
    }

    fn add(&self, scope: Scope, text: String) -> Response<Full<Bytes>> {
        let id = format!("mem_{}", self.next_id.fetch_add(1, Ordering::Relaxed) + 1);
        let body = json!({"results": [{"id": id, "event": "ADD", "text": text}]});
        self.locked()
            .entry(scope)
            .or_default()
            .push(Memory { id, text });
        reply(StatusCode::OK, body)
    }

    /// The scope's memories whose text contains `needle` (already lowercase), oldest first.
    fn find(&self, scope: &Scope, needle: &str) -> Response<Full<Bytes>> {
        let results: Vec<Value> = self
            .locked()
            .get(scope)
            .into_iter()
            .flatten()
            .filter(|memory| memory.text.to_lowercase().contains(needle))
            .map(|memory| json!({"id": memory.id, "text": memory.text}))
            .collect();
        reply(StatusCode::OK, json!({ "results": results }))
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, HashMap<Scope, Vec<Memory>>> {
        // A panic while holding the lock leaves whole entries only; the data is still good.
        self.by_scope.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The string field `name` of the request's JSON body, or the 400 answer.
async fn field(request: Request<Incoming>, name: &str) -> Result<String, Response<Full<Bytes>>> {
    let bytes = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let detail = "the body is larger than 64 KiB or was cut off";
            return Err(reply(StatusCode::BAD_REQUEST, json!({ "error": detail })));
        }
    };
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|body| body.get(name)?.as_str().map(str::to_owned))
        .ok_or_else(|| {
            let detail = format!("the body must be a JSON object with a string `{name}`");
            reply(StatusCode::BAD_REQUEST, json!({ "error": detail }))
        })
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
