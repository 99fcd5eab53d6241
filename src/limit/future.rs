use std::marker::PhantomData;

use http::{Request, Response};
use tracing::Span;

use super::RateLimitStore;
use super::headers;
use super::limits::Decision;
use crate::admission::{self, Admit, Verdict};
use crate::body::ResponseBody;
use crate::rejection::{Rejection, RejectionCode};
use crate::store::StoreError;
use crate::store::refusals::Refusals;
use crate::telemetry::{self, Stage};

crate::admission::stage_response_future! {
    /// The response future of [`SlidingWindowRateLimit`](super::SlidingWindowRateLimit): the
    /// store's decision, then the inner service's future with the `RateLimit` fields added, or
    /// a 429. Held inline, never boxed.
    ResponseFuture<S, L> where L: RateLimitStore => Check<L>
}

/// A window check: the store's decision is all the stage needs.
pub(super) struct Check<L>(PhantomData<fn() -> L>);

impl<L> Check<L> {
    pub(super) fn new() -> Self {
        Check(PhantomData)
    }
}

/// Whether the rate-limit stage is refusing for want of its store, for the log.
static REFUSALS: Refusals = Refusals::new("rate limit");

impl<L: RateLimitStore> Admit for Check<L> {
    type Answer = L::Check;
    type Admitted = Decision;
    const STAGE: Stage = Stage::Limit;

    fn decide<ReqBody, ResBody>(
        self,
        decided: Result<Decision, StoreError>,
        _request: &mut Request<ReqBody>,
        grpc: bool,
        _span: &Span,
    ) -> Verdict<Decision, ResBody> {
        if decided.is_ok() {
            REFUSALS.answered();
        }
        match decided {
            Ok(decision) if decision.admitted => {
                telemetry::admitted(Stage::Limit);
                Verdict::Admit(decision)
            }
            Ok(decision) => Verdict::Answer(refusal(&decision, grpc)),
            Err(error) => {
                REFUSALS.refused(&error);
                Verdict::Reject(
                    Rejection::new(
                        RejectionCode::StoreUnavailable,
                        "the rate-limit store is unavailable; retry shortly",
                    )
                    .with_retry_after(1),
                )
            }
        }
    }

    fn after<B, E>(decision: Decision, outcome: &mut Result<Response<B>, E>) {
        if let Ok(response) = outcome {
            headers::insert(response.headers_mut(), &decision);
        }
    }
}

/// The 429 for a refused decision, with the `RateLimit` fields of the window that refused.
fn refusal<B>(decision: &Decision, grpc: bool) -> Response<ResponseBody<B>> {
    let detail = if decision.at_capacity {
        "the rate limiter is tracking as many keys as it may; retry shortly"
    } else {
        "this API key's rate limit is spent; retry after the given seconds"
    };
    let rejection = Rejection::new(RejectionCode::RateLimited, detail)
        .with_retry_after(decision.retry_after_secs);
    let mut response = admission::refuse(Stage::Limit, rejection, grpc);
    headers::insert(response.headers_mut(), decision);
    response
}
