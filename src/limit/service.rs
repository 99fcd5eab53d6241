use std::fmt;
use std::mem;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;
use tracing::field::Empty;

use super::future::Pending;
use super::limits::Limits;
use super::{RateLimitStore, ResponseFuture, SlidingWindowRateLimitLayer};
use crate::auth::Principal;
use crate::body::ResponseBody;
use crate::rejection::{Rejection, RejectionCode, is_grpc};
use crate::telemetry;

/// Limits each key to its requests per second and per minute, over sliding windows; refuses the
/// rest with 429 before they reach the inner service.
pub struct SlidingWindowRateLimit<Inner, S> {
    pub(super) inner: Inner,
    pub(super) layer: SlidingWindowRateLimitLayer<S>,
}

impl<Inner, S: RateLimitStore> SlidingWindowRateLimit<Inner, S> {
    /// Wraps `inner`.
    pub fn new(inner: Inner, layer: SlidingWindowRateLimitLayer<S>) -> Self {
        SlidingWindowRateLimit { inner, layer }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &Inner {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut Inner {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> Inner {
        self.inner
    }
}

impl<Inner> SlidingWindowRateLimit<Inner, super::SlidingWindowLimiter> {
    /// A layer on an in-memory limiter.
    pub fn layer() -> SlidingWindowRateLimitLayer {
        SlidingWindowRateLimitLayer::new()
    }
}

impl<Inner: Clone, S> Clone for SlidingWindowRateLimit<Inner, S> {
    fn clone(&self) -> Self {
        SlidingWindowRateLimit {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<Inner: fmt::Debug, S> fmt::Debug for SlidingWindowRateLimit<Inner, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlidingWindowRateLimit")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<Inner, S, ReqBody, ResBody> Service<Request<ReqBody>> for SlidingWindowRateLimit<Inner, S>
where
    Inner: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    S: RateLimitStore,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = Inner::Error;
    type Future = ResponseFuture<S, Inner, ReqBody, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let span = telemetry::stage_span(|| {
            tracing::debug_span!("memorysync.limit", key_id = Empty, project = Empty)
        });
        let _entered = span.enter();
        let grpc = is_grpc(request.headers());
        let principal = request.extensions().get::<Principal>();
        telemetry::record_principal(&span, principal);
        let Some(principal) = principal else {
            // Used without ApiKeyAuth outside it: there is no key to limit, and letting the
            // request through unlimited would make the stage a no-op nobody notices.
            let rejection = Rejection::new(
                RejectionCode::MissingApiKey,
                "rate limits need an authenticated API key",
            );
            return ResponseFuture::rejected(rejection, grpc, span.clone());
        };
        let limits = Limits::new(principal.rps(), principal.rpm());
        let check = self
            .layer
            .store
            .check(principal.key_id(), limits, self.layer.clock.now());
        // Call the service that `poll_ready` readied; leave its clone for the next request.
        let clone = self.inner.clone();
        let ready_inner = mem::replace(&mut self.inner, clone);
        ResponseFuture::checking(
            check,
            Pending {
                inner: ready_inner,
                request,
                grpc,
            },
            span.clone(),
        )
    }
}
