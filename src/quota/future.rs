use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;
use tracing::Span;

use super::layer::Shared;
use super::{QuotaAlert, QuotaKey, QuotaStore, Reservation};
use crate::body::ResponseBody;
use crate::rejection::{Rejection, RejectionCode};
use crate::telemetry::{self, Stage};

pin_project! {
    /// The response future of [`QuotaDegrade`](super::QuotaDegrade): the reservation, then the
    /// inner service's future (giving the unit back if it fails), or the degraded answer. Held
    /// inline, never boxed.
    pub struct ResponseFuture<Inner, S, C, ReqBody, ResBody>
    where
        Inner: Service<Request<ReqBody>>,
        S: QuotaStore,
    {
        #[pin]
        state: State<Inner, S, C, ReqBody, ResBody>,
        span: Span,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<Inner, S, C, ReqBody, ResBody>
    where
        Inner: Service<Request<ReqBody>>,
        S: QuotaStore,
    {
        Unmetered { #[pin] future: Inner::Future },
        Reserving { #[pin] reserve: S::Reserve, pending: Option<Pending<Inner, S, C, ReqBody>> },
        Calling { #[pin] future: Inner::Future, charged: Option<Charged<S, C>> },
        Answered { response: Option<Response<ResponseBody<ResBody>>> },
    }
}

/// What the future needs once the store has answered.
pub(super) struct Pending<Inner, S, C, ReqBody> {
    pub(super) inner: Inner,
    pub(super) request: Request<ReqBody>,
    pub(super) grpc: bool,
    pub(super) key: QuotaKey,
    pub(super) limit: u64,
    pub(super) shared: Arc<Shared<S, C>>,
}

/// The unit a call holds, to give back if the inner service fails.
pub(super) struct Charged<S, C> {
    key: QuotaKey,
    shared: Arc<Shared<S, C>>,
}

impl<S: QuotaStore, C> Charged<S, C> {
    fn refund(self) {
        self.shared.store.refund(&self.key);
    }
}

impl<Inner, S, C, ReqBody, ResBody> ResponseFuture<Inner, S, C, ReqBody, ResBody>
where
    Inner: Service<Request<ReqBody>>,
    S: QuotaStore,
{
    pub(super) fn unmetered(future: Inner::Future, span: Span) -> Self {
        telemetry::unmetered();
        ResponseFuture {
            state: State::Unmetered { future },
            span,
        }
    }

    pub(super) fn reserving(
        reserve: S::Reserve,
        pending: Pending<Inner, S, C, ReqBody>,
        span: Span,
    ) -> Self {
        ResponseFuture {
            state: State::Reserving {
                reserve,
                pending: Some(pending),
            },
            span,
        }
    }

    pub(super) fn rejected(rejection: Rejection, grpc: bool, span: Span) -> Self {
        telemetry::rejected(Stage::Quota, rejection.code());
        ResponseFuture {
            state: State::Answered {
                response: Some(rejection.into_response(grpc)),
            },
            span,
        }
    }
}

impl<Inner, S, C, ReqBody, ResBody> Future for ResponseFuture<Inner, S, C, ReqBody, ResBody>
where
    Inner: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S: QuotaStore,
{
    type Output = Result<Response<ResponseBody<ResBody>>, Inner::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let mut state = this.state;
        loop {
            match state.as_mut().project() {
                StateProj::Unmetered { future } => {
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Reserving { reserve, pending } => {
                    let reserved = ready!(reserve.poll(cx));
                    let pending = pending
                        .take()
                        .expect("quota ResponseFuture polled after completion");
                    let next = decide(reserved, pending);
                    state.set(next);
                }
                StateProj::Calling { future, charged } => {
                    let outcome = ready!(future.poll(cx));
                    let failed = outcome.as_ref().map_or(true, |r| {
                        r.status().is_server_error() || grpc_server_error(r.headers())
                    });
                    if let (true, Some(charged)) = (failed, charged.take()) {
                        // Nothing was stored: the unit goes back to the month.
                        charged.refund();
                    }
                    return Poll::Ready(outcome.map(|r| r.map(ResponseBody::inner)));
                }
                StateProj::Answered { response } => {
                    return Poll::Ready(Ok(response
                        .take()
                        .expect("quota ResponseFuture polled after completion")));
                }
            }
        }
    }
}

/// The state after the store's answer: call inside with a unit held, or answer degraded.
fn decide<Inner, S, C, ReqBody, ResBody>(
    reserved: Result<Reservation, crate::store::StoreError>,
    pending: Pending<Inner, S, C, ReqBody>,
) -> State<Inner, S, C, ReqBody, ResBody>
where
    Inner: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S: QuotaStore,
{
    let Pending {
        mut inner,
        request,
        grpc,
        key,
        limit,
        shared,
    } = pending;
    match reserved {
        Ok(Reservation::Reserved { used, alerts }) => {
            telemetry::quota_reserved(&key, used, limit);
            if let Some(sink) = &shared.alerts {
                for threshold in alerts.iter() {
                    sink(&QuotaAlert {
                        project: key.project.clone(),
                        operation: key.operation,
                        month: key.month,
                        threshold,
                        used,
                        limit,
                    });
                }
            }
            State::Calling {
                future: inner.call(request),
                charged: Some(Charged { key, shared }),
            }
        }
        Ok(Reservation::Exhausted) => {
            tracing::debug!(project = &*key.project, operation = %key.operation, "quota used up; degraded");
            telemetry::quota_degraded(&key, limit);
            State::Answered {
                response: Some(shared.answer.response(key.operation, grpc)),
            }
        }
        Err(error) => {
            tracing::warn!(%error, "quota store unavailable; refusing");
            telemetry::rejected(Stage::Quota, RejectionCode::StoreUnavailable);
            let rejection = Rejection::new(
                RejectionCode::StoreUnavailable,
                "the quota store is unavailable; retry shortly",
            )
            .with_retry_after(1);
            State::Answered {
                response: Some(rejection.into_response(grpc)),
            }
        }
    }
}

impl<Inner, S, C, ReqBody, ResBody> fmt::Debug for ResponseFuture<Inner, S, C, ReqBody, ResBody>
where
    Inner: Service<Request<ReqBody>>,
    S: QuotaStore,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

/// Whether a trailers-only gRPC answer carries a status of the server's failing, the gRPC
/// counterpart of a 5xx: UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE,
/// DATA_LOSS. A status sent in trailers after a body is not seen here (the body is the
/// handler's), so such a call keeps its unit.
fn grpc_server_error(headers: &http::HeaderMap) -> bool {
    headers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|code| matches!(code, "2" | "4" | "12" | "13" | "14" | "15"))
}
