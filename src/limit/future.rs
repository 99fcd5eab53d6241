use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;
use tracing::Span;

use super::RateLimitStore;
use super::headers;
use super::limits::Decision;
use crate::body::ResponseBody;
use crate::rejection::{Rejection, RejectionCode};
use crate::telemetry::{self, Stage};

pin_project! {
    /// The response future of [`SlidingWindowRateLimit`](super::SlidingWindowRateLimit): the
    /// store's decision, then the inner service's future with the `RateLimit` fields added, or
    /// a 429. Held inline, never boxed.
    pub struct ResponseFuture<S, Inner, ReqBody, ResBody>
    where
        S: RateLimitStore,
        Inner: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, Inner, ReqBody, ResBody>,
        span: Span,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, Inner, ReqBody, ResBody>
    where
        S: RateLimitStore,
        Inner: Service<Request<ReqBody>>,
    {
        Checking { #[pin] check: S::Check, pending: Option<Pending<Inner, ReqBody>> },
        Calling { #[pin] future: Inner::Future, decision: Decision },
        Answered { response: Option<Response<ResponseBody<ResBody>>> },
    }
}

/// What the future needs once the store has decided.
pub(super) struct Pending<Inner, ReqBody> {
    pub(super) inner: Inner,
    pub(super) request: Request<ReqBody>,
    pub(super) grpc: bool,
}

impl<S, Inner, ReqBody, ResBody> ResponseFuture<S, Inner, ReqBody, ResBody>
where
    S: RateLimitStore,
    Inner: Service<Request<ReqBody>>,
{
    pub(super) fn checking(check: S::Check, pending: Pending<Inner, ReqBody>, span: Span) -> Self {
        ResponseFuture {
            state: State::Checking {
                check,
                pending: Some(pending),
            },
            span,
        }
    }

    pub(super) fn rejected(rejection: Rejection, grpc: bool, span: Span) -> Self {
        telemetry::rejected(Stage::Limit, rejection.code());
        ResponseFuture {
            state: State::Answered {
                response: Some(rejection.into_response(grpc)),
            },
            span,
        }
    }
}

impl<S, Inner, ReqBody, ResBody> Future for ResponseFuture<S, Inner, ReqBody, ResBody>
where
    S: RateLimitStore,
    Inner: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, Inner::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let mut state = this.state;
        loop {
            match state.as_mut().project() {
                StateProj::Checking { check, pending } => {
                    let decided = ready!(check.poll(cx));
                    let Pending {
                        mut inner,
                        request,
                        grpc,
                    } = pending
                        .take()
                        .expect("rate-limit ResponseFuture polled after completion");
                    let next = match decided {
                        Ok(decision) if decision.admitted => {
                            telemetry::admitted(Stage::Limit);
                            State::Calling {
                                future: inner.call(request),
                                decision,
                            }
                        }
                        Ok(decision) => State::Answered {
                            response: Some(refusal(&decision, grpc)),
                        },
                        Err(error) => {
                            tracing::warn!(%error, "rate-limit store unavailable; refusing");
                            telemetry::rejected(Stage::Limit, RejectionCode::StoreUnavailable);
                            let rejection = Rejection::new(
                                RejectionCode::StoreUnavailable,
                                "the rate-limit store is unavailable; retry shortly",
                            )
                            .with_retry_after(1);
                            State::Answered {
                                response: Some(rejection.into_response(grpc)),
                            }
                        }
                    };
                    state.set(next);
                }
                StateProj::Calling { future, decision } => {
                    let mut response = ready!(future.poll(cx))?;
                    headers::insert(response.headers_mut(), decision);
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Answered { response } => {
                    return Poll::Ready(Ok(response
                        .take()
                        .expect("rate-limit ResponseFuture polled after completion")));
                }
            }
        }
    }
}

fn refusal<B>(decision: &Decision, grpc: bool) -> Response<ResponseBody<B>> {
    let detail = if decision.at_capacity {
        "the rate limiter is tracking as many keys as it may; retry shortly"
    } else {
        "this API key's rate limit is spent; retry after the given seconds"
    };
    tracing::debug!(retry_after = decision.retry_after_secs, "rate limited");
    telemetry::rejected(Stage::Limit, RejectionCode::RateLimited);
    let mut response = Rejection::new(RejectionCode::RateLimited, detail)
        .with_retry_after(decision.retry_after_secs)
        .into_response(grpc);
    headers::insert(response.headers_mut(), decision);
    response
}

impl<S, Inner, ReqBody, ResBody> fmt::Debug for ResponseFuture<S, Inner, ReqBody, ResBody>
where
    S: RateLimitStore,
    Inner: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
