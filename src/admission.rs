//! The response future shared by the three stages that ask a store before calling inside:
//! authentication (a key look-up), rate limits (a window check) and quotas (a reservation).
//!
//! Each of them asks its store in `call`, then, once the store answers, either calls the inner
//! service or answers by itself, and finally adjusts the inner service's response. What differs
//! is the stage's own logic, written as an [`Admit`] implementation (`decide` and `after`); the
//! order of steps, the "polled after completion" rule and the path from a rejection to telemetry
//! live here once.
//!
//! The shape follows tower-http's `AsyncRequireAuthorization`: the state is generic over the
//! futures, and the service that `poll_ready` readied travels with the request while its clone
//! stays in the stage (`mem::replace`), so the ready one is the one called.

use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;
use tracing::Span;

use crate::body::ResponseBody;
use crate::rejection::Rejection;
use crate::telemetry::{self, Stage};

const POLLED_AFTER_COMPLETION: &str = "a stage's response future was polled after completion";

/// One store-backed stage's own logic around [`Admission`].
pub(crate) trait Admit: Sized {
    /// The store's answer, awaited before the inner service is called.
    type Answer: Future;
    /// What the stage keeps from its decision until the inner service has answered.
    type Admitted;
    /// Whose rejections these are, for telemetry.
    const STAGE: Stage;

    /// Reads the store's answer: admit (possibly adding to the request), or refuse.
    fn decide<ReqBody, ResBody>(
        self,
        answer: <Self::Answer as Future>::Output,
        request: &mut Request<ReqBody>,
        grpc: bool,
        span: &Span,
    ) -> Verdict<Self::Admitted, ResBody>;

    /// Adjusts the inner service's outcome of an admitted request.
    fn after<B, E>(admitted: Self::Admitted, outcome: &mut Result<Response<B>, E>);
}

/// A stage's decision on a request.
pub(crate) enum Verdict<A, B> {
    /// Call the inner service; keep `A` for [`Admit::after`].
    Admit(A),
    /// Refuse with this rejection.
    Reject(Rejection),
    /// Answer with a response the stage made (and counted) itself.
    Answer(Response<ResponseBody<B>>),
}

/// The response to `rejection` by `stage`, counted: the one path from a stage's refusal to its
/// telemetry and its problem (or gRPC) response.
pub(crate) fn refuse<B>(
    stage: Stage,
    rejection: Rejection,
    grpc: bool,
) -> Response<ResponseBody<B>> {
    tracing::debug!(code = %rejection.code(), "request refused");
    telemetry::rejected(stage, rejection.code());
    rejection.into_response(grpc)
}

/// Takes the service that `poll_ready` readied out of `slot`, leaving a clone for the next call.
pub(crate) fn take_ready<S: Clone>(slot: &mut S) -> S {
    let clone = slot.clone();
    mem::replace(slot, clone)
}

