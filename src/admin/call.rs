//! What wraps every admin call: the token check, the read-only role, and the call's audit event
//! in the deployment's chain.

use std::sync::Arc;

use axum::extract::{OriginalUri, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use tokio::time::Instant;

use super::AdminApi;
use super::problem::{AdminError, ProblemCode};
use super::tokens::{AdminCaller, TokenRefusal};
use crate::audit::{AuditEvent, MAX_PATH, MAX_USER_AGENT, Outcome, X_REQUEST_ID};
use crate::key::AdminRole;

/// What a handler names as the target of its call, for the audit event: the key and the
/// project it acted on (so `GET /admin/v1/audit?key_id=` finds what was done to a key).
#[derive(Clone, Debug, Default)]
pub(crate) struct Target {
    pub(crate) key_id: Option<Arc<str>>,
    pub(crate) project: Option<Arc<str>>,
    /// More the event's `detail` says, e.g. `new_key=key_b` for a rotation.
    pub(crate) note: Option<String>,
}

impl Target {
    pub(crate) fn key(id: &str, project: &str) -> Self {
        Target {
            key_id: Some(Arc::from(id)),
            project: Some(Arc::from(project)),
            note: None,
        }
    }

    pub(crate) fn project(project: &str) -> Self {
        Target {
            key_id: None,
            project: Some(Arc::from(project)),
            note: None,
        }
    }

    /// This target, with `note` added to the event's `detail`.
    pub(crate) fn noting(mut self, note: String) -> Self {
        self.note = Some(note);
        self
    }

    /// `response` carrying this target.
    pub(crate) fn on(self, response: impl IntoResponse) -> Response {
        let mut response = response.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// Authenticates the call, refuses a read-only token anything but a read, runs the handler, and
/// records the call in the audit log before answering.
pub(crate) async fn admin_call(
    State(api): State<AdminApi>,
    mut request: Request,
    next: Next,
) -> Response {
    let meta = CallMeta::of(&api, &request);
    let caller = api.tokens().authenticate(request.headers());
    let response = match &caller {
        Err(refusal) => refused(*refusal).into_response(),
        Ok(caller) if caller.role == AdminRole::Read && !is_read(request.method()) => {
            AdminError::new(
                StatusCode::FORBIDDEN,
                "read_only_token",
                format!(
                    "admin token `{}` has the read role: it may only GET",
                    caller.token_id
                ),
            )
            .into_response()
        }
        Ok(caller) => {
            request.extensions_mut().insert(caller.clone());
            next.run(request).await
        }
    };
    let token = caller
        .as_ref()
        .map_or("none", |caller: &AdminCaller| &*caller.token_id);
    meta.finish(&api, token, response).await
}

/// What the audit event of a call takes from its request, read before the handler runs.
pub(crate) struct CallMeta {
    started: Instant,
    ts: crate::clock::Timestamp,
    request_id: String,
    request_id_value: HeaderValue,
    method: Method,
    path: String,
    user_agent: Option<String>,
    client_ip: Option<std::net::IpAddr>,
}

impl CallMeta {
    /// The call `request` starts, now.
    pub(crate) fn of(api: &AdminApi, request: &Request) -> Self {
        let (request_id, request_id_value) = crate::audit::request_id(request.headers());
        // Under `nest`, the request's URI has lost the prefix; the audit log records the whole
        // path.
        let uri = match request.extensions().get::<OriginalUri>() {
            Some(OriginalUri(uri)) => uri,
            None => request.uri(),
        };
        CallMeta {
            started: Instant::now(),
            ts: api.deployment().clock().now(),
            request_id,
            request_id_value,
            method: request.method().clone(),
            path: crate::audit::sanitized(uri.path().as_bytes(), MAX_PATH),
            user_agent: request
                .headers()
                .get(header::USER_AGENT)
                .map(|ua| crate::audit::sanitized(ua.as_bytes(), MAX_USER_AGENT)),
            client_ip: crate::client_ip::peer_ip(request.extensions()),
        }
    }

    /// Records the call of admin token `token` (`none` when unknown), answered by `response`,
    /// in the audit chain, and gives the answer its request id and `Cache-Control: no-store`.
    pub(crate) async fn finish(
        self,
        api: &AdminApi,
        token: &str,
        mut response: Response,
    ) -> Response {
        let status = response.status();
        let target = response
            .extensions()
            .get::<Target>()
            .cloned()
            .unwrap_or_default();
        let result = response
            .extensions()
            .get::<ProblemCode>()
            .map_or("ok", |code| code.0);
        let event = AuditEvent {
            ts: self.ts,
            request_id: self.request_id,
            method: self.method.as_str().to_owned(),
            path: self.path,
            status: status.as_u16(),
            outcome: outcome(status),
            key_id: target.key_id.clone(),
            project: target.project.clone(),
            environment: None,
            client_ip: self.client_ip,
            user_agent: self.user_agent,
            latency_us: u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX),
            detail: Some(match &target.note {
                Some(note) => format!("admin token={token} result={result} {note}"),
                None => format!("admin token={token} result={result}"),
            }),
        };
        api.deployment().audit().record(event).await;

        let headers = response.headers_mut();
        headers.insert(X_REQUEST_ID, self.request_id_value);
        // Answers name keys, usage and projects: no cache along the way keeps them.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

pub(crate) fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
}

pub(crate) fn refused(refusal: TokenRefusal) -> AdminError {
    let (code, detail) = match refusal {
        TokenRefusal::Missing => (
            "missing_admin_token",
            "send an admin token as `Authorization: Bearer msa_...`",
        ),
        TokenRefusal::Malformed(why) => ("malformed_admin_token", why),
        TokenRefusal::Unknown => (
            "invalid_admin_token",
            "no [[admin_tokens]] entry has this token",
        ),
    };
    AdminError::new(StatusCode::UNAUTHORIZED, code, detail)
}

/// The audit outcome of an admin answer: refusals of the caller as such, a server-side failure
/// as an error, and every other answer (a 404 or a 409 included) as served.
fn outcome(status: StatusCode) -> Outcome {
    match status {
        StatusCode::UNAUTHORIZED => Outcome::Unauthenticated,
        StatusCode::FORBIDDEN => Outcome::Forbidden,
        s if s.is_server_error() => Outcome::Error,
        _ => Outcome::Allowed,
    }
}
