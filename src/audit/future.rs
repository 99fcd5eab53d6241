use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http::{HeaderValue, Response};
use pin_project_lite::pin_project;

use super::request_id::X_REQUEST_ID;
use super::{AuditEvent, AuditLog, Outcome};
use crate::auth::Principal;
use crate::clock::Timestamp;
use crate::quota::QuotaDegraded;
use crate::rejection::Rejection;

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
    pub struct ResponseFuture<F: Future> {
        #[pin]
        state: State<F>,
        log: AuditLog,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F: Future> {
        Calling { #[pin] future: F, started: Option<Started> },
        // Boxed only on this rare path: the queue was full and the call waits for room.
        WaitingForRoom { waiting: Waiting, output: Option<F::Output> },
    }
}

impl<F: Future> ResponseFuture<F> {
    pub(super) fn new(future: F, started: Started, log: AuditLog) -> Self {
        ResponseFuture {
            state: State::Calling {
                future,
                started: Some(started),
            },
            log,
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
                    match this.log.try_submit(event) {
                        Ok(()) => return Poll::Ready(output),
                        Err(event) => {
                            let waiting = this.log.submit_waiting(event);
                            this.state.set(State::WaitingForRoom {
                                waiting,
                                output: Some(output),
                            });
                        }
                    }
                }
                StateProj::WaitingForRoom { waiting, output } => {
                    ready!(waiting.as_mut().poll(cx));
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
    }
}

impl<F: Future> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
