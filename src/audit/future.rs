use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http::{HeaderValue, Response};
use pin_project_lite::pin_project;
use tracing::Span;

use super::layer::AuditRecordLayer;
use super::request_id::X_REQUEST_ID;
use super::{AuditEvent, AuditLog, Outcome};
use crate::auth::Principal;
use crate::clock::Timestamp;
use crate::quota::QuotaDegraded;
use crate::rejection::Rejection;
use crate::telemetry;

/// What is known of a call when it arrives.
pub(super) struct Started {
    pub(super) at: Instant,
    pub(super) ts: Timestamp,
    pub(super) request_id: String,
    pub(super) request_id_value: HeaderValue,
    pub(super) method: String,
    pub(super) path: String,
    pub(super) client_ip: Option<IpAddr>,
    pub(super) user_agent: Option<String>,
}

type Waiting = Pin<Box<dyn Future<Output = ()> + Send>>;

pin_project! {
    /// The response future of [`AuditRecord`](super::AuditRecord): the inner future, then the
    /// event queued (waiting for room only when the queue is full).
    ///
    /// Dropped before the inner service answered (the client went away, a timeout outside
    /// fired), it still records the call: status 499, outcome `error`.
    pub struct ResponseFuture<F: Future> {
        #[pin]
        state: State<F>,
        // The layer, not a clone of its log: one reference count per call instead of the
        // queue sender's two and the log's own.
        layer: Arc<AuditRecordLayer>,
        span: Span,
    }

    impl<F: Future> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            match this.state.project() {
                StateProj::Calling { started, .. } => {
                    if let Some(started) = started.take() {
                        let event = Box::new(cancelled_event(started));
                        if let Err(event) = this.layer.log.try_submit(event) {
                            finish_in_background(this.layer.log.submit_waiting(event), &this.layer.log);
                        }
                    }
                }
                StateProj::WaitingForRoom { waiting, .. } => {
                    if let Some(waiting) = waiting.take() {
                        finish_in_background(waiting, &this.layer.log);
                    }
                }
            }
        }
    }
}

/// Lets a queued-but-waiting event reach the queue after its request is gone.
fn finish_in_background(waiting: Waiting, log: &AuditLog) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(waiting);
        }
        Err(_) => log.count_dropped(),
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F: Future> {
        Calling { #[pin] future: F, started: Option<Started> },
        // Boxed only on this rare path: the queue was full and the call waits for room.
        WaitingForRoom { waiting: Option<Waiting>, output: Option<F::Output> },
    }
}

impl<F: Future> ResponseFuture<F> {
    pub(super) fn new(
        future: F,
        started: Started,
        layer: Arc<AuditRecordLayer>,
        span: Span,
    ) -> Self {
        ResponseFuture {
            state: State::Calling {
                future,
                started: Some(started),
            },
            layer,
            span,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let _entered = this.span.enter();
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { future, started } => {
                    let mut output = ready!(future.poll(cx));
                    let started = started
                        .take()
                        .expect("audit ResponseFuture polled after completion");
                    if let Ok(response) = &mut output {
                        response
                            .headers_mut()
                            .insert(X_REQUEST_ID, started.request_id_value.clone());
                    }
                    let event = Box::new(event_of(started, &output));
                    telemetry::recorded(event.outcome.as_str());
                    record_caller(this.span, &event);
                    match this.layer.log.try_submit(event) {
                        Ok(()) => return Poll::Ready(output),
                        Err(event) => {
                            let waiting = this.layer.log.submit_waiting(event);
                            this.state.set(State::WaitingForRoom {
                                waiting: Some(waiting),
                                output: Some(output),
                            });
                        }
                    }
                }
                StateProj::WaitingForRoom { waiting, output } => {
                    if let Some(pending) = waiting {
                        ready!(pending.as_mut().poll(cx));
                    }
                    *waiting = None;
                    return Poll::Ready(
                        output
                            .take()
                            .expect("audit ResponseFuture polled after completion"),
                    );
                }
            }
        }
    }
}

/// The event of a finished call: its status, and its outcome read from the typed markers the
/// stages inside leave on the response.
fn event_of<B, E>(started: Started, output: &Result<Response<B>, E>) -> AuditEvent {
    let (status, outcome, principal) = match output {
        Ok(response) => {
            let extensions = response.extensions();
            let outcome = if let Some(rejection) = extensions.get::<Rejection>() {
                Outcome::of_rejection(rejection.code())
            } else if extensions.get::<QuotaDegraded>().is_some() {
                Outcome::Degraded
            } else if response.status().is_server_error() {
                Outcome::Error
            } else {
                Outcome::Allowed
            };
            (
                response.status().as_u16(),
                outcome,
                extensions.get::<Principal>(),
            )
        }
        // The inner service failed without a response; the server will answer 500 or close.
        Err(_) => (500, Outcome::Error, None),
    };
    AuditEvent {
        ts: started.ts,
        request_id: started.request_id,
        method: started.method,
        path: started.path,
        status,
        outcome,
        key_id: principal.map(|p| p.key_id_shared().clone()),
        project: principal.map(|p| p.project_shared().clone()),
        environment: principal.map(Principal::environment),
        client_ip: started.client_ip,
        user_agent: started.user_agent,
        latency_us: u64::try_from(started.at.elapsed().as_micros()).unwrap_or(u64::MAX),
        detail: None,
    }
}

/// Who called, on the stage's span: the ids the event holds, never more.
fn record_caller(span: &Span, event: &AuditEvent) {
    if span.is_disabled() {
        return;
    }
    if let Some(key_id) = &event.key_id {
        span.record("key_id", &**key_id);
    }
    if let Some(project) = &event.project {
        span.record("project", &**project);
    }
}

/// The event of a call whose future was dropped before the inner service answered. 499 is the
/// customary status for "client closed request".
fn cancelled_event(started: Started) -> AuditEvent {
    telemetry::recorded(Outcome::Error.as_str());
    AuditEvent {
        ts: started.ts,
        request_id: started.request_id,
        method: started.method,
        path: started.path,
        status: 499,
        outcome: Outcome::Error,
        key_id: None,
        project: None,
        environment: None,
        client_ip: started.client_ip,
        user_agent: started.user_agent,
        latency_us: u64::try_from(started.at.elapsed().as_micros()).unwrap_or(u64::MAX),
        detail: None,
    }
}

impl<F: Future> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