pin_project! {
    /// A store's answer, then the inner service's future, or the stage's own answer. Held
    /// inline in each stage's `ResponseFuture`, never boxed.
    pub(crate) struct Admission<A, S, ReqBody, ResBody>
    where
        A: Admit,
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<A::Answer, S::Future, A::Admitted, ResBody>,
        pending: Option<Pending<A, S, ReqBody>>,
        grpc: bool,
        span: Span,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<Answer, Inner, Admitted, B> {
        Deciding { #[pin] answer: Answer },
        Calling { #[pin] future: Inner, admitted: Option<Admitted> },
        Answered { response: Option<Response<ResponseBody<B>>> },
    }
}

/// What waits beside the store's answer: the stage's logic, the ready service and the request.
struct Pending<A, S, ReqBody> {
    admit: A,
    inner: S,
    request: Request<ReqBody>,
}

impl<A, S, ReqBody, ResBody> Admission<A, S, ReqBody, ResBody>
where
    A: Admit,
    S: Service<Request<ReqBody>>,
{
    /// Waits for `answer`, then lets `admit` decide whether `inner` (ready) gets `request`.
    pub(crate) fn deciding(
        admit: A,
        answer: A::Answer,
        inner: S,
        request: Request<ReqBody>,
        grpc: bool,
        span: Span,
    ) -> Self {
        Admission {
            state: State::Deciding { answer },
            pending: Some(Pending {
                admit,
                inner,
                request,
            }),
            grpc,
            span,
        }
    }

    /// Passes the request inward untouched: the stage has nothing to decide for it.
    pub(crate) fn passing(future: S::Future, span: Span) -> Self {
        Admission {
            state: State::Calling {
                future,
                admitted: None,
            },
            pending: None,
            grpc: false,
            span,
        }
    }

    /// Refuses at once, before any store was asked.
    pub(crate) fn rejected(rejection: Rejection, grpc: bool, span: Span) -> Self {
        let response = refuse(A::STAGE, rejection, grpc);
        Admission {
            state: State::Answered {
                response: Some(response),
            },
            pending: None,
            grpc,
            span,
        }
    }
}

impl<A, S, ReqBody, ResBody> Future for Admission<A, S, ReqBody, ResBody>
where
    A: Admit,
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let mut state = this.state;
        loop {
            match state.as_mut().project() {
                StateProj::Deciding { answer } => {
                    let answer = ready!(answer.poll(cx));
                    let Pending {
                        admit,
                        mut inner,
                        mut request,
                    } = this.pending.take().expect(POLLED_AFTER_COMPLETION);
                    let next = match admit.decide(answer, &mut request, *this.grpc, this.span) {
                        Verdict::Admit(admitted) => State::Calling {
                            future: inner.call(request),
                            admitted: Some(admitted),
                        },
                        Verdict::Reject(rejection) => State::Answered {
                            response: Some(refuse(A::STAGE, rejection, *this.grpc)),
                        },
                        Verdict::Answer(response) => State::Answered {
                            response: Some(response),
                        },
                    };
                    state.set(next);
                }
                StateProj::Calling { future, admitted } => {
                    let mut outcome = ready!(future.poll(cx));
                    if let Some(admitted) = admitted.take() {
                        A::after(admitted, &mut outcome);
                    }
                    return Poll::Ready(outcome.map(|response| response.map(ResponseBody::inner)));
                }
                StateProj::Answered { response } => {
                    return Poll::Ready(Ok(response.take().expect(POLLED_AFTER_COMPLETION)));
                }
            }
        }
    }
}

/// A stage's public `ResponseFuture`: a named wrapper around [`Admission`] with the stage's own
/// [`Admit`], so that the stage's future type says whose it is while the mechanism stays private.
macro_rules! stage_response_future {
    (
        $(#[$meta:meta])*
        ResponseFuture<S, $($param:ident),*> where $($store:ident: $bound:path),* => $admit:ty
    ) => {
        pin_project_lite::pin_project! {
            $(#[$meta])*
            pub struct ResponseFuture<S, $($param,)* ReqBody, ResBody>
            where
                S: tower_service::Service<http::Request<ReqBody>>,
                $($store: $bound,)*
            {
                #[pin]
                admission: $crate::admission::Admission<$admit, S, ReqBody, ResBody>,
            }
        }

        impl<S, $($param,)* ReqBody, ResBody> ResponseFuture<S, $($param,)* ReqBody, ResBody>
        where
            S: tower_service::Service<http::Request<ReqBody>>,
            $($store: $bound,)*
        {
            pub(super) fn new(
                admission: $crate::admission::Admission<$admit, S, ReqBody, ResBody>,
            ) -> Self {
                ResponseFuture { admission }
            }
        }

        impl<S, $($param,)* ReqBody, ResBody> std::future::Future
            for ResponseFuture<S, $($param,)* ReqBody, ResBody>
        where
            S: tower_service::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
            $($store: $bound,)*
        {
            type Output = Result<http::Response<$crate::body::ResponseBody<ResBody>>, S::Error>;

            fn poll(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Self::Output> {
                self.project().admission.poll(cx)
            }
        }

        impl<S, $($param,)* ReqBody, ResBody> std::fmt::Debug
            for ResponseFuture<S, $($param,)* ReqBody, ResBody>
        where
            S: tower_service::Service<http::Request<ReqBody>>,
            $($store: $bound,)*
        {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("ResponseFuture").finish_non_exhaustive()
            }
        }
    };
}

pub(crate) use stage_response_future;
